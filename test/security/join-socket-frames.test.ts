/**
 * Attack: garbage frames on the public join WebSocket (`/api/v1/join/ws`), sent by a real
 * WebSocket client over loopback to the real control plane with the real media service. Each
 * bad frame — null, a number, an array, a string, invalid JSON, a binary frame, unknown and
 * prototype-named methods, a right method with wrong-typed or extra fields, a `__proto__`
 * key, deep nesting — is answered with VCBOX_ERR_JOIN_REQUEST saying what was wrong, on the
 * same socket, which stays open: a join on it still works afterwards. A frame over the size
 * limit closes only its own socket (1009); a participant already in the meeting stays, a new
 * socket joins, and the control plane still answers HTTP.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { JoinSocket } from '../helpers/join-socket.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Frames room', number: '880031', hostPin: '1122', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });
const participants = () => box.app.live.get(room.number)?.participants.size ?? 0;

const socket = async () => {
  const s = await JoinSocket.connect(base);
  t.teardown(() => s.close());
  return s;
};

// [what is sent, what the refusal must say]
const GARBAGE: [string, RegExp][] = [
  ['null', /the frame is null, not an object/],
  ['42', /the frame is a number, not an object/],
  ['[1,2,3]', /the frame is an array, not an object/],
  ['"join"', /the frame is a string, not an object/],
  ['true', /the frame is a boolean, not an object/],
  ['{"id": 1, "method": "join"', /the frame is not JSON/],
  ['', /the frame is not JSON/],
  [`${'['.repeat(100_000)}${']'.repeat(100_000)}`.slice(0, 60_000), /not JSON|an array/],
  ['{"id": 2}', /method is missing/],
  ['{"id": 3, "method": 7}', /method must be the name of a method as a string/],
  ['{"id": 4, "method": "shutdown"}', /"shutdown" is not a method/],
  ['{"id": 5, "method": "constructor"}', /"constructor" is not a method/],
  ['{"id": 6, "method": "__proto__"}', /"__proto__" is not a method/],
  ['{"id": 7, "method": "hasOwnProperty", "params": {}}', /"hasOwnProperty" is not a method/],
  ['{"id": 8, "method": "join", "params": null}', /params must be an object/],
  ['{"id": 9, "method": "join", "params": [1]}', /params must be an object/],
  ['{"id": 10, "method": "join", "params": {"number": 880031, "name": "X"}}', /params\.number must be the meeting ID as a string of digits/],
  ['{"id": 11, "method": "join", "params": {"number": "880031"}}', /params\.name is missing/],
  ['{"id": 12, "method": "join", "params": {"number": "880031", "name": {"first": "X"}}}', /params\.name must be your name as a string/],
  ['{"id": 13, "method": "join", "params": {"number": "880031", "name": "X", "__proto__": {"role": "host"}}}', /params\.__proto__ is not a field of this request/],
  ['{"id": 14, "method": "join", "params": {"number": "880031", "name": "X", "role": "host"}}', /params\.role is not a field of this request/],
  ['{"id": 15, "method": "produce", "params": {"kind": "screen", "rtpParameters": {}}}', /params\.kind must be audio or video/],
  ['{"id": 16, "method": "consume", "params": {"producerId": "../../etc", "rtpCapabilities": {}}}', /params\.producerId must be an id of 1 to 64/],
  ['{"id": 17, "method": "connectTransport", "params": {"transportId": "x", "dtlsParameters": {"fingerprints": "none"}}}', /params\.dtlsParameters\.fingerprints must be a list of 1 to 8 fingerprints/],
  ['{"id": 18, "method": "leave", "params": {"everyone": true}}', /params\.everyone is not a field of this request/],
  ['{"id": {"$gt": 1}, "method": "leave"}', /id must be a number or a string of at most 64 characters/],
  ['{"id": 19, "method": "resume", "params": {"consumerId": "abc"}}', /resume needs a joined meeting; send join first/],
];

const idOf = (frame: string): number | null => {
  try {
    const id = (JSON.parse(frame) as { id?: unknown } | null)?.id;
    return typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
};

t.test('every kind of garbage frame is refused in words on the same socket, which then still joins', async (t) => {
  const s = await socket();
  for (const [frame, says] of GARBAGE) {
    s.sendRaw(frame);
    // The refusal answers the frame's id when it has a readable one, else id null.
    const id = idOf(frame);
    const answer = await s.answer((a) => a.id === id && a.error !== undefined);
    t.equal(answer.error?.code, 'VCBOX_ERR_JOIN_REQUEST', `${frame.slice(0, 60)} → refused`);
    t.match(answer.error?.message, says, `${frame.slice(0, 60)} → says: ${answer.error?.message.split('. A request')[0]}`);
    t.ok(s.open, 'the socket stays open');
  }
  s.sendRaw(Buffer.from([0xff, 0x00, 0x13, 0x37]));
  t.match((await s.answer((a) => a.id === null && a.error !== undefined)).error, { code: 'VCBOX_ERR_JOIN_REQUEST', message: /binary, not JSON text/ }, 'a binary frame is refused');
  const joined = await s.request('join', { number: room.number, name: 'After the garbage' });
  t.match(joined.result, { participantId: String, role: String }, 'the same socket joins the meeting afterwards');
  t.equal(participants(), 1, 'the participant is in the meeting');
  t.match((await s.request('join', { number: room.number, name: 'Twice' })).error, { code: 'VCBOX_ERR_JOIN_REQUEST', message: /has joined already/ }, 'a second join on it is refused');
  t.match((await s.request('leave')).result, {}, 'and it leaves');
});

t.test('a frame over the size limit closes only its own socket; others stay and new ones join', async (t) => {
  const present = await socket();
  t.match((await present.request('join', { number: room.number, name: 'Present' })).result, { participantId: String });
  const attacker = await socket();
  attacker.sendRaw(JSON.stringify({ id: 1, method: 'join', params: { number: room.number, name: 'x'.repeat(200_000) } }));
  const closed = await attacker.whenClosed();
  t.equal(closed.code, 1009, `the oversized frame's socket is closed as "message too big" (${closed.code} ${closed.reason})`);
  t.ok(present.open, "the other participant's socket is untouched");
  t.equal(participants(), 1, 'the other participant is still in the meeting');
  const next = await socket();
  t.match((await next.request('join', { number: room.number, name: 'Next' })).result, { participantId: String }, 'a new socket joins');
  t.equal(participants(), 2);
  const page = await fetch(`${base}/api/v1/join/${room.number}`);
  t.equal(page.status, 200, 'the control plane still answers HTTP');
  await present.request('leave');
  await next.request('leave');
});
