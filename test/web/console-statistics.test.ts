/**
 * The console's statistics page in headless Chromium, over real calls: two SIP terminals in a
 * VMR at once (sipp) make one VMR meeting, two call records and a concurrency of two; the page
 * shows them by type, the maximum concurrency, the records with a type filter, and the export
 * link answers a spreadsheet; in Chinese too; no console errors.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const room = new VmrStore(box.db).create({ name: 'Stats room', number: '880018', hostPin: '1122', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { state: { db: box.db, settings: box.settings }, live: box.app.live, keepDb: true, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

t.test('statistics over real calls', async (t) => {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const legs = [
    await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Alpha', media: pcmuMedia(a.port), hold: 2000 }),
    await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Beta', media: pcmuMedia(b.port), hold: 2000 }),
  ];
  await Promise.all(legs.map((leg) => leg.result));
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);

  const p = await openPage(browser, `${base}/#statistics`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#stats-cards');
  const stat = (id: string) => page.textContent(`#stats-cards [data-stat="${id}"] strong`);
  t.equal(await stat('vmr'), '1', 'one VMR meeting in the last month');
  t.equal(await stat('p2p'), '0', 'no point-to-point call');
  t.equal(await stat('with-content'), '0', 'no meeting with content shared (nobody presented)');
  t.equal(await stat('max-ever'), 'participants 2 · meetings 1', 'the most at once ever: both terminals in one meeting');
  t.equal(await page.locator('#records-table tbody tr').count(), 2, 'two call records');
  await page.screenshot({ path: path.join(artifacts, 'console-statistics.png'), fullPage: true });

  await page.selectOption('#stats-type', 'p2p');
  await page.click('#stats-filter button[type="submit"]');
  await page.waitForFunction("document.querySelectorAll('#records-table tbody tr').length === 0");
  t.pass('the type filter: no point-to-point records');
  const href = await page.getAttribute('#stats-export', 'href');
  const exported = await page.request.get(`${base}${href}`);
  t.equal(exported.status(), 200, 'the export answers');
  t.match(exported.headers()['content-type'], /spreadsheetml/, 'with a spreadsheet');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '统计'");
  t.pass('the page in Chinese');
  t.same(p.errors, [], 'no console errors on the page');
});
