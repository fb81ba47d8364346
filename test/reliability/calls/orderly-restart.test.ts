/**
 * An orderly stop of the control plane (#18), seen from real terminals: the whole box from its
 * run command (supervisor and its real processes).
 * - SIGTERM to the control plane alone (what `systemctl restart vcbox-control` or an
 *   administrator's `kill` does; the supervisor starts it again): two sipp terminals
 *   (meeting-join.xml: INVITE, ACK, a long hold, then BYE) in a VMR, their audio from the test's
 *   own RTP sockets (a 440 Hz PCMU tone and a 1 000 Hz PCMA one), are left to the next control
 *   plane as after a kill -9: no BYE reaches them (sipp would fail on one), the new control plane
 *   takes both over, they go on hearing each other, the console lists them again, and sipp's
 *   BYE afterwards is answered 200 and closes each record as hung up with the whole call's
 *   duration. The meeting goes on in one meeting record, which counts its two participants once.
 *   The longest pause in the RTP each terminal received across the restart is printed (a figure
 *   for docs/benchmarks.md, not asserted).
 * - Ctrl-C on the run command (the whole appliance stops): a terminal in a meeting gets a BYE
 *   saying the box is stopping, and its call record is closed with that reason.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { alive } from '../../helpers/appliance.ts';
import { applianceWithRoom } from '../../helpers/appliance-room.ts';
import { DialogTerminal } from '../../helpers/dialog-terminal.ts';
import { pcmuMedia, waitFor } from '../../helpers/meeting-terminal.ts';
import { g711Tone, openTerminals } from '../../helpers/rtp-terminal.ts';
import { heardUntilTalking, startTwoTalkers, talking } from '../../helpers/two-talkers.ts';

const ROOM = '880171';
const { box, pidsOf, takeovers, participants, recordsOf, newControlPlaneTookOver } = await applianceWithRoom(t, { number: ROOM, name: 'Restart room', hostPin: '1717' }, 20_000);
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
type Json = any;

t.test('SIGTERM to the control plane alone: the calls are left to the next one, which takes them over', async (t) => {
  // Long enough to span the stop, the restart and the listening; then sipp hangs up (BYE). (Ann and Bob talk: test/helpers/two-talkers.ts)
  const { a, b, legA, legB } = await startTwoTalkers(t, `127.0.0.1:${box.sipPort}`, ROOM);
  await waitFor('both in the live meeting', 10_000, async () => (await participants()).length === 2);
  // The meeting's audio may take a moment to settle on a loaded machine: listen at most three times.
  const before = await heardUntilTalking({ a, b });
  t.ok(talking(before), `they hear each other (${JSON.stringify(before)})`);

  const [pid] = pidsOf('control-plane').slice(-1);
  const started = pidsOf('control-plane').length;
  const passes = takeovers().length;
  const gapA = a.watchGap();
  const gapB = b.watchGap();
  process.kill(pid as number, 'SIGTERM');
  await waitFor('the control plane to stop', 20_000, () => !alive(pid as number));
  t.match(box.output(), /the control plane alone stops: its meeting calls are left to the next control plane/, 'it knew it stopped alone');
  t.match(box.output(), /"calls":2,.*"msg":"meeting calls left to the next control plane"/, 'and left both calls');
  t.equal(await newControlPlaneTookOver(started, passes), 2, 'it took both calls over');

  const gaps = [gapA.stop(), gapB.stop()];
  // As before the restart: on a loaded machine listen at most three times.
  const after = await heardUntilTalking({ a, b });
  t.ok(talking(after), `they go on hearing each other after the restart (${JSON.stringify(after)})`);
  t.comment(`longest pause in the RTP Ann and Bob received across the SIGTERM and restart: ${gaps.join(' ms, ')} ms`);
  t.same(await participants(), ['Ann', 'Bob'], 'the console lists both in the live meeting again');
  t.ok((await recordsOf('ann', 'bob')).every((r) => !r.ended_at), 'their call records are still open: the calls go on');

  // sipp hangs up at the end of its hold; its scenario fails on a BYE from the box, and unless its own BYE is answered 200.
  const [resultA, resultB] = await Promise.all([legA.result, legB.result]);
  t.ok(resultA.ok, `Ann got no BYE from the box, and her BYE after the restart was answered 200 ${resultA.errors}`);
  t.ok(resultB.ok, `Bob got no BYE from the box, and his BYE after the restart was answered 200 ${resultB.errors}`);
  const ended = await waitFor('both records to end', 10_000, async () => {
    const records = await recordsOf('ann', 'bob');
    return records.length === 2 && records.every((r) => r.ended_at) ? records : undefined;
  });
  t.same(ended.map((r) => [r.outcome, r.end_reason]), [['answered', 'hangup'], ['answered', 'hangup']], 'each record closes as hung up');
  t.ok(ended.every((r) => r.duration_s >= 30), `with the whole call's duration (${ended.map((r) => r.duration_s).join(', ')} s)`);
  await waitFor('the meeting to end', 10_000, async () => (await participants()).length === 0);
  const db = new Database(path.join(box.dataDir, 'vcbox.sqlite'), { readonly: true });
  const meetings = await waitFor('the meeting record to close', 10_000, () => {
    const rows = db.prepare('SELECT ended_at, participants_total, participants_max FROM meeting_records WHERE number = ?').all(ROOM) as { ended_at: string | null }[];
    return rows.every((r) => r.ended_at) ? rows : undefined;
  });
  db.close();
  t.equal(meetings.length, 1, `one meeting record across the restart, closed (${JSON.stringify(meetings)})`);
  t.match(meetings[0], { participants_total: 2, participants_max: 2 }, 'counting its two participants once');
});

t.test('Ctrl-C on the run command (the whole appliance stops): the calls end with a BYE', async (t) => {
  const { v } = await openTerminals(t, 'v');
  const terminal = await DialogTerminal.open('Stay');
  t.teardown(() => {
    v.stop();
    terminal.close();
  });
  await terminal.join(box.sipPort, ROOM, pcmuMedia(v.port));
  void v.send(0, await g711Tone('mulaw', 440, 60), { payloadType: 0, frameBytes: 160, timestampStep: 160, to: () => terminal.answeredPort });
  await waitFor('the terminal in the live meeting', 10_000, async () => (await participants()).join() === 'Stay');
  const bye = terminal.byeFromBox(30_000);
  const code = await box.interrupt(40_000);
  t.equal(code, 0, 'the run command stopped cleanly');
  t.match(await bye, /^Reason: SIP;cause=200;text="the box is stopping"/m, 'the terminal got a BYE saying the box is stopping');
  t.match(box.output(), /the whole appliance stops: every call is ended \(BYE\)/, 'the control plane knew the whole appliance stopped');
  const db = new Database(path.join(box.dataDir, 'vcbox.sqlite'), { readonly: true });
  const record = db.prepare("SELECT outcome, end_reason, ended_at, duration_s FROM call_records WHERE caller = 'stay'").get() as Json;
  const meeting = db.prepare('SELECT ended_at FROM meeting_records WHERE number = ? ORDER BY id DESC LIMIT 1').get(ROOM) as Json;
  db.close();
  t.match(record, { outcome: 'answered', end_reason: 'the box is stopping' }, `its call record is closed with the reason (${JSON.stringify(record)})`);
  t.ok(record?.ended_at, 'with its end time');
  t.ok(meeting?.ended_at, 'and the meeting record is closed too');
});
