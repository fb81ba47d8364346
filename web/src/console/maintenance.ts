/**
 * The "maintenance" page [001 ch4 系统维护 → 系统升级, 重启/恢复出厂设置]: the version and build
 * time the box runs; a system upgrade from a release package (confirmed: "the box installs the
 * upgrade and restarts…"), followed step by step through the restart until the new version
 * answers or the box has gone back to this one — the outcome in words; the factory reset, two
 * choices each with its consequence spelled out and confirmed; and the reboot (confirmed; on a
 * dev machine a restart of the services), waited for until the console answers again. Server
 * refusals are shown in words by the field they concern. Terminal firmware and backups have
 * their own pages.
 */
import { ApiError, api, upload } from './api.ts';
import { clearRefusal, el, showRefusal } from './form-fields.ts';
import { lang, words } from './i18n.ts';

interface ReleaseInfo {
  version: string;
  build: string;
  buildTime: string;
  release?: string;
}
interface UpgradeStatus {
  id: string;
  state: 'requested' | 'installing' | 'checking' | 'restarting' | 'health-check' | 'rolling-back' | 'installed' | 'rolled-back' | 'failed';
  from: ReleaseInfo;
  to: ReleaseInfo;
  restarted?: boolean;
  finishedAt?: string;
  code?: string;
  message?: string;
}
interface SystemInfo {
  version: string;
  build: string;
  buildTime: string;
  commit: string;
  release: string | null;
  upgradable: boolean;
  notUpgradable: { code: string; message: string } | null;
  restart: 'systemd' | 'supervisor' | 'none';
  maxUploadBytes: number;
  lastUpgrade: UpgradeStatus | null;
}
interface ResetAnswer {
  scope: 'settings' | 'all';
  removed: Record<string, number>;
  initialPasswordFile?: string;
  restart: 'requested' | 'needed';
}

const w = words({
  en: {
    title: 'Maintenance',
    versionTitle: 'System version',
    version: 'vcbox {version}, built {date}',
    release: 'Installed release: {release}',
    sourceTree: 'Running from a source folder (not an installed release).',
    upgradeTitle: 'System upgrade',
    upgradeHelp: 'Upload the release package (.tar.gz) from the vendor. The box checks its signature and every file before it changes anything, installs it and restarts; if the new version does not start, it goes back to this one.',
    upgradeFile: 'Release package (.tar.gz; at most {size})',
    upgradeStart: 'Upgrade',
    upgradeChoose: 'Choose the release package first.',
    confirmUpgrade:
      'Install the release in {file}?\n\nThe box installs the upgrade and restarts: calls and meetings in progress end, and the console is back in a minute or two. If the new version does not start, the box goes back to vcbox {version}.',
    uploading: 'Uploading and verifying {file}…',
    state_requested: 'vcbox {version} is verified; the installation starts…',
    state_installing: 'Unpacking vcbox {version} and checking every file…',
    state_checking: 'Checking that vcbox {version} starts…',
    state_restarting: 'Restarting the services onto vcbox {version}…',
    'state_health-check': 'Waiting for vcbox {version} to answer…',
    'state_rolling-back': 'vcbox {version} did not pass its check; going back to vcbox {from}…',
    installedRestarted: 'Installed: vcbox {version} (built {date}) runs now.',
    installedPending: 'Installed: vcbox {version} (built {date}). It runs from the next start of the services; nothing restarts them on this machine.',
    notInstalled: 'Not installed: {message}',
    upgradeFailed: 'The upgrade failed: {message}',
    away: 'The box is restarting; this page waits for it…',
    lastUpgrade: 'Last upgrade ({date}):',
    resetTitle: 'Factory reset',
    resetChoice: 'What to reset',
    resetSettings: 'Settings only',
    resetSettingsHelp: 'Every setting goes back to its default; the meeting history, call records and logs are deleted. Accounts, rooms, meetings, administrators and backups are kept.',
    resetAll: 'Everything',
    resetAllHelp: 'All data is deleted — accounts, rooms, meetings, records, administrators, backups, logs — except the licence. The box starts like new: log in as admin with the first password it writes.',
    resetStart: 'Factory reset',
    confirmResetSettings: 'Reset the settings to the factory defaults?\n\nEvery setting goes back to its default, and the meeting history, call records and logs are deleted. Accounts, rooms and meetings are kept. The services restart.',
    confirmResetAll: 'Reset the box to its factory state?\n\nALL data is deleted — accounts, rooms, meetings, call records, administrators, backups and logs; only the licence stays. This cannot be undone: download a backup first if you may need the data.',
    resetDoneSettings: 'The settings are back to their defaults; {rows} rows of history, call records and logs were removed. Accounts, rooms and meetings were kept.',
    resetDoneAll: 'The box is reset to its factory state ({rows} rows removed). Log in as admin with the first password in {file}.',
    restartRequested: 'The services restart now.',
    restartNeeded: 'Restart the services for every default to take effect.',
    rebootTitle: 'Reboot',
    rebootHelpSystemd: 'Restarts the operating system. Calls and meetings in progress end.',
    rebootHelpSupervisor: 'On this development machine a reboot restarts the services (the machine itself is not restarted). Calls and meetings in progress end.',
    rebootHelpNone: 'Nothing on this machine can restart the services, so the box cannot be rebooted from here.',
    rebootStart: 'Reboot',
    confirmReboot: 'Reboot the box?\n\nCalls and meetings in progress end; the console is back in a few minutes.',
    rebooting: 'The box reboots now; this page waits for it…',
    restartingServices: 'The services restart now; this page waits for them…',
    back: 'The box is back: vcbox {version} runs.',
    working: 'Working…',
  },
  'zh-CN': {
    title: '系统维护',
    versionTitle: '系统版本',
    version: 'vcbox {version}，打包时间 {date}',
    release: '已安装版本：{release}',
    sourceTree: '从源代码目录运行（不是已安装的版本）。',
    upgradeTitle: '系统升级',
    upgradeHelp: '上传厂商提供的升级包（.tar.gz）。设备在作任何修改之前先校验其签名和每个文件，然后安装并重启；新版本无法启动时将回退到当前版本。',
    upgradeFile: '升级包（.tar.gz；不超过 {size}）',
    upgradeStart: '更新',
    upgradeChoose: '请先选择升级包。',
    confirmUpgrade: '安装 {file} 中的版本？\n\n设备将安装升级并自动重启：进行中的通话和会议将结束，控制台约一两分钟后恢复。新版本无法启动时，设备将回退到 vcbox {version}。',
    uploading: '正在上传并校验 {file}…',
    state_requested: 'vcbox {version} 已通过校验，开始安装…',
    state_installing: '正在解包 vcbox {version} 并校验每个文件…',
    state_checking: '正在检查 vcbox {version} 能否启动…',
    state_restarting: '正在重启服务以运行 vcbox {version}…',
    'state_health-check': '正在等待 vcbox {version} 响应…',
    'state_rolling-back': 'vcbox {version} 未通过检查，正在回退到 vcbox {from}…',
    installedRestarted: '已安装：vcbox {version}（打包时间 {date}）正在运行。',
    installedPending: '已安装：vcbox {version}（打包时间 {date}）。将在服务下次启动时运行；本机上没有可以重启服务的管理者。',
    notInstalled: '未安装：{message}',
    upgradeFailed: '升级失败：{message}',
    away: '设备正在重启；本页面等待其恢复…',
    lastUpgrade: '上次升级（{date}）：',
    resetTitle: '恢复出厂设置',
    resetChoice: '恢复范围',
    resetSettings: '仅清空系统设置模块下的配置信息',
    resetSettingsHelp: '所有设置恢复默认值；历史会议、通话记录和日志将被删除。账号、会议室、会议、管理员和备份保留。',
    resetAll: '清空所有用户数据',
    resetAllHelp: '除授权外的全部数据——账号、会议室、会议、记录、管理员、备份、日志——都将被删除。设备如新设备一样启动：请用其生成的初始密码以 admin 登录。',
    resetStart: '恢复出厂',
    confirmResetSettings: '确定恢复出厂设置（仅系统设置）？\n\n所有设置恢复默认值，历史会议、通话记录和日志将被删除。账号、会议室和会议保留。服务将重启。',
    confirmResetAll: '确定将设备完全恢复出厂设置？\n\n全部数据——账号、会议室、会议、通话记录、管理员、备份和日志——都将被删除，仅保留授权。此操作无法撤销：如可能还需要这些数据，请先下载备份。',
    resetDoneSettings: '设置已恢复默认值；已删除 {rows} 行历史、通话记录和日志。账号、会议室和会议保留。',
    resetDoneAll: '设备已恢复出厂设置（删除 {rows} 行）。请用 {file} 中的初始密码以 admin 登录。',
    restartRequested: '服务正在重启。',
    restartNeeded: '请重启服务，使所有默认值生效。',
    rebootTitle: '重启',
    rebootHelpSystemd: '重启操作系统。进行中的通话和会议将结束。',
    rebootHelpSupervisor: '在这台开发机上，重启即重启各项服务（不重启机器本身）。进行中的通话和会议将结束。',
    rebootHelpNone: '本机上没有可以重启服务的管理者，因此无法从这里重启设备。',
    rebootStart: '重启',
    confirmReboot: '确定重启系统？\n\n进行中的通话和会议将结束；控制台将在几分钟后恢复。',
    rebooting: '设备正在重启；本页面等待其恢复…',
    restartingServices: '服务正在重启；本页面等待其恢复…',
    back: '设备已恢复：vcbox {version} 正在运行。',
    working: '正在处理…',
  },
});

const FINAL = ['installed', 'rolled-back', 'failed'];
const dateInWords = (iso: string) => (iso ? new Date(iso).toLocaleString(lang()) : '');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sizeInWords(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(bytes % 1024 ** 3 === 0 ? 0 : 1)} GB` : `${Math.round(bytes / 1024 ** 2)} MB`;
}

/** An upgrade's state in words. */
function upgradeInWords(status: UpgradeStatus): { text: string; failed: boolean } {
  const version = status.to.version;
  switch (status.state) {
    case 'installed':
      return { text: w(status.restarted ? 'installedRestarted' : 'installedPending', { version, date: dateInWords(status.to.buildTime) }), failed: false };
    case 'rolled-back':
      return { text: w('notInstalled', { message: status.message ?? '' }), failed: true };
    case 'failed':
      return { text: w('upgradeFailed', { message: status.message ?? '' }), failed: true };
    default:
      return { text: w(`state_${status.state}`, { version, from: status.from.version }), failed: false };
  }
}

/** Whether the page is still the one shown (the poll loops end when the administrator leaves it). */
const onPage = () => document.getElementById('maintenance-page') !== null;

export async function renderMaintenance(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const info = await api<SystemInfo>('GET', '/system');

  const outcome = (id: string) => {
    const box = el('div', { id, className: 'outcome' });
    box.setAttribute('aria-live', 'polite');
    return box;
  };
  const say = (box: HTMLElement, lines: string[], failed = false, done = true) => {
    box.className = `outcome ${done ? (failed ? 'failed' : 'ok') : 'working'}`;
    box.setAttribute('role', failed ? 'alert' : 'status');
    box.replaceChildren(...lines.map((line) => el('p', {}, line)));
  };
  /** A refusal or failure of a request in words; what is not one (no session, a crash) goes to the page's error line. */
  const refused = (box: HTMLElement, error: unknown) => {
    if (error instanceof ApiError && error.status !== 401 && error.status !== 0) say(box, [error.message], true);
    else onError(error);
  };

  // The version.
  const versionPanel = el(
    'section',
    { className: 'panel', id: 'system-version' },
    el('h2', {}, w('versionTitle')),
    el('p', { id: 'version-text' }, w('version', { version: info.version, date: dateInWords(info.buildTime) })),
    el('p', { className: 'muted', id: 'release-text' }, info.release ? w('release', { release: info.release }) : w('sourceTree')),
  );

  // System upgrade.
  const upgradeOutcome = outcome('upgrade-outcome');
  const file = el('input', { type: 'file', accept: '.tar.gz,.tgz,application/gzip', disabled: !info.upgradable });
  const start = el('button', { type: 'submit', id: 'upgrade-start', disabled: !info.upgradable }, w('upgradeStart'));
  const formMessage = el('p', { className: 'form-error', id: 'upgrade-form-error' });
  const fileField = el('div', { className: 'field' }, el('label', { htmlFor: 'upgrade-file' }, w('upgradeFile', { size: sizeInWords(info.maxUploadBytes) })), file, el('p', { className: 'field-error', id: 'upgrade-file-error' }));
  file.id = 'upgrade-file';
  file.setAttribute('aria-describedby', 'upgrade-file-error upgrade-help');
  const form = el('form', { className: 'inline-form field-form', id: 'upgrade-form', noValidate: true }, fileField, el('div', { className: 'form-actions' }, start), formMessage);

  /** Follows an upgrade until it is finished, through the restart of the services. */
  const follow = async (id: string) => {
    for (let away = false; onPage(); await sleep(1500)) {
      let status: UpgradeStatus | null;
      try {
        status = (await api<{ upgrade: UpgradeStatus | null }>('GET', '/system/upgrade')).upgrade;
      } catch (error) {
        if (error instanceof ApiError && (error.status === 0 || error.status >= 500)) {
          away = true;
          say(upgradeOutcome, [w('away')], false, false);
          continue;
        }
        throw error;
      }
      if (!status || status.id !== id) continue;
      const words = upgradeInWords(status);
      if (FINAL.includes(status.state)) {
        say(upgradeOutcome, [words.text], words.failed);
        // The version shown may have changed under this page.
        if (away || status.state === 'installed') {
          const now = await api<SystemInfo>('GET', '/system');
          (document.getElementById('version-text') as HTMLElement).textContent = w('version', { version: now.version, date: dateInWords(now.buildTime) });
          (document.getElementById('release-text') as HTMLElement).textContent = now.release ? w('release', { release: now.release }) : w('sourceTree');
        }
        return;
      }
      say(upgradeOutcome, [words.text], false, false);
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) {
      showRefusal(form, formMessage, new ApiError(400, 'VCBOX_ERR_VALIDATION', w('upgradeChoose'), 'file'), { file: 'upgrade-file' });
      return;
    }
    if (!window.confirm(w('confirmUpgrade', { file: chosen.name, version: info.version }))) return;
    start.disabled = true;
    clearRefusal(form, formMessage);
    say(upgradeOutcome, [w('uploading', { file: chosen.name })], false, false);
    void upload<{ id: string }>('/system/upgrade', chosen, 'application/gzip')
      .then((accepted) => follow(accepted.id))
      .catch((error: unknown) => {
        upgradeOutcome.replaceChildren();
        upgradeOutcome.className = 'outcome';
        if (!showRefusal(form, formMessage, error, { file: 'upgrade-file' })) onError(error);
      })
      .finally(() => {
        start.disabled = !info.upgradable;
      });
  });
  const last = info.lastUpgrade;
  if (last && FINAL.includes(last.state)) {
    const words = upgradeInWords(last);
    say(upgradeOutcome, [w('lastUpgrade', { date: dateInWords(last.finishedAt ?? '') }), words.text], words.failed);
  } else if (last) {
    void follow(last.id).catch(onError);
  }
  const upgradePanel = el(
    'section',
    { className: 'panel', id: 'upgrade-panel' },
    el('h2', {}, w('upgradeTitle')),
    el('p', { className: 'muted', id: 'upgrade-help' }, w('upgradeHelp')),
    ...(info.notUpgradable ? [el('p', { className: 'outcome failed', id: 'upgrade-unavailable' }, info.notUpgradable.message)] : []),
    form,
    upgradeOutcome,
  );

  // Factory reset.
  const resetOutcome = outcome('reset-outcome');
  const choice = (scope: 'settings' | 'all', label: string, help: string) => {
    const input = el('input', { type: 'radio', name: 'reset-scope', value: scope, id: `reset-${scope}`, checked: scope === 'settings' });
    input.setAttribute('aria-describedby', `reset-${scope}-help`);
    return el('div', { className: 'reset-choice' }, el('label', { htmlFor: `reset-${scope}` }, input, ` ${label}`), el('p', { className: 'help', id: `reset-${scope}-help` }, help));
  };
  const resetButton = el('button', { type: 'button', id: 'reset-start', className: 'danger' }, w('resetStart'));
  resetButton.addEventListener('click', () => {
    const scope = (document.querySelector<HTMLInputElement>('input[name="reset-scope"]:checked')?.value ?? 'settings') as 'settings' | 'all';
    if (!window.confirm(w(scope === 'all' ? 'confirmResetAll' : 'confirmResetSettings'))) return;
    resetButton.disabled = true;
    say(resetOutcome, [w('working')], false, false);
    void api<ResetAnswer>('POST', '/system/factory-reset', { scope, confirm: true })
      .then((answer) => {
        const rows = String(Object.values(answer.removed).reduce((sum, n) => sum + n, 0));
        say(resetOutcome, [
          scope === 'all' ? w('resetDoneAll', { rows, file: answer.initialPasswordFile ?? '' }) : w('resetDoneSettings', { rows }),
          w(answer.restart === 'requested' ? 'restartRequested' : 'restartNeeded'),
        ]);
      })
      .catch((error: unknown) => refused(resetOutcome, error))
      .finally(() => {
        resetButton.disabled = false;
      });
  });
  const resetPanel = el(
    'section',
    { className: 'panel', id: 'reset-panel' },
    el('h2', {}, w('resetTitle')),
    el('fieldset', { className: 'settings-part' }, el('legend', {}, w('resetChoice')), choice('settings', w('resetSettings'), w('resetSettingsHelp')), choice('all', w('resetAll'), w('resetAllHelp'))),
    el('div', { className: 'toolbar' }, resetButton),
    resetOutcome,
  );

  // Reboot.
  const rebootOutcome = outcome('reboot-outcome');
  const rebootButton = el('button', { type: 'button', id: 'reboot-start', className: 'danger', disabled: info.restart === 'none' }, w('rebootStart'));
  rebootButton.addEventListener('click', () => {
    if (!window.confirm(w('confirmReboot'))) return;
    rebootButton.disabled = true;
    const health = () => fetch('/api/v1/health').then((r) => (r.ok ? (r.json() as Promise<{ version: string; startedAt: string }>) : undefined), () => undefined);
    void health()
      .then(async (before) => {
        const answer = await api<{ action: 'reboot' | 'restart-services' }>('POST', '/system/reboot', { confirm: true });
        say(rebootOutcome, [w(answer.action === 'reboot' ? 'rebooting' : 'restartingServices')], false, false);
        // Back when a control plane answers again that is not the one asked.
        for (let i = 0; i < 600 && onPage(); i++) {
          await sleep(1000);
          const now = await health();
          if (now && now.startedAt !== before?.startedAt) {
            say(rebootOutcome, [w('back', { version: now.version })]);
            return;
          }
        }
      })
      .catch((error: unknown) => refused(rebootOutcome, error))
      .finally(() => {
        rebootButton.disabled = info.restart === 'none';
      });
  });
  const rebootPanel = el(
    'section',
    { className: 'panel', id: 'reboot-panel' },
    el('h2', {}, w('rebootTitle')),
    el('p', { className: 'muted', id: 'reboot-help' }, w(info.restart === 'systemd' ? 'rebootHelpSystemd' : info.restart === 'supervisor' ? 'rebootHelpSupervisor' : 'rebootHelpNone')),
    el('div', { className: 'toolbar' }, rebootButton),
    rebootOutcome,
  );
  rebootButton.setAttribute('aria-describedby', 'reboot-help');

  root.replaceChildren(el('div', { id: 'maintenance-page' }, el('h1', {}, w('title')), versionPanel, upgradePanel, resetPanel, rebootPanel));
}
