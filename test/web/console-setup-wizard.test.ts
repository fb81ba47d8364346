/**
 * The first-start wizard in headless Chromium: a new administrator logs in with the initial
 * password, chooses a new one, and — arriving without a page in mind — is taken to the wizard:
 * network (local domain), time (manual, UTC+08:00), administrator (a mismatched confirmation is
 * refused by its field, then saved), licence (what a box without one refuses, said; the 14-day
 * trial started in one click, which settles the step), SMTP
 * skipped; the wizard says it is complete, and "quick setup" starts it again with the settings
 * kept. Checked in the page and on the server; in Chinese too; screenshots; no console errors.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { changeFirstPassword, launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';

const state = freshState();
const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
await new AdminStore(state.db).ensureInitialAdmin(secrets);
const initialPassword = readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim();
// A new box: no licence until the wizard's licence step starts the trial.
const base = await startConsoleApi(t, { state, unlicensed: true, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

t.test('a new administrator goes through the wizard', async (t) => {
  const p = await openPage(browser, `${base}/`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await logInToConsole(page, 'admin', initialPassword);
  await changeFirstPassword(page, initialPassword, 'First2026');

  await page.waitForSelector('#wizard-network');
  t.equal(await page.evaluate('location.hash'), '#setup', 'a new box opens the wizard after login');
  await page.screenshot({ path: path.join(artifacts, 'console-setup-wizard.png'), fullPage: true });
  await page.fill('#wizard-domain', 'corp.example');
  await page.click('#wizard-save');

  await page.waitForSelector('#wizard-time');
  await page.selectOption('#wizard-mode', 'manual');
  await page.selectOption('#wizard-zone', 'UTC+08:00');
  await page.click('#wizard-save');

  await page.waitForSelector('#wizard-admin');
  await page.fill('#wizard-password', 'Second2026');
  await page.fill('#wizard-confirm', 'Different1');
  await page.fill('#wizard-email', 'admin@corp.example');
  await page.click('#wizard-save');
  await page.waitForSelector('#wizard-admin [aria-invalid="true"]');
  t.pass(`a mismatched confirmation is refused by its field: ${await page.textContent('#wizard-admin .field-error:not(:empty), #wizard-admin .form-error')}`);
  await page.fill('#wizard-confirm', 'Second2026');
  await page.click('#wizard-save');

  await page.waitForSelector('#wizard-license');
  t.match(await page.textContent('#wizard-license-refused'), /no licence yet.*new accounts are refused and meetings are audio only/, 'the licence step says what an unlicensed box refuses');
  await page.click('#wizard-trial');
  await page.waitForSelector('#wizard-smtp');
  await page.click('#wizard-skip');
  await page.waitForSelector('.wizard-complete');
  t.match(await page.textContent('.wizard-steps'), /Network — done.*Time — done.*Administrator — done.*Licence — done.*Mail server — skipped/s, 'every step settled (the trial settles the licence step as done)');

  const settings = state.settings.getAll();
  t.equal(settings['network.localDomain'], 'corp.example', 'the local domain is stored');
  t.equal(settings['time.zone'], 'UTC+08:00', 'and the time zone');
  t.ok(new AdminStore(state.db).byNameAndEmail('admin', 'admin@corp.example'), 'and the administrator e-mail');
  const trial = state.db.prepare('SELECT count(*) FROM license_trial').pluck().get();
  t.equal(trial, 1, 'the trial was started from the wizard');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '初始设置'");
  t.pass('the wizard in Chinese');
  await page.selectOption('#lang', 'en');
  await page.click('#quick-setup');
  await page.waitForSelector('#wizard-network');
  t.equal(await page.inputValue('#wizard-domain'), 'corp.example', 'quick setup starts again with the settings kept');
  t.same(p.errors.filter((e) => !/status of 400 .*\/api\/v1\/setup\/admin$/.test(e)), [], 'no console errors but the refusal asked for');
});
