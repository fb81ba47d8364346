/**
 * The "firmware" page (maintenance; manual 001 ch4 设备升级): the terminal firmware files per
 * model, the latest marked, with the registered terminals of the model and their versions;
 * upload a .rom file for a model (with its progress, and the outcome or the refusal by its
 * field), make an older file the latest again, replace or delete a file that is not the latest
 * (confirmed), "update now" for a model (confirmed), and each terminal's progress — told,
 * downloaded, updated — refreshed every 5 s while the page is shown. How terminals reach the box
 * (their provisioning server URL) is said at the top; the quota lives in the disk settings.
 */
import { actionOutcome } from './action-outcome.ts';
import { api, sendFile } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { lang, words } from './i18n.ts';
import { sizeInWords } from './backups.ts';
import { settingsLink } from './settings.ts';

interface Firmware {
  id: number;
  model: string;
  version: string;
  fileName: string;
  size: number;
  latest: boolean;
  uploadedAt: string;
  uploadedBy: string;
  replacedAt: string | null;
  missing: boolean;
}
interface FirmwareList {
  files: Firmware[];
  registered: { model: string; terminals: number; versions: { version: string; terminals: number }[] }[];
  usedBytes: number;
  quotaBytes: number;
  maxUploadBytes: number;
  provisioningPath: string;
}
interface Progress {
  id: number;
  account: string;
  name: string;
  terminal: string;
  model: string;
  address: string | null;
  fromVersion: string;
  targetVersion: string;
  state: 'notifying' | 'notified' | 'notify-failed' | 'downloaded' | 'updated';
  requestedAt: string | null;
  notifiedAt: string | null;
  notifyStatus: number | null;
  notifyError: string | null;
  downloadedAt: string | null;
  seenVersion: string | null;
  updatedAt: string | null;
  online: boolean;
}
interface UpdateAnswer {
  firmware: Firmware;
  told: Progress[];
  upToDate: { account: string }[];
}

const w = words({
  en: {
    title: 'Terminal firmware',
    howTerminals: 'Terminals fetch their firmware from this box: set each terminal’s provisioning server to {url} with its account number and SIP password. “Update now” tells every registered terminal of a model whose version differs from the model’s latest file to fetch it; the terminal restarts to install it.',
    storage: 'Firmware files use {used} of {quota}; one file at most {max}.',
    quotaLink: 'Change the firmware quota in the disk settings',
    uploadTitle: 'Upload firmware',
    model: 'Terminal model',
    modelHint: 'as the terminals report it, e.g. Yealink SIP-VC800',
    version: 'Version',
    versionHint: 'read from the file name when left empty',
    file: 'Firmware file (.rom)',
    upload: 'Upload',
    uploading: 'Uploading… {percent} %',
    uploaded: '{file} uploaded for {model} (version {version}, {size}); it is the latest now.',
    chooseFile: 'Choose a .rom file first.',
    working: 'Working…',
    none: 'No firmware uploaded yet.',
    registeredNow: 'Terminals registered now: {count} ({versions}).',
    registeredNone: 'No terminal of this model is registered now.',
    registeredWithout: 'Registered models without firmware here: {models}.',
    timesVersion: '{version} × {count}',
    unknownVersion: 'unknown',
    updateNow: 'Update now',
    confirmUpdate: 'Tell the registered {model} terminals whose version is not {version} to upgrade now?\n\nEach one fetches the file and restarts to install it (after its call, if it is in one).',
    updated: '{model}: told to upgrade to {version}: {told}; already on it: {upToDate}.',
    filesCaption: 'Firmware files for {model}',
    fileName: 'File',
    size: 'Size',
    uploadedAt: 'Uploaded',
    actions: 'Actions',
    latest: 'latest',
    missing: 'file missing',
    by: '{date} by {who}',
    makeLatest: 'Make latest',
    madeLatest: '{file} (version {version}) is the latest for {model} now.',
    replace: 'Replace…',
    replaceLabel: 'Replacement file for {file}',
    confirmReplace: 'Replace {file} (version {version}) by {newFile}?',
    replaced: '{file} replaced by {newFile} (version {version}).',
    delete: 'Delete',
    confirmDelete: 'Delete {file} (version {version})? It can no longer be given to terminals.',
    deleted: '{file} deleted.',
    progressTitle: 'Update progress',
    progressCaption: 'Terminals: {count}',
    progressNone: 'No terminal has been told to upgrade yet.',
    refresh: 'Refresh',
    account: 'Account',
    terminal: 'Terminal',
    versions: 'Version',
    fromTo: '{from} → {to}',
    state: 'State',
    told: 'Told',
    downloadedAt: 'Downloaded',
    updatedAt: 'Updated',
    state_notifying: 'being told…',
    state_notified: 'told (NOTIFY answered {status})',
    'state_notify-failed': 'not reached: {reason}',
    state_downloaded: 'downloaded',
    state_updated: 'updated',
    stillReports: 'still reports {version}',
    notTold: 'fetched by itself',
    offline: 'not registered now',
  },
  'zh-CN': {
    title: '终端固件',
    howTerminals: '终端从本设备获取固件：请将各终端的自动部署服务器设为 {url}，并使用其账号和 SIP 密码。“立即更新”会通知某型号中软件版本与该型号最新固件不一致的所有已注册终端获取该固件；终端会重启完成安装。',
    storage: '固件文件已使用 {used}，配额 {quota}；单个文件不超过 {max}。',
    quotaLink: '在磁盘设置中修改固件配额',
    uploadTitle: '上传固件',
    model: '终端型号',
    modelHint: '与终端上报的一致，例如 Yealink SIP-VC800',
    version: '版本',
    versionHint: '留空则从文件名读取',
    file: '固件文件（.rom）',
    upload: '上传',
    uploading: '正在上传… {percent}%',
    uploaded: '已为 {model} 上传 {file}（版本 {version}，{size}）；它现在是最新版本。',
    chooseFile: '请先选择 .rom 文件。',
    working: '正在处理…',
    none: '还没有上传固件。',
    registeredNow: '当前已注册：{count} 台终端（{versions}）。',
    registeredNone: '当前没有该型号的终端注册。',
    registeredWithout: '已注册但本设备没有固件的型号：{models}。',
    timesVersion: '{version} × {count}',
    unknownVersion: '未知',
    updateNow: '立即更新',
    confirmUpdate: '确定通知版本不是 {version} 的已注册 {model} 终端立即升级？\n\n每台终端将获取该文件并重启完成安装（如在通话中，则在通话结束后）。',
    updated: '已通知 {model} 的 {told} 台终端升级到 {version}；{upToDate} 台已是该版本。',
    filesCaption: '{model} 的固件文件',
    fileName: '文件',
    size: '大小',
    uploadedAt: '上传时间',
    actions: '操作',
    latest: '最新版本',
    missing: '文件缺失',
    by: '{date}（{who}）',
    makeLatest: '设为最新版本',
    madeLatest: '{file}（版本 {version}）现在是 {model} 的最新版本。',
    replace: '替换…',
    replaceLabel: '用于替换 {file} 的文件',
    confirmReplace: '用 {newFile} 替换 {file}（版本 {version}）？',
    replaced: '已用 {newFile}（版本 {version}）替换 {file}。',
    delete: '删除',
    confirmDelete: '删除 {file}（版本 {version}）？删除后将无法再提供给终端。',
    deleted: '已删除 {file}。',
    progressTitle: '更新进度',
    progressCaption: '共 {count} 台终端',
    progressNone: '还没有通知任何终端升级。',
    refresh: '刷新',
    account: '账号',
    terminal: '终端',
    versions: '版本',
    fromTo: '{from} → {to}',
    state: '状态',
    told: '通知时间',
    downloadedAt: '下载时间',
    updatedAt: '更新时间',
    state_notifying: '正在通知…',
    state_notified: '已通知（NOTIFY 应答 {status}）',
    'state_notify-failed': '未能通知：{reason}',
    state_downloaded: '已下载',
    state_updated: '已更新',
    stillReports: '仍上报版本 {version}',
    notTold: '终端自行获取',
    offline: '当前未注册',
  },
});

/** The model typed last (kept for the next upload). */
let lastModel = '';

const dateInWords = (iso: string | null) => (iso ? new Date(iso).toLocaleString(lang()) : '—');
const modelKey = (model: string) => model.trim().replace(/\s+/g, ' ').toLowerCase();

function stateInWords(p: Progress): string {
  const state = w(`state_${p.state}`, { status: String(p.notifyStatus ?? ''), reason: p.notifyError ?? '' });
  const notes = [state];
  if (p.state === 'downloaded' && p.seenVersion && p.seenVersion !== p.fromVersion) notes.push(w('stillReports', { version: p.seenVersion }));
  if (!p.requestedAt) notes.push(w('notTold'));
  if (!p.online) notes.push(w('offline'));
  return notes.join('; ');
}

function progressRows(progress: Progress[]): HTMLTableRowElement[] {
  return progress.map((p) => {
    const row = el(
      'tr',
      { className: `state-${p.state}` },
      el('td', {}, p.name ? `${p.account} ${p.name}` : p.account),
      el('td', {}, p.address ?? p.terminal),
      el('td', {}, p.model),
      el('td', {}, w('fromTo', { from: p.fromVersion || w('unknownVersion'), to: p.targetVersion })),
      el('td', { className: 'state' }, stateInWords(p)),
      el('td', {}, dateInWords(p.requestedAt)),
      el('td', {}, dateInWords(p.downloadedAt)),
      el('td', {}, dateInWords(p.updatedAt)),
    );
    row.dataset.account = p.account;
    row.dataset.state = p.state;
    return row;
  });
}

export async function renderFirmware(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const [list, progress] = await Promise.all([api<FirmwareList>('GET', '/firmware'), api<Progress[]>('GET', '/firmware/progress')]);
  const again = () => renderFirmware(root, onError).catch(onError);

  const outcome = actionOutcome('firmware-outcome', { working: w('working') }, again, onError);
  const { act, buttons } = outcome;

  // Where terminals fetch, and the storage.
  const url = `${location.origin}${list.provisioningPath}`;
  const intro = el(
    'section',
    { className: 'panel', id: 'firmware-intro' },
    el('p', { id: 'firmware-how' }, w('howTerminals', { url })),
    el('p', { id: 'firmware-storage' }, w('storage', { used: sizeInWords(list.usedBytes), quota: sizeInWords(list.quotaBytes), max: sizeInWords(list.maxUploadBytes) }), ' ', settingsLink('disk', w('quotaLink'), 'firmware-quota-link')),
  );

  // Upload.
  const model = el('input', { maxLength: 128, required: true, value: lastModel, autocomplete: 'off' });
  model.setAttribute('list', 'firmware-models');
  const known = new Map<string, string>();
  for (const m of [...list.files.map((f) => f.model), ...list.registered.map((r) => r.model)]) if (!known.has(modelKey(m))) known.set(modelKey(m), m);
  const models = el('datalist', { id: 'firmware-models' }, ...[...known.values()].map((m) => el('option', { value: m })));
  const version = el('input', { maxLength: 64 });
  const file = el('input', { type: 'file', accept: '.rom' });
  const bar = el('progress', { id: 'firmware-upload-progress', max: 1, value: 0, hidden: true });
  const uploadButton = el('button', { type: 'submit' }, w('upload'));
  buttons.push(uploadButton);
  const formMessage = el('p', { className: 'form-error', id: 'firmware-form-error' });
  formMessage.setAttribute('role', 'alert');
  const form = el(
    'form',
    { className: 'inline-form field-form', id: 'firmware-upload', noValidate: true },
    field('firmware-model', w('model'), model, w('modelHint')),
    field('firmware-version', w('version'), version, w('versionHint')),
    field('firmware-file', w('file'), file),
    models,
    el('div', { className: 'form-actions' }, uploadButton, bar),
    formMessage,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, formMessage);
    const chosen = file.files?.[0];
    lastModel = model.value.trim();
    if (!chosen) {
      const message = form.querySelector<HTMLElement>('#firmware-file-error');
      if (message) message.textContent = w('chooseFile');
      file.setAttribute('aria-invalid', 'true');
      file.focus();
      return;
    }
    const query = new URLSearchParams({ model: lastModel, fileName: chosen.name, ...(version.value.trim() ? { version: version.value.trim() } : {}) });
    uploadButton.disabled = true;
    outcome.clear(); // the last action's outcome is not this upload's
    bar.hidden = false;
    bar.value = 0;
    formMessage.textContent = w('uploading', { percent: '0' });
    void sendFile<Firmware>('POST', `/firmware?${query}`, chosen, 'application/octet-stream', (sent) => {
      bar.value = sent;
      formMessage.textContent = w('uploading', { percent: String(Math.floor(sent * 100)) });
    })
      .then((saved) => {
        outcome.keep([w('uploaded', { file: saved.fileName, model: saved.model, version: saved.version, size: sizeInWords(saved.size) })]);
        return again();
      })
      .catch((error: unknown) => {
        uploadButton.disabled = false;
        bar.hidden = true;
        if (!showRefusal(form, formMessage, error, { model: 'firmware-model', version: 'firmware-version', file: 'firmware-file' })) {
          formMessage.textContent = '';
          onError(error);
        }
      });
  });

  // The files of each model, with its terminals and "update now".
  const byModel = new Map<string, Firmware[]>();
  for (const f of list.files) byModel.set(modelKey(f.model), [...(byModel.get(modelKey(f.model)) ?? []), f]);
  const sections = [...byModel.values()].map((files) => {
    const latest = files.find((f) => f.latest);
    const name = files[0]?.model ?? '';
    const registered = list.registered.find((r) => modelKey(r.model) === modelKey(name));
    const terminals = registered
      ? w('registeredNow', {
          count: String(registered.terminals),
          versions: registered.versions.map((v) => w('timesVersion', { version: v.version || w('unknownVersion'), count: String(v.terminals) })).join(', '),
        })
      : w('registeredNone');
    const update = el('button', { type: 'button', className: 'update-now', disabled: !latest }, w('updateNow'));
    update.setAttribute('aria-label', `${w('updateNow')} ${name}`);
    update.addEventListener('click', () => {
      if (!latest || !window.confirm(w('confirmUpdate', { model: name, version: latest.version }))) return;
      act(async () => {
        const answer = await api<UpdateAnswer>('POST', '/firmware/update', { model: name });
        return [w('updated', { told: String(answer.told.length), model: answer.firmware.model, version: answer.firmware.version, upToDate: String(answer.upToDate.length) })];
      });
    });
    buttons.push(update);
    const rows = files.map((f) => {
      const actions = el('td', { className: 'row-actions' });
      if (!f.latest) {
        const makeLatest = el('button', { type: 'button', className: 'make-latest secondary' }, w('makeLatest'));
        makeLatest.setAttribute('aria-label', `${w('makeLatest')} ${f.fileName}`);
        makeLatest.addEventListener('click', () =>
          act(async () => {
            const made = await api<Firmware>('POST', `/firmware/${f.id}/latest`);
            return [w('madeLatest', { file: made.fileName, version: made.version, model: made.model })];
          }),
        );
        const replacement = el('input', { type: 'file', accept: '.rom', className: 'visually-hidden replace-file', id: `firmware-replace-${f.id}` });
        const replacementLabel = el('label', { htmlFor: replacement.id, className: 'visually-hidden' }, w('replaceLabel', { file: f.fileName }));
        const replace = el('button', { type: 'button', className: 'replace secondary' }, w('replace'));
        replace.setAttribute('aria-label', `${w('replace')} ${f.fileName}`);
        replace.addEventListener('click', () => replacement.click());
        replacement.addEventListener('change', () => {
          const chosen = replacement.files?.[0];
          if (!chosen || !window.confirm(w('confirmReplace', { file: f.fileName, version: f.version, newFile: chosen.name }))) return;
          act(async () => {
            const saved = await sendFile<Firmware>('PUT', `/firmware/${f.id}/file?${new URLSearchParams({ fileName: chosen.name })}`, chosen, 'application/octet-stream', () => undefined);
            return [w('replaced', { file: f.fileName, newFile: saved.fileName, version: saved.version })];
          });
        });
        const del = el('button', { type: 'button', className: 'delete danger' }, w('delete'));
        del.setAttribute('aria-label', `${w('delete')} ${f.fileName}`);
        del.addEventListener('click', () => {
          if (!window.confirm(w('confirmDelete', { file: f.fileName, version: f.version }))) return;
          act(async () => {
            await api('DELETE', `/firmware/${f.id}`);
            return [w('deleted', { file: f.fileName })];
          });
        });
        buttons.push(makeLatest, replace, del);
        actions.append(makeLatest, ' ', replace, replacementLabel, replacement, ' ', del);
      }
      const badges = [...(f.latest ? [el('span', { className: 'badge latest' }, w('latest'))] : []), ...(f.missing ? [el('span', { className: 'badge missing' }, w('missing'))] : [])];
      const row = el(
        'tr',
        {},
        el('th', { scope: 'row', className: 'version' }, f.version, ...badges),
        el('td', {}, f.fileName),
        el('td', {}, sizeInWords(f.size)),
        el('td', {}, w('by', { date: dateInWords(f.replacedAt ?? f.uploadedAt), who: f.uploadedBy })),
        actions,
      );
      row.dataset.firmware = f.fileName;
      if (f.latest) row.classList.add('latest');
      return row;
    });
    const section = el(
      'section',
      { className: 'panel firmware-model' },
      el('h2', {}, name),
      el('p', { className: 'terminals' }, terminals),
      el('div', { className: 'toolbar' }, update),
      el(
        'div',
        { className: 'table-wrap' },
        el(
          'table',
          { className: 'firmware-files' },
          el('caption', {}, w('filesCaption', { model: name })),
          el('thead', {}, el('tr', {}, ...(['versions', 'fileName', 'size', 'uploadedAt', 'actions'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
          el('tbody', {}, ...rows),
        ),
      ),
    );
    section.dataset.model = name;
    return section;
  });
  const without = list.registered.filter((r) => !byModel.has(modelKey(r.model))).map((r) => r.model);

  // Progress per terminal, kept fresh while this page is shown.
  const tbody = el('tbody', {}, ...progressRows(progress));
  const caption = el('caption', {}, w('progressCaption', { count: String(progress.length) }));
  const progressTable = el(
    'table',
    { id: 'firmware-progress' },
    caption,
    el('thead', {}, el('tr', {}, ...(['account', 'terminal', 'model', 'versions', 'state', 'told', 'downloadedAt', 'updatedAt'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
    tbody,
  );
  const empty = el('p', { className: 'empty', id: 'firmware-progress-none', hidden: progress.length > 0 }, w('progressNone'));
  const progressWrap = el('div', { className: 'table-wrap', hidden: progress.length === 0 }, progressTable);
  const refreshProgress = async () => {
    const fresh = await api<Progress[]>('GET', '/firmware/progress');
    tbody.replaceChildren(...progressRows(fresh));
    caption.textContent = w('progressCaption', { count: String(fresh.length) });
    empty.hidden = fresh.length > 0;
    progressWrap.hidden = fresh.length === 0;
  };
  const refresh = el('button', { type: 'button', id: 'firmware-progress-refresh', className: 'secondary' }, w('refresh'));
  refresh.addEventListener('click', () => void refreshProgress().catch(onError));
  const timer = setInterval(() => {
    if (!progressTable.isConnected) clearInterval(timer); // another page (or a fresh render) took over
    else void refreshProgress().catch(onError);
  }, 5000);

  root.replaceChildren(
    el('h1', {}, w('title')),
    intro,
    el('section', { className: 'panel' }, el('h2', {}, w('uploadTitle')), form),
    outcome.element,
    ...(sections.length > 0 ? sections : [el('p', { className: 'empty', id: 'firmware-none' }, w('none'))]),
    ...(without.length > 0 ? [el('p', { className: 'muted', id: 'firmware-without' }, w('registeredWithout', { models: without.join(', ') }))] : []),
    el('section', { className: 'panel' }, el('h2', {}, w('progressTitle')), el('div', { className: 'toolbar' }, refresh), empty, progressWrap),
  );
}
