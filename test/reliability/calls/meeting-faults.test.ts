/**
 * Faults under a live meeting (#18), the whole box from its run command (supervisor and its
 * real processes), terminals written out by hand over UDP (test/helpers/dialog-terminal.ts)
 * with RTP from the test's own sockets, so the test decides when each sends what:
 * - a terminal that vanishes (its RTP stops, no BYE): after the RTP timeout the box sends it a
 *   BYE saying why, the participant leaves the live meeting, and its call record is complete
 *   (end time, the reason in words);
 * - kill -9 of the control plane, of the signaling service and of the media process, each in
 *   turn with two terminals talking in a VMR: the supervisor starts it again, and the test
 *   pins what a user then gets (see docs/operations.md, "Faults"): after the control plane's or
 *   the signaling service's the calls go on — taken over, listed, a later BYE answered 200 and
 *   closing its record as hung up — with the longest pause in the RTP each terminal received
 *   printed; call records written before each kill are intact after it;
 * - kill -9 of the TURN service: one relay answers STUN again, the killed one's coturn gone.
 * The compositor's and a media worker's deaths are test/meetings/mcu-heal.test.ts and
 * worker-heal.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { stunProbe } from '../../../server/turn/stun-probe.ts';
import { alive, startAppliance } from '../../helpers/appliance.ts';
import { ConsoleClient } from '../../helpers/console-client.ts';
import { DialogTerminal } from '../../helpers/dialog-terminal.ts';
import { pcmuMedia, waitFor } from '../../helpers/meeting-terminal.ts';
import { g711Tone, openTerminals } from '../../helpers/rtp-terminal.ts';
import { hearEachOther, talking, twoTalking } from '../../helpers/talking-terminals.ts';

const box = await startAppliance();
t.teardown(() => box.interrupt(10_000));
const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
const set = await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0, 'call.rtpTimeoutSeconds': 10 });
if (set.status !== 200) throw new Error(`settings: ${set.status} ${JSON.stringify(set.body)}`);
const vmr = await admin.call('POST', '/api/v1/vmrs', { name: 'Fault room', number: '880181', guestPin: '', hostPin: '1818' });
if (vmr.status !== 201) throw new Error(`VMR: ${vmr.status} ${JSON.stringify(vmr.body)}`);
const ROOM = '880181';

/** Pids of the supervisor's children named `name`, in the order they were started. */
const pidsOf = (name: string) => [...box.output().matchAll(new RegExp(`"name":"${name}","pid":(\\d+),"msg":"process started"`, 'g'))].map((m) => Number(m[1]));
const count = (pattern: RegExp) => box.output().match(pattern)?.length ?? 0;

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
type Json = any;
const participants = async (): Promise<string[]> =>
  ((await admin.call('GET', '/api/v1/live-meetings')).body as Json[]).find((m) => m.number === ROOM)?.participants.map((p: Json) => p.displayName).sort() ?? [];
const records = async (): Promise<Json[]> => (await admin.call('GET', '/api/v1/call-records?period=all&pageSize=500')).body.items;

/** The call records that had ended before a kill are still there, unchanged. */
async function intact(t: Test, before: Json[]): Promise<void> {
  const ended = before.filter((r) => r.ended_at);
  const now = await records();
  t.ok(ended.length > 0 && ended.every((r) => now.some((n) => JSON.stringify(n) === JSON.stringify(r))), `the ${ended.length} call records that had ended before the kill are intact`);
}

/**
 * SIGKILL to one of the box's processes; resolves once the supervisor's new one is up and the
 * box is whole again (console; SIP application connected or media workers up after theirs).
 */
async function killAndWait(name: string): Promise<void> {
  const before = pidsOf(name);
  const pid = before.at(-1) as number;
  const connected = count(/SIP application connected to the signaling service/g);
  const workers = count(/media workers up/g);
  process.kill(pid, 'SIGKILL');
  await waitFor(`${name} ${pid} to end`, 10_000, () => !alive(pid));
  await waitFor(`a new ${name} process`, 30_000, () => pidsOf(name).length > before.length);
  if (name === 'control-plane' || name === 'signaling') await waitFor('the SIP application to connect again', 60_000, () => count(/SIP application connected to the signaling service/g) > connected);
  if (name === 'media') await waitFor('the media workers', 60_000, () => count(/media workers up/g) > workers);
  await waitFor('the console', 60_000, () => admin.call('GET', '/api/v1/health').then((r) => r.status === 200, () => false));
  // The console's session lives in the database: a new control plane knows it.
}

t.test('a terminal that vanishes without BYE: the RTP timeout ends its leg and its record', async (t) => {
  const { v } = await openTerminals(t, 'v');
  const gone = await DialogTerminal.open('Vanish');
  t.teardown(() => gone.close());
  await gone.join(box.sipPort, ROOM, pcmuMedia(v.port));
  t.same(await participants(), ['Vanish'], 'in the meeting');
  // Two seconds of sound, then nothing: no RTP, no BYE (the terminal lost power).
  await v.send(gone.answeredPort, await g711Tone('mulaw', 440, 2), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  const bye = await gone.byeFromBox(40_000);
  t.match(bye, /^Reason: SIP;cause=200;text="no media received \(RTP timeout\)"/m, 'the box hung it up with BYE, saying why');
  await waitFor('the participant to leave the live meeting', 10_000, async () => (await participants()).length === 0);
  const record = (await records()).find((r) => r.caller === 'vanish');
  t.match(record, { type: 'vmr', outcome: 'answered', end_reason: 'no media received (RTP timeout)' }, 'its call record says why it ended');
  t.ok(record?.ended_at && record.answered_at && record.ended_at > record.answered_at, `the record has its end time (${record?.ended_at})`);
});

/** The control plane's take-over passes so far (server/sip-app/meetings/call-takeover.ts), each with what it did. */
const takeovers = () => [...box.output().matchAll(/"resumed":(\d+).*?"msg":"calls taken over after a restart"/g)].map((m) => Number(m[1]));

t.test('kill -9 of the control plane under a live meeting: the calls are taken over', async (t) => {
  const before = await records();
  const call = await twoTalking(t, box.sipPort, ROOM, 'C');
  t.same(await participants(), ['AnnC', 'BobC']);
  // The same measure with nothing killed: what the test's own sockets and timers add.
  const baseline = call.a.watchGap();
  const heard = await hearEachOther(call);
  t.comment(`longest pause in the RTP received with nothing killed (4 s): ${baseline.stop()} ms`);
  t.ok(talking(heard), `they hear each other before the kill (${JSON.stringify(heard)})`);

  const passes = takeovers().length;
  const gapA = call.a.watchGap();
  const gapB = call.b.watchGap();
  await killAndWait('control-plane');
  await waitFor('the new control plane to take the calls over', 30_000, () => takeovers().length > passes);
  t.equal(takeovers().at(-1), 2, 'both calls were taken over (media leg, dialog and record matched)');
  const after = await hearEachOther(call);
  const gaps = [gapA.stop(), gapB.stop()];
  t.ok(talking(after), `media keeps flowing through the restart: the media process keeps mixing (${JSON.stringify(after)})`);
  t.comment(`longest pause in the RTP each terminal received across the kill -9 and restart: ${gaps.join(' ms, ')} ms`);
  await intact(t, before);
  t.same(await participants(), ['AnnC', 'BobC'], 'the console lists both in the live meeting again');
  const open = (await records()).filter((r) => r.caller === 'annc' || r.caller === 'bobc');
  t.ok(open.length === 2 && open.every((r) => !r.ended_at), 'their call records stay open: the calls go on');

  const bye = await call.ta.inDialog('BYE');
  t.equal(bye.status, 200, 'a BYE from a terminal after the restart is answered 200');
  await waitFor('AnnC to leave the live meeting', 10_000, async () => (await participants()).join() === 'BobC');
  t.pass('and takes it out of the live meeting');
  t.equal((await call.tb.inDialog('BYE')).status, 200);
  call.a.stop();
  call.b.stop();
  const ended = await waitFor('both records to end', 10_000, async () => {
    const mine = (await records()).filter((r) => r.caller === 'annc' || r.caller === 'bobc');
    return mine.length === 2 && mine.every((r) => r.ended_at) ? mine : undefined;
  });
  t.same(ended.map((r) => [r.outcome, r.end_reason]), [['answered', 'hangup'], ['answered', 'hangup']], 'each record closes as hung up, as without the restart');
  t.same(await participants(), [], 'nobody is left in the meeting');
});

t.test('kill -9 of the signaling service under a live meeting: the dialogs come back', async (t) => {
  const before = await records();
  const call = await twoTalking(t, box.sipPort, ROOM, 'S');
  // The service writes its dialogs within 100 ms of a change.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const passes = takeovers().length;
  const gapA = call.a.watchGap();
  const gapB = call.b.watchGap();
  await killAndWait('signaling');
  await waitFor('the SIP application to adopt its dialogs again', 30_000, () => takeovers().length > passes || /dialogs adopted again after the signaling service restarted/.test(box.output()));
  const after = await hearEachOther(call);
  const gaps = [gapA.stop(), gapB.stop()];
  t.ok(talking(after), `media keeps flowing (${JSON.stringify(after)})`);
  t.comment(`longest pause in the RTP each terminal received across the signaling kill -9 and restart: ${gaps.join(' ms, ')} ms`);
  t.same(await participants(), ['AnnS', 'BobS'], 'the control plane keeps the calls: both still listed in the live meeting');
  await intact(t, before);
  const bye = await call.ta.inDialog('BYE');
  t.equal(bye.status, 200, 'a BYE from a terminal after the signaling restart is answered 200');
  t.equal((await call.tb.inDialog('BYE')).status, 200);
  call.a.stop();
  call.b.stop();
  const ended = await waitFor('both records to end', 10_000, async () => {
    const mine = (await records()).filter((r) => r.caller === 'anns' || r.caller === 'bobs');
    return mine.length === 2 && mine.every((r) => r.ended_at) ? mine : undefined;
  });
  t.same(ended.map((r) => r.end_reason), ['hangup', 'hangup'], 'and closes its record at once, as hung up');
  t.same(await participants(), [], 'both leave the live meeting');
});

t.test('kill -9 of the media process under a live meeting', async (t) => {
  const before = await records();
  const call = await twoTalking(t, box.sipPort, ROOM, 'M');
  const { ta, tb } = call;
  t.same(await participants(), ['AnnM', 'BobM'], 'both in the meeting (the earlier calls have left it)');
  const gapA = call.a.watchGap();
  const gapB = call.b.watchGap();
  await killAndWait('media');
  const [movedA, movedB] = await Promise.all([ta.reInvited(1, 30_000), tb.reInvited(1, 30_000)]);
  t.ok(movedA > 0 && movedB > 0, `both terminals were re-INVITEd to the new media process (${movedA}, ${movedB})`);
  const after = await hearEachOther(call);
  t.comment(`longest pause in the RTP each terminal received across the media kill -9, restart and re-INVITE: ${[gapA.stop(), gapB.stop()].join(' ms, ')} ms`);
  t.ok(talking(after), `the meeting healed: they hear each other again (${JSON.stringify(after)})`);
  t.equal((await ta.inDialog('BYE')).status, 200, 'a BYE from a terminal after the heal is answered 200');
  t.equal((await tb.inDialog('BYE')).status, 200);
  const ended = await waitFor('both records to end', 10_000, async () => {
    const mine = (await records()).filter((r) => r.caller === 'annm' || r.caller === 'bobm');
    return mine.length === 2 && mine.every((r) => r.ended_at) ? mine : undefined;
  });
  t.same(ended.map((r) => r.end_reason), ['hangup', 'hangup'], 'and closes its record');
  await intact(t, before);
});

t.test('kill -9 of the TURN service: one relay answers again, none left over', async (t) => {
  const stunAnswers = () => stunProbe('127.0.0.1', box.turnPort, 300).then(() => true, () => false);
  // The relays of this box: coturn run with the configuration in its data folder.
  const relays = (): number[] => {
    try {
      return execFileSync('pgrep', ['-f', `turnserver -c ${box.dataDir}`], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  await waitFor('the relay to answer STUN', 20_000, stunAnswers);
  const [before] = relays();
  t.ok(before, `one relay runs (${relays().join(', ')})`);
  await killAndWait('turn');
  const after = await waitFor('the old relay to go and one new relay to run', 30_000, () => {
    const now = relays();
    return now.length === 1 && now[0] !== before ? now : undefined;
  });
  t.pass(`the relay left by the killed service is gone, one new relay runs (${before} → ${after.join(', ')})`);
  await waitFor('the new relay to answer STUN', 30_000, stunAnswers);
  t.pass('it answers STUN');
});
