/**
 * The LAN web console (served at /, bundled by scripts/build-web.sh into web/console/app.js):
 * login, the first-login password change, the header with language switch and logout, and
 * the pages (so far: dashboard, live meetings with meeting control, online users, accounts, settings, backups, terminal firmware, maintenance). An expired session (idle 30
 * minutes, or logged out elsewhere) returns to the login with the reason; every server error
 * is shown in words in the chosen language. `window.vcboxConsole` exposes the state for tests.
 */
import { ApiError, api, setCsrfToken } from './api.ts';
import { type Key, type Lang, lang, setLang, t } from './i18n.ts';
import { renderAccounts } from './accounts.ts';
import { renderBackups } from './backups.ts';
import { renderFirmware } from './firmware.ts';
import { renderMaintenance } from './maintenance.ts';
import { renderAuditLog } from './audit-log.ts';
import { renderDashboard } from './dashboard.ts';
import { renderLiveMeetings } from './live-meetings.ts';
import { renderMeetings } from './meetings.ts';
import { renderOnlineUsers } from './online-users.ts';
import { renderRooms } from './rooms.ts';
import { renderVmrs } from './vmrs.ts';
import { renderSetupWizard, setupPending } from './setup-wizard.ts';
import { renderStatistics } from './statistics.ts';
import { renderSettings } from './settings.ts';

/** The pages of the console by their #hash; the live meetings page refreshes itself. */
const PAGES = {
  dashboard: { render: renderDashboard, refreshMs: 10_000 },
  live: { render: renderLiveMeetings, refreshMs: 5000 },
  online: { render: renderOnlineUsers, refreshMs: 10_000 },
  accounts: { render: renderAccounts, refreshMs: 0 },
  rooms: { render: renderRooms, refreshMs: 0 },
  vmrs: { render: renderVmrs, refreshMs: 0 },
  meetings: { render: renderMeetings, refreshMs: 0 },
  settings: { render: renderSettings, refreshMs: 0 },
  backups: { render: renderBackups, refreshMs: 0 },
  // Refreshes its own progress table (a whole re-render would drop a file chosen for upload).
  firmware: { render: renderFirmware, refreshMs: 0 },
  maintenance: { render: renderMaintenance, refreshMs: 0 },
  setup: { render: renderSetupWizard, refreshMs: 0 },
  statistics: { render: renderStatistics, refreshMs: 0 },
  audit: { render: renderAuditLog, refreshMs: 0 },
} as const;
type PageName = keyof typeof PAGES;
const pageOf = (hash: string): PageName => (hash.replace(/^#/, '') in PAGES ? (hash.replace(/^#/, '') as PageName) : 'dashboard');

interface Session {
  username: string;
  role: string;
  mustChangePassword: boolean;
  csrfToken: string;
}

const state = { page: 'login' as 'login' | 'password' | 'app', view: 'dashboard' as PageName, session: undefined as Session | undefined, errors: [] as string[] };
let refreshTimer: ReturnType<typeof setInterval> | undefined;

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function showError(error: unknown): void {
  const box = $('error');
  if (error instanceof ApiError && error.status === 401 && state.page !== 'login') {
    state.session = undefined;
    void show('login', t('sessionEnded'));
    return;
  }
  const message = error instanceof ApiError ? (error.status === 0 ? t('unreachable') : t('error', { message: error.message })) : String(error);
  state.errors.push(message);
  box.textContent = message;
}

function translateStatic(): void {
  for (const node of document.querySelectorAll<HTMLElement>('[data-i18n]')) node.textContent = t(node.dataset.i18n as Key);
  (document.getElementById('lang') as HTMLSelectElement).value = lang();
  document.title = t('product');
}

async function show(page: typeof state.page, notice = ''): Promise<void> {
  state.page = page;
  clearInterval(refreshTimer);
  $('error').textContent = notice;
  for (const id of ['login-view', 'password-view', 'app-view']) $(id).hidden = true;
  $('user').textContent = state.session?.username ?? '';
  if (page === 'login') {
    $('login-view').hidden = false;
    (document.getElementById('username') as HTMLInputElement).focus();
  } else if (page === 'password') {
    $('password-view').hidden = false;
  } else {
    $('app-view').hidden = false;
    state.view = pageOf(location.hash);
    for (const link of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
      if (link.hash === `#${state.view}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const page = PAGES[state.view];
    const refresh = () => page.render($('content'), showError).catch(showError);
    await refresh();
    if (page.refreshMs > 0) refreshTimer = setInterval(() => void refresh(), page.refreshMs);
  }
}

async function afterLogin(session: Session): Promise<void> {
  state.session = session;
  setCsrfToken(session.csrfToken);
  // An administrator arriving without a page in mind is taken to the wizard while it has steps to do.
  if (!session.mustChangePassword && session.role === 'admin' && location.hash === '' && (await setupPending().catch(() => false))) location.hash = '#setup';
  await show(session.mustChangePassword ? 'password' : 'app');
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const username = (document.getElementById('username') as HTMLInputElement).value.trim();
  const password = (document.getElementById('password') as HTMLInputElement).value;
  void api<Session>('POST', '/session', { username, password }).then(afterLogin).catch(showError);
});

$('password-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = (id: string) => (document.getElementById(id) as HTMLInputElement).value;
  void api('PUT', '/session/password', { currentPassword: value('current-password'), newPassword: value('new-password'), confirmPassword: value('confirm-password') })
    .then(async () => {
      const session = await api<Session>('GET', '/session');
      await afterLogin({ ...session, mustChangePassword: false });
    })
    .catch(showError);
});

$('logout').addEventListener('click', () => {
  void api('DELETE', '/session')
    .catch(() => undefined)
    .then(() => {
      state.session = undefined;
      return show('login');
    });
});

$('lang').addEventListener('change', () => {
  setLang((document.getElementById('lang') as HTMLSelectElement).value as Lang);
  translateStatic();
  if (state.page === 'app') void show('app');
});

window.addEventListener('hashchange', () => {
  if (state.page === 'app') void show('app');
});

setLang(lang());
translateStatic();
// A session still open in this browser goes straight in.
void api<{ active: boolean }>('GET', '/session/status')
  .then(async ({ active }) => (active ? afterLogin(await api<Session>('GET', '/session')) : show('login')))
  .catch(() => show('login'));

(window as unknown as { vcboxConsole: unknown }).vcboxConsole = { state };
