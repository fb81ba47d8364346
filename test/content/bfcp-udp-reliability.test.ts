/**
 * BFCP over UDP, the RFC 8855 reliability rules: a notification the client does not
 * acknowledge is sent again 4 times (T1 500 ms, doubling) and then given up; one it
 * acknowledges (libre acks) arrives once; a retransmitted request is answered from the
 * response cache, not handled twice; a fragmented request is reassembled; version 1 over UDP
 * is refused. Counts, not times, are checked.
 */
import dgram from 'node:dgram';
import t from 'tap';
import { type BfcpMessage, decodeMessage, encodeMessage, ErrorCode, findAttribute, Primitive } from '../../server/bfcp/bfcp-message.ts';
import { FloorControlServer } from '../../server/bfcp/floor-control-server.ts';
import { MAX_RETRANSMITS } from '../../server/bfcp/bfcp-udp-listener.ts';
import { BfcpClient, overallStatus } from '../helpers/bfcp-client.ts';

const CONF = 99;
const FLOOR = 1;

async function setUp(t: { teardown: (f: () => Promise<void>) => void }) {
  const server = new FloorControlServer();
  server.addConference(CONF, { floorId: FLOOR });
  for (const user of [1, 2, 3]) server.addUser(CONF, user);
  const listener = await server.listen({ transport: 'udp', host: '127.0.0.1', port: 0 });
  const clients: BfcpClient[] = [];
  const sockets: dgram.Socket[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const s of sockets) s.close();
    await server.close();
  });
  const client = async (userId: number) => {
    const c = await BfcpClient.start({ transport: 'udp', port: listener.port, conferenceId: CONF, userId, floorId: FLOOR });
    clients.push(c);
    return c;
  };
  /** A plain UDP socket speaking to the server; it acknowledges notifications unless told not to. */
  const rawPeer = async (acknowledge = true) => {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    const received: BfcpMessage[] = [];
    const raw: Buffer[] = [];
    const send = (bytes: Buffer) => socket.send(bytes, listener.port, '127.0.0.1');
    socket.on('message', (bytes) => {
      raw.push(bytes);
      const message = decodeMessage(bytes);
      received.push(message);
      if (acknowledge && !message.responder && (message.primitive === Primitive.FloorRequestStatus || message.primitive === Primitive.FloorStatus)) {
        const ack = message.primitive === Primitive.FloorStatus ? Primitive.FloorStatusAck : Primitive.FloorRequestStatusAck;
        send(encodeMessage({ ...message, responder: true, primitive: ack, attributes: [] }));
      }
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const waitFor = async (count: number, match: (m: BfcpMessage) => boolean, what: string) => {
      for (let i = 0; i < 400 && received.filter(match).length < count; i++) await new Promise((r) => setTimeout(r, 25));
      const found = received.filter(match);
      if (found.length < count) throw new Error(`expected ${count} × ${what}, got ${found.length}`);
      return found;
    };
    return { received, raw, send, waitFor };
  };
  return { server, client, rawPeer };
}

t.test('an unacknowledged notification is retransmitted 4 times, then given up', async (t) => {
  const { client } = await setUp(t);
  const a = await client(1);
  a.send('ack off');
  const response = await a.request('request', 'FloorRequest');
  t.equal(overallStatus(response), 'Pending');
  const granted = (e: { event: string; prim?: string }) => e.event === 'notification' && e.prim === 'FloorRequestStatus';
  const first = await a.waitFor(granted, 'Granted');
  t.equal(overallStatus(first), 'Granted');
  // The 5th copy comes after 0.5 + 1 + 2 + 4 s.
  for (let copies = 1; copies <= MAX_RETRANSMITS + 1; copies++) {
    await a.waitFor(() => a.events.filter(granted).length >= copies, `copy ${copies}`, 15_000);
  }
  // The next retransmission would be due 8 s after the 5th copy; wait past that.
  await new Promise((r) => setTimeout(r, 9_000));
  const copies = a.events.filter(granted);
  t.equal(copies.length, 1 + MAX_RETRANSMITS, 'sent once and retransmitted 4 times, then no more');
  t.ok(
    copies.every((c) => c.tid === first.tid),
    'every copy is the same transaction',
  );
});

t.test('an acknowledged notification is not retransmitted', async (t) => {
  const { rawPeer } = await setUp(t);
  const peer = await rawPeer(true);
  peer.send(encodeMessage({ version: 2, responder: false, primitive: Primitive.FloorRequest, conferenceId: CONF, transactionId: 1, userId: 1, attributes: [{ name: 'FLOOR-ID', id: FLOOR }] }));
  const isNotification = (m: BfcpMessage) => !m.responder && m.primitive === Primitive.FloorRequestStatus;
  await peer.waitFor(1, isNotification, 'Granted');
  // Unacknowledged, it would come 4 more times within 3.5 s (0.5, 1.5, 3.5 s).
  await new Promise((r) => setTimeout(r, 4_000));
  t.ok(peer.received.filter(isNotification).length <= 2, 'the acknowledgement stopped the retransmissions');
});

t.test('a retransmitted request is answered from the cache, not handled twice', async (t) => {
  const { server, rawPeer } = await setUp(t);
  const presenters: (number | null)[] = [];
  server.on('presenter', (change) => presenters.push(change.userId));
  const peer = await rawPeer();
  const request = encodeMessage({
    version: 2,
    responder: false,
    primitive: Primitive.FloorRequest,
    conferenceId: CONF,
    transactionId: 77,
    userId: 2,
    attributes: [{ name: 'FLOOR-ID', id: FLOOR }],
  });
  const isAnswer = (m: BfcpMessage) => m.responder && m.transactionId === 77;
  peer.send(request);
  await peer.waitFor(1, isAnswer, 'the response');
  peer.send(request);
  await peer.waitFor(2, isAnswer, 'the cached response');
  const answers = peer.raw.filter((_, i) => {
    const m = peer.received[i];
    return m !== undefined && isAnswer(m);
  });
  t.same(answers[1], answers[0], 'the duplicate got the same bytes');
  t.same(presenters, [2], 'one floor request, granted once');

  // A new transaction with the same request is a second request: refused (one per user).
  peer.send(encodeMessage({ ...decodeMessage(request), transactionId: 78 }));
  const [second] = await peer.waitFor(1, (m) => m.responder && m.transactionId === 78, 'answer to the second request');
  t.equal(second?.primitive, Primitive.Error);
  t.equal(second && findAttribute(second.attributes, 'ERROR-CODE')?.code, ErrorCode.MaxFloorRequestsReached);
});

t.test('a fragmented request is reassembled; version 1 over UDP is refused', async (t) => {
  const { server, rawPeer } = await setUp(t);
  const peer = await rawPeer();
  const whole = encodeMessage({
    version: 2,
    responder: false,
    primitive: Primitive.FloorRequest,
    conferenceId: CONF,
    transactionId: 5,
    userId: 3,
    attributes: [
      { name: 'FLOOR-ID', id: FLOOR },
      { name: 'PARTICIPANT-PROVIDED-INFO', text: 'slides for the quarterly review, page 1 to 40' },
    ],
  });
  const payload = whole.subarray(12);
  const words = payload.length / 4;
  const half = Math.floor(words / 2);
  const fragment = (offset: number, length: number) => {
    const header = Buffer.alloc(16);
    whole.copy(header, 0, 0, 12);
    header.writeUInt8(header.readUInt8(0) | 0x08, 0);
    header.writeUInt16BE(offset, 12);
    header.writeUInt16BE(length, 14);
    return Buffer.concat([header, payload.subarray(offset * 4, (offset + length) * 4)]);
  };
  // Second part first: order does not matter.
  peer.send(fragment(half, words - half));
  peer.send(fragment(0, half));
  const [response] = await peer.waitFor(1, (m) => m.responder && m.transactionId === 5, 'the response to the reassembled request');
  t.equal(response?.primitive, Primitive.FloorRequestStatus);
  t.equal(server.presenter(CONF) ?? 0, 3, 'the reassembled request got the floor');

  peer.send(encodeMessage({ version: 1, responder: false, primitive: Primitive.Hello, conferenceId: CONF, transactionId: 9, userId: 3, attributes: [] }));
  const [refusal] = await peer.waitFor(1, (m) => m.responder && m.transactionId === 9, 'the answer to version 1');
  t.equal(refusal?.primitive, Primitive.Error);
  t.equal(refusal && findAttribute(refusal.attributes, 'ERROR-CODE')?.code, ErrorCode.UnsupportedVersion);
});
