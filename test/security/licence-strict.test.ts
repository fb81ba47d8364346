/**
 * Finding 13, the licence loophole: a box with neither a trial nor a licence was unrestricted.
 * Against a real SIP box (signaling service, SIP application, one mediasoup worker) and its
 * console API over loopback: on an unlicensed box creating an account is refused in words (API,
 * in English and Chinese, and the Excel import's row), and a sipp terminal offering audio and
 * video is answered audio only (m=video 0); the setup wizard's one click (POST
 * /setup/license/trial) — refused without a session and to an operator — starts the 14-day
 * trial and settles the licence step, after which the same account is created, the same import
 * creates its row, and the same offer gets video. A second click is refused: the trial is once.
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import XLSX from 'xlsx';
import { HEADER } from '../../server/accounts/account-spreadsheet.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { openLicense } from '../../server/license/open-license.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, pcmuVp8Media, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpFirstParticipant, startSipBox } from '../helpers/sip-box.ts';

// A box as it leaves the installer: its licence opened as the control plane opens it (vendor
// key only), nothing activated, no trial.
const box = await startSipBox({ media: {}, license: (db, dir) => openLicense({ db, identityDir: path.join(dir, 'identity') }) });
t.teardown(() => box.close());
const admins = new AdminStore(box.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
const base = await startConsoleApi(t, boxConsoleOptions(box));
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');
const target = `127.0.0.1:${box.port}`;
// A VMR needs no licence.
const vmr = await admin.call('POST', '/api/v1/vmrs', { name: 'Strict room', number: '880013', guestPin: '5678', capacity: 10 });
if (vmr.status !== 201) throw new Error(`the VMR was not created: ${JSON.stringify(vmr.body)}`);

/** A new account over the API, in the given language. */
async function createAccount(number: string, language = 'en') {
  const response = await fetch(`${base}/api/v1/accounts`, {
    method: 'POST',
    headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/json', 'accept-language': language },
    body: JSON.stringify({ number, name: `User ${number}`, password: `secret-${number}` }),
  });
  return { status: response.status, body: (await response.json()) as { code?: string; message?: string; number?: string } };
}

/** An .xls with one new account, uploaded as the console does. */
async function importAccount(t: Test, number: string) {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet([[...HEADER], [`Imported ${number}`, number, '', `secret-${number}`]]), 'Accounts');
  const response = await fetch(`${base}/api/v1/accounts/import`, {
    method: 'POST',
    headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/vnd.ms-excel' },
    body: XLSX.write(book, { type: 'buffer', bookType: 'biff8' }) as Buffer,
  });
  t.equal(response.status, 200, 'the import answers');
  return (await response.json()) as { created: number; updated: number; failed: { number: string; reason: string }[] };
}

/** A sipp terminal offering PCMU audio and VP8 video joins the VMR; returns the answered video port, after the box hung it up. */
async function videoAnswer(t: Test, name: string): Promise<{ audio: number; video: number }> {
  const { v } = await openTerminals(t, 'v');
  const terminal = await joinMeeting(target, { dial: '880013**5678', name, media: pcmuVp8Media(v.port, v.port + 2), hold: 60_000, scenario: 'meeting-join-remote-bye.xml' });
  await hangUpFirstParticipant(box, '880013', 'test over');
  t.ok((await terminal.result).ok, `${name}: the terminal got its BYE`);
  await waitFor('the meeting to end', 5000, () => box.app.live.get('880013') === undefined);
  return { audio: terminal.answeredPort, video: terminal.answeredVideoPort };
}

t.test('unlicensed: no accounts (API and import, in words), meetings audio only', async (t) => {
  const facts = await admin.call('GET', '/api/v1/license');
  t.match(facts.body, { status: 'unlicensed', trial: { used: false }, allows: { accounts: false, video: false, ports: 16 } }, 'the box says it is restricted');

  const refused = await createAccount('2001');
  t.equal(refused.status, 403);
  t.match(refused.body, {
    code: 'VCBOX_ERR_LICENSE_NONE_ACCOUNTS',
    message: /New accounts cannot be created: this box has no licence yet .*meetings are audio only, at most 16 participants at once\. Start the 14-day trial \(setup wizard, or Maintenance → License\) or activate a licence/,
  });
  t.match((await createAccount('2001', 'zh-CN')).body, { message: /无法创建新账号：本设备尚未授权.*请开始 14 天试用/ }, 'in Chinese too');
  t.equal((await admin.call('GET', '/api/v1/accounts/2001')).status, 404, 'no account was made');

  const imported = await importAccount(t, '2002');
  t.match(imported, { created: 0, updated: 0 }, 'the import creates nothing');
  t.match(imported.failed, [{ number: '2002', reason: /New accounts cannot be created: this box has no licence yet/ }], 'the row fails with the reason');
  t.equal((await admin.call('GET', '/api/v1/accounts/2002')).status, 404);

  const call = await videoAnswer(t, 'Unlicensed');
  t.ok(call.audio > 0, `audio answered on port ${call.audio}`);
  t.equal(call.video, 0, 'the video offer is declined (m=video 0): audio only');
});

t.test("the wizard's one click starts the trial; then accounts and video work", async (t) => {
  t.equal((await new ConsoleClient(base).call('POST', '/api/v1/setup/license/trial')).status, 401, 'without a session: refused');
  const operator = new ConsoleClient(base);
  await operator.login('watcher', 'Watch2026');
  t.match((await operator.call('POST', '/api/v1/setup/license/trial')).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' }, 'an operator cannot start it');
  t.equal((await admin.call('GET', '/api/v1/license')).body.status, 'unlicensed', 'still unlicensed');

  const clicked = await admin.call('POST', '/api/v1/setup/license/trial');
  t.equal(clicked.status, 200, JSON.stringify(clicked.body));
  t.match(clicked.body.steps, [{ id: 'network' }, { id: 'time' }, { id: 'admin' }, { id: 'license', status: 'done' }, { id: 'smtp' }], 'the licence step is done');
  const trial = (await admin.call('GET', '/api/v1/license')).body;
  t.match(trial, { status: 'trial', type: 'trial', ports: 16, allows: { accounts: true, video: true, ports: 16 } }, 'the box is on its trial');
  t.equal(Date.parse(trial.validUntil) - Date.parse(trial.validFrom), 14 * 86_400_000, 'for 14 days');
  const audited = box.db.prepare("SELECT actor FROM audit_log WHERE action = 'license.trial'").all();
  t.same(audited, [{ actor: 'chief' }], 'the trial is in the operation log, by the administrator who clicked');

  const created = await createAccount('2001');
  t.equal(created.status, 201, JSON.stringify(created.body));
  t.match(await importAccount(t, '2002'), { created: 1, failed: [] }, 'the import creates its row');

  const call = await videoAnswer(t, 'Trial');
  t.ok(call.audio > 0 && call.video > 0, `audio and video answered (video on port ${call.video})`);

  const again = await admin.call('POST', '/api/v1/setup/license/trial');
  t.equal(again.status, 409);
  t.match(again.body, { code: 'VCBOX_ERR_LICENSE_TRIAL_USED', message: /already been used/ }, 'the trial is once per box');
});
