/**
 * A newcomer on its way in keeps its meeting alive (issue #18, found by the one-hour soak: 1 of
 * 951 browser joins was refused "meeting not live"). A newcomer is admitted, then its media is
 * joined, then it is listed; if the last participant left in between, the meeting used to end
 * under it and the newcomer was dropped without a word. Against the real control plane and media
 * service over loopback:
 *  - in order, step by step (the participant sessions driven as the join socket drives them):
 *    admitted → the last browser leaves → the meeting is still live, one meeting record open →
 *    the newcomer joins its media and is listed in that same meeting → it leaves → the meeting
 *    ends, its record closed;
 *  - a newcomer that gives up before getting in ends the meeting it was the only one bound for
 *    at once (it holds no seat, no meeting);
 *  - raced for real: a browser joins while the only one in the meeting leaves, round after
 *    round — every join is answered and listed.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { JoinSocket } from '../helpers/join-socket.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Race room', number: '880077', hostPin: '5566', guestPin: '', capacity: 100 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });
const sessions = box.app.sessions;
const live = () => box.app.live.get(room.number);
const meetingRecords = () => box.db.prepare('SELECT id, ended_at FROM meeting_records WHERE number = ? ORDER BY id').all(room.number) as { id: number; ended_at: string | null }[];

/** A browser in the meeting, from its own address. */
async function browserIn(name: string, address: string): Promise<JoinSocket> {
  const socket = await JoinSocket.connect(base, { localAddress: address });
  const answer = await socket.request('join', { number: room.number, name });
  if (!answer.result) throw new Error(`${name} could not join: ${JSON.stringify(answer.error)}`);
  return socket;
}

const gone = (what: string) => waitFor(what, 10_000, () => live() === undefined || undefined);

t.test('the last participant leaving does not end the meeting under a newcomer on its way in', async (t) => {
  const first = await browserIn('First', '127.0.0.61');
  t.equal(live()?.participants.size, 1, 'the first browser is in');
  const recordsBefore = meetingRecords().length;

  // The newcomer is admitted and its session opened, as the join socket does before the media join.
  const admitted = sessions.admit({ way: 'web', address: '127.0.0.62', account: null }, room.number, undefined);
  if (!admitted.ok) throw new Error(`the newcomer was refused: ${admitted.refusal}`);
  const newcomer = sessions.open(admitted, { caller: 'Second', callee: room.number, displayName: 'Second', account: null, type: 'web', source: '127.0.0.62', transport: 'ws', address: '127.0.0.62' });
  t.equal(sessions.seatsHeld, 1, 'the newcomer holds a seat');

  // The only participant leaves while the newcomer is on its way.
  first.close();
  await waitFor('the first browser gone', 10_000, () => (live()?.participants.size ?? 0) === 0 || undefined);
  t.ok(live(), 'the meeting is still live: a newcomer is on its way in');
  t.same(
    meetingRecords().slice(recordsBefore - 1).map((r) => r.ended_at),
    [null],
    'its one meeting record stays open (no end, no second meeting)',
  );

  await newcomer.joinWeb();
  let hungUp: string | undefined;
  newcomer.enter((reason) => {
    hungUp = reason;
  });
  t.ok(live()?.participants.has(newcomer.id), 'the newcomer is listed in the meeting');
  t.equal(sessions.seatsHeld, 0, 'its seat became its place');
  t.equal(meetingRecords().length, recordsBefore, 'in the same meeting, not a new one');
  t.equal(hungUp, undefined, 'its call was not ended');

  await newcomer.close('left');
  await gone('the meeting ended');
  t.notOk(meetingRecords().at(-1)?.ended_at === null, 'the meeting record is closed once the newcomer leaves');
  t.equal(sessions.openSessions, 0, 'no session is left open');
});

t.test('a newcomer that gives up ends the meeting only it was bound for, at once', async (t) => {
  const admitted = sessions.admit({ way: 'web', address: '127.0.0.63', account: null }, room.number, undefined);
  if (!admitted.ok) throw new Error(`the newcomer was refused: ${admitted.refusal}`);
  const newcomer = sessions.open(admitted, { caller: 'Quitter', callee: room.number, displayName: 'Quitter', account: null, type: 'web', source: '127.0.0.63', transport: 'ws', address: '127.0.0.63' });
  t.ok(live(), 'the meeting is live once someone is admitted');
  await newcomer.close('left');
  t.equal(live(), undefined, 'it ends as soon as the newcomer gives up');
  t.equal(sessions.seatsHeld, 0, 'no seat held');
  t.equal(meetingRecords().filter((r) => r.ended_at === null).length, 0, 'no meeting record left open');
});

t.test('raced for real: a browser joins while the only one in leaves', async (t) => {
  const ROUNDS = 8;
  let previous = await browserIn('Round 0', '127.0.0.70');
  for (let round = 1; round <= ROUNDS; round++) {
    const next = await JoinSocket.connect(base, { localAddress: `127.0.0.${70 + round}` });
    const asked = next.request('join', { number: room.number, name: `Round ${round}` });
    previous.close();
    const answer = await asked;
    t.ok(answer.result, `round ${round}: the join is answered ${JSON.stringify(answer.error ?? {})}`);
    const id = (answer.result as { participantId?: string } | undefined)?.participantId ?? '';
    await waitFor(`round ${round}: the joiner listed alone`, 10_000, () => (live()?.participants.has(id) && live()?.participants.size === 1) || undefined).catch(() => undefined);
    t.ok(live()?.participants.has(id), `round ${round}: the joiner is listed in the live meeting (${live()?.participants.size ?? 'no meeting'})`);
    previous = next;
  }
  previous.close();
  await gone('the meeting ended after the last round');
  t.equal(sessions.openSessions, 0, 'no session is left open');
  t.equal(sessions.seatsHeld, 0, 'no seat held');
  t.equal(meetingRecords().filter((r) => r.ended_at === null).length, 0, 'no meeting record left open');
});
