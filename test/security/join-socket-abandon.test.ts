/**
 * Attack: a LAN client sends `join` on the public join WebSocket and drops the socket at once,
 * while its media is being set up — over and over — hoping to leave ghosts: participants
 * listed in the meeting with nobody behind them, media peers, call records never ended and
 * licence seats held (which would fill the box's concurrent participants without anyone in a
 * meeting). Against the real control plane and media service over loopback: after the drops
 * the meeting is not live, no participant session is open, no seat is held, every call record
 * is ended, and an honest browser still joins.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { JoinSocket } from '../helpers/join-socket.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { boxConsoleOptions, hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Ghost room', number: '880033', hostPin: '1122', guestPin: '', capacity: 100 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });
const DROPS = 6;

t.test('joins dropped mid-way leave no ghost participant, session, seat or open call record', async (t) => {
  for (let i = 0; i < DROPS; i++) {
    const socket = await JoinSocket.connect(base, { localAddress: `127.0.0.${70 + i}` });
    socket.sendRaw(JSON.stringify({ id: 1, method: 'join', params: { number: room.number, name: `Ghost ${i}` } }));
    socket.close();
  }
  const settled = () => box.app.sessions.openSessions === 0 && box.app.live.get(room.number) === undefined;
  const clean = await waitFor('every dropped join undone', 15_000, () => settled() || undefined).catch(() => false);
  t.ok(clean, `the meeting is not live and no session is open (live: ${box.app.live.get(room.number)?.participants.size ?? 0}, sessions: ${box.app.sessions.openSessions})`);
  t.equal(box.app.sessions.seatsHeld, 0, 'no licence seat is held');
  const open = box.db.prepare('SELECT count(*) AS n FROM call_records WHERE callee = ? AND ended_at IS NULL').get(room.number) as { n: number };
  t.equal(open.n, 0, 'no call record is left open');
  t.equal(box.media?.meetingCount ?? 0, 0, 'no media left in the media service');

  const honest = await JoinSocket.connect(base, { localAddress: '127.0.0.90' });
  t.teardown(() => honest.close());
  const answer = await honest.request('join', { number: room.number, name: 'Honest' });
  t.ok(answer.result, `an honest browser still joins ${JSON.stringify(answer.error ?? {})}`);
  t.same([...(box.app.live.get(room.number)?.participants.values() ?? [])].map((p) => p.displayName), ['Honest'], 'and is the only one listed');
  hangUpEveryone(box, room.number);
});
