/**
 * The disk part of the settings page (spec "Network & services": storage path with a used/free
 * ring chart, quotas per part, "clean now" per part): what GET /disk answers — the storage
 * path (the data directory, shown, not changed here) with a ring of used and free space, one
 * bar per part (used against its quota, the minimum a quota may have now) and per server-log
 * module (Web, SIP, MCU, TURN against its share), the quota rules in words, the 80 % alert's
 * state, and "clean now" for a part or a module, asked first with the manual's "this deletes
 * [××], continue?" and answered in words. The quota fields themselves are settings.ts's.
 */
import { ApiError, api } from './api.ts';
import { el } from './form-fields.ts';
import { lang, words } from './i18n.ts';

type PartId = 'records' | 'serverLogs' | 'terminalLogs' | 'backups' | 'firmware';
type ModuleId = 'web' | 'sip' | 'mcu' | 'turn';
interface Space {
  path: string;
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
  usedPercent: number;
}
interface Part {
  id: PartId;
  folder: string;
  usedBytes: number;
  files: number;
  quotaGB: number;
  quotaBytes: number;
  defaultGB: number;
  minimumGB: number;
  cleanable: boolean;
  note?: { en: string; zh: string };
  modules?: { id: ModuleId; percent: number; quotaBytes: number; usedBytes: number; files: number }[];
  filesystem: string;
}
interface Disk {
  storagePath: Space & { changeable: false };
  filesystems: (Space & { parts: PartId[] })[];
  parts: Part[];
  alert: { enabled: boolean; abovePercent: number; rearmPercent: number; states: { path: string; above: boolean; percent: number; mailedAt: string | null; recipients: string[] }[] };
}
interface Cleaned {
  deleted: number;
  truncated: string[];
  freedBytes: number;
}

const w = words({
  en: {
    title: 'Disk space',
    storagePath: 'Storage path',
    storagePathNote: 'All files of the box are kept in its data directory. It is set in the process configuration (dataDir), which every service reads when it starts, so it is not changed here.',
    ring: 'Used {used} ({percent} %) and free {free} of {total}',
    used: 'Used',
    free: 'Free',
    logsElsewhere: 'The logs are on another disk, {path}: {used} used ({percent} %), {free} free of {total}.',
    partsCaption: 'Use of each part against its quota',
    part: 'Part',
    usage: 'Used / quota',
    chart: 'Chart',
    minimum: 'Smallest quota now',
    actions: 'Actions',
    usageOf: '{used} of {quota} GB ({files})',
    oneFile: '1 file',
    files: '{n} files',
    minimumGB: '{min} GB',
    share: '{percent} % of the server-log quota',
    cleanNow: 'Clean now',
    cleanLabel: 'Clean now: {what}',
    confirmClean: 'This deletes [{what}]. Continue?',
    cleaning: 'Cleaning…',
    cleaned: 'Cleaned {what}: {files} deleted, {freed} freed.',
    emptied: 'Emptied, not deleted, because a process is writing them: {files}.',
    rulesTitle: 'Rules',
    ruleMinimum: 'Each quota is a whole number of GB, at least the larger of the part\'s default and what it uses now.',
    ruleSum: 'The quotas of the parts on one disk add up to no more than its free space plus what those parts use now.',
    ruleOverwrite: 'When a part is full its oldest files are deleted (server logs: each module within its share); the file a process is writing is kept. Checked every minute.',
    alertOn: 'Alert mail: above {above} % the administrators get one mail; below {rearm} % again, the next rise mails again.',
    alertOff: 'Alert mail is off.',
    alertAbove: 'The disk is {percent} % full: above the alert level since the last check.',
    alertMailed: 'Alert mail sent {time} to {to}.',
    part_records: 'Meeting records',
    part_serverLogs: 'Server logs',
    part_terminalLogs: 'Terminal logs',
    part_backups: 'Backups',
    part_firmware: 'Terminal firmware',
    module_web: 'Web',
    module_sip: 'SIP',
    module_mcu: 'MCU',
    module_turn: 'TURN',
    moduleOf: 'server logs ({module})',
  },
  'zh-CN': {
    title: '磁盘空间',
    storagePath: '存储路径',
    storagePathNote: '本设备的所有文件都保存在数据目录中。该目录在进程配置（dataDir）中设置，各服务启动时读取，因此不能在此修改。',
    ring: '总共 {total}，已用 {used}（{percent}%），可用 {free}',
    used: '已用',
    free: '可用',
    logsElsewhere: '日志位于另一块磁盘 {path}：总共 {total}，已用 {used}（{percent}%），可用 {free}。',
    partsCaption: '各部分使用量与配额',
    part: '部分',
    usage: '已用 / 配额',
    chart: '图表',
    minimum: '当前最小配额',
    actions: '操作',
    usageOf: '已用 {used}，配额 {quota} GB（{files}）',
    oneFile: '1 个文件',
    files: '{n} 个文件',
    minimumGB: '{min} GB',
    share: '占服务器日志配额的 {percent}%',
    cleanNow: '立即清理',
    cleanLabel: '立即清理：{what}',
    confirmClean: '该操作将删除[{what}]，确定操作？',
    cleaning: '正在清理…',
    cleaned: '已清理{what}：删除 {files}，释放 {freed}。',
    emptied: '以下文件正被进程写入，已清空而未删除：{files}。',
    rulesTitle: '规则',
    ruleMinimum: '配额必须为整数（GB），各部分最小值为该部分默认空间和已使用空间中的较大值。',
    ruleSum: '同一磁盘上各部分配额总和不超过该磁盘的可用空间加上这些部分已使用的空间。',
    ruleOverwrite: '某部分空间满额后，自动删除最旧的文件（服务器日志按各模块占比）；正在写入的文件保留。每分钟检查一次。',
    alertOn: '告警邮件：磁盘使用超过 {above}% 时向管理员发送一封邮件；回落到 {rearm}% 以下后再次超过时再发送。',
    alertOff: '告警邮件已关闭。',
    alertAbove: '磁盘已使用 {percent}%，超过告警线。',
    alertMailed: '告警邮件已于 {time} 发送给 {to}。',
    part_records: '会议记录',
    part_serverLogs: '服务器日志',
    part_terminalLogs: '终端日志',
    part_backups: '备份空间',
    part_firmware: '设备固件',
    module_web: 'Web',
    module_sip: 'SIP',
    module_mcu: 'MCU',
    module_turn: 'TURN',
    moduleOf: '服务器日志（{module}）',
  },
});

const GB = 1024 ** 3;

/** Bytes in words: GB with one decimal from 1 GB, MB below, KB and B for small files. */
export function bytesInWords(bytes: number): string {
  if (bytes >= GB) return `${(bytes / GB).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

const filesInWords = (n: number) => (n === 1 ? w('oneFile') : w('files', { n: String(n) }));

/** The used/free ring of a file system (an SVG whose title says the figures). */
function ring(space: Space): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 42 42');
  svg.setAttribute('class', 'disk-ring');
  svg.setAttribute('role', 'img');
  const label = w('ring', { used: bytesInWords(space.usedBytes), free: bytesInWords(space.freeBytes), total: bytesInWords(space.totalBytes), percent: String(space.usedPercent) });
  svg.setAttribute('aria-label', label);
  const circle = (className: string, dash?: number) => {
    const c = document.createElementNS(ns, 'circle');
    // r = 100 / 2π: the circumference is 100, so the dash is the percentage.
    for (const [name, value] of Object.entries({ cx: '21', cy: '21', r: '15.915', class: className })) c.setAttribute(name, value);
    if (dash !== undefined) {
      c.setAttribute('stroke-dasharray', `${dash} ${100 - dash}`);
      c.setAttribute('stroke-dashoffset', '25');
    }
    return c;
  };
  const text = document.createElementNS(ns, 'text');
  for (const [name, value] of Object.entries({ x: '21', y: '23.5', 'text-anchor': 'middle', class: 'disk-ring-text' })) text.setAttribute(name, value);
  text.textContent = `${Math.round(space.usedPercent)}%`;
  const title = document.createElementNS(ns, 'title');
  title.textContent = label;
  svg.append(title, circle('free'), circle(space.usedPercent > 80 ? 'used high' : 'used', Math.min(100, space.usedPercent)), text);
  return svg;
}

/** A bar of `used` against `quota` (a meter: read out as a value, yellow past 80 %). */
function bar(used: number, quota: number, label: string): HTMLMeterElement {
  const meter = el('meter', { min: 0, max: Math.max(quota, used, 1), value: used, low: quota * 0.8, high: quota * 0.8, optimum: 0, className: 'disk-bar' });
  meter.setAttribute('aria-label', label);
  return meter;
}

/** The disk panel; `root` is filled now and again after each clean. */
export function diskUsage(onError: (error: unknown) => void): HTMLElement {
  const root = el('section', { className: 'disk-usage', id: 'disk-usage' });
  root.setAttribute('aria-labelledby', 'disk-usage-title');
  const outcome = el('div', { className: 'outcome', id: 'disk-clean-outcome' });
  outcome.setAttribute('aria-live', 'polite');
  const render = async () => {
    const disk = await api<Disk>('GET', '/disk');
    const data = disk.storagePath;
    const clean = (what: string, body: { part: PartId; module?: ModuleId }) => {
      if (!window.confirm(w('confirmClean', { what }))) return;
      outcome.className = 'outcome';
      outcome.replaceChildren(el('p', {}, w('cleaning')));
      void api<Cleaned>('POST', '/disk/clean', body)
        .then((answer) => {
          outcome.className = 'outcome ok';
          outcome.replaceChildren(
            el('p', {}, w('cleaned', { what, files: filesInWords(answer.deleted), freed: bytesInWords(answer.freedBytes) })),
            ...(answer.truncated.length > 0 ? [el('p', {}, w('emptied', { files: answer.truncated.join(', ') }))] : []),
          );
          return render();
        })
        .catch((error: unknown) => {
          if (!(error instanceof ApiError) || error.status === 401 || error.status === 0) return onError(error);
          outcome.className = 'outcome failed';
          outcome.replaceChildren(el('p', {}, error.message));
        });
    };
    const cleanButton = (what: string, id: string, body: { part: PartId; module?: ModuleId }, enabled: boolean) => {
      const button = el('button', { type: 'button', className: 'danger clean', id, disabled: !enabled }, w('cleanNow'));
      button.setAttribute('aria-label', w('cleanLabel', { what }));
      button.addEventListener('click', () => clean(what, body));
      return button;
    };
    const rows = disk.parts.flatMap((part) => {
      const name = w(`part_${part.id}`);
      const usage = w('usageOf', { used: bytesInWords(part.usedBytes), quota: String(part.quotaGB), files: filesInWords(part.files) });
      const note = part.note ? el('p', { className: 'help' }, lang() === 'en' ? part.note.en : part.note.zh) : undefined;
      const row = el(
        'tr',
        { className: 'disk-part' },
        el('th', { scope: 'row' }, name, ...(note ? [note] : [])),
        el('td', {}, usage),
        el('td', {}, bar(part.usedBytes, part.quotaBytes, `${name}: ${usage}`)),
        el('td', {}, w('minimumGB', { min: String(part.minimumGB) })),
        el('td', { className: 'row-actions' }, cleanButton(name, `disk-clean-${part.id}`, { part: part.id }, part.cleanable)),
      );
      row.dataset.part = part.id;
      const modules = (part.modules ?? []).map((module) => {
        const moduleName = w(`module_${module.id}`);
        const what = w('moduleOf', { module: moduleName });
        const moduleUsage = `${bytesInWords(module.usedBytes)} / ${bytesInWords(module.quotaBytes)}`;
        const sub = el(
          'tr',
          { className: 'disk-module' },
          el('th', { scope: 'row' }, `↳ ${moduleName}`),
          el('td', {}, `${moduleUsage} · ${w('share', { percent: String(module.percent) })}`),
          el('td', {}, bar(module.usedBytes, module.quotaBytes, `${what}: ${moduleUsage}`)),
          el('td', {}, ''),
          el('td', { className: 'row-actions' }, cleanButton(what, `disk-clean-serverLogs-${module.id}`, { part: 'serverLogs', module: module.id }, true)),
        );
        sub.dataset.module = module.id;
        return sub;
      });
      return [row, ...modules];
    });
    const elsewhere = disk.filesystems.slice(1).map((fs) =>
      el('p', { className: 'muted' }, w('logsElsewhere', { path: fs.path, used: bytesInWords(fs.usedBytes), free: bytesInWords(fs.freeBytes), total: bytesInWords(fs.totalBytes), percent: String(fs.usedPercent) })),
    );
    const alertLines: string[] = [disk.alert.enabled ? w('alertOn', { above: String(disk.alert.abovePercent), rearm: String(disk.alert.rearmPercent) }) : w('alertOff')];
    for (const state of disk.alert.states.filter((s) => s.above)) {
      alertLines.push(w('alertAbove', { percent: String(state.percent) }));
      if (state.mailedAt) alertLines.push(w('alertMailed', { time: new Date(state.mailedAt).toLocaleString(lang()), to: state.recipients.join(', ') }));
    }
    root.replaceChildren(
      el('h3', { id: 'disk-usage-title' }, w('title')),
      el(
        'div',
        { className: 'disk-storage' },
        ring(data),
        el(
          'div',
          {},
          el('p', {}, el('strong', {}, `${w('storagePath')}: `), el('code', { id: 'disk-storage-path' }, data.path)),
          el('p', { id: 'disk-storage-figures' }, w('ring', { used: bytesInWords(data.usedBytes), free: bytesInWords(data.freeBytes), total: bytesInWords(data.totalBytes), percent: String(data.usedPercent) })),
          el('p', { className: 'help' }, w('storagePathNote')),
          ...elsewhere,
        ),
      ),
      el(
        'div',
        { className: 'table-wrap' },
        el(
          'table',
          { id: 'disk-parts' },
          el('caption', {}, w('partsCaption')),
          el('thead', {}, el('tr', {}, ...(['part', 'usage', 'chart', 'minimum', 'actions'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
          el('tbody', {}, ...rows),
        ),
      ),
      outcome,
      el('h3', {}, w('rulesTitle')),
      el('ul', { className: 'help disk-rules' }, el('li', {}, w('ruleMinimum')), el('li', {}, w('ruleSum')), el('li', {}, w('ruleOverwrite'))),
      el('p', { id: 'disk-alert', className: 'help' }, ...alertLines.flatMap((line, i) => (i === 0 ? [line] : [el('br'), line]))),
    );
  };
  void render().catch(onError);
  return root;
}
