/**
 * The web console in headless Chromium: the administrator logs in with the initial password
 * (a wrong one is refused in words), must choose a new password, sees a terminal that
 * registers (sipp, a Yealink User-Agent) appear in online users with its model, sees a live
 * meeting with a SIP terminal (sipp) in it, mutes the terminal, picks the 1+5 layout from the
 * layout pictures and pins the terminal to the big pane, switches the console to Chinese,
 * removes the terminal (confirmed; its call gets a BYE) and logs out. Each step is checked in
 * the page and against the server's state; screenshots go to the test artefacts; no console
 * errors on the page.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { changeFirstPassword, launchBrowser, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Board room', number: '880015', hostPin: '1122', guestPin: '', capacity: 10 });
const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
await new AdminStore(box.db).ensureInitialAdmin(secrets);
const initialPassword = readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim();
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  live: box.app.live,
  online: () => box.app.location.online(),
  dialOut: (number, account) => box.app.dialOut(number, account),
  ...(box.mediaClient ? { media: box.mediaClient.media } : {}),
  keepDb: true,
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

t.test('an administrator controls a live meeting from the console', async (t) => {
  const p = await openPage(browser, `${base}/#live`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.waitForSelector('#login-view:not([hidden])');

  // Language on the login page.
  await page.selectOption('#lang', 'zh-CN');
  t.equal(await page.textContent('#login'), '登录', 'the login page switches to Chinese');
  await page.selectOption('#lang', 'en');
  t.equal(await page.textContent('#login'), 'Log in', 'and back to English');

  await page.fill('#username', 'admin');
  await page.fill('#password', 'not-the-password');
  await page.click('#login');
  await page.waitForFunction("document.getElementById('error').textContent !== ''");
  t.match(await page.textContent('#error'), /The server says: .+/, `a wrong password is refused in words: ${await page.textContent('#error')}`);

  await page.fill('#password', initialPassword);
  await page.click('#login');
  await page.waitForSelector('#password-view:not([hidden])');
  t.pass('the first login asks for a new password');
  await changeFirstPassword(page, initialPassword, 'Meet2026!');
  await page.waitForSelector('#app-view:not([hidden])');
  t.match(await page.textContent('.empty'), /No meeting is running now/, 'no meeting yet');

  // A terminal registers: online users shows it with the model from its User-Agent.
  box.app.accounts.create({ number: '2401', name: 'Reception', password: 'secret-2401' }, box.realm);
  const receptionPort = await freePort();
  const registered = await runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${box.port}`,
    transport: 'u1',
    auth: ['2401', 'secret-2401'],
    keys: { account: '2401', contact_port: String(receptionPort), expires: '300', device: 'desk' },
  });
  t.ok(registered.ok, `the terminal registered ${registered.errors}`);
  await page.click('#nav a[href="#online"]');
  await page.waitForSelector('#online-table tr[data-account="2401"]');
  t.match(await page.textContent('#online-table tr[data-account="2401"]'), /Reception.*2401.*SIP-VC800.*63\.345\.0\.10/s, 'online users: the account with its device model and version');
  await page.screenshot({ path: path.join(artifacts, 'console-online-users.png'), fullPage: true });
  await page.click('#nav a[href="#live"]');
  await page.waitForSelector('.empty');

  const { terminal } = await openTerminals(t, 'terminal');
  const leg = await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Desk phone', media: pcmuMedia(terminal.port), hold: 60_000, scenario: 'meeting-join-remote-bye.xml' });
  await page.waitForSelector('tr[data-participant="Desk phone"]', { timeout: 15_000 });
  t.pass('the live meeting with the terminal appears (refreshed by the page)');
  await page.screenshot({ path: path.join(artifacts, 'console-live-meetings.png'), fullPage: true });

  // Invite the registered reception terminal (a sipp UAS waits at its Contact).
  const { reception } = await openTerminals(t, 'reception');
  const invitedTerminal = await startSipp({ scenario: scenarioWith('uas-invited.xml', { port: String(reception.port) }), transport: 'u1', localPort: receptionPort, timeoutSeconds: 30 });
  await page.fill('input.invite-account', '2401');
  await page.click('button.invite');
  await page.waitForSelector('tr[data-participant="Reception"]', { timeout: 15_000 });
  t.pass('the invited terminal joined and is listed');

  await page.click('tr[data-participant="Desk phone"] button.mute');
  await page.waitForSelector('tr[data-participant="Desk phone"] .badge');
  const participant = () => [...(box.app.live.get(room.number)?.participants.values() ?? [])][0];
  const snapshot = await box.media?.snapshot(room.number);
  t.equal(snapshot?.[0]?.participants[0]?.muted, true, 'the terminal is muted on the server');

  await page.check(`input[name="layout-${room.number}"][value="1+5"]`);
  await waitFor('layout 1+5', 5000, () => box.app.live.get(room.number)?.layout === '1+5');
  t.equal(box.app.live.get(room.number)?.layout, '1+5', 'the layout picked from its picture is in force');
  t.equal(await page.locator('.layout-picture').count(), 11, 'a picture for each of the 11 layouts');
  await page.waitForSelector(`input[name="layout-${room.number}"][value="1+5"]:checked`);
  await page.selectOption('select.pin', { label: 'Desk phone' });
  await waitFor('pinned', 5000, () => box.app.live.get(room.number)?.pinned === participant()?.id);
  t.equal(box.app.live.get(room.number)?.pinned, participant()?.id, 'the terminal is pinned to the big pane');

  // Broadcast the desk phone to everyone; the reception terminal watches it; then stop.
  await page.click('tr[data-participant="Desk phone"] button.broadcast');
  await waitFor('broadcast', 5000, () => box.app.live.get(room.number)?.broadcast === participant()?.id);
  t.equal(box.app.live.get(room.number)?.broadcast, participant()?.id, 'the desk phone is broadcast');
  await page.waitForSelector('tr[data-participant="Desk phone"] .badge.broadcasting');
  t.equal(await page.textContent('tr[data-participant="Desk phone"] button.broadcast'), 'Stop broadcast', 'its button now stops the broadcast');
  const receptionId = () => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((x) => x.displayName === 'Reception')?.id ?? '';
  await page.selectOption('tr[data-participant="Reception"] select.watch', { label: 'Desk phone' });
  await waitFor('watching', 5000, () => box.app.live.get(room.number)?.watching.get(receptionId()) === participant()?.id);
  t.equal(box.app.live.get(room.number)?.watching.get(receptionId()), participant()?.id, 'the reception terminal watches the desk phone');
  await page.click('tr[data-participant="Desk phone"] button.broadcast');
  await waitFor('broadcast stopped', 5000, () => box.app.live.get(room.number)?.broadcast === null);
  t.equal(box.app.live.get(room.number)?.broadcast, null, 'the broadcast is stopped from the same button');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '进行中的会议'");
  t.equal(await page.textContent('#nav a[href="#live"]'), '进行中的会议', 'the console switches to Chinese');
  t.equal(await page.textContent('tr[data-participant="Desk phone"] button.mute'), '取消静音', 'buttons too');
  await page.screenshot({ path: path.join(artifacts, 'console-live-meetings-zh.png'), fullPage: true });

  page.once('dialog', (dialog) => void dialog.accept());
  await page.click('tr[data-participant="Desk phone"] button.remove');
  t.ok((await leg.result).ok, 'the removed terminal got a BYE');
  await page.waitForSelector('tr[data-participant="Reception"] button.remove');
  page.once('dialog', (dialog) => void dialog.accept());
  await page.click('tr[data-participant="Reception"] button.remove');
  t.ok((await invitedTerminal.result).ok, 'and so did the invited one');
  await page.waitForSelector('.empty', { timeout: 10_000 });

  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');
  t.pass('logged out');
  // Chromium logs every refused request; the 401 asked for here (the wrong password) is the
  // only one allowed.
  const unexpected = p.errors.filter((e) => !/status of 401 .*\/api\/v1\/session$/.test(e));
  t.equal(p.errors.length - unexpected.length, 1, 'one refused login, nothing else refused');
  t.same(unexpected, [], 'no other console errors on the page');
});
