/**
 * The "operation log" page (spec "Logs"): every administrator action and login — when, who,
 * from where, what, and its details — newest first, filtered by period (today, 3 days, 7 days,
 * all, or a date range) and by user, paged, and exported as a spreadsheet with the same filter.
 * The log is append-only: nothing here deletes it.
 */
import { api } from './api.ts';
import { el, pager } from './form-fields.ts';
import { lang, words } from './i18n.ts';

const w = words({
  en: {
    title: 'Operation log',
    period: 'Period',
    today: 'Today',
    d3: 'Last 3 days',
    d7: 'Last 7 days',
    all: 'All',
    range: 'From … to',
    from: 'From',
    to: 'To',
    user: 'User',
    apply: 'Show',
    export: 'Export',
    when: 'When',
    who: 'Who',
    where: 'From',
    what: 'Action',
    details: 'Details',
    total: '{total} entries',
    previous: 'Previous',
    next: 'Next',
    pageOf: 'Page {page} of {pages}',
  },
  'zh-CN': {
    title: '操作日志',
    period: '时间范围',
    today: '今天',
    d3: '最近 3 天',
    d7: '最近 7 天',
    all: '全部',
    range: '自定义',
    from: '开始',
    to: '结束',
    user: '用户',
    apply: '查询',
    export: '导出',
    when: '时间',
    who: '用户',
    where: '来源',
    what: '操作',
    details: '详情',
    total: '共 {total} 条',
    previous: '上一页',
    next: '下一页',
    pageOf: '第 {page} / {pages} 页',
  },
});

interface Entry {
  at: string;
  actor: string;
  source: string | null;
  action: string;
  detail: unknown;
}

const view = { period: '7d', from: '', to: '', user: '', page: 1 };
const PAGE_SIZE = 50;

function filterQuery(): URLSearchParams {
  const query = new URLSearchParams({ period: view.period });
  if (view.period === 'range') {
    if (view.from) query.set('from', new Date(`${view.from}T00:00:00`).toISOString());
    if (view.to) query.set('to', new Date(`${view.to}T23:59:59`).toISOString());
  }
  if (view.user) query.set('user', view.user);
  return query;
}

export async function renderAuditLog(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const query = filterQuery();
  query.set('page', String(view.page));
  query.set('pageSize', String(PAGE_SIZE));
  const { total, items } = await api<{ total: number; items: Entry[] }>('GET', `/audit?${query}`);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const again = () => renderAuditLog(root, onError).catch(onError);

  const period = el('select', { id: 'audit-period' }, ...(['today', '3d', '7d', 'all', 'range'] as const).map((p) => el('option', { value: p, selected: p === view.period }, w(p === '3d' ? 'd3' : p === '7d' ? 'd7' : p))));
  const from = el('input', { id: 'audit-from', type: 'date', value: view.from });
  const to = el('input', { id: 'audit-to', type: 'date', value: view.to });
  const user = el('input', { id: 'audit-user', type: 'search', value: view.user, maxLength: 128 });
  const showRange = () => {
    from.disabled = period.value !== 'range';
    to.disabled = period.value !== 'range';
  };
  showRange();
  period.addEventListener('change', showRange);
  const form = el(
    'form',
    { className: 'inline-form', id: 'audit-filter' },
    el('label', { htmlFor: 'audit-period' }, w('period')),
    period,
    el('label', { htmlFor: 'audit-from' }, w('from')),
    from,
    el('label', { htmlFor: 'audit-to' }, w('to')),
    to,
    el('label', { htmlFor: 'audit-user' }, w('user')),
    user,
    el('button', { type: 'submit' }, w('apply')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(view, { period: period.value, from: from.value, to: to.value, user: user.value.trim(), page: 1 });
    void again();
  });
  const exportQuery = filterQuery();
  exportQuery.set('format', 'xlsx');
  const exportLink = el('a', { href: `/api/v1/audit/export?${exportQuery}`, download: 'operation-log.xlsx', id: 'audit-export' }, w('export'));

  const rows = items.map((entry) =>
    el(
      'tr',
      {},
      el('td', {}, new Date(entry.at).toLocaleString(lang())),
      el('td', {}, entry.actor),
      el('td', {}, entry.source ?? ''),
      el('td', {}, entry.action),
      el('td', { className: 'detail' }, entry.detail === null || entry.detail === undefined ? '' : JSON.stringify(entry.detail)),
    ),
  );
  root.replaceChildren(
    el('h1', {}, w('title')),
    el('section', { className: 'panel' }, form, el('p', {}, exportLink)),
    el(
      'table',
      { id: 'audit-table' },
      el('caption', {}, w('total', { total: String(total) })),
      el('thead', {}, el('tr', {}, ...(['when', 'who', 'where', 'what', 'details'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
      el('tbody', {}, ...rows),
    ),
    pager(view.page, pages, { previous: w('previous'), next: w('next'), status: w('pageOf', { page: String(view.page), pages: String(pages) }) }, (page) => {
      view.page = page;
      void again();
    }),
  );
}
