/**
 * The "logs" page (spec "Logs"): the system logs per module — Web, SIP, MCU, TURN, with the
 * days each holds — exported for a date range as one ZIP; the terminal logs, switched on or
 * off here too (they cost bandwidth), the terminals that have one (IP, model, version,
 * accounts, online or offline now), filtered by model and status and searched, paged, one
 * terminal's registration and subscription messages newest first with a search, and the
 * export of the selected terminals or of every one the filter shows. Refusals (a range with no
 * logs, a reversed range) are shown by their field. The operation log is its own page.
 */
import { ApiError, api, download } from './api.ts';
import { bytesInWords } from './disk-usage.ts';
import { clearRefusal, el, pager, showRefusal } from './form-fields.ts';
import { lang, words } from './i18n.ts';

type ModuleId = 'web' | 'sip' | 'mcu' | 'turn';
interface SystemLogs {
  modules: { id: ModuleId; name: string; bytes: number; files: number; days: { date: string; bytes: number }[] }[];
}
interface Terminal {
  id: string;
  ip: string;
  model: string;
  version: string;
  accounts: string[];
  size: number;
  updatedAt: string;
  entries: number;
  online: boolean;
}
interface TerminalList {
  enabled: boolean;
  total: number;
  terminals: Terminal[];
  models: string[];
}
interface Entry {
  time: string;
  direction: 'in' | 'out';
  address: string;
  summary: string;
  text: string;
}

const w = words({
  en: {
    title: 'Logs',
    systemTitle: 'System logs',
    systemHelp: 'Each module\'s log, one file per process and day. Choose the modules and the days (the box\'s local time) to download as one ZIP.',
    modules: 'Modules',
    moduleDay: '{name} (1 day, {size})',
    moduleDays: '{name} ({days} days, {size})',
    moduleNone: '{name} (none yet)',
    from: 'From',
    to: 'To',
    export: 'Export',
    exporting: 'Preparing the download…',
    exported: 'Downloaded {name}.',
    chooseModule: 'Choose at least one module.',
    terminalTitle: 'Terminal logs',
    terminalEnabled: 'Terminal logs (the registration and subscription messages of each terminal; costs bandwidth)',
    terminalOn: 'Terminal logs are on.',
    terminalOff: 'Terminal logs are off: nothing new is logged.',
    model: 'Model',
    allModels: 'All models',
    status: 'Status',
    all: 'All',
    online: 'Online',
    offline: 'Offline',
    search: 'Search (IP, model, account)',
    show: 'Show',
    caption: '{total} terminals with a log',
    none: 'No terminal log matches.',
    select: 'Select {ip}',
    ip: 'IP address',
    version: 'Version',
    accounts: 'Accounts',
    size: 'Size',
    last: 'Last message',
    actions: 'Actions',
    view: 'View',
    exportOne: 'Export',
    exportSelected: 'Export selected',
    exportShown: 'Export all shown',
    previous: 'Previous',
    next: 'Next',
    pageOf: 'Page {page} of {pages}',
    viewTitle: 'Log of {ip} ({model})',
    entrySearch: 'Search in the messages',
    entriesCaption: '{total} messages, newest first',
    noEntries: 'No message matches.',
    close: 'Close',
    fromTerminal: 'from {address}',
    toTerminal: 'to {address}',
  },
  'zh-CN': {
    title: '日志',
    systemTitle: '系统日志',
    systemHelp: '各模块的日志，每个进程每天一个文件。选择模块和日期（本设备当地时间），下载为一个 ZIP 文件。',
    modules: '模块',
    moduleDay: '{name}（1 天，{size}）',
    moduleDays: '{name}（{days} 天，{size}）',
    moduleNone: '{name}（暂无）',
    from: '开始日期',
    to: '结束日期',
    export: '导出',
    exporting: '正在准备下载…',
    exported: '已下载 {name}。',
    chooseModule: '请至少选择一个模块。',
    terminalTitle: '终端日志',
    terminalEnabled: '终端日志（记录各终端的注册和订阅消息；占用带宽）',
    terminalOn: '终端日志已开启。',
    terminalOff: '终端日志已关闭：不再记录新消息。',
    model: '型号',
    allModels: '全部型号',
    status: '状态',
    all: '全部',
    online: '在线',
    offline: '离线',
    search: '搜索（IP、型号、账号）',
    show: '查询',
    caption: '共 {total} 个有日志的终端',
    none: '没有匹配的终端日志。',
    select: '选择 {ip}',
    ip: 'IP 地址',
    version: '版本',
    accounts: '账号',
    size: '大小',
    last: '最近消息',
    actions: '操作',
    view: '查看',
    exportOne: '导出',
    exportSelected: '导出所选',
    exportShown: '导出全部显示的',
    previous: '上一页',
    next: '下一页',
    pageOf: '第 {page} / {pages} 页',
    viewTitle: '{ip}（{model}）的日志',
    entrySearch: '在消息中搜索',
    entriesCaption: '共 {total} 条消息，最新的在前',
    noEntries: '没有匹配的消息。',
    close: '关闭',
    fromTerminal: '来自 {address}',
    toTerminal: '发往 {address}',
  },
});

const PAGE_SIZE = 25;
const ENTRY_PAGE_SIZE = 20;
const MODULES: readonly ModuleId[] = ['web', 'sip', 'mcu', 'turn'];

function localDay(offsetDays = 0): string {
  const at = new Date(Date.now() + offsetDays * 86_400_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
}

const view = {
  modules: new Set<ModuleId>(MODULES),
  from: '',
  to: '',
  model: '',
  status: 'all',
  q: '',
  page: 1,
  selected: new Set<string>(),
  terminal: undefined as string | undefined,
  entryQ: '',
  entryPage: 1,
};

function terminalQuery(): URLSearchParams {
  const query = new URLSearchParams({ status: view.status });
  if (view.model) query.set('model', view.model);
  if (view.q) query.set('q', view.q);
  return query;
}

/** The system log export form. */
function systemPanel(logs: SystemLogs, onError: (error: unknown) => void): HTMLElement {
  const message = el('p', { className: 'form-error', id: 'log-export-message' });
  message.setAttribute('aria-live', 'polite');
  const boxes = logs.modules.map((module) => {
    const box = el('input', { type: 'checkbox', id: `log-module-${module.id}`, checked: view.modules.has(module.id) });
    box.addEventListener('change', () => (box.checked ? view.modules.add(module.id) : view.modules.delete(module.id)));
    const days = module.days.length;
    const text = days > 0 ? w(days === 1 ? 'moduleDay' : 'moduleDays', { name: module.name, days: String(days), size: bytesInWords(module.bytes) }) : w('moduleNone', { name: module.name });
    return el('label', { className: 'check' }, box, text);
  });
  const from = el('input', { type: 'date', id: 'log-from', value: view.from || localDay(-6), required: true });
  const to = el('input', { type: 'date', id: 'log-to', value: view.to || localDay(), required: true });
  for (const [input, id] of [
    [from, 'log-from'],
    [to, 'log-to'],
  ] as const) {
    input.setAttribute('aria-describedby', `${id}-error`);
  }
  const exportButton = el('button', { type: 'submit', id: 'log-export' }, w('export'));
  const fieldset = el('fieldset', { className: 'module-choice', id: 'log-modules' }, el('legend', {}, w('modules')), ...boxes);
  const form = el(
    'form',
    { className: 'inline-form field-form', id: 'log-export-form', noValidate: true },
    fieldset,
    el('div', { className: 'field' }, el('label', { htmlFor: 'log-from' }, w('from')), from, el('p', { className: 'field-error', id: 'log-from-error' })),
    el('div', { className: 'field' }, el('label', { htmlFor: 'log-to' }, w('to')), to, el('p', { className: 'field-error', id: 'log-to-error' })),
    el('div', { className: 'form-actions' }, exportButton),
    message,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, message);
    Object.assign(view, { from: from.value, to: to.value });
    const modules = MODULES.filter((m) => view.modules.has(m));
    if (modules.length === 0) {
      message.textContent = w('chooseModule');
      (boxes[0]?.querySelector('input') as HTMLInputElement | null)?.focus();
      return;
    }
    exportButton.disabled = true;
    message.className = 'outcome';
    message.textContent = w('exporting');
    const query = new URLSearchParams({ modules: modules.join(','), from: from.value, to: to.value });
    void download(`/logs/system/export?${query}`, 'vcbox-logs.zip')
      .then((name) => {
        message.className = 'outcome ok';
        message.textContent = w('exported', { name });
      })
      .catch((error: unknown) => {
        message.className = 'form-error';
        message.textContent = '';
        if (!showRefusal(form, message, error, { from: 'log-from', to: 'log-to', modules: 'log-module-web' })) onError(error);
      })
      .finally(() => {
        exportButton.disabled = false;
      });
  });
  return el('section', { className: 'panel', id: 'logs-system' }, el('h2', {}, w('systemTitle')), el('p', { className: 'muted' }, w('systemHelp')), form);
}

/** One terminal's messages, with their search. */
async function terminalView(id: string, again: () => void): Promise<HTMLElement> {
  const query = new URLSearchParams({ page: String(view.entryPage), pageSize: String(ENTRY_PAGE_SIZE) });
  if (view.entryQ) query.set('q', view.entryQ);
  const answer = await api<{ terminal: Terminal; total: number; entries: Entry[] }>('GET', `/logs/terminals/${encodeURIComponent(id)}?${query}`);
  const search = el('input', { type: 'search', id: 'terminal-log-search', value: view.entryQ, maxLength: 128 });
  const form = el('form', { className: 'inline-form', id: 'terminal-log-search-form' }, el('label', { htmlFor: 'terminal-log-search' }, w('entrySearch')), search, el('button', { type: 'submit' }, w('show')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(view, { entryQ: search.value.trim(), entryPage: 1 });
    again();
  });
  const close = el('button', { type: 'button', className: 'secondary', id: 'terminal-log-close' }, w('close'));
  close.addEventListener('click', () => {
    Object.assign(view, { terminal: undefined, entryQ: '', entryPage: 1 });
    again();
  });
  const entries = answer.entries.map((entry) =>
    el(
      'details',
      { className: 'log-entry' },
      el(
        'summary',
        {},
        el('time', { dateTime: entry.time }, new Date(entry.time).toLocaleString(lang())),
        ' ',
        el('span', { className: 'direction' }, w(entry.direction === 'in' ? 'fromTerminal' : 'toTerminal', { address: entry.address })),
        ' ',
        entry.summary,
      ),
      el('pre', {}, entry.text),
    ),
  );
  const pages = Math.max(1, Math.ceil(answer.total / ENTRY_PAGE_SIZE));
  const title = el('h3', { id: 'terminal-log-title', tabIndex: -1 }, w('viewTitle', { ip: answer.terminal.ip, model: answer.terminal.model || '?' }));
  return el(
    'section',
    { className: 'panel', id: 'terminal-log-view' },
    title,
    form,
    el('p', { className: 'muted', id: 'terminal-log-count' }, w('entriesCaption', { total: String(answer.total) })),
    ...(entries.length > 0 ? entries : [el('p', { className: 'empty' }, w('noEntries'))]),
    pager(view.entryPage, pages, { previous: w('previous'), next: w('next'), status: w('pageOf', { page: String(view.entryPage), pages: String(pages) }) }, (page) => {
      view.entryPage = page;
      again();
    }),
    el('div', { className: 'toolbar' }, close),
  );
}

export async function renderLogs(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const query = terminalQuery();
  query.set('page', String(view.page));
  query.set('pageSize', String(PAGE_SIZE));
  const [system, list] = await Promise.all([api<SystemLogs>('GET', '/logs/system'), api<TerminalList>('GET', `/logs/terminals?${query}`)]);
  const again = () => void renderLogs(root, onError).catch(onError);
  const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
  const shown = new Set(list.terminals.map((term) => term.id));
  for (const id of view.selected) if (!shown.has(id)) view.selected.delete(id);

  const outcome = el('p', { className: 'outcome', id: 'terminal-logs-outcome' });
  outcome.setAttribute('aria-live', 'polite');
  const exportTerminals = (exportQuery: URLSearchParams) => {
    outcome.className = 'outcome';
    outcome.textContent = w('exporting');
    void download(`/logs/terminals/export?${exportQuery}`, 'vcbox-terminal-logs.zip')
      .then((name) => {
        outcome.className = 'outcome ok';
        outcome.textContent = w('exported', { name });
      })
      .catch((error: unknown) => {
        if (!(error instanceof ApiError) || error.status === 401 || error.status === 0) return onError(error);
        outcome.className = 'outcome failed';
        outcome.textContent = error.message;
      });
  };

  // On/off: the setting, saved at once.
  const enabled = el('input', { type: 'checkbox', id: 'terminal-logs-enabled', checked: list.enabled });
  enabled.setAttribute('role', 'switch');
  const state = el('span', { id: 'terminal-logs-state', className: 'muted' }, w(list.enabled ? 'terminalOn' : 'terminalOff'));
  state.setAttribute('aria-live', 'polite');
  enabled.addEventListener('change', () => {
    enabled.disabled = true;
    void api('PATCH', '/settings', { 'terminalLogs.enabled': enabled.checked })
      .then(() => {
        state.textContent = w(enabled.checked ? 'terminalOn' : 'terminalOff');
      })
      .catch((error: unknown) => {
        enabled.checked = !enabled.checked;
        onError(error);
      })
      .finally(() => {
        enabled.disabled = false;
      });
  });

  // Filter.
  const model = el('select', { id: 'terminal-model' }, el('option', { value: '' }, w('allModels')), ...list.models.map((m) => el('option', { value: m, selected: m === view.model }, m)));
  const status = el('select', { id: 'terminal-status' }, ...(['all', 'online', 'offline'] as const).map((s) => el('option', { value: s, selected: s === view.status }, w(s))));
  const search = el('input', { type: 'search', id: 'terminal-search', value: view.q, maxLength: 128 });
  const filter = el(
    'form',
    { className: 'inline-form', id: 'terminal-filter' },
    el('label', { htmlFor: 'terminal-model' }, w('model')),
    model,
    el('label', { htmlFor: 'terminal-status' }, w('status')),
    status,
    el('label', { htmlFor: 'terminal-search' }, w('search')),
    search,
    el('button', { type: 'submit' }, w('show')),
  );
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(view, { model: model.value, status: status.value, q: search.value.trim(), page: 1 });
    again();
  });

  // The list.
  const exportSelected = el('button', { type: 'button', id: 'terminal-export-selected', disabled: view.selected.size === 0 }, w('exportSelected'));
  exportSelected.addEventListener('click', () => exportTerminals(new URLSearchParams({ ids: [...view.selected].join(',') })));
  const exportShown = el('button', { type: 'button', id: 'terminal-export-shown', disabled: list.total === 0 }, w('exportShown'));
  exportShown.addEventListener('click', () => exportTerminals(terminalQuery()));
  const rows = list.terminals.map((term) => {
    const box = el('input', { type: 'checkbox', checked: view.selected.has(term.id) });
    box.setAttribute('aria-label', w('select', { ip: term.ip }));
    box.addEventListener('change', () => {
      if (box.checked) view.selected.add(term.id);
      else view.selected.delete(term.id);
      exportSelected.disabled = view.selected.size === 0;
    });
    const open = el('button', { type: 'button', className: 'view' }, w('view'));
    open.setAttribute('aria-label', `${w('view')} ${term.ip}`);
    open.addEventListener('click', () => {
      Object.assign(view, { terminal: term.id, entryQ: '', entryPage: 1 });
      again();
    });
    const exportOne = el('button', { type: 'button', className: 'secondary export' }, w('exportOne'));
    exportOne.setAttribute('aria-label', `${w('exportOne')} ${term.ip}`);
    exportOne.addEventListener('click', () => exportTerminals(new URLSearchParams({ ids: term.id })));
    const row = el(
      'tr',
      {},
      el('td', {}, box),
      el('th', { scope: 'row' }, term.ip),
      el('td', {}, term.model),
      el('td', {}, term.version),
      el('td', {}, term.accounts.join(', ')),
      el('td', { className: term.online ? 'online' : 'offline' }, w(term.online ? 'online' : 'offline')),
      el('td', {}, bytesInWords(term.size)),
      el('td', {}, new Date(term.updatedAt).toLocaleString(lang())),
      el('td', { className: 'row-actions' }, open, ' ', exportOne),
    );
    row.dataset.terminal = term.id;
    return row;
  });
  const table = el(
    'div',
    { className: 'table-wrap' },
    el(
      'table',
      { id: 'terminal-logs-table' },
      el('caption', {}, w('caption', { total: String(list.total) })),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, ''), ...(['ip', 'model', 'version', 'accounts', 'status', 'size', 'last', 'actions'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
      el('tbody', {}, ...rows),
    ),
  );
  const detail = view.terminal ? await terminalView(view.terminal, again).catch((error: unknown) => {
    view.terminal = undefined;
    onError(error);
    return undefined;
  }) : undefined;
  root.replaceChildren(
    el('h1', {}, w('title')),
    systemPanel(system, onError),
    el(
      'section',
      { className: 'panel', id: 'logs-terminals' },
      el('h2', {}, w('terminalTitle')),
      el('div', { className: 'inline-form' }, el('label', { className: 'check', htmlFor: 'terminal-logs-enabled' }, enabled, w('terminalEnabled')), state),
      filter,
      el('div', { className: 'toolbar' }, exportSelected, exportShown),
      outcome,
      list.terminals.length > 0 ? table : el('p', { className: 'empty' }, w('none')),
      pager(view.page, pages, { previous: w('previous'), next: w('next'), status: w('pageOf', { page: String(view.page), pages: String(pages) }) }, (page) => {
        view.page = page;
        again();
      }),
      ...(detail ? [detail] : []),
    ),
  );
  if (detail) (root.querySelector('#terminal-log-title') as HTMLElement | null)?.focus();
}
