/**
 * Attack: screen sharing on the public join WebSocket (`/api/v1/join/ws`, shareContent and
 * stopContent), by a real WebSocket client over loopback against the real control plane, media
 * service and BFCP floor control. Before joining, both are refused; a share cannot name another
 * participant (or anything but its RTP parameters), and stopContent names nobody — a guest that
 * is not sharing is refused and the presenter keeps the floor; a second share at once is refused
 * by the per-participant limit; garbage RTP parameters are refused by the media service in
 * words, with the socket open, the presenter's floor untouched and the same socket still able
 * to share. Nothing of a refused share takes the floor.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { JoinSocket, screenRtpParameters as screen } from '../helpers/join-socket.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Share attack room', number: '880193', hostPin: '1122', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });
const floors = box.app.floors;
if (!floors) throw new Error('the box has no BFCP floor control');

const socket = async () => {
  const s = await JoinSocket.connect(base);
  t.teardown(() => s.close());
  return s;
};


t.test('shareContent and stopContent are refused before joining', async (t) => {
  const s = await socket();
  for (const method of ['shareContent', 'stopContent']) {
    const answer = await s.request(method, method === 'shareContent' ? { rtpParameters: screen(1) } : {});
    t.match(answer.error, { code: 'VCBOX_ERR_JOIN_REQUEST', message: new RegExp(`${method} needs a joined meeting`) }, `${method} before join: refused`);
  }
  t.equal(floors.presenterOf(room.number), null, 'nobody took the floor');
  t.ok(s.open, 'the socket stays open');
});

t.test("a guest cannot stop another's share, nor share twice, nor harm it with garbage", async (t) => {
  const presenter = await socket();
  const guest = await socket();
  const presenterId = String((await presenter.request('join', { number: room.number, name: 'Presenter' })).result?.participantId);
  const guestId = String((await guest.request('join', { number: room.number, name: 'Guest' })).result?.participantId);
  t.ok(presenterId && guestId && presenterId !== guestId, 'two guests joined');

  const shared = await presenter.request('shareContent', { rtpParameters: screen(1111) });
  t.match(shared.result, { id: String, floor: 'granted', mimeType: 'video/H264', reachesSip: true }, 'the presenter shares and holds the floor');
  t.equal(floors.presenterOf(room.number), presenterId, 'the floor control says so');

  // Naming the presenter is no field of stopContent; without a name the guest stops only its own (none).
  const named = await guest.request('stopContent', { participantId: presenterId });
  t.match(named.error, { code: 'VCBOX_ERR_JOIN_REQUEST', message: /params\.participantId is not a field of this request/ }, "stopContent naming the presenter: refused");
  const own = await guest.request('stopContent');
  t.match(own.error, { code: 'VCBOX_ERR_CONTENT_NOT_SHARING' }, 'stopContent of a guest that shares nothing: refused in words');
  t.equal(floors.presenterOf(room.number), presenterId, 'the presenter still holds the floor');

  const forOther = await guest.request('shareContent', { rtpParameters: screen(2222), participantId: presenterId });
  t.match(forOther.error, { code: 'VCBOX_ERR_JOIN_REQUEST', message: /params\.participantId is not a field/ }, 'a share cannot name another participant');
  const twice = await presenter.request('shareContent', { rtpParameters: screen(3333) });
  t.match(twice.error, { code: 'VCBOX_ERR_JOIN_PEER_LIMIT', message: /shared screens/ }, 'a second share at once: refused by the limit');

  // Garbage inside the RTP parameters: the media service refuses it; nothing else moves.
  const GARBAGE: [string, Record<string, unknown>][] = [
    ['no rtpParameters', {}],
    ['rtpParameters a string', { rtpParameters: 'H264' }],
    ['rtpParameters too big', { rtpParameters: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])) }],
    ['codecs not a list', { rtpParameters: { codecs: 'H264', encodings: [{ ssrc: 4 }] } }],
    ['no codec the box has', { rtpParameters: { codecs: [{ mimeType: 'video/THEORA', payloadType: 99, clockRate: 90000 }], encodings: [{ ssrc: 5 }] } }],
    ['an audio codec for a screen', { rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 6 }] } }],
    ['a prototype key', JSON.parse('{"rtpParameters": {"__proto__": {"polluted": true}, "codecs": []}}') as Record<string, unknown>],
  ];
  for (const [what, params] of GARBAGE) {
    const answer = await guest.request('shareContent', params);
    t.match(answer.error?.code, /^VCBOX_ERR_(JOIN_REQUEST|MEDIA_SDP)$/, `${what}: refused in words (${answer.error?.code}: ${answer.error?.message.slice(0, 120)})`);
    t.ok(guest.open, 'the socket stays open');
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
  t.equal(floors.presenterOf(room.number), presenterId, 'the presenter still holds the floor after the garbage');

  // The guest's socket still works: a proper share takes the floor over, and the first is told.
  const over = await guest.request('shareContent', { rtpParameters: screen(7777) });
  t.match(over.result, { floor: 'granted' }, 'the same socket shares properly afterwards');
  t.equal(floors.presenterOf(room.number), guestId, 'and takes the floor over');
  const told = await presenter.answer((a) => (a as { notification?: string }).notification === 'contentStopped');
  t.match(told, { data: { reason: 'floor-taken' } }, 'the first presenter is told its share ended');
  t.match((await presenter.request('stopContent')).error, { code: 'VCBOX_ERR_CONTENT_NOT_SHARING' }, 'and has nothing left to stop');
  t.match((await guest.request('stopContent')).result, {}, 'the guest stops its own share');
  await waitFor('the floor to be free', 5000, () => floors.presenterOf(room.number) === null);
  t.pass('the floor is free');
  await presenter.request('leave');
  await guest.request('leave');
});
