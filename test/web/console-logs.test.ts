/**
 * The console's logs page in headless Chromium against the real API, signaling service and
 * registrar: an administrator exports the SIP system log of today (real processes wrote it)
 * and gets the ZIP; a reversed range is refused by its field; switches terminal logs on from
 * the page, after which sipp terminals register from two addresses (a Yealink that stays, a
 * Polycom that un-registers); the list shows them with model and online/offline, filters by
 * model and status, searches; one terminal's messages open, newest first, searched; the
 * selected terminals export as a ZIP; the page reads in Chinese at a tablet's width.
 * Screenshots go to the artefacts; no console errors but the refusal provoked on purpose.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { DiskParts } from '../../server/disk/disk-parts.ts';
import { localDay } from '../../server/core/rotating-log-file.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { registerAs } from '../helpers/sipp.ts';

const run = promisify(execFile);
const logDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-logs-'));
const box = await startSipBox({ terminalLogDir: path.join(logDir, 'terminals'), terminalLogsFromSetting: true });
t.teardown(() => box.close());
box.app.accounts.create({ number: '1001', name: 'Room East', password: 'secret-1001' }, box.realm);
box.app.accounts.create({ number: '1002', name: 'Room West', password: 'secret-1002' }, box.realm);
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await run(process.execPath, [path.join(import.meta.dirname, '..', 'fixtures', 'logs', 'log-writer.ts'), logDir, 'signaling', '500', String(1024 * 1024), 'sip'], { timeout: 60_000 });
const parts = new DiskParts({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-logs-data-')), logDir });
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  keepDb: true,
  disk: { parts },
  online: () => box.app.location.online(),
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const today = localDay(Date.now());

/** One terminal registering (expires 0: un-registering) from `address`, its log written. */
async function register(address: string, account: string, userAgent: string, expires = '300') {
  await registerAs(`127.0.0.1:${box.port}`, address, account, userAgent, expires);
  await box.service.flushTerminalLogs();
}

t.test('system log export and terminal logs from the console', async (t) => {
  const p = await openPage(browser, `${base}/#logs`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#logs-system');
  t.match(await page.textContent('label:has(#log-module-sip)'), /^SIP \(1 day, .+\)$/, 'the days each module holds');
  t.match(await page.textContent('label:has(#log-module-turn)'), /TURN \(none yet\)/);

  // Export today's SIP log.
  for (const module of ['web', 'mcu', 'turn']) await page.uncheck(`#log-module-${module}`);
  await page.fill('#log-from', today);
  await page.fill('#log-to', today);
  const [zip] = await Promise.all([page.waitForEvent('download'), page.click('#log-export')]);
  t.equal(zip.suggestedFilename(), `vcbox-logs-sip-${today}_${today}.zip`);
  const saved = path.join(logDir, 'downloaded.zip');
  await zip.saveAs(saved);
  t.same(execFileSync('unzip', ['-Z1', saved]).toString().trim().split('\n'), [`sip/${today}.signaling.log`], 'the ZIP holds today\'s SIP log');
  await page.waitForSelector('#log-export-message.ok');
  t.match(await page.textContent('#log-export-message'), /Downloaded vcbox-logs-sip-/);

  // A reversed range is refused by its field.
  await page.fill('#log-from', '2026-11-21');
  await page.fill('#log-to', '2026-11-20');
  await page.click('#log-export');
  await page.waitForSelector('#log-from[aria-invalid="true"]');
  t.match(await page.textContent('#log-from-error'), /the first day is after the last/, 'the server\'s refusal by the field');

  // Terminal logs: on from this page, then two terminals register.
  t.match(await page.textContent('#terminal-logs-state'), /off/);
  await page.check('#terminal-logs-enabled');
  await page.waitForFunction("document.querySelector('#terminal-logs-state')?.textContent === 'Terminal logs are on.'");
  t.equal(box.settings.get('terminalLogs.enabled'), true, 'saved');
  await new Promise((resolve) => setTimeout(resolve, 150)); // the signaling side's settings cache
  await register('127.0.0.31', '1001', 'Yealink SIP-VC800 63.345.0.10');
  await register('127.0.0.32', '1002', 'Polycom RealPresence Group 500 6.2.2');
  await register('127.0.0.32', '1002', 'Polycom RealPresence Group 500 6.2.2', '0');
  await page.click('#terminal-filter button[type="submit"]');
  await page.waitForSelector('tr[data-terminal="127.0.0.32"]');
  t.match(await page.textContent('tr[data-terminal="127.0.0.31"]'), /127\.0\.0\.31Yealink SIP-VC80063\.345\.0\.101001Online/, 'IP, model, version, account, online');
  t.match(await page.textContent('tr[data-terminal="127.0.0.32"]'), /Polycom RealPresence Group 500.*Offline/, 'un-registered: offline');

  // Filters and search.
  await page.selectOption('#terminal-model', 'Polycom RealPresence Group 500');
  await page.click('#terminal-filter button[type="submit"]');
  await page.waitForFunction("document.querySelectorAll('#terminal-logs-table tbody tr').length === 1");
  t.ok(await page.$('tr[data-terminal="127.0.0.32"]'), 'by model');
  await page.selectOption('#terminal-model', '');
  await page.selectOption('#terminal-status', 'online');
  await page.click('#terminal-filter button[type="submit"]');
  await page.waitForFunction("document.querySelectorAll('#terminal-logs-table tbody tr').length === 1 && document.querySelector('tr[data-terminal=\"127.0.0.31\"]')");
  t.pass('by status');
  await page.selectOption('#terminal-status', 'all');
  await page.fill('#terminal-search', '1002');
  await page.click('#terminal-filter button[type="submit"]');
  await page.waitForFunction("document.querySelectorAll('#terminal-logs-table tbody tr').length === 1 && document.querySelector('tr[data-terminal=\"127.0.0.32\"]')");
  t.pass('searched by account');
  await page.fill('#terminal-search', '');
  await page.click('#terminal-filter button[type="submit"]');
  await page.waitForFunction("document.querySelectorAll('#terminal-logs-table tbody tr').length === 2");

  // One terminal's messages, searched.
  await page.click('tr[data-terminal="127.0.0.32"] button.view');
  await page.waitForSelector('#terminal-log-view');
  t.equal(await page.evaluate('document.activeElement?.id'), 'terminal-log-title', 'the view takes the focus');
  t.match(await page.textContent('#terminal-log-count'), /^8 messages, newest first$/);
  t.match(await page.textContent('#terminal-log-view details.log-entry summary'), /to 127\.0\.0\.32 SIP\/2\.0 200 OK/, 'newest first');
  await page.fill('#terminal-log-search', 'Expires: 0');
  await page.click('#terminal-log-search-form button');
  await page.waitForFunction("document.querySelector('#terminal-log-count')?.textContent?.startsWith('2 messages')");
  await page.click('#terminal-log-view details.log-entry summary');
  t.match(await page.textContent('#terminal-log-view details.log-entry[open] pre'), /Expires: 0/);
  await page.screenshot({ path: path.join(artifacts, 'console-logs.png'), fullPage: true });

  // Export the selected terminals.
  await page.check('tr[data-terminal="127.0.0.31"] input[type="checkbox"]');
  await page.check('tr[data-terminal="127.0.0.32"] input[type="checkbox"]');
  const [terminals] = await Promise.all([page.waitForEvent('download'), page.click('#terminal-export-selected')]);
  t.equal(terminals.suggestedFilename(), 'vcbox-terminal-logs-2.zip');
  const savedTerminals = path.join(logDir, 'terminals.zip');
  await terminals.saveAs(savedTerminals);
  t.same(execFileSync('unzip', ['-Z1', savedTerminals]).toString().trim().split('\n').sort(), ['terminals/127.0.0.31.log', 'terminals/127.0.0.32.log']);

  // In Chinese, at a tablet's width.
  await page.click('#terminal-log-close');
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '日志'");
  t.match(await page.textContent('#logs-terminals h2'), '终端日志');
  t.match(await page.textContent('tr[data-terminal="127.0.0.32"]'), /离线/);
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-logs-zh-768.png'), fullPage: true });

  const provoked = /status of 400 .*\/api\/v1\/logs\/system\/export/;
  t.same(
    p.errors.filter((e) => !provoked.test(e)),
    [],
    'no other console errors on the page',
  );
});
