/**
 * The LAN web console (served at /, bundled by scripts/build-web.sh into web/console/app.js):
 * login (with "remember my user name"), the forgotten-password and reset-link forms, the
 * first-login password change, the header with language switch, "my account" and logout, and
 * the pages by their #hash, reached from the navigation grouped as the manual's chapters (a
 * sidebar, or a "Menu" button at tablet width). A session that ends — idle 30 minutes in this browser
 * (./idle-logout.ts), or ended on the server — returns to the login with the reason; every
 * server error is shown in words in the chosen language. A page re-rendered by its refresh keeps
 * the keyboard focus where it was. `window.vcboxConsole` exposes the state for tests.
 */
import { ApiError, api, requestsSettled, setCsrfToken } from './api.ts';
import { type Key, type Lang, lang, setLang, t } from './i18n.ts';
import { IdleLogout } from './idle-logout.ts';
import { renderForgotPassword, renderPasswordReset, resetToken } from './password-recovery.ts';
import { renderProfile } from './profile.ts';
import { renderAccounts } from './accounts.ts';
import { renderBackups } from './backups.ts';
import { renderFirmware } from './firmware.ts';
import { renderMaintenance } from './maintenance.ts';
import { renderAuditLog } from './audit-log.ts';
import { renderDashboard } from './dashboard.ts';
import { renderLicense } from './license.ts';
import { renderLiveMeetings } from './live-meetings.ts';
import { renderMeetings } from './meetings.ts';
import { renderOnlineUsers } from './online-users.ts';
import { renderRooms } from './rooms.ts';
import { renderVmrs } from './vmrs.ts';
import { renderSetupWizard, setupPending } from './setup-wizard.ts';
import { renderStatistics } from './statistics.ts';
import { renderSystemInfo } from './system-info.ts';
import { renderSettings } from './settings.ts';
import { renderLogs } from './logs.ts';

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
  license: { render: renderLicense, refreshMs: 0 },
  profile: { render: renderProfile, refreshMs: 0 },
  system: { render: renderSystemInfo, refreshMs: 10_000 },
  logs: { render: renderLogs, refreshMs: 0 },
} as const;
type PageName = keyof typeof PAGES;
const pageOf = (hash: string): PageName => (hash.replace(/^#/, '') in PAGES ? (hash.replace(/^#/, '') as PageName) : 'dashboard');

interface Session {
  username: string;
  role: string;
  mustChangePassword: boolean;
  csrfToken: string;
  idleTimeoutSeconds: number;
}

type View = 'login' | 'recovery' | 'password' | 'app';
const state = { page: 'login' as View, view: 'dashboard' as PageName, session: undefined as Session | undefined, errors: [] as string[] };
let refreshTimer: ReturnType<typeof setInterval> | undefined;
/** Set when the login or first-password form was sent: its focused button disappears with it. */
let focusAfterLogin = false;
/** "Remember me" keeps the user name in this browser — never the password; the session still ends when idle. */
const REMEMBERED_USER = 'vcbox.username';
/**
 * Ends the session: the page stops refreshing, the requests already on their way are answered
 * first (none is refused with 401 for a session ended under it), then the server forgets the
 * session and the login shows with `notice`. A new login waits for that (`ending`), so the old
 * session's end never takes the new one with it.
 */
let ending: Promise<void> = Promise.resolve();
function endSession(notice: string): Promise<void> {
  state.session = undefined;
  delete document.documentElement.dataset.role;
  clearInterval(refreshTimer);
  idle.stop();
  ending = requestsSettled()
    .then(() => api('DELETE', '/session'))
    .catch(() => undefined)
    .then(() => {
      fillLogin();
      return show('login', notice);
    });
  return ending;
}

const idle = new IdleLogout(() => {
  const minutes = String(Math.round((state.session?.idleTimeoutSeconds ?? 1800) / 60));
  void endSession(t('idleEnded', { minutes }));
});

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function showError(error: unknown): void {
  const box = $('error');
  if (error instanceof ApiError && error.code === 'VCBOX_ERR_AUTH_REQUIRED' && state.page === 'login') {
    return; // a page's answer that came after the logout: the login's own notice stays
  }
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

/** The focusable controls of the page, in order (to find the keyboard's place again after a refresh). */
const focusables = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, [tabindex]')].filter((node) => !node.hasAttribute('disabled'));

/** Renders the page again and puts the focus back on the same control (by id, else by position) when the re-render took it away. */
async function keepingFocus(content: HTMLElement, render: () => Promise<void>): Promise<void> {
  const active = document.activeElement instanceof HTMLElement && content.contains(document.activeElement) ? document.activeElement : undefined;
  const id = active?.id;
  const index = active ? focusables(content).indexOf(active) : -1;
  await render();
  if (!active || content.contains(document.activeElement)) return;
  const again = (id ? document.getElementById(id) : null) ?? focusables(content)[index];
  again?.focus({ preventScroll: true });
}

async function show(page: View, notice = ''): Promise<void> {
  state.page = page;
  clearInterval(refreshTimer);
  if (page !== 'app') idle.stop();
  $('error').textContent = notice;
  for (const id of ['login-view', 'recovery-view', 'password-view', 'app-view']) $(id).hidden = true;
  $('nav').hidden = page !== 'app';
  $('user').textContent = state.session?.username ?? '';
  if (page === 'login') {
    $('login-view').hidden = false;
    (document.getElementById(rememberedUser() ? 'password' : 'username') as HTMLInputElement).focus();
  } else if (page === 'recovery') {
    $('recovery-view').hidden = false;
  } else if (page === 'password') {
    $('password-view').hidden = false;
  } else {
    $('app-view').hidden = false;
    const previous = state.view;
    state.view = pageOf(location.hash);
    for (const link of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
      if (link.hash === `#${state.view}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    for (const group of document.querySelectorAll<HTMLElement>('#nav .nav-group')) group.classList.toggle('current', group.querySelector('a[aria-current]') !== null);
    const page = PAGES[state.view];
    const content = $('content');
    const refresh = () => keepingFocus(content, () => page.render(content, showError)).catch(showError);
    await refresh();
    // Arriving on another page (from the nav, or from the login form, which is gone now): the
    // keyboard starts at its heading, unless the page put it somewhere. A new visit starts at the top.
    if ((previous !== state.view || focusAfterLogin) && !content.contains(document.activeElement)) focusHeading();
    focusAfterLogin = false;
    if (page.refreshMs > 0) refreshTimer = setInterval(() => void refresh(), page.refreshMs);
  }
}

/** Moves the keyboard to the page's heading (skip link, page change). */
function focusHeading(): void {
  const heading = document.querySelector<HTMLElement>('#content h1');
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus();
}

function rememberedUser(): string {
  return localStorage.getItem(REMEMBERED_USER) ?? '';
}

/** The login form's user name as remembered, and the box ticked when it is. */
function fillLogin(): void {
  const remembered = rememberedUser();
  (document.getElementById('username') as HTMLInputElement).value = remembered;
  (document.getElementById('remember') as HTMLInputElement).checked = remembered !== '';
}

const toLogin = (notice = '') => {
  if (resetToken(location.hash)) history.replaceState(null, '', location.pathname);
  fillLogin();
  void show('login', notice);
};

async function showRecovery(token: string | undefined): Promise<void> {
  await show('recovery');
  const root = $('recovery-view');
  const username = (document.getElementById('username') as HTMLInputElement).value.trim();
  const toForgot = () => {
    if (resetToken(location.hash)) history.replaceState(null, '', location.pathname); // the link is spent: a re-render (language) stays here
    void renderForgotPassword(root, username, { toLogin, onError: showError }).catch(showError);
  };
  if (token) renderPasswordReset(root, token, { toLogin, toForgot, onError: showError });
  else toForgot();
}

async function afterLogin(session: Session): Promise<void> {
  state.session = session;
  // Pages show administrators' actions only to administrators (the server refuses them to operators anyway).
  document.documentElement.dataset.role = session.role;
  setCsrfToken(session.csrfToken);
  idle.start(session.idleTimeoutSeconds);
  // An administrator arriving without a page in mind is taken to the wizard while it has steps to do.
  if (!session.mustChangePassword && session.role === 'admin' && location.hash === '' && (await setupPending().catch(() => false))) location.hash = '#setup';
  await show(session.mustChangePassword ? 'password' : 'app');
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const username = (document.getElementById('username') as HTMLInputElement).value.trim();
  const password = (document.getElementById('password') as HTMLInputElement).value;
  void ending
    .then(() => api<Session>('POST', '/session', { username, password }))
    .then((session) => {
      focusAfterLogin = true;
      if ((document.getElementById('remember') as HTMLInputElement).checked) localStorage.setItem(REMEMBERED_USER, username);
      else localStorage.removeItem(REMEMBERED_USER);
      (document.getElementById('password') as HTMLInputElement).value = '';
      return afterLogin(session);
    })
    .catch(showError);
});

$('forgot').addEventListener('click', () => void showRecovery(undefined).catch(showError));

$('skip-link').addEventListener('click', (event) => {
  event.preventDefault(); // the hash names pages here: moving the focus is the link's whole job
  if (state.page === 'app') focusHeading();
  else document.querySelector<HTMLElement>('main form:not([hidden]) input, main section:not([hidden]) input')?.focus();
});

$('password-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = (id: string) => (document.getElementById(id) as HTMLInputElement).value;
  void api('PUT', '/session/password', { currentPassword: value('current-password'), newPassword: value('new-password'), confirmPassword: value('confirm-password') })
    .then(async () => {
      focusAfterLogin = true;
      const session = await api<Session>('GET', '/session');
      await afterLogin({ ...session, mustChangePassword: false });
    })
    .catch(showError);
});

$('logout').addEventListener('click', () => {
  void endSession('');
});

$('lang').addEventListener('change', () => {
  setLang((document.getElementById('lang') as HTMLSelectElement).value as Lang);
  translateStatic();
  if (state.page === 'app') void show('app');
  else if (state.page === 'recovery') void showRecovery(resetToken(location.hash)).catch(showError);
});

/**
 * The grouped navigation: a sidebar on a wide screen; at tablet width and below a "Menu"
 * button opens it (console.css decides which shows). A chosen page or Escape closes it again.
 */
function setMenuOpen(open: boolean): void {
  $('nav-toggle').setAttribute('aria-expanded', String(open));
  $('nav').classList.toggle('open', open);
}
$('nav-toggle').addEventListener('click', () => setMenuOpen($('nav-toggle').getAttribute('aria-expanded') !== 'true'));
$('nav').addEventListener('keydown', (event) => {
  if (event.key !== 'Escape' || $('nav-toggle').getAttribute('aria-expanded') !== 'true') return;
  setMenuOpen(false);
  $('nav-toggle').focus();
});

window.addEventListener('hashchange', () => {
  setMenuOpen(false);
  const token = resetToken(location.hash);
  if (token) void showRecovery(token).catch(showError);
  else if (state.page === 'app') void show('app');
});

setLang(lang());
translateStatic();
fillLogin();
// A reset link from the mail opens its form; a session still open in this browser goes straight in.
const linkToken = resetToken(location.hash);
if (linkToken) void showRecovery(linkToken).catch(showError);
else
  void api<{ active: boolean }>('GET', '/session/status')
    .then(async ({ active }) => (active ? afterLogin(await api<Session>('GET', '/session')) : show('login')))
    .catch(() => show('login'));

(window as unknown as { vcboxConsole: unknown }).vcboxConsole = { state };
