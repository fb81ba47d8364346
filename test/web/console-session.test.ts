/**
 * The admin session in headless Chromium against the real console API and a real SMTP server:
 * "remember me" keeps the user name (never the password) for the next login and forgets it
 * when unticked; "forgot password" with the captcha (a wrong answer refused by its field and a
 * new picture shown) mails a reset link, which opens the reset form, sets the new password
 * once (a differing confirmation refused by its field) and is refused when used again;
 * "my account" changes the password (a wrong current one refused by its field; the admin's
 * other session, open in another browser, goes back to the login on its next refresh) and the
 * registered e-mail; and a console left without input for 30 minutes (the browser's clock run
 * forward) logs out and ends the session on the server, while input keeps it. Screenshots; no
 * console errors but the refusals asked for.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Page } from 'playwright-core';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const smtp = await startSmtpSink({});
t.teardown(() => smtp.close());
const state = freshState();
state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': smtp.port, 'smtp.security': 'none', 'smtp.sender': 'box@vcbox.local' }, { actor: 'test' });
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', email: 'chief@example.org', role: 'admin' });
const base = await startConsoleApi(t, { state, webRoot: path.join(PROJECT_ROOT, 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

/** Reads the captcha off its picture, as a person does (the SVG's glyphs, in order). */
async function readCaptcha(page: Page): Promise<string> {
  const src = (await page.getAttribute('#captcha-picture', 'src')) ?? '';
  const svg = decodeURIComponent(src.replace(/^data:image\/svg\+xml;charset=utf-8,/, ''));
  return [...svg.matchAll(/<text[^>]*>([A-Z0-9])<\/text>/g)].map((m) => m[1]).join('');
}

t.test('remember me keeps the user name, never the password', async (t) => {
  const p = await openPage(browser, `${base}/`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.isChecked('#remember'), false, 'off on a new browser');
  await page.fill('#username', 'chief');
  await page.fill('#password', 'Chief2026');
  await page.check('#remember');
  await page.click('#login');
  await page.waitForSelector('#app-view:not([hidden])');
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  t.notMatch(stored, /Chief2026/, 'the password is not kept in the browser');
  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.inputValue('#username'), 'chief', 'the user name is filled in after logging out');
  await page.reload();
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.inputValue('#username'), 'chief', 'and in a new visit');
  t.equal(await page.inputValue('#password'), '', 'the password is not');
  t.equal(await page.isChecked('#remember'), true, 'the box stays ticked');
  t.equal(await page.evaluate('document.activeElement?.id'), 'password', 'the focus waits in the password field');
  await page.fill('#password', 'Chief2026');
  await page.uncheck('#remember');
  await page.click('#login');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.inputValue('#username'), '', 'unticked: the user name is forgotten');
  t.same(p.errors, [], 'no console errors');
});

t.test('a forgotten password reset by the mailed link', async (t) => {
  const p = await openPage(browser, `${base}/`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.waitForSelector('#login-view:not([hidden])');
  await page.fill('#username', 'chief');
  await page.click('#forgot');
  await page.waitForSelector('#forgot-form');
  t.equal(await page.inputValue('#forgot-username'), 'chief', 'the user name comes along from the login');
  await page.fill('#forgot-email', 'Chief@Example.org');
  const firstPicture = await page.getAttribute('#captcha-picture', 'src');
  await page.fill('#forgot-captcha', 'WRONG');
  await page.click('#forgot-send');
  await page.waitForSelector('#forgot-captcha[aria-invalid="true"]');
  t.match(await page.textContent('#forgot-captcha-error'), /do not match the picture/, 'a wrong captcha is refused by its field');
  t.not(await page.getAttribute('#captcha-picture', 'src'), firstPicture, 'and a new picture is shown');
  await page.screenshot({ path: path.join(artifacts, 'console-forgot-password.png'), fullPage: true });
  await page.fill('#forgot-captcha', await readCaptcha(page));
  await page.click('#forgot-send');
  await page.waitForFunction("document.getElementById('forgot-sent').textContent !== ''");
  t.match(await page.textContent('#forgot-sent'), /If the user name and e-mail match, a reset mail is on its way; its link works for 10 minutes\./, 'the answer never says whether it matched');
  const mail = await smtp.next();
  t.same(mail.to.map((a) => a.toLowerCase()), ['chief@example.org'], 'mailed to the registered address');
  const link = /(http:\/\/\S+\/#\/reset\/[\w-]+)/.exec(mail.decoded)?.[1] ?? '';
  t.ok(link.startsWith(`${base}/#/reset/`), `the mail links to this console: ${link}`);

  await page.goto(link);
  await page.waitForSelector('#reset-form');
  t.equal(await page.evaluate('document.activeElement?.id'), 'reset-password', 'the link opens the reset form');
  await page.fill('#reset-password', 'Renewed26');
  await page.fill('#reset-confirm', 'Renewed27');
  await page.click('#reset-save');
  await page.waitForSelector('#reset-confirm[aria-invalid="true"]');
  t.match(await page.textContent('#reset-confirm-error'), /confirmation differs/, 'a differing confirmation is refused by its field');
  await page.fill('#reset-confirm', 'Renewed26');
  await page.click('#reset-save');
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.textContent('#error'), 'Your password was changed. Log in with the new one.', 'back at the login, in words');
  t.equal(await page.evaluate('location.hash'), '', 'the link is gone from the address');
  await logInToConsole(page, 'chief', 'Renewed26');
  await page.waitForSelector('#app-view:not([hidden])');
  t.pass('the new password works');
  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');

  // The same link again: refused, with the way to a new one.
  await page.goto(link);
  await page.waitForSelector('#reset-form');
  await page.fill('#reset-password', 'Another26');
  await page.fill('#reset-confirm', 'Another26');
  await page.click('#reset-save');
  await page.waitForSelector('#reset-ask-again:not([hidden])');
  t.match(await page.textContent('#reset-form-error'), /invalid, used or older than 10 minutes/, 'a used link is refused in words');
  await page.click('#reset-ask-again');
  await page.waitForSelector('#forgot-form');
  t.pass('and leads to the forgot-password form');
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#forgot-form h1')?.textContent === '忘记密码？'");
  await page.screenshot({ path: path.join(artifacts, 'console-forgot-password-zh.png'), fullPage: true });
  await page.selectOption('#lang', 'en');
  await page.click('#recovery-back');
  await page.waitForSelector('#login-view:not([hidden])');
  // Chromium logs every refused request: the refusals asked for above.
  const provoked = /status of 400 .*\/api\/v1\/session\/(forgot|reset)$/;
  t.same(
    p.errors.filter((e) => !provoked.test(e)),
    [],
    'no other console errors',
  );
});

t.test('my account: own password and e-mail; the other session ends', async (t) => {
  const other = await openPage(browser, `${base}/#dashboard`);
  t.teardown(() => other.page.context().close());
  await other.page.clock.install();
  await other.page.reload();
  await logInToConsole(other.page, 'chief', 'Renewed26');
  await other.page.waitForSelector('#services');

  const p = await openPage(browser, `${base}/`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Renewed26');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.click('#profile-link');
  await page.waitForSelector('#profile-password');
  t.equal(await page.textContent('#profile-who'), 'Logged in as chief (administrator).', 'who is logged in');

  await page.fill('#profile-current', 'not-it-26');
  await page.fill('#profile-new', 'Profile26');
  await page.fill('#profile-confirm', 'Profile26');
  await page.click('#profile-password button[type="submit"]');
  await page.waitForSelector('#profile-current[aria-invalid="true"]');
  t.match(await page.textContent('#profile-current-error'), /current password is wrong/, 'a wrong current password is refused by its field');
  await page.fill('#profile-current', 'Renewed26');
  await page.fill('#profile-new', 'Profile26');
  await page.fill('#profile-confirm', 'Profile26');
  await page.click('#profile-password button[type="submit"]');
  await page.waitForFunction("document.getElementById('profile-password-done').textContent !== ''");
  t.match(await page.textContent('#profile-password-done'), /Your password was changed\. Your other console sessions were ended; this one goes on\./, 'changed, in words');
  t.ok((await admins.login('chief', 'Profile26')).id, 'the new password is the one on the server');

  // The other browser's dashboard refreshes every 10 s: its next refresh finds the session gone.
  await other.page.clock.fastForward(11_000);
  await other.page.waitForSelector('#login-view:not([hidden])');
  t.match(await other.page.textContent('#error'), /Your session has ended .+Log in again\./, 'the other session went back to the login, saying why');

  await page.fill('#profile-email-address', 'not an address');
  await page.click('#profile-email button[type="submit"]');
  await page.waitForSelector('#profile-email-address[aria-invalid="true"]');
  t.match(await page.textContent('#profile-email-address-error'), /email is invalid/i, `a bad e-mail is refused by its field: ${await page.textContent('#profile-email-address-error')}`);
  await page.fill('#profile-email-address', 'chief@corp.example');
  await page.click('#profile-email button[type="submit"]');
  await page.waitForFunction("document.getElementById('profile-email-done').textContent !== ''");
  t.equal(await page.textContent('#profile-email-done'), 'The e-mail chief@corp.example is registered.', 'saved, in words');
  t.ok(admins.byNameAndEmail('chief', 'chief@corp.example'), 'and on the server');
  await page.screenshot({ path: path.join(artifacts, 'console-my-account.png'), fullPage: true });
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '我的账户'");
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-my-account-zh-768.png'), fullPage: true });
  t.same(
    p.errors.filter((e) => !/status of 400 .*\/api\/v1\/session\/(password|email)$/.test(e)),
    [],
    'no console errors but the refusals asked for',
  );
  t.same(
    other.errors.filter((e) => !/status of 401 .*\/api\/v1\/dashboard$/.test(e)),
    [],
    'the other browser: only the refused refresh',
  );
});

t.test('30 minutes without input log out; input keeps the session', async (t) => {
  const p = await openPage(browser, `${base}/#dashboard`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.clock.install();
  await page.reload();
  const sessions = () => state.db.prepare('SELECT count(*) FROM admin_sessions').pluck().get() as number;
  const before = sessions();
  await logInToConsole(page, 'chief', 'Profile26');
  await page.waitForSelector('#services');
  t.equal(sessions(), before + 1, 'logged in: one more session on the server');
  await page.clock.fastForward('25:00');
  await page.keyboard.press('Tab'); // the administrator is there
  await page.clock.fastForward('25:00');
  t.ok(await page.isVisible('#app-view'), '50 minutes with input after 25: still in');
  await page.clock.fastForward('05:30');
  await page.waitForSelector('#login-view:not([hidden])');
  t.equal(await page.textContent('#error'), 'You were logged out after 30 minutes without activity. Log in again.', 'back at the login, saying why');
  // The logout ends the server's session once the page's requests on their way are answered.
  const status = () => page.evaluate(async () => (await fetch('/api/v1/session')).status);
  await waitFor('the session ended on the server', 5000, async () => ((await status()) === 401 ? true : undefined)).catch(() => undefined);
  t.equal(await status(), 401, 'the session is ended on the server too');
  t.equal(sessions(), before, 'and its row is gone');
  t.same(
    p.errors.filter((e) => !/status of 401 .*\/api\/v1\/session$/.test(e)),
    [],
    'no console errors but the check of the ended session',
  );
});
