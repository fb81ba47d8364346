/**
 * Content sharing on the console's live-meetings page, in headless Chromium: a room system
 * (sipp with a content and a TCP/BFCP line) takes the floor with the real libre BFCP client;
 * the administrator's page shows who presents (name, SIP, since when, how long) with a badge on
 * its row and a "Stop presentation" button. Pressed (confirmed), the terminal's BFCP client is
 * told Revoked and the page says nobody presents; "Give floor" on a row with a content stream
 * grants it back (its client told Granted), and a phone without content has no such button.
 * An operator sees the presenter but neither button; the words are in Chinese too. No console
 * errors on the page.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { type BfcpClientEvent, overallStatus } from '../helpers/bfcp-client.ts';
import { changeFirstPassword, launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { contentOffer, joinWithContent, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Slides room', number: '880192', hostPin: '1122', guestPin: '', capacity: 10 });
const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
const admins = new AdminStore(box.db);
await admins.ensureInitialAdmin(secrets);
await admins.create({ username: 'watcher', password: 'Watcher-pass-1', role: 'operator' });
const initialPassword = readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim();
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  live: box.app.live,
  ...(box.mediaClient ? { media: box.mediaClient.media } : {}),
  floors: () => box.app.floors,
  keepDb: true,
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';
const revoked = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Revoked';

t.test('the presenter on the live-meetings page, stopped and given the floor again by the administrator', async (t) => {
  const target = `127.0.0.1:${box.port}`;
  const a = await openTerminals(t, 'audio', 'video', 'content');
  const b = await openTerminals(t, 'audio', 'video');
  const presenter = await joinWithContent(target, room.number, 'Slides', contentOffer({ audio: a.audio.port, video: a.video.port, content: a.content.port }, 'TCP/BFCP'));
  const plain = await joinWithContent(target, room.number, 'Plain', contentOffer({ audio: b.audio.port, video: b.video.port }));
  const client = await takeFloor(t, presenter.answer);
  const slidesId = [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Slides')?.id;
  t.equal(box.app.floors?.presenterOf(room.number), slidesId, 'the room system presents');

  // The operator sees who presents, and no button to stop it.
  const watcher = await openPage(browser, `${base}/#live`);
  t.teardown(() => watcher.page.context().close());
  await logInToConsole(watcher.page, 'watcher', 'Watcher-pass-1');
  await watcher.page.waitForSelector(`section[data-number="${room.number}"] .presentation.active`, { timeout: 15_000 });
  t.match(await watcher.page.textContent('.presentation'), /Slides \(SIP\) presents content since .+ · \d+:\d\d/, 'the operator sees the presenter and for how long');
  t.equal(await watcher.page.locator('button.stop-presentation').count(), 0, 'but no "Stop presentation"');
  t.equal(await watcher.page.locator('button.give-floor').count(), 0, 'nor "Give floor"');

  // The administrator.
  const p = await openPage(browser, `${base}/#live`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await logInToConsole(page, 'admin', initialPassword);
  await changeFirstPassword(page, initialPassword, 'Slides2026!');
  await page.waitForSelector(`section[data-number="${room.number}"] .presentation.active`, { timeout: 15_000 });
  const shown = (await page.textContent('.presentation')) ?? '';
  t.match(shown, /Slides \(SIP\) presents content since .+ · \d+:\d\d/, `the presenter, since when and how long: "${shown}"`);
  t.equal(await page.textContent('tr[data-participant="Slides"] .badge.presenting'), 'presenting', "a badge on the presenter's row");
  t.equal(await page.textContent('button.stop-presentation'), 'Stop presentation', 'the administrator has "Stop presentation"');
  t.equal(await page.locator('tr[data-participant="Plain"] button.give-floor').count(), 0, 'a phone without content cannot be given the floor');
  t.equal(await page.locator('tr[data-participant="Slides"] button.give-floor').count(), 0, 'nor the presenter already presenting');
  await page.screenshot({ path: path.join(artifacts, 'console-content-presenter.png'), fullPage: true });

  // Stop it.
  const toldRevoked = client.nextNotification(revoked, 'Revoked from the console');
  page.once('dialog', (dialog) => void dialog.accept());
  await page.click('button.stop-presentation');
  await toldRevoked;
  t.pass("the terminal's BFCP client is told Revoked");
  await waitFor('nobody presents', 5000, () => box.app.live.get(room.number)?.presenter === null);
  t.equal(box.app.floors?.presenterOf(room.number), null, 'the floor is free');
  await page.waitForSelector('.presentation:not(.active)');
  t.equal(await page.textContent('.presentation'), 'Nobody presents content', 'the page says nobody presents');
  t.equal(await page.locator('button.stop-presentation').count(), 0, 'and has nothing to stop');
  const audit = box.db.prepare("SELECT actor FROM audit_log WHERE action = 'meeting.presentation.stop'").all() as { actor: string }[];
  t.same(audit, [{ actor: 'admin' }], 'the stop is audited');

  // Give the floor back from the presenter's row.
  const grantedAgain = client.nextNotification(granted, 'Granted from the console');
  await page.click('tr[data-participant="Slides"] button.give-floor');
  await grantedAgain;
  t.pass("the terminal's BFCP client is told Granted");
  await page.waitForSelector('.presentation.active');
  t.equal(box.app.floors?.presenterOf(room.number), slidesId, 'it presents again');

  // In Chinese.
  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('button.stop-presentation')?.textContent === '停止演示'");
  t.match(await page.textContent('.presentation'), /Slides（SIP）自 .+ 起共享内容 · \d+:\d\d/, 'the presenter in Chinese');
  t.equal(await page.textContent('tr[data-participant="Slides"] .badge.presenting'), '演示中', 'the badge in Chinese');
  await page.screenshot({ path: path.join(artifacts, 'console-content-presenter-zh.png'), fullPage: true });
  t.same(p.errors, [], 'no console errors on the administrator page');
  t.same(watcher.errors, [], 'nor on the operator page');

  for (const participant of [...(box.app.live.get(room.number)?.participants.values() ?? [])]) participant.hangUp('test over');
  await Promise.all([presenter.result, plain.result]);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});
