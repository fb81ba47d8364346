/**
 * Calls in a meeting survive a kill -9 of the control plane (#18), seen from real terminals:
 * the whole box from its run command (supervisor and its real processes), two sipp terminals
 * (meeting-join.xml: INVITE, ACK, a long hold, then BYE) in a VMR, their audio from the test's
 * own RTP sockets (a 440 Hz PCMU tone and a 1 000 Hz PCMA one). The control plane is killed with
 * SIGKILL while they talk and the supervisor starts it again: it takes both calls over (media
 * leg, dialog and call record matched), they go on hearing each other (each hears the other's
 * tone, checked with ffmpeg), the console lists them in the live meeting again, and when sipp
 * hangs up its BYE is answered 200 (sipp fails otherwise) and each record closes as hung up.
 * The meeting goes on in one meeting record, which counts its two participants once (not again
 * when they are taken over), and the console shows when each joined, not when it was taken
 * over. The longest pause in the RTP each terminal
 * received across the kill is printed (a figure for docs/benchmarks.md, not asserted).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import t from 'tap';
import { alive } from '../../helpers/appliance.ts';
import { applianceWithRoom } from '../../helpers/appliance-room.ts';
import { waitFor } from '../../helpers/meeting-terminal.ts';
import { heardUntilTalking, startTwoTalkers, talking } from '../../helpers/two-talkers.ts';

const ROOM = '880191';
const { box, admin, pidsOf, takeovers, participants, recordsOf, newControlPlaneTookOver } = await applianceWithRoom(t, { number: ROOM, name: 'Take-over room', hostPin: '1919' });
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
type Json = any;
const joinedAt = async (): Promise<string[]> =>
  ((await admin.call('GET', '/api/v1/live-meetings')).body as Json[]).find((m) => m.number === ROOM)?.participants.map((p: Json) => `${p.displayName} ${p.joinedAt}`).sort() ?? [];
const mine = () => recordsOf('ann', 'bob');


t.test('two sipp terminals in a meeting across a kill -9 of the control plane', async (t) => {
  // Long enough to span the kill, the restart and the listening; then sipp hangs up (BYE). (Ann and Bob talk: test/helpers/two-talkers.ts)
  const { a, b, legA, legB } = await startTwoTalkers(t, `127.0.0.1:${box.sipPort}`, ROOM);
  t.same(await participants(), ['Ann', 'Bob'], 'both in the live meeting');
  // The meeting's audio may take a moment to settle on a loaded machine (what is under test is
  // the kill below): listen again, at most three times, until both hear the other's tone.
  const before = await heardUntilTalking({ a, b });
  t.ok(talking(before), `they hear each other (${JSON.stringify(before)})`);

  const joinedBefore = await joinedAt();
  const [pid] = pidsOf('control-plane').slice(-1);
  const started = pidsOf('control-plane').length;
  const passes = takeovers().length;
  const gapA = a.watchGap();
  const gapB = b.watchGap();
  process.kill(pid as number, 'SIGKILL');
  await waitFor('the control plane to end', 10_000, () => !alive(pid as number));
  t.equal(await newControlPlaneTookOver(started, passes), 2, 'it took both calls over');

  const gaps = [gapA.stop(), gapB.stop()];
  // As before the restart: on a loaded machine listen at most three times.
  const after = await heardUntilTalking({ a, b });
  t.ok(talking(after), `they go on hearing each other after the restart (${JSON.stringify(after)})`);
  t.comment(`longest pause in the RTP Ann and Bob received across the kill -9 and restart: ${gaps.join(' ms, ')} ms`);
  t.same(await participants(), ['Ann', 'Bob'], 'the console lists both in the live meeting again');
  t.same(await joinedAt(), joinedBefore, 'each with the time it joined, not the time it was taken over');
  t.ok((await mine()).every((r) => !r.ended_at), 'their call records are still open: the calls go on');

  // sipp hangs up at the end of its hold; its scenario fails unless the BYE is answered 200.
  const [resultA, resultB] = await Promise.all([legA.result, legB.result]);
  t.ok(resultA.ok, `Ann's BYE after the restart was answered 200 ${resultA.errors}`);
  t.ok(resultB.ok, `Bob's BYE after the restart was answered 200 ${resultB.errors}`);
  const ended = await waitFor('both records to end', 10_000, async () => {
    const records = await mine();
    return records.length === 2 && records.every((r) => r.ended_at) ? records : undefined;
  });
  t.same(ended.map((r) => [r.outcome, r.end_reason]), [['answered', 'hangup'], ['answered', 'hangup']], 'each record closes as hung up');
  t.ok(ended.every((r) => r.duration_s >= 30), `with the whole call's duration (${ended.map((r) => r.duration_s).join(', ')} s)`);
  await waitFor('the meeting to end', 10_000, async () => (await participants()).length === 0);
  t.pass('and the meeting ends with the last one');
  // The meeting went on in its record across the restart: one record, closed.
  const db = new Database(path.join(box.dataDir, 'vcbox.sqlite'), { readonly: true });
  const meetings = await waitFor('the meeting record to close', 10_000, () => {
    const rows = db.prepare('SELECT ended_at, duration_s, participants_total, participants_max FROM meeting_records WHERE number = ?').all(ROOM) as {
      ended_at: string | null;
      duration_s: number | null;
      participants_total: number;
      participants_max: number;
    }[];
    return rows.every((r) => r.ended_at) ? rows : undefined;
  });
  db.close();
  t.equal(meetings.length, 1, `one meeting record for the meeting across the restart, closed (${JSON.stringify(meetings)})`);
  t.match(meetings[0], { participants_total: 2, participants_max: 2 }, 'counting its two participants once: taken over, they are not counted again');
});
