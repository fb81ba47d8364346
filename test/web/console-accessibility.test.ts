/**
 * Accessibility and layout of every console page, in headless Chromium against the real API
 * (with an account, a room, a VMR, a meeting and a backup so tables are not empty): on each
 * page reached from the nav (and "my account") every input, select and textarea has a label
 * (a <label>, aria-label or aria-labelledby) and every button a name; nothing is wider than
 * the window at 1280×800 nor at a tablet's 768 px; in Chinese no heading, label, button or
 * column title is left in English. The keyboard alone logs in, tabs through the nav to
 * "Accounts", opens it (the focus lands on its heading), tabs into the form and creates an
 * account with Enter; the skip link jumps to the page. Screenshots of each page at 768 px in
 * Chinese; no console errors.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Page } from 'playwright-core';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { FirmwareRollout } from '../../server/firmware/firmware-rollout.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { openMaintenance } from '../../server/maintenance/open-maintenance.ts';
import { MeetingStore } from '../../server/meetings/meeting-store.ts';
import { RoomStore } from '../../server/rooms/room-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { startSipBox } from '../helpers/sip-box.ts';

// The SIP side too: the firmware page follows registered terminals (its rollout needs the registrar).
const box = await startSipBox();
t.teardown(() => box.close());
const { db, settings } = box;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-a11y-'));
const paths = dataPaths(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(db).create({ username: 'chief', password: 'Chief2026', email: 'chief@example.org', role: 'admin' });
box.app.accounts.create({ number: '2001', name: 'Room West', password: 'secret12' }, box.realm);
new RoomStore(db).create({ name: 'Board room', type: 'normal' });
new VmrStore(db).create({ name: 'Town hall', number: '88001', hostPin: '1111', guestPin: '2222', capacity: 16 });
const start = new Date(Date.now() + 86_400_000);
new MeetingStore(db).create({ subject: 'Weekly sync', start: start.toISOString(), durationMinutes: 60, accounts: ['2001'] }, 'chief');
const store = new BackupStore(db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
await store.create('manual', { actor: 'test', source: '127.0.0.1' }, 'First', 'test passphrase');
const restorer = new BackupRestorer({ db, settings, store, maxUploadBytes: 1024 * 1024 * 1024 });
const firmware = new FirmwareStore(db, { dir: paths.firmware, settings, maxUploadBytes: 1024 * 1024 });
const rollout = new FirmwareRollout({ db, store: firmware, location: box.app.location, checkSync: (binding) => box.app.checkSync(binding) });
t.teardown(() => rollout.close());
// The maintenance page's API (upgrade, factory reset, reboot); nothing here is ever run.
const maintenance = openMaintenance({ config: loadConfig({ VCBOX_DATA_DIR: dataDir }), db, settings, admins: new AdminStore(db), backups: store });
t.teardown(() => maintenance.close());
const base = await startConsoleApi(t, {
  state: { db, settings },
  keepDb: true,
  online: () => box.app.location.online(),
  backups: { store, restorer },
  firmware: { store: firmware, rollout, lockout: box.app.lockout },
  maintenance,
  webRoot: path.join(PROJECT_ROOT, 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

// (What runs in the page is given as source text: this project's type-check has no DOM types outside web/.)

/** Controls and buttons without an accessible name on the page as it is shown now. */
const UNNAMED = `(() => {
  const shown = (node) => node.getClientRects().length > 0;
  const describe = (node) => node.tagName.toLowerCase() + (node.id ? '#' + node.id : '') + (node.className ? '.' + String(node.className).split(' ').join('.') : '');
  const missing = [];
  for (const node of document.querySelectorAll('input, select, textarea')) {
    if (node.type === 'hidden' || !shown(node)) continue;
    const labelled = node.id && document.querySelector('label[for="' + CSS.escape(node.id) + '"]')?.textContent?.trim();
    if (!(node.getAttribute('aria-label') || node.getAttribute('aria-labelledby') || node.closest('label') || labelled)) missing.push(describe(node));
  }
  for (const node of document.querySelectorAll('button, a[href]')) {
    if (shown(node) && !(node.textContent?.trim() || node.getAttribute('aria-label'))) missing.push(describe(node));
  }
  return missing;
})()`;

/** Headings, labels, buttons and column titles written only in Latin letters (untranslated words) on a Chinese page. */
const ENGLISH = `(() => {
  // Words that are the same in Chinese: protocol and product names, units, data shown as it is.
  const same = /^(?:[A-Z0-9+×./:\\-() ]{1,12}|IPv[46]|MTU|Web|Mbit\\/s|vcbox.*|.*\\d.*|English|中文)$/;
  const found = [];
  const titles = '#content h1, #content h2, #content h3, #content label, #content th[scope="col"], #content button, #content legend, #content caption, #content dt, #content .card-stat .label, #nav a, #nav .nav-group-title, #nav button, .bar a, .bar button';
  for (const node of document.querySelectorAll(titles)) {
    const text = node.textContent?.trim() ?? '';
    // (A dashboard card is a button holding its label and a figure: its label is checked instead.)
    if (!text || /[\\u4e00-\\u9fff]/.test(text) || same.test(text) || node.closest('td') || node.matches('.card-stat')) continue;
    if (/[A-Za-z]{3,}/.test(text)) found.push(node.tagName.toLowerCase() + ': ' + text);
  }
  return found;
})()`;

const unnamed = (page: Page) => page.evaluate(UNNAMED) as Promise<string[]>;
const english = (page: Page) => page.evaluate(ENGLISH) as Promise<string[]>;
/** Opens a page by its hash and waits until it is drawn and its requests are answered. */
async function visit(page: Page, hash: string): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  await page.waitForFunction(`window.vcboxConsole.state.view === ${JSON.stringify(hash.slice(1))} && document.querySelector('#content h1') !== null`);
  await page.waitForLoadState('networkidle');
}

t.test('every page: labelled, fits 1280 and 768 px, translated', async (t) => {
  const p = await openPage(browser, `${base}/#dashboard`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForSelector('#login-view:not([hidden])');
  t.same(await unnamed(page), [], 'the login page: every control named');
  await page.fill('#username', 'chief');
  await page.fill('#password', 'Chief2026');
  await page.click('#login');
  await page.waitForSelector('#app-view:not([hidden])');
  const pages = [...((await page.evaluate("[...document.querySelectorAll('#nav a')].map((a) => a.hash)")) as string[]), '#profile'];
  t.ok(pages.length >= 14, `pages in the nav: ${pages.join(' ')}`);
  for (const hash of pages) {
    await page.setViewportSize({ width: 1280, height: 800 });
    await visit(page, hash);
    t.same(await unnamed(page), [], `${hash}: every input, select, textarea and button has a name`);
    t.ok(await page.$eval('body', (b) => b.scrollWidth <= 1280), `${hash}: fits 1280 px`);
    await page.setViewportSize({ width: 768, height: 1024 });
    t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), `${hash}: fits a 768 px tablet`);
  }
  await page.selectOption('#lang', 'zh-CN');
  for (const hash of pages) {
    await visit(page, hash);
    t.same(await english(page), [], `${hash} in Chinese: no English heading, label, button or column title`);
    t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), `${hash} in Chinese fits 768 px`);
    await page.screenshot({ path: path.join(artifacts, `console-${hash.slice(1)}-zh-768.png`), fullPage: true });
  }
  t.same(p.errors, [], 'no console errors on any page');
});

t.test('the keyboard alone: log in, reach a page from the nav, fill its form', async (t) => {
  const p = await openPage(browser, `${base}/#dashboard`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForSelector('#login-view:not([hidden])');
  // The focused element as "tag#id|href|text".
  const focused = () =>
    page.evaluate("(() => { const n = document.activeElement; return n ? n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + '|' + (n.getAttribute('href') ?? '') + '|' + (n.textContent?.trim() ?? '') : ''; })()") as Promise<string>;
  t.match(await focused(), /^input#username/, 'the login starts in the user name');
  await page.keyboard.type('chief');
  await page.keyboard.press('Tab');
  t.match(await focused(), /^input#password/, 'Tab: the password');
  await page.keyboard.type('Chief2026');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#app-view:not([hidden])');
  t.match(await focused(), /^h1\|\|Dashboard$/, 'Enter logs in; the keyboard continues at the page heading');

  // From the top of the page (a new visit): the skip link first, then the nav, to "Accounts".
  const fromTheTop = async () => {
    await page.reload();
    await page.waitForSelector('#services');
  };
  await fromTheTop();
  await page.keyboard.press('Tab');
  t.match(await focused(), /^a#skip-link/, 'the first Tab reaches the skip link');
  await page.keyboard.press('Enter');
  t.match(await focused(), /^h1\|\|Dashboard$/, 'which jumps to the page heading');
  await fromTheTop();
  const steps: string[] = [];
  for (let i = 0; i < 30 && !(await focused()).includes('|#accounts|'); i++) {
    await page.keyboard.press('Tab');
    steps.push((await focused()).split('|')[2] ?? '');
  }
  t.match(await focused(), /^a\|#accounts\|Accounts$/, `Tab reaches "Accounts" in the nav (${steps.join(" → ")})`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#accounts-table');
  t.match(await focused(), /^h1\|\|Accounts$/, 'Enter opens it, the focus on its heading');
  for (let i = 0; i < 10 && !(await focused()).startsWith('input#account-number'); i++) await page.keyboard.press('Tab');
  t.match(await focused(), /^input#account-number/, 'Tab reaches the first field of the form');
  await page.keyboard.type('2002');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Keyboard room');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  t.match(await focused(), /^input#account-password/, 'then the other fields in order');
  await page.keyboard.type('secret12');
  await page.keyboard.press('Enter');
  await page.waitForSelector('tr[data-account="2002"]');
  t.ok(box.app.accounts.findByNumber('2002'), 'Enter created the account');
  await page.screenshot({ path: path.join(artifacts, 'console-keyboard.png') });
  t.same(p.errors, [], 'no console errors');
});

/** The navigation's groups as the manual's chapters, and the pages each holds (their hashes). */
const GROUPS: Record<string, string[]> = {
  status: ['#dashboard', '#live', '#online', '#system'],
  meetings: ['#meetings'],
  rooms: ['#rooms', '#vmrs'],
  accounts: ['#accounts'],
  settings: ['#settings', '#setup'],
  maintenance: ['#backups', '#firmware', '#maintenance', '#license'],
  logs: ['#audit', '#logs', '#statistics'],
};

t.test('the navigation: grouped as the manual, every page reached by its group, the current one marked, a menu at tablet width', async (t) => {
  const p = await openPage(browser, `${base}/#dashboard`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.isVisible('#nav'), false, 'no navigation before the login');
  await page.fill('#username', 'chief');
  await page.fill('#password', 'Chief2026');
  await page.click('#login');
  await page.waitForSelector('#services');
  const groups = (await page.evaluate(
    "[...document.querySelectorAll('#nav .nav-group')].map((g) => [g.dataset.group, g.querySelector('.nav-group-title').textContent, [...g.querySelectorAll('a')].map((a) => a.hash)])",
  )) as [string, string, string[]][];
  t.same(Object.fromEntries(groups.map(([id, , links]) => [id, links])), GROUPS, 'the groups and their pages');
  t.same(
    groups.map(([, title]) => title),
    ['Status', 'Calls and meetings', 'Rooms', 'Accounts', 'System settings', 'Maintenance', 'Logs and statistics'],
    'each group titled',
  );
  t.equal(await page.isVisible('#nav-toggle'), false, 'a wide screen shows the sidebar without a menu button');
  const current = () => page.evaluate("[...document.querySelectorAll('#nav a[aria-current=\"page\"]')].map((a) => a.hash + '|' + a.closest('.nav-group').dataset.group)") as Promise<string[]>;
  for (const [group, hashes] of Object.entries(GROUPS)) {
    for (const hash of hashes) {
      await page.click(`#nav .nav-group[data-group="${group}"] a[href="${hash}"]`);
      await page.waitForFunction(`window.vcboxConsole.state.view === ${JSON.stringify(hash.slice(1))} && document.querySelector('#content h1') !== null`);
      t.same(await current(), [`${hash}|${group}`], `${group} → ${hash}: opened, the only link marked current`);
    }
  }
  await page.waitForLoadState('networkidle');

  // A tablet: the sidebar folds into a "Menu" button; the keyboard opens it, picks a page, Escape closes it.
  await page.setViewportSize({ width: 768, height: 1024 });
  t.equal(await page.isVisible('#nav-toggle'), true, 'at 768 px a menu button');
  t.equal(await page.isVisible('#nav a[href="#accounts"]'), false, 'the links folded away');
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than the tablet, menu closed');
  await page.focus('#nav-toggle');
  await page.keyboard.press('Enter');
  t.equal(await page.getAttribute('#nav-toggle', 'aria-expanded'), 'true', 'Enter opens the menu');
  t.equal(await page.isVisible('#nav a[href="#accounts"]'), true, 'its links show');
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than the tablet, menu open');
  await page.screenshot({ path: path.join(artifacts, 'console-nav-menu-768.png') });
  await page.keyboard.press('Escape');
  t.equal(await page.getAttribute('#nav-toggle', 'aria-expanded'), 'false', 'Escape closes it');
  t.match(await page.evaluate('document.activeElement?.id'), 'nav-toggle', 'the focus back on the menu button');
  await page.keyboard.press('Enter');
  for (let i = 0; i < 20 && (await page.evaluate("document.activeElement?.getAttribute('href')")) !== '#vmrs'; i++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForFunction("window.vcboxConsole.state.view === 'vmrs'");
  t.equal(await page.getAttribute('#nav-toggle', 'aria-expanded'), 'false', 'a page chosen from the menu closes it');
  t.same(await current(), ['#vmrs|rooms'], 'and is marked current');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#nav-toggle')?.textContent === '菜单'");
  await page.click('#nav-toggle');
  t.same(
    await page.$$eval('#nav .nav-group-title', (nodes) => nodes.map((n) => n.textContent)),
    ['系统状态', '通话与会议', '会议室管理', '账号管理', '系统设置', '系统维护', '日志与统计'],
    'the groups in Chinese',
  );
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'in Chinese, nothing wider than the tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-nav-menu-zh-768.png') });
  t.same(p.errors, [], 'no console errors');
});
