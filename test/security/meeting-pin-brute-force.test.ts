/**
 * Guessing meeting PINs and meeting IDs (issue #16, finding 4), from the guessers' side. IVR
 * callers are sipp keying RFC 4733 digits (its pcap files) at the access number; direct
 * diallers are sipp INVITEs; browsers use the join page's look-up and WebSocket — each from its
 * own loopback address. The box's rule per address (5 wrong meeting IDs or PINs, whatever the
 * way) is the real one; the lock-outs here last 30 s instead of minutes so that their end can
 * be seen. Checked: an IVR caller's wrong PINs over two calls lock its address out at the fifth
 * (said so, goodbye), after which every way in refuses that address even with the right PIN,
 * and the lock-out is one audit row; a wrong meeting-ID sweep through the IVR is locked out the
 * same way; wrong PINs for one meeting from a browser, a direct dialler and an IVR caller on
 * different addresses add up until the meeting takes no PIN at all (one audit row); both
 * lock-outs end by themselves and the right PIN gets in again.
 */
import t, { type Test } from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { keyDigits, promptStreamed } from '../helpers/ivr-caller.ts';
import { joinFromAddress, lookUpFromAddress } from '../helpers/join-socket.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';

const LOCKED_FOR_MS = 30_000;
const box = await startSipBox({
  media: {},
  entryLockout: {
    source: { failures: 5, windowMs: 10 * 60_000, durationMs: LOCKED_FOR_MS },
    meeting: { failures: 6, windowMs: 10 * 60_000, durationMs: LOCKED_FOR_MS },
    maxEntries: 10_000,
  },
});
t.teardown(() => box.close());
box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
const base = await startConsoleApi(t, boxConsoleOptions(box));
const rooms = new VmrStore(box.db);
const guarded = rooms.create({ name: 'Guarded room', number: '880101', hostPin: '1111', guestPin: '2222', capacity: 10 });
const crowded = rooms.create({ name: 'Crowded room', number: '880102', hostPin: '3333', guestPin: '4444', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const ACCESS = box.settings.get('call.ivrAccessNumber');

interface LockoutRow {
  at: string;
  source: string;
  detail: { scope: string; key: string; meeting: string; way: string; failures: number; lockedForSeconds: number };
}
const lockouts = (): LockoutRow[] =>
  (box.db.prepare("SELECT at, actor, source, detail FROM audit_log WHERE action = 'meeting.entry.lockout' ORDER BY id").all() as { at: string; source: string; detail: string }[]).map(
    (row) => ({ ...row, detail: JSON.parse(row.detail) }),
  );

/** An IVR call from `address` keying `digits` (after the welcome starts) until the box hangs up; returns the prompts' terminal. */
async function ivrCall(t: Test, address: string, digits: string) {
  const { caller } = await openTerminals(t, 'caller');
  const call = await joinMeeting(target, { dial: ACCESS, name: 'Guesser', media: pcmuMedia(caller.port), hold: 90_000, scenario: 'ivr-keys-hung-up.xml', localIp: address });
  await keyDigits(caller, call.answeredPort, digits, 1000);
  const result = await call.result;
  t.ok(result.ok, `the box hung up on the IVR caller at ${address} ${result.errors}`);
  return caller;
}

/** A direct dial from `address` that must be refused with `status` and a reason phrase matching `reason`. */
async function refusedDial(t: Test, address: string, dial: string, status: number, reason: string): Promise<void> {
  const result = await runSipp({ scenario: scenarioWith('meeting-refused.xml', { dial, status: String(status), reason, media: pcmuMedia(40000) }), target, transport: 'u1', localIp: address });
  t.ok(result.ok, `${address} dialling ${dial} → ${status} ${reason} ${result.errors}`);
}

/** A direct dial from `address` that joins (and hangs up after a second). */
async function joinedDial(t: Test, address: string, dial: string): Promise<void> {
  const { terminal } = await openTerminals(t, 'terminal');
  const call = await joinMeeting(target, { dial, name: 'Rightful', media: pcmuMedia(terminal.port), hold: 1000, localIp: address });
  t.ok(call.answeredPort > 0, `${address} dialling ${dial} is answered`);
  t.ok((await call.result).ok, 'and hangs up normally');
}

t.test('an IVR caller guessing PINs: locked out at the fifth wrong one (over two calls), audited once, refused by every way in', async (t) => {
  const guesser = '127.0.0.11';
  const first = await ivrCall(t, guesser, `${guarded.number}#1000#1001#1002#`);
  t.ok(promptStreamed(first, 'en', 'invalid-pin'), 'wrong PINs are told so');
  t.notOk(promptStreamed(first, 'en', 'too-many-attempts'), 'three wrong PINs: not locked out yet');
  t.equal(lockouts().length, 0, 'nothing audited for single wrong PINs');

  const second = await ivrCall(t, guesser, `${guarded.number}#1003#1004#`);
  t.ok(promptStreamed(second, 'en', 'too-many-attempts'), 'the fifth wrong PIN: "too many wrong entries", then goodbye');
  const [row, ...more] = lockouts();
  t.equal(more.length, 0, 'one lock-out, one audit row');
  t.match(row, { source: guesser, detail: { scope: 'source', meeting: guarded.number, way: 'ivr', failures: 5, lockedForSeconds: LOCKED_FOR_MS / 1000 } }, 'the audit row says who, where, how');

  // Every way in now refuses the address — even with the right PIN.
  await refusedDial(t, guesser, ACCESS, 403, 'Forbidden - too many wrong meeting IDs or PINs from your address');
  await refusedDial(t, guesser, `${guarded.number}**2222`, 403, 'Forbidden - too many wrong meeting IDs or PINs from your address');
  const web = await joinFromAddress(base, guesser, { number: guarded.number, pin: '2222', name: 'Guesser' });
  t.match(web.error, { code: 'VCBOX_ERR_ENTRY_LOCKED_OUT', refusal: 'locked-out', message: /Too many wrong meeting IDs or PINs came from your address: meetings refuse it for \d+ more seconds/ }, 'the browser join is refused in words');
  const lookUp = await lookUpFromAddress(base, guesser, guarded.number);
  t.equal(lookUp.status, 429, 'so is the join page look-up');
  t.equal(lockouts().length, 1, 'attempts during the lock-out are refused, not audited again');
  t.equal(box.app.live.get(guarded.number)?.participants.size ?? 0, 0, 'nobody got in');

  // Another address, and the meeting itself, are not affected (5 wrong PINs < the meeting's 6).
  await joinedDial(t, '127.0.0.12', `${guarded.number}**2222`);
});

t.test('a wrong meeting-ID sweep through the IVR is locked out the same way', async (t) => {
  const sweeper = '127.0.0.13';
  const first = await ivrCall(t, sweeper, '11111#11112#11113#');
  t.ok(promptStreamed(first, 'en', 'invalid-id'), 'unknown meeting IDs are told so');
  t.notOk(promptStreamed(first, 'en', 'too-many-attempts'));
  const before = lockouts().length;
  const second = await ivrCall(t, sweeper, '11114#11115#');
  t.ok(promptStreamed(second, 'en', 'too-many-attempts'), 'the fifth unknown ID: locked out');
  const rows = lockouts().slice(before);
  t.equal(rows.length, 1, 'one audit row');
  t.match(rows[0], { source: sweeper, detail: { scope: 'source', way: 'ivr', meeting: '11115' } });
  const lookUp = await lookUpFromAddress(base, sweeper, guarded.number);
  t.match(lookUp, { status: 429, body: { code: 'VCBOX_ERR_ENTRY_LOCKED_OUT' } }, 'the sweeper cannot go on by the join page either');
  await refusedDial(t, sweeper, `${guarded.number}**2222`, 403, 'Forbidden - too many wrong meeting IDs or PINs');
});

t.test('wrong PINs for one meeting from a browser, a direct dialler and an IVR caller add up: the meeting takes no PIN for a while', async (t) => {
  const before = lockouts().length;
  for (const pin of ['9990', '9991']) {
    const answer = await joinFromAddress(base, '127.0.0.21', { number: crowded.number, pin, name: 'Browser guesser' });
    t.match(answer.error, { refusal: 'wrong-pin' }, `browser: wrong PIN ${pin}`);
  }
  for (const pin of ['9992', '9993']) await refusedDial(t, '127.0.0.22', `${crowded.number}**${pin}`, 403, 'Forbidden - wrong meeting PIN');
  t.equal(lockouts().length, before, 'four wrong PINs, two addresses: no lock-out yet');
  const ivr = await ivrCall(t, '127.0.0.23', `${crowded.number}#9994#9995#`);
  t.ok(promptStreamed(ivr, 'en', 'too-many-attempts'), "the sixth wrong PIN for the meeting (the IVR caller's second): PIN entry paused");
  const rows = lockouts().slice(before);
  t.equal(rows.length, 1, 'one audit row');
  t.match(rows[0], { source: '127.0.0.23', detail: { scope: 'meeting', key: crowded.number, meeting: crowded.number, way: 'ivr', failures: 6 } });

  // The right PIN from fresh addresses is refused now, on every way — a guess must not be confirmed.
  await refusedDial(t, '127.0.0.24', `${crowded.number}**4444`, 403, 'Forbidden - too many wrong PINs for this meeting');
  const web = await joinFromAddress(base, '127.0.0.25', { number: crowded.number, pin: '4444', name: 'Rightful' });
  t.match(web.error, { code: 'VCBOX_ERR_MEETING_PIN_LOCKED_OUT', refusal: 'meeting-locked-out', message: new RegExp(`meeting ${crowded.number}: it accepts no PIN`) });
  t.equal(lockouts().length, before + 1, 'no further audit rows');
  // Other meetings are not affected.
  await joinedDial(t, '127.0.0.24', `${guarded.number}**2222`);
});

t.test('the lock-outs end by themselves: the right PIN gets in again', async (t) => {
  const rows = lockouts();
  const endOf = (row: LockoutRow | undefined) => new Date(row?.at ?? 0).getTime() + (row?.detail.lockedForSeconds ?? 0) * 1000;
  const guesserRow = rows.find((r) => r.source === '127.0.0.11');
  const meetingRow = rows.find((r) => r.detail.scope === 'meeting');
  t.ok(guesserRow && meetingRow, 'both lock-outs were audited');
  const end = Math.max(endOf(guesserRow), endOf(meetingRow));
  await waitFor('the lock-outs to run out', LOCKED_FOR_MS * 3, () => Date.now() > end + 200);
  t.equal((await lookUpFromAddress(base, '127.0.0.11', guarded.number)).status, 200, 'the guesser may look a meeting up again');
  await joinedDial(t, '127.0.0.11', `${guarded.number}**2222`);
  await joinedDial(t, '127.0.0.24', `${crowded.number}**4444`);
});
