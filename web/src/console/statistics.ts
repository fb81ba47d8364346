/**
 * The "statistics" page (spec "Statistics"): for a period (1, 3, 6 or 12 months, all, or a
 * date range) the meetings held by type — point-to-point, instant, scheduled, VMR — those with
 * content shared, and the
 * maximum concurrency in that period and ever; below, the call records of the period with a
 * type filter and a search, paged, exported with the same filters.
 */
import { api } from './api.ts';
import { el, pager } from './form-fields.ts';
import { lang, words } from './i18n.ts';

const w = words({
  en: {
    title: 'Statistics',
    period: 'Period',
    m1: 'Last month',
    m3: 'Last 3 months',
    m6: 'Last 6 months',
    y1: 'Last year',
    all: 'All',
    show: 'Show',
    p2p: 'Point to point',
    instant: 'Instant',
    scheduled: 'Scheduled',
    vmr: 'Virtual rooms',
    total: 'All meetings',
    participants: 'Participants',
    withContent: 'Meetings with content shared',
    maxPeriod: 'Most at once in the period',
    maxEver: 'Most at once ever',
    concurrency: 'participants {participants} · meetings {meetings}',
    records: 'Call records',
    type: 'Type',
    anyType: 'All types',
    search: 'Search caller, callee or subject',
    started: 'Started',
    caller: 'Caller',
    callee: 'Callee',
    subject: 'Meeting',
    duration: 'Duration (s)',
    outcome: 'Outcome',
    count: '{total} records',
    export: 'Export',
    previous: 'Previous',
    next: 'Next',
  },
  'zh-CN': {
    title: '统计',
    period: '时间范围',
    m1: '最近 1 个月',
    m3: '最近 3 个月',
    m6: '最近 6 个月',
    y1: '最近 1 年',
    all: '全部',
    show: '查询',
    p2p: '点对点',
    instant: '即时会议',
    scheduled: '预约会议',
    vmr: '虚拟会议室',
    total: '会议总数',
    participants: '参会人次',
    withContent: '共享过内容的会议',
    maxPeriod: '期间最大并发',
    maxEver: '历史最大并发',
    concurrency: '参会方 {participants} · 会议 {meetings}',
    records: '通话记录',
    type: '类型',
    anyType: '全部类型',
    search: '搜索主叫、被叫或会议主题',
    started: '开始时间',
    caller: '主叫',
    callee: '被叫',
    subject: '会议',
    duration: '时长（秒）',
    outcome: '结果',
    count: '共 {total} 条',
    export: '导出',
    previous: '上一页',
    next: '下一页',
  },
});

interface Stats {
  meetings: { p2p: number; instant: number; scheduled: number; vmr: number; total: number; participants: number; withContent: number };
  maxConcurrency: { period: { participants: number; meetings: number }; ever: { participants: number; meetings: number } };
}
interface CallRecord {
  type: string;
  subject: string | null;
  caller: string;
  callee: string;
  started_at: string;
  duration_s: number | null;
  outcome: string | null;
}

const PERIODS = [['1m', 'm1'], ['3m', 'm3'], ['6m', 'm6'], ['1y', 'y1'], ['all', 'all']] as const;
const view = { period: '1m', type: '', q: '', page: 1 };
const PAGE_SIZE = 50;

export async function renderStatistics(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const filter = new URLSearchParams({ period: view.period });
  const stats = await api<Stats>('GET', `/statistics?${filter}`);
  const records = new URLSearchParams(filter);
  if (view.type) records.set('type', view.type);
  if (view.q) records.set('q', view.q);
  const list = await api<{ total: number; items: CallRecord[] }>('GET', `/call-records?${records}&page=${view.page}&pageSize=${PAGE_SIZE}`);
  const again = () => renderStatistics(root, onError).catch(onError);

  const period = el('select', { id: 'stats-period' }, ...PERIODS.map(([value, key]) => el('option', { value, selected: value === view.period }, w(key))));
  const type = el('select', { id: 'stats-type' }, el('option', { value: '' }, w('anyType')), ...(['p2p', 'instant', 'scheduled', 'vmr'] as const).map((t) => el('option', { value: t, selected: t === view.type }, w(t))));
  const q = el('input', { id: 'stats-search', type: 'search', value: view.q, maxLength: 128 });
  q.setAttribute('aria-label', w('search'));
  const form = el('form', { className: 'inline-form', id: 'stats-filter' }, el('label', { htmlFor: 'stats-period' }, w('period')), period, el('label', { htmlFor: 'stats-type' }, w('type')), type, q, el('button', { type: 'submit' }, w('show')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(view, { period: period.value, type: type.value, q: q.value.trim(), page: 1 });
    void again();
  });
  const card = (label: string, value: string, id: string) => {
    const node = el('div', { className: 'card-stat' }, el('span', { className: 'label' }, label), el('strong', {}, value));
    node.dataset.stat = id;
    return node;
  };
  const m = stats.meetings;
  const concurrency = (c: { participants: number; meetings: number }) => w('concurrency', { participants: String(c.participants), meetings: String(c.meetings) });
  const rows = list.items.map((r) =>
    el('tr', {}, el('td', {}, new Date(r.started_at).toLocaleString(lang())), el('td', {}, w(r.type as 'p2p')), el('td', {}, r.caller), el('td', {}, r.callee), el('td', {}, r.subject ?? ''), el('td', {}, String(r.duration_s ?? '')), el('td', {}, r.outcome ?? '')),
  );
  const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
  const exportQuery = new URLSearchParams(records);
  exportQuery.set('format', 'xlsx');
  root.replaceChildren(
    el('h1', {}, w('title')),
    el('section', { className: 'panel' }, form),
    el(
      'div',
      { className: 'cards', id: 'stats-cards' },
      card(w('p2p'), String(m.p2p), 'p2p'),
      card(w('instant'), String(m.instant), 'instant'),
      card(w('scheduled'), String(m.scheduled), 'scheduled'),
      card(w('vmr'), String(m.vmr), 'vmr'),
      card(w('total'), String(m.total), 'total'),
      card(w('participants'), String(m.participants), 'participants'),
      card(w('withContent'), String(m.withContent), 'with-content'),
      card(w('maxPeriod'), concurrency(stats.maxConcurrency.period), 'max-period'),
      card(w('maxEver'), concurrency(stats.maxConcurrency.ever), 'max-ever'),
    ),
    el('h2', {}, w('records')),
    el('p', {}, el('a', { href: `/api/v1/call-records/export?${exportQuery}`, download: 'call-records.xlsx', id: 'stats-export' }, w('export'))),
    el(
      'table',
      { id: 'records-table' },
      el('caption', {}, w('count', { total: String(list.total) })),
      el('thead', {}, el('tr', {}, ...(['started', 'type', 'caller', 'callee', 'subject', 'duration', 'outcome'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
      el('tbody', {}, ...rows),
    ),
    pager(view.page, pages, { previous: w('previous'), next: w('next') }, (page) => {
      view.page = page;
      void again();
    }),
  );
}
