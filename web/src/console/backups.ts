/**
 * The "backups" page (maintenance): the backups on the box, newest first (name, size, date,
 * made by hand or by the schedule), a backup made now under the default name, each one's
 * download, delete one or many (confirmed), restore one from the list or an uploaded backup
 * file (this box's or another vcbox's) — confirmed, since a restore replaces the data of this
 * box — with the outcome in words (what came back, services to restart, whose sessions ended).
 * The automatic schedule is shown; its settings live on the settings page, linked from here.
 * Backups are encrypted: making one asks for a passphrase (typed twice), restoring asks for it
 * again, and the passphrase of the automatic backups is set here (kept sealed by the box; the
 * page only learns whether one is set).
 */
import { el } from './form-fields.ts';
import { actionOutcome } from './action-outcome.ts';
import { api, upload } from './api.ts';
import { lang, words } from './i18n.ts';
import { settingsLink } from './settings.ts';

interface Backup {
  name: string;
  size: number;
  createdAt: string;
  kind: 'manual' | 'auto' | 'unknown';
  productVersion?: string;
  host?: string;
  encrypted?: boolean;
  problem?: string;
}
interface BackupList {
  backups: Backup[];
  auto: { enabled: boolean; period: string; day: number; time: string; keep: number; nextRun: string | null };
  maxUploadBytes: number;
}
interface RestoreAnswer {
  restored: string;
  from: 'list' | 'upload';
  createdAt: string;
  productVersion: string;
  host: string;
  schemaVersion: { backup: number; box: number };
  migrated: number[];
  rows: number;
  files: { certificates: number; prompts: number };
  settingsChanged: string[];
  restartRequired: string[];
  sessionKept: boolean;
}

const w = words({
  en: {
    title: 'Backups',
    scheduleTitle: 'Automatic backup',
    scheduleOff: 'Automatic backup is off.',
    scheduleDaily: 'Every day at {time}, keeping the newest {keep}.',
    scheduleWeekly: 'Every {weekday} at {time}, keeping the newest {keep}.',
    scheduleMonthly: 'On day {day} of every month at {time}, keeping the newest {keep}.',
    nextRun: 'Next run: {time}.',
    twoSentences: '{first} {second}',
    scheduleLink: 'Change the schedule in the settings',
    contents: 'A backup holds everything but the licence and the logs: accounts, rooms, meetings, call records, administrators, settings, the certificate and the IVR prompts.',
    backupNow: 'Back up now',
    working: 'Working…',
    created: 'Backup {name} made ({size}).',
    deleteSelected: 'Delete selected',
    confirmDeleteOne: 'Delete the backup {name}? It cannot be restored afterwards.',
    confirmDeleteMany: 'Delete {count} backups? They cannot be restored afterwards.',
    deleted: 'Deleted: {names}.',
    notFound: 'Already gone: {names}.',
    listCaption: 'Backups on this box: {count}',
    none: 'No backup yet.',
    name: 'Name',
    size: 'Size',
    date: 'Made',
    kind: 'Kind',
    actions: 'Actions',
    kind_manual: 'manual',
    kind_auto: 'automatic',
    kind_unknown: 'unreadable',
    select: 'Select {name}',
    download: 'Download',
    restore: 'Restore',
    delete: 'Delete',
    confirmRestore:
      'Restore {name}?\n\nRestore replaces the data of this box — accounts, rooms, meetings, call records, administrators, settings, certificate and prompts — with the backup\'s. The licence and the logs stay. Other console sessions end.',
    uploadTitle: 'Restore from a file',
    uploadFile: 'Backup file (.vcbackup, from this or another vcbox; at most {size})',
    passphrase: 'Passphrase (8-256 characters)',
    passphraseAgain: 'Passphrase again',
    passphraseHint: 'Backups are encrypted with this passphrase. Keep it safe: without it a backup cannot be restored.',
    passphraseMismatch: 'The two passphrases differ: type the same passphrase twice.',
    passphraseShort: 'Type a passphrase of 8 to 256 characters first.',
    restorePassphrase: 'Passphrase of the backup to restore',
    restorePassphraseMissing: 'Type the passphrase the backup was made with first.',
    autoPassphraseTitle: 'Passphrase of the automatic backups',
    autoPassphraseSet: 'A passphrase is set: automatic backups are made with it.',
    autoPassphraseUnset: 'No passphrase is set: automatic backups are not made until one is.',
    autoPassphraseSave: 'Save the passphrase',
    autoPassphraseSaved: 'The passphrase of the automatic backups was saved.',
    uploadRestore: 'Upload and restore',
    uploadChoose: 'Choose a backup file first.',
    restored: 'Restored {name} (made {date} on {host} by vcbox {version}): {rows} rows, {certificates} certificate files, {prompts} prompt files.',
    migrated: 'Its data was brought from schema {from} to {to}.',
    settingsChanged: '{count} settings changed with it.',
    restartNeeded: 'Restart the {services} for the restored settings or certificate to take effect.',
    noRestart: 'No service needs a restart.',
    sessionKept: 'Other console sessions were ended; yours goes on.',
    sessionEnded: 'All console sessions were ended: log in with the restored credentials.',
    service_signaling: 'SIP signaling service',
    service_media: 'media service',
    'service_control-plane': 'web console and API service',
    and: ' and ',
  },
  'zh-CN': {
    title: '备份与恢复',
    scheduleTitle: '自动备份',
    scheduleOff: '自动备份已关闭。',
    scheduleDaily: '每天 {time}，保留最新的 {keep} 份。',
    scheduleWeekly: '每{weekday} {time}，保留最新的 {keep} 份。',
    scheduleMonthly: '每月 {day} 日 {time}，保留最新的 {keep} 份。',
    nextRun: '下次运行：{time}。',
    twoSentences: '{first}{second}',
    scheduleLink: '在系统设置中修改计划',
    contents: '备份包含除许可证和日志以外的全部内容：账号、会议室、会议、通话记录、管理员、设置、证书和 IVR 提示音。',
    backupNow: '立即备份',
    working: '正在处理…',
    created: '已生成备份 {name}（{size}）。',
    deleteSelected: '删除所选',
    confirmDeleteOne: '删除备份 {name}？删除后无法再用它恢复。',
    confirmDeleteMany: '删除 {count} 份备份？删除后无法再用它们恢复。',
    deleted: '已删除：{names}。',
    notFound: '已不存在：{names}。',
    listCaption: '共 {count} 份备份',
    none: '还没有备份。',
    name: '名称',
    size: '大小',
    date: '生成时间',
    kind: '方式',
    actions: '操作',
    kind_manual: '手动',
    kind_auto: '自动',
    kind_unknown: '无法读取',
    select: '选择 {name}',
    download: '下载',
    restore: '恢复',
    delete: '删除',
    confirmRestore: '恢复 {name}？\n\n恢复将用备份中的数据替换本设备的数据——账号、会议室、会议、通话记录、管理员、设置、证书和提示音。许可证和日志保持不变。其他控制台会话将结束。',
    uploadTitle: '从文件恢复',
    uploadFile: '备份文件（.vcbackup，来自本设备或其他 vcbox；不超过 {size}）',
    passphrase: '口令（8-256 个字符）',
    passphraseAgain: '再次输入口令',
    passphraseHint: '备份用此口令加密。请妥善保管：没有它将无法恢复备份。',
    passphraseMismatch: '两次输入的口令不一致：请输入两次相同的口令。',
    passphraseShort: '请先输入 8 到 256 个字符的口令。',
    restorePassphrase: '要恢复的备份的口令',
    restorePassphraseMissing: '请先输入制作该备份时使用的口令。',
    autoPassphraseTitle: '自动备份的口令',
    autoPassphraseSet: '已设置口令：自动备份将使用它。',
    autoPassphraseUnset: '尚未设置口令：设置之前不会进行自动备份。',
    autoPassphraseSave: '保存口令',
    autoPassphraseSaved: '自动备份的口令已保存。',
    uploadRestore: '上传并恢复',
    uploadChoose: '请先选择备份文件。',
    restored: '已恢复 {name}（{date} 由 {host} 上的 vcbox {version} 生成）：{rows} 行数据，证书文件 {certificates} 个，提示音文件 {prompts} 个。',
    migrated: '其数据已从结构版本 {from} 升级到 {to}。',
    settingsChanged: '随之改变的设置 {count} 项。',
    restartNeeded: '需重启{services}，恢复的设置或证书才会生效。',
    noRestart: '无需重启任何服务。',
    sessionKept: '其他控制台会话已结束；您的会话保留。',
    sessionEnded: '所有控制台会话已结束：请用恢复后的账号密码登录。',
    service_signaling: 'SIP 信令服务',
    service_media: '媒体服务',
    'service_control-plane': 'Web 控制台与 API 服务',
    and: '和',
  },
});

const WEEKDAYS = {
  en: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
  'zh-CN': ['周一', '周二', '周三', '周四', '周五', '周六', '周日'],
} as const;

const view = { selected: new Set<string>() };


/** "1.5 MB": a size for people (also the firmware page's). */
export function sizeInWords(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

const dateInWords = (iso: string) => new Date(iso).toLocaleString(lang());

function serviceNames(services: string[]): string {
  return services.map((s) => (s === 'signaling' || s === 'media' || s === 'control-plane' ? w(`service_${s}`) : s)).join(w('and'));
}

function scheduleInWords(auto: BackupList['auto']): string {
  if (!auto.enabled) return w('scheduleOff');
  const values = { time: auto.time, keep: String(auto.keep), day: String(auto.day) };
  const text =
    auto.period === 'daily'
      ? w('scheduleDaily', values)
      : auto.period === 'weekly'
        ? w('scheduleWeekly', { ...values, weekday: WEEKDAYS[lang()][auto.day - 1] ?? String(auto.day) })
        : w('scheduleMonthly', values);
  return auto.nextRun ? w('twoSentences', { first: text, second: w('nextRun', { time: dateInWords(auto.nextRun) }) }) : text;
}

function restoreInWords(answer: RestoreAnswer): string[] {
  const lines = [
    w('restored', {
      name: answer.restored,
      date: dateInWords(answer.createdAt),
      host: answer.host,
      version: answer.productVersion,
      rows: String(answer.rows),
      certificates: String(answer.files.certificates),
      prompts: String(answer.files.prompts),
    }),
  ];
  if (answer.migrated.length > 0) lines.push(w('migrated', { from: String(answer.schemaVersion.backup), to: String(answer.schemaVersion.box) }));
  if (answer.settingsChanged.length > 0) lines.push(w('settingsChanged', { count: String(answer.settingsChanged.length) }));
  lines.push(answer.restartRequired.length > 0 ? w('restartNeeded', { services: serviceNames(answer.restartRequired) }) : w('noRestart'));
  lines.push(answer.sessionKept ? w('sessionKept') : w('sessionEnded'));
  return lines;
}

export async function renderBackups(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const list = await api<BackupList>('GET', '/backups');
  const autoPassphraseSet = (await api<Record<string, { value: unknown }>>('GET', '/settings'))['backup.passphrase']?.value === '(set)';
  const names = new Set(list.backups.map((b) => b.name));
  for (const name of view.selected) if (!names.has(name)) view.selected.delete(name);

  const outcome = actionOutcome('backup-outcome', { working: w('working') }, () => renderBackups(root, onError), onError);
  const { say, act, buttons } = outcome;
  const remove = (selected: string[]) => {
    const question = selected.length === 1 ? w('confirmDeleteOne', { name: selected[0] ?? '' }) : w('confirmDeleteMany', { count: String(selected.length) });
    if (!window.confirm(question)) return;
    act(async () => {
      const answer = await api<{ deleted: string[]; notFound: string[] }>('POST', '/backups/delete', { names: selected });
      for (const name of answer.deleted) view.selected.delete(name);
      return [...(answer.deleted.length > 0 ? [w('deleted', { names: answer.deleted.join(', ') })] : []), ...(answer.notFound.length > 0 ? [w('notFound', { names: answer.notFound.join(', ') })] : [])];
    });
  };

  // The schedule.
  const schedule = el(
    'section',
    { className: 'panel', id: 'backup-schedule' },
    el('h2', {}, w('scheduleTitle')),
    el('p', { id: 'backup-schedule-text' }, scheduleInWords(list.auto)),
    el('p', {}, settingsLink('backup', w('scheduleLink'), 'backup-schedule-link')),
  );

  // The passphrase: typed twice for a new backup (a typo would make the backup unusable),
  // once for a restore.
  const passphrase = el('input', { id: 'backup-passphrase', type: 'password', maxLength: 256, autocomplete: 'new-password' });
  const passphraseAgain = el('input', { id: 'backup-passphrase-again', type: 'password', maxLength: 256, autocomplete: 'new-password' });
  const typedTwice = (): string | undefined => {
    if (passphrase.value.length < 8) {
      say([w('passphraseShort')], true);
      passphrase.focus();
      return undefined;
    }
    if (passphrase.value !== passphraseAgain.value) {
      say([w('passphraseMismatch')], true);
      passphraseAgain.focus();
      return undefined;
    }
    return passphrase.value;
  };
  const restorePassphrase = el('input', { id: 'restore-passphrase', type: 'password', maxLength: 256, autocomplete: 'off' });
  const restoreWith = (): string | undefined => {
    if (restorePassphrase.value === '') {
      say([w('restorePassphraseMissing')], true);
      restorePassphrase.focus();
      return undefined;
    }
    return restorePassphrase.value;
  };

  // Actions on the list.
  const now = el('button', { type: 'button', id: 'backup-now' }, w('backupNow'));
  now.addEventListener('click', () => {
    const chosen = typedTwice();
    if (chosen === undefined) return;
    act(async () => {
      const made = await api<Backup>('POST', '/backups', { passphrase: chosen });
      return [w('created', { name: made.name, size: sizeInWords(made.size) })];
    });
  });
  const deleteSelected = el('button', { type: 'button', id: 'backup-delete-selected', className: 'danger', disabled: view.selected.size === 0 }, w('deleteSelected'));
  deleteSelected.addEventListener('click', () => {
    if (view.selected.size > 0) remove([...view.selected]);
  });
  buttons.push(now, deleteSelected);

  const rows = list.backups.map((backup) => {
    const box = el('input', { type: 'checkbox', checked: view.selected.has(backup.name) });
    box.setAttribute('aria-label', w('select', { name: backup.name }));
    box.addEventListener('change', () => {
      if (box.checked) view.selected.add(backup.name);
      else view.selected.delete(backup.name);
      deleteSelected.disabled = view.selected.size === 0;
    });
    const download = el('a', { href: `/api/v1/backups/${encodeURIComponent(backup.name)}/download`, download: `${backup.name}${backup.encrypted === false ? '.tar.gz' : '.vcbackup'}`, className: 'download' }, w('download'));
    download.setAttribute('aria-label', `${w('download')} ${backup.name}`);
    const restore = el('button', { type: 'button', className: 'restore', disabled: backup.kind === 'unknown' }, w('restore'));
    restore.setAttribute('aria-label', `${w('restore')} ${backup.name}`);
    restore.addEventListener('click', () => {
      const given = backup.encrypted === false ? '' : restoreWith();
      if (given === undefined) return;
      if (!window.confirm(w('confirmRestore', { name: backup.name }))) return;
      act(async () => restoreInWords(await api<RestoreAnswer>('POST', `/backups/${encodeURIComponent(backup.name)}/restore`, given ? { passphrase: given } : {})));
    });
    const del = el('button', { type: 'button', className: 'delete danger' }, w('delete'));
    del.setAttribute('aria-label', `${w('delete')} ${backup.name}`);
    del.addEventListener('click', () => remove([backup.name]));
    buttons.push(restore, del);
    const kind = el('td', {}, w(`kind_${backup.kind}`));
    if (backup.problem) kind.append(el('br'), el('span', { className: 'muted' }, backup.problem));
    const row = el('tr', {}, el('td', {}, box), el('th', { scope: 'row' }, backup.name), el('td', {}, sizeInWords(backup.size)), el('td', {}, dateInWords(backup.createdAt)), kind, el('td', { className: 'row-actions' }, download, ' ', restore, ' ', del));
    row.dataset.backup = backup.name;
    return row;
  });
  const table = el(
    'table',
    { id: 'backups-table' },
    el('caption', {}, w('listCaption', { count: String(list.backups.length) })),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, ''), ...(['name', 'size', 'date', 'kind', 'actions'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
    el('tbody', {}, ...rows),
  );

  // Restore from a file.
  const file = el('input', { id: 'restore-file', type: 'file', accept: '.vcbackup,.tar.gz,.tgz,.gz,application/gzip' });
  const uploadButton = el('button', { type: 'button', id: 'restore-upload' }, w('uploadRestore'));
  uploadButton.addEventListener('click', () => {
    const chosen = file.files?.[0];
    if (!chosen) {
      say([w('uploadChoose')], true);
      file.focus();
      return;
    }
    const given = restoreWith();
    if (given === undefined) return;
    if (!window.confirm(w('confirmRestore', { name: chosen.name }))) return;
    act(async () => restoreInWords(await upload<RestoreAnswer>('/backups/restore', chosen, 'application/octet-stream', { 'x-backup-passphrase': encodeURIComponent(given) })));
  });
  buttons.push(uploadButton);
  const uploadPanel = el(
    'section',
    { className: 'panel' },
    el('h2', {}, w('uploadTitle')),
    el('div', { className: 'inline-form' }, el('label', { htmlFor: 'restore-file' }, w('uploadFile', { size: sizeInWords(list.maxUploadBytes) })), file, uploadButton),
  );

  // The passphrase automatic backups are made with (a secret setting: never shown, only whether it is set).
  const autoPassphrase = el('input', { id: 'auto-passphrase', type: 'password', maxLength: 256, autocomplete: 'new-password' });
  const autoSave = el('button', { type: 'button', id: 'auto-passphrase-save' }, w('autoPassphraseSave'));
  autoSave.addEventListener('click', () => {
    if (autoPassphrase.value.length < 8) {
      say([w('passphraseShort')], true);
      autoPassphrase.focus();
      return;
    }
    const value = autoPassphrase.value;
    act(async () => {
      await api('PATCH', '/settings', { 'backup.passphrase': value });
      return [w('autoPassphraseSaved')];
    });
  });
  buttons.push(autoSave);
  const autoPanel = el(
    'section',
    { className: 'panel', id: 'auto-passphrase-panel' },
    el('h2', {}, w('autoPassphraseTitle')),
    el('p', { id: 'auto-passphrase-state' }, autoPassphraseSet ? w('autoPassphraseSet') : w('autoPassphraseUnset')),
    el('div', { className: 'inline-form' }, el('label', { htmlFor: 'auto-passphrase' }, w('passphrase')), autoPassphrase, autoSave),
  );
  const passphrasePanel = el(
    'div',
    { className: 'inline-form', id: 'backup-passphrase-form' },
    el('label', { htmlFor: 'backup-passphrase' }, w('passphrase')),
    passphrase,
    el('label', { htmlFor: 'backup-passphrase-again' }, w('passphraseAgain')),
    passphraseAgain,
  );
  const restorePassphrasePanel = el('div', { className: 'inline-form' }, el('label', { htmlFor: 'restore-passphrase' }, w('restorePassphrase')), restorePassphrase);

  root.replaceChildren(
    el('h1', {}, w('title')),
    schedule,
    autoPanel,
    el('p', { className: 'muted' }, w('contents')),
    el('p', { className: 'muted' }, w('passphraseHint')),
    passphrasePanel,
    el('div', { className: 'toolbar' }, now, deleteSelected),
    outcome.element,
    list.backups.length > 0 ? table : el('p', { className: 'empty' }, w('none')),
    restorePassphrasePanel,
    uploadPanel,
  );
}
