/**
 * A LAN attacker at the BFCP ports: garbage, truncated, oversized and malformed messages over
 * TCP and UDP, and a pile of connections from one address. Each gets an Error or a clean close; the
 * participant holding the floor (libre's client) keeps it and is still answered, and a new
 * participant can still join. Nothing throws out of a socket handler (the test process, which
 * hosts the server, would die with it).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import t, { type Test } from 'tap';
import { decodeMessage, encodeMessage, ErrorCode, findAttribute, MAX_MESSAGE_BYTES, Primitive } from '../../server/bfcp/bfcp-message.ts';
import { MAX_TCP_CONNECTIONS_PER_ADDRESS } from '../../server/bfcp/bfcp-tcp-listener.ts';
import { FloorControlServer } from '../../server/bfcp/floor-control-server.ts';
import { BfcpClient, overallStatus } from '../helpers/bfcp-client.ts';

const CONF = 5;
const FLOOR = 2;

async function withHolder(t: Test, transport: 'tcp' | 'udp') {
  const server = new FloorControlServer();
  server.addConference(CONF, { floorId: FLOOR });
  server.addUser(CONF, 1);
  server.addUser(CONF, 2);
  server.addUser(CONF, 3);
  const listener = await server.listen({ transport, host: '127.0.0.1', port: 0 });
  const holder = await BfcpClient.start({ transport, port: listener.port, conferenceId: CONF, userId: 1, floorId: FLOOR });
  t.teardown(async () => {
    await holder.close();
    await server.close();
  });
  const grantedSeen = holder.nextNotification((e) => overallStatus(e) === 'Granted', 'Granted');
  const request = await holder.request('request', 'FloorRequest');
  await grantedSeen;
  const stillFine = async (t: Test) => {
    t.equal(server.presenter(CONF), 1, 'the holder keeps the floor');
    const query = await holder.request('reqquery 1', 'FloorRequestQuery');
    t.equal(overallStatus(query), 'Granted', 'and is still answered');
    const newcomer = await BfcpClient.start({ transport, port: listener.port, conferenceId: CONF, userId: 3, floorId: FLOOR });
    const hello = await newcomer.request('hello', 'Hello');
    t.equal(hello.prim, 'HelloAck', 'a new participant is still served');
    await newcomer.close();
  };
  return { server, port: listener.port, request, stillFine };
}

/** Opens a TCP connection, writes `bytes`, and collects what comes back until the server closes or `waitMs` passes. */
function tcpExchange(port: number, bytes: Buffer[], waitMs = 3000): Promise<{ data: Buffer; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => {
      socket.destroy();
    }, waitMs);
    socket.on('connect', () => {
      for (const b of bytes) socket.write(b);
    });
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => {
      closedByServer = true;
      socket.end();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closedByServer });
    });
  });
}

/** The messages in a TCP byte stream. */
function frames(data: Buffer) {
  const messages = [];
  let offset = 0;
  while (data.length - offset >= 12) {
    const total = 12 + data.readUInt16BE(offset + 2) * 4;
    messages.push(decodeMessage(data.subarray(offset, offset + total)));
    offset += total;
  }
  return messages;
}

const hello = (transactionId: number, version = 1) =>
  encodeMessage({ version, responder: false, primitive: Primitive.Hello, conferenceId: CONF, transactionId, userId: 2, attributes: [] });

t.test('TCP: garbage, oversized, truncated and malformed messages', async (t) => {
  const { port, stillFine } = await withHolder(t, 'tcp');

  const garbage = await tcpExchange(port, [Buffer.from('GET / HTTP/1.1\r\nHost: box\r\n\r\n')]);
  t.ok(garbage.closedByServer, 'an HTTP request: the connection is closed');
  const [garbageError] = frames(garbage.data);
  t.equal(garbageError?.primitive, Primitive.Error, 'after an Error');
  t.equal(garbageError && findAttribute(garbageError.attributes, 'ERROR-CODE')?.code, ErrorCode.UnsupportedVersion);

  const oversized = Buffer.from(hello(1));
  oversized.writeUInt16BE(0xffff, 2);
  const big = await tcpExchange(port, [oversized]);
  t.ok(big.closedByServer, 'a header announcing 256 KiB: closed');
  const [bigError] = frames(big.data);
  t.equal(bigError && findAttribute(bigError.attributes, 'ERROR-CODE')?.code, ErrorCode.IncorrectMessageLength);
  t.match(bigError && findAttribute(bigError.attributes, 'ERROR-INFO')?.text, new RegExp(`exceeds the limit of ${MAX_MESSAGE_BYTES}`));

  // A malformed attribute with intact framing: an Error, and the connection goes on.
  const badAttribute = Buffer.concat([hello(2).subarray(0, 12), Buffer.from([0x05, 0x01, 0, 0])]);
  badAttribute.writeUInt16BE(1, 2);
  const recovered = await tcpExchange(port, [badAttribute, hello(3)], 1500);
  const answers = frames(recovered.data);
  t.equal(answers[0]?.primitive, Primitive.Error, 'the malformed one gets an Error');
  t.equal(answers[0] && findAttribute(answers[0].attributes, 'ERROR-CODE')?.code, ErrorCode.ParseError);
  t.equal(answers[1]?.primitive, Primitive.HelloAck, 'the next message on the connection is served');
  t.notOk(recovered.closedByServer, 'one bad message does not close the connection');

  // A 12-octet header with the F bit (which needs 16 octets, and is UDP's only).
  const fragmentHeader = hello(5).subarray(0, 12);
  fragmentHeader.writeUInt8(0x28, 0);
  const fragment = await tcpExchange(port, [fragmentHeader]);
  t.ok(fragment.closedByServer, 'a fragment over TCP: closed');
  const [fragmentError] = frames(fragment.data);
  t.equal(fragmentError && findAttribute(fragmentError.attributes, 'ERROR-CODE')?.code, ErrorCode.ParseError, 'after a parse error');

  const persistent = await tcpExchange(port, Array.from({ length: 6 }, () => badAttribute));
  t.ok(persistent.closedByServer, 'five bad messages close it');

  // Half a message, then silence: the server waits for the rest without blocking anyone.
  const truncated = net.connect(port, '127.0.0.1');
  truncated.on('error', () => {});
  truncated.write(hello(4).subarray(0, 7));
  await stillFine(t);
  truncated.destroy();
});

t.test('TCP: a pile of connections from one address does not lock others out', async (t) => {
  const { stillFine, port } = await withHolder(t, 'tcp');
  // The attacker's address (loopback has them all): 40 connections, 16 are kept.
  const idle: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  for (let i = 0; i < 40; i++) {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.9' });
    socket.on('error', () => {});
    socket.on('close', () => closed.add(socket));
    idle.push(socket);
  }
  for (let i = 0; i < 200 && closed.size < 40 - MAX_TCP_CONNECTIONS_PER_ADDRESS; i++) await new Promise((r) => setTimeout(r, 25));
  t.equal(closed.size, 40 - MAX_TCP_CONNECTIONS_PER_ADDRESS, `the server keeps ${MAX_TCP_CONNECTIONS_PER_ADDRESS} connections of one address`);
  await stillFine(t);
  for (const s of idle) s.destroy();
});

t.test('UDP: random, truncated, oversized and wrong-version datagrams', async (t) => {
  const { port, stillFine } = await withHolder(t, 'udp');
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const send = (b: Buffer) => new Promise((resolve) => socket.send(b, port, '127.0.0.1', resolve));

  for (let i = 0; i < 300; i++) {
    const junk = Buffer.alloc(1 + ((i * 37) % 200));
    for (let k = 0; k < junk.length; k++) junk.writeUInt8((i * 131 + k * 29) & 0xff, k);
    await send(junk);
    // Paced: the server shares this process, and a socket buffer full of junk drops datagrams
    // (later good ones included), as any UDP service under a flood.
    if (i % 25 === 24) await new Promise((r) => setTimeout(r, 20));
  }
  const truncated = hello(40010, 2).subarray(0, 12);
  truncated.writeUInt16BE(3, 2);
  await send(truncated);
  const oversized = Buffer.alloc(9000);
  hello(40011, 2).copy(oversized, 0, 0, 12);
  oversized.writeUInt16BE((9000 - 12) / 4, 2);
  await send(oversized);
  await send(hello(40012, 1));
  const shortFragment = hello(40014, 2).subarray(0, 12);
  shortFragment.writeUInt8(0x48, 0);
  await send(shortFragment);
  await send(hello(40013, 2));
  for (let i = 0; i < 200 && !received.some((b) => b.length >= 12 && b.readUInt16BE(8) === 40013); i++) await new Promise((r) => setTimeout(r, 25));

  const byTid = (tid: number) => {
    const bytes = received.find((b) => b.length >= 12 && b.readUInt16BE(8) === tid && b.readUInt32BE(4) === CONF);
    return bytes && decodeMessage(bytes);
  };
  const code = (tid: number) => {
    const m = byTid(tid);
    return m && findAttribute(m.attributes, 'ERROR-CODE')?.code;
  };
  t.equal(code(40010), ErrorCode.IncorrectMessageLength, 'truncated: Incorrect Message Length');
  t.equal(code(40011), ErrorCode.IncorrectMessageLength, 'oversized: Incorrect Message Length');
  t.equal(code(40012), ErrorCode.UnsupportedVersion, 'version 1 over UDP: Unsupported Version');
  t.equal(code(40014), ErrorCode.ParseError, 'a fragment header cut short: parse error');
  t.equal(byTid(40013)?.primitive, Primitive.HelloAck, 'a good message from the same peer is still served');
  await stillFine(t);
});
