/**
 * The console's operation log in headless Chromium: actions by two administrators (logins,
 * accounts created through the API) are listed newest first with who, from where, what and the
 * details; the user filter narrows to one administrator; the period filter and the export (a
 * spreadsheet read back here with the same filter) agree with the page; in Chinese too; no
 * console errors.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import XLSX from 'xlsx';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'deputy', password: 'Deputy2026', role: 'admin' });
const base = await startConsoleApi(t, { state, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

t.test('the operation log: listed, filtered by user and period, exported', async (t) => {
  const deputy = new ConsoleClient(base);
  t.equal((await deputy.login('deputy', 'Deputy2026')).status, 200);
  t.equal((await deputy.call('POST', '/api/v1/accounts', { number: '3001', name: 'Deputy room', password: 'secret12' })).status, 201);
  const chief = new ConsoleClient(base);
  t.equal((await chief.login('chief', 'Chief2026')).status, 200);
  t.equal((await chief.call('POST', '/api/v1/accounts', { number: '3002', name: 'Chief room', password: 'secret12' })).status, 201);

  const p = await openPage(browser, `${base}/#audit`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#audit-table');
  const actions = () => page.$$eval('#audit-table tbody tr', (rows) => rows.map((r) => `${r.children[1]?.textContent} ${r.children[3]?.textContent}`));
  const listed = await actions();
  t.ok(listed.includes('deputy account.create') && listed.includes('chief account.create'), `both administrators' actions are listed (${listed.join(', ')})`);
  t.equal(listed[0], 'chief session.login', 'newest first: this very login');
  t.match(await page.textContent('#audit-table tbody'), /"number":"3001"/, 'with their details');
  await page.screenshot({ path: path.join(artifacts, 'console-audit.png'), fullPage: true });

  await page.fill('#audit-user', 'deputy');
  await page.selectOption('#audit-period', 'today');
  await page.click('#audit-filter button[type="submit"]');
  await page.waitForFunction("[...document.querySelectorAll('#audit-table tbody tr')].every((r) => r.children[1]?.textContent === 'deputy')");
  const deputyOnly = await actions();
  t.same(deputyOnly, ['deputy account.create', 'deputy session.login'], 'the user filter shows the deputy only');

  const href = await page.getAttribute('#audit-export', 'href');
  const exported = await page.request.get(`${base}${href}`);
  t.equal(exported.status(), 200, 'the export downloads');
  const book = XLSX.read(await exported.body(), { type: 'buffer' });
  const rows = XLSX.utils.sheet_to_json<string[]>(book.Sheets[book.SheetNames[0] ?? ''] as XLSX.WorkSheet, { header: 1 }).slice(1);
  t.equal(rows.length, 2, 'with the same filter: the two deputy entries');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '操作日志'");
  t.pass('the page in Chinese');
  t.same(p.errors, [], 'no console errors on the page');
});
