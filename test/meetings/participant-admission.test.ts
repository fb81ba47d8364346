/**
 * One admission path for every way into a meeting (issue #17's participant sessions): SIP
 * direct dial (sipp INVITE), the IVR (sipp keying RFC 4733 digits at the access number), the
 * browser join page (its WebSocket and look-up) and the console's dial-out (a registered sipp
 * terminal) — each from its own loopback address — are refused alike by a locked meeting, by an
 * address past the wrong-PIN limit and by a meeting past it, and guests by guest access being
 * off. Dial-out is the host's own request and presents no PIN: guessers' lock-outs and guest
 * access (it calls an account) do not stop it, a locked meeting does. The lock-out limits are
 * lowered here (3 per address, 4 per meeting) to keep the test short.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { keyDigits, promptStreamed } from '../helpers/ivr-caller.ts';
import { joinFromAddress, lookUpFromAddress } from '../helpers/join-socket.ts';
import { joinMeeting, pcmuMedia, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const box = await startSipBox({
  media: {},
  entryLockout: {
    source: { failures: 3, windowMs: 10 * 60_000, durationMs: 10 * 60_000 },
    meeting: { failures: 4, windowMs: 10 * 60_000, durationMs: 10 * 60_000 },
    maxEntries: 1000,
  },
});
t.teardown(() => box.close());
box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
await new AdminStore(box.db).ensureInitialAdmin(secrets);
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), dialOut: (number, account) => box.app.dialOut(number, account) });
const admin = new ConsoleClient(base);
await admin.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim());
const rooms = new VmrStore(box.db);
const lockable = rooms.create({ name: 'Lockable room', number: '880201', hostPin: '1111', guestPin: '2222', capacity: 10 });
const guarded = rooms.create({ name: 'Guarded room', number: '880202', hostPin: '3333', guestPin: '4444', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const ACCESS = box.settings.get('call.ivrAccessNumber');
const inMeeting = (number: string) => [...(box.app.live.get(number)?.participants.values() ?? [])].map((p) => p.displayName).sort();

async function refusedDial(t: Test, address: string, dial: string, status: number, reason: string): Promise<void> {
  const result = await runSipp({ scenario: scenarioWith('meeting-refused.xml', { dial, status: String(status), reason, media: pcmuMedia(40000) }), target, transport: 'u1', localIp: address });
  t.ok(result.ok, `direct dial from ${address} to ${dial} → ${status} ${reason} ${result.errors}`);
}

/** An IVR call from `address` keying `digits` until the box hangs up; true when `prompt` was played. */
async function ivrHeard(t: Test, address: string, digits: string, prompt: string): Promise<boolean> {
  const { caller } = await openTerminals(t, 'caller');
  const call = await joinMeeting(target, { dial: ACCESS, name: 'Ivr', media: pcmuMedia(caller.port), hold: 90_000, scenario: 'ivr-keys-hung-up.xml', localIp: address });
  await keyDigits(caller, call.answeredPort, digits, 1000);
  const result = await call.result;
  t.ok(result.ok, `IVR caller from ${address}: the box hung up ${result.errors}`);
  return promptStreamed(caller, 'en', prompt);
}

/** Registers `account` from loopback with its Contact at `port`. */
async function register(account: string, port: number): Promise<void> {
  box.app.accounts.create({ number: account, name: `Room ${account}`, password: `secret-${account}` }, box.realm);
  const result = await runSipp({ scenario: 'register.xml', target, transport: 'u1', auth: [account, `secret-${account}`], keys: { account, contact_port: String(port), expires: '300', device: 'desk' } });
  if (!result.ok) throw new Error(`registration of ${account} failed:\n${result.errors}`);
}

/** A host in `number` (from 127.0.0.1) until the test hangs everyone up. */
async function holdOpen(t: Test, number: string, hostPin: string): Promise<void> {
  const { holder } = await openTerminals(t, 'holder');
  await joinMeeting(target, { dial: `${number}**${hostPin}`, name: 'Holder', media: pcmuMedia(holder.port), ...UNTIL_HUNG_UP });
  await waitFor('the holder in the meeting', 5000, () => inMeeting(number).includes('Holder'));
}

t.test('a locked meeting: direct dial, IVR, browser and dial-out are all refused', async (t) => {
  await holdOpen(t, lockable.number, lockable.hostPin);
  t.equal((await admin.call('POST', `/api/v1/live-meetings/${lockable.number}/lock`, { locked: true })).status, 200, 'locked from the console');

  await refusedDial(t, '127.0.0.31', `${lockable.number}**2222`, 403, 'Call Rejected - the meeting is locked');
  t.ok(await ivrHeard(t, '127.0.0.32', `${lockable.number}#2222#`, 'locked'), 'IVR: "the meeting is locked", goodbye');
  t.match((await joinFromAddress(base, '127.0.0.33', { number: lockable.number, pin: '2222', name: 'Browser' })).error, { refusal: 'locked', message: /locked/ }, 'browser: refused, locked');
  await register('2601', await freePort());
  const invite = await admin.call('POST', `/api/v1/live-meetings/${lockable.number}/invite`, { account: '2601' });
  t.equal(invite.status, 409, 'dial-out: refused');
  t.match(invite.body, { code: 'VCBOX_ERR_MEETING_LOCKED', message: /locked: nobody new may enter, invited or not\. Unlock it first/ }, 'and told what to do');
  t.same(inMeeting(lockable.number), ['Holder'], 'nobody else got in');

  t.equal((await admin.call('POST', `/api/v1/live-meetings/${lockable.number}/lock`, { locked: false })).status, 200);
  hangUpEveryone(box, lockable.number);
});

t.test('past the wrong-PIN limit, of an address or of a meeting, every way in refuses even the right PIN', async (t) => {
  await holdOpen(t, guarded.number, guarded.hostPin);
  // An address guesses by direct dial; its third wrong PIN locks it out (and says so).
  await refusedDial(t, '127.0.0.41', `${guarded.number}**9991`, 403, 'Forbidden - wrong meeting PIN');
  await refusedDial(t, '127.0.0.41', `${guarded.number}**9992`, 403, 'Forbidden - wrong meeting PIN');
  await refusedDial(t, '127.0.0.41', `${guarded.number}**9993`, 403, 'Forbidden - too many wrong meeting IDs or PINs from your address');
  // Its right PIN, on every way:
  await refusedDial(t, '127.0.0.41', `${guarded.number}**4444`, 403, 'Forbidden - too many wrong meeting IDs or PINs from your address');
  await refusedDial(t, '127.0.0.41', ACCESS, 403, 'Forbidden - too many wrong meeting IDs or PINs from your address');
  t.match((await joinFromAddress(base, '127.0.0.41', { number: guarded.number, pin: '4444', name: 'Guesser' })).error, { code: 'VCBOX_ERR_ENTRY_LOCKED_OUT', refusal: 'locked-out' }, 'browser from the address: refused');

  // The meeting's fourth wrong PIN (a browser elsewhere) pauses its PIN entry.
  t.match((await joinFromAddress(base, '127.0.0.42', { number: guarded.number, pin: '9994', name: 'Other guesser' })).error, { code: 'VCBOX_ERR_MEETING_PIN_LOCKED_OUT', refusal: 'meeting-locked-out' }, 'the fourth wrong PIN for the meeting: paused');
  await refusedDial(t, '127.0.0.43', `${guarded.number}**4444`, 403, 'Forbidden - too many wrong PINs for this meeting');
  t.ok(await ivrHeard(t, '127.0.0.44', `${guarded.number}#4444#`, 'too-many-attempts'), 'IVR with the right PIN: "too many wrong entries", goodbye');
  t.match((await joinFromAddress(base, '127.0.0.45', { number: guarded.number, pin: '4444', name: 'Rightful' })).error, { refusal: 'meeting-locked-out' }, 'browser with the right PIN: refused');
  t.same(inMeeting(guarded.number), ['Holder'], 'nobody got in; the holder was not disturbed');
  const rows = box.db.prepare("SELECT source, detail FROM audit_log WHERE action = 'meeting.entry.lockout' ORDER BY id").all() as { source: string; detail: string }[];
  t.same(
    rows.map((r) => [r.source, JSON.parse(r.detail).scope, JSON.parse(r.detail).way]),
    [
      ['127.0.0.41', 'source', 'sip'],
      ['127.0.0.42', 'meeting', 'web'],
    ],
    'each lock-out audited once, with the way it came by',
  );
});

t.test('guest access off: guests are refused on every way in; the host still invites an account', async (t) => {
  box.settings.update({ 'call.guestAccess': false }, { actor: 'test' });
  t.teardown(() => box.settings.update({ 'call.guestAccess': true }, { actor: 'test' }));
  await refusedDial(t, '127.0.0.51', `${lockable.number}**2222`, 407, 'Proxy Authentication Required');
  await refusedDial(t, '127.0.0.52', ACCESS, 407, 'Proxy Authentication Required');
  const web = await joinFromAddress(base, '127.0.0.53', { number: lockable.number, pin: '2222', name: 'Browser' });
  t.match(web.error, { code: 'VCBOX_ERR_GUEST_ACCESS_OFF', refusal: 'guest-access-off', message: /only callers with an account/ }, 'browser: refused, told why');
  t.match(await lookUpFromAddress(base, '127.0.0.53', lockable.number), { status: 403, body: { refusal: 'guest-access-off' } }, 'the join page look-up says so first');

  // Dial-out calls an account (not a guest) at the host's request: with guest access off and the
  // meeting's PIN entry paused by guessers (previous test), the invited terminal still joins.
  const { invited } = await openTerminals(t, 'invited');
  const contactPort = await freePort();
  await register('2602', contactPort);
  const terminal = await startSipp({ scenario: scenarioWith('uas-invited.xml', { port: String(invited.port) }), transport: 'u1', localPort: contactPort, timeoutSeconds: 30 });
  const answer = await admin.call('POST', `/api/v1/live-meetings/${guarded.number}/invite`, { account: '2602' });
  t.equal(answer.status, 200, `dial-out joins ${JSON.stringify(answer.body).slice(0, 200)}`);
  t.same(inMeeting(guarded.number), ['Holder', 'Room 2602']);
  hangUpEveryone(box, guarded.number);
  t.ok((await terminal.result).ok, 'the invited terminal took the call and the BYE');
});
