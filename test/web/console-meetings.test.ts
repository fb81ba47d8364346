/**
 * The console's meetings page in headless Chromium against the real console API: an
 * administrator schedules a weekly meeting with two accounts and a room (a recurrence ending
 * before the start is refused by its field first), reads the ways in the API answers (dial
 * strings, a join link that opens the join page), finds it in the upcoming list and on each of
 * its days in the month calendar (going to the next month as needed), changes its subject
 * before the start, reads the page in Chinese and cancels it (confirmed): it is marked
 * cancelled in the list and leaves the calendar. Checked in the page and in the database;
 * screenshots at 1280×800 and 768 px wide; no console errors but the refusal asked for.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { MeetingStore, occurrences } from '../../server/meetings/meeting-store.ts';
import { RoomStore } from '../../server/rooms/room-store.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-meetings-'));
const db = openDatabase(path.join(dir, 'vcbox.sqlite'));
migrate(db);
const settings = new SettingsStore(db);
await new AdminStore(db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const accounts = new AccountStore(db);
accounts.create({ number: '2001', name: 'Alice', password: 'secret-2001' }, 'vcbox.local');
accounts.create({ number: '2002', name: 'Bob', password: 'secret-2002' }, 'vcbox.local');
const boardRoom = new RoomStore(db).create({ name: 'Board room', type: 'normal' });
const base = await startConsoleApi(t, { state: { db, settings }, keepDb: true, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const meetings = new MeetingStore(db);

// Tomorrow 10:00 in this machine's time zone (Chromium runs in the same one), weekly for three weeks.
const pad = (n: number) => String(n).padStart(2, '0');
const dayKey = (at: Date) => `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
const first = new Date();
first.setDate(first.getDate() + 1);
first.setHours(10, 0, 0, 0);
const lastDay = new Date(first);
lastDay.setDate(lastDay.getDate() + 14);

t.test('a weekly meeting scheduled, listed, on its days in the calendar, changed and cancelled', async (t) => {
  const p = await openPage(browser, `${base}/#meetings`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#meetings-calendar');
  t.equal(await page.locator('#meetings-calendar tbody td').count(), 42, 'a six-week month grid');
  t.equal(await page.getAttribute('#meetings-calendar td[aria-current="date"]', 'data-date'), dayKey(new Date()), 'today marked');

  await page.fill('#meeting-subject', 'Weekly sync');
  await page.fill('#meeting-start', `${dayKey(first)}T10:00`);
  await page.fill('#meeting-duration', '45');
  await page.selectOption('#meeting-recurrence', 'weekly');
  await page.fill('#meeting-until', dayKey(new Date()));
  await page.selectOption('#meeting-accounts', ['2001', '2002']);
  await page.selectOption('#meeting-rooms', String(boardRoom.id));
  await page.fill('#meeting-host-pin', '246810');
  await page.click('#meeting-form button[type="submit"]');
  await page.waitForFunction("document.getElementById('meeting-until-error').textContent !== ''");
  t.match(await page.textContent('#meeting-until-error'), /ends after the first meeting/, `an end before the start is refused by its field: ${await page.textContent('#meeting-until-error')}`);

  await page.fill('#meeting-until', dayKey(lastDay));
  await page.click('#meeting-form button[type="submit"]');
  await page.waitForSelector('#meeting-outcome .summary');
  const [meeting] = meetings.window(new Date(0), new Date(Date.now() + 400 * 86_400_000));
  t.match(meeting, { subject: 'Weekly sync', durationMinutes: 45, recurrence: { freq: 'weekly' }, hostPin: '246810', guestPin: /^\d{4}$/, accounts: ['2001', '2002'], rooms: [boardRoom.id] }, 'the meeting in the database');
  t.equal(meeting?.start, first.toISOString(), 'starting when typed, in the browser’s time zone');
  const number = meeting?.number ?? '';
  t.equal(await page.textContent('#meeting-outcome .summary'), `Meeting ${number} is scheduled.`, 'the outcome in words');
  t.equal(await page.textContent('#meeting-outcome .dial-string'), `${number}**${meeting?.guestPin}@${settings.getAll()['network.localDomain']}`, 'the guest dial string');
  t.equal(await page.textContent('#meeting-outcome .host-dial-string'), `${number}**246810@${settings.getAll()['network.localDomain']}`, 'the host dial string');
  const link = (await page.getAttribute('#meeting-outcome a.join-link', 'href')) ?? '';
  t.equal(link, `${base}/join/?m=${number}`, 'the browser join link');
  const joinPage = await fetch(link);
  t.equal(joinPage.status, 200, 'the link opens the join page');
  t.match(await joinPage.text(), /join\.js/, 'the join page itself');

  // The list: upcoming, with start, duration, recurrence and ID.
  const row = `#meetings-upcoming tr[data-meeting="${number}"]`;
  await page.waitForSelector(row);
  t.match(await page.textContent(row), new RegExp(`Weekly sync.*45 min.*Weekly until .*${number}.*scheduled`, 's'), 'in the upcoming list');
  await page.screenshot({ path: path.join(artifacts, 'console-meetings.png'), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.screenshot({ path: path.join(artifacts, 'console-meetings-768.png'), fullPage: true });
  t.equal(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth'), 0, 'nothing wider than a 768 px tablet');
  await page.setViewportSize({ width: 1280, height: 800 });

  // The calendar: each occurrence on its day, the next month reached with the keyboard when needed.
  const days = occurrences(meeting as NonNullable<typeof meeting>, new Date(0), new Date(lastDay.getTime() + 86_400_000)).map((at) => dayKey(new Date(at)));
  t.equal(days.length, 3, 'three weekly occurrences');
  for (const day of days) {
    if ((await page.locator(`#meetings-calendar td[data-date="${day}"]`).count()) === 0) {
      await page.focus('#calendar-next');
      await page.keyboard.press('Enter');
      await page.waitForSelector(`#meetings-calendar td[data-date="${day}"]`);
    }
    t.equal(await page.textContent(`#meetings-calendar td[data-date="${day}"] li[data-meeting="${number}"]`), `10:00 Weekly sync`, `on ${day} in the calendar`);
  }
  const onDays = await page.$$eval(`#meetings-calendar li[data-meeting="${number}"]`, (items) => items.map((li) => li.closest('td')?.getAttribute('data-date')));
  t.ok(
    onDays.every((day) => days.includes(day ?? '')),
    `and on no other day: ${onDays.join(', ')}`,
  );
  await page.click('#calendar-today');
  await page.waitForSelector('#meetings-calendar td[aria-current="date"]');

  // Changed before the start.
  await page.click(`${row} button.edit`);
  await page.waitForSelector('#meeting-form button[type="submit"] >> text=Save changes');
  t.equal(await page.inputValue('#meeting-start'), `${dayKey(first)}T10:00`, 'the form holds the meeting');
  t.same(await page.$$eval('#meeting-accounts option:checked', (options) => options.map((o) => o.getAttribute('value'))), ['2001', '2002'], 'with its participants');
  await page.fill('#meeting-subject', 'Weekly sync (moved)');
  await page.click('#meeting-form button[type="submit"]');
  await page.waitForSelector('#meeting-outcome .summary');
  t.equal(await page.textContent('#meeting-outcome .summary'), `Meeting ${number} is changed.`, 'changed, in words');
  t.equal(meetings.byNumber(number)?.subject, 'Weekly sync (moved)', 'in the database');
  t.equal(meetings.byNumber(number)?.guestPin, meeting?.guestPin, 'the PINs kept');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '会议'");
  t.match(await page.textContent(row), /每周，至/, 'the list in Chinese');
  t.equal(await page.textContent('#meetings-upcoming caption'), '即将开始', 'its caption too');
  await page.screenshot({ path: path.join(artifacts, 'console-meetings-zh.png'), fullPage: true });

  // Cancelled (confirmed): marked in the list, gone from the calendar.
  let question = '';
  page.once('dialog', (dialog) => {
    question = dialog.message();
    void dialog.accept();
  });
  await page.click(`${row} button.cancel`);
  await page.waitForFunction(`document.querySelector('tr[data-meeting="${number}"] .status')?.textContent === '已取消'`);
  t.match(question, new RegExp(`取消会议“Weekly sync \\(moved\\)”（${number}）`), 'asked first, in Chinese');
  t.equal(meetings.byNumber(number)?.status, 'cancelled', 'cancelled in the database');
  t.equal(await page.locator(`#meetings-calendar li[data-meeting="${number}"]`).count(), 0, 'gone from the calendar');
  t.equal(await page.locator(`tr[data-meeting="${number}"] button.cancel`).count(), 0, 'nothing left to cancel');

  const refused = p.errors.filter((e) => /status of 400 .*\/api\/v1\/meetings$/.test(e));
  t.equal(refused.length, 1, 'the one refusal asked for');
  t.same(
    p.errors.filter((e) => !refused.includes(e)),
    [],
    'no other console errors',
  );
});
