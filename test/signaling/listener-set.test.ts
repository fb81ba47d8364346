/**
 * The listener set keyed by transport (server/signaling/transports/listener-set.ts), driven
 * directly over loopback: it opens UDP, TCP and TLS on port 0, takes a burst of 1 000 UDP
 * datagrams whole (its receive buffer), frames a message that arrives in pieces on a stream,
 * hands each message up with the transport it came on, sends replies back the way a message
 * came (the stream's own connection), reports an unframeable stream, and resolves a URI to the
 * connection a peer already holds.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { SipParseError } from '../../server/signaling/sip/sip-message.ts';
import { parseUri } from '../../server/signaling/sip/sip-uri.ts';
import { ListenerSet } from '../../server/signaling/transports/listener-set.ts';
import { RECEIVE_BUFFER_BYTES } from '../../server/signaling/transports/udp-transport.ts';
import type { MessageSource } from '../../server/signaling/transports/sip-transport.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { connectTcp, connectTls, optionsRequest } from '../helpers/sip-socket.ts';

interface Received {
  readonly transport: string;
  readonly data: string;
  readonly source: MessageSource;
}

const received: Received[] = [];
const framingErrors: { transport: string; error: SipParseError }[] = [];
let set: ListenerSet;

t.before(async () => {
  set = new ListenerSet({
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    tls: await ensureCertificate(path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-listener-set-')), 'certs')),
    onMessage: (transport, data, source) => received.push({ transport: transport.protocol, data: data.toString('latin1'), source }),
    onFramingError: (transport, error) => framingErrors.push({ transport: transport.protocol, error }),
  });
  await set.listen();
});
t.teardown(() => set?.close());

/** Waits (bounded) until `predicate` holds; false if it never did. */
async function eventually(predicate: () => boolean, timeoutMs = 5000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

function nextData(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(''), 5000);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString('latin1'));
    });
  });
}

t.test('one listener per transport, each bound to a port of its own', async (t) => {
  const listeners = set.describe();
  t.equal(listeners.length, 3);
  t.match(listeners[0], /^udp\/127\.0\.0\.1:\d+$/);
  t.match(listeners[1], /^tcp\/127\.0\.0\.1:\d+$/);
  t.match(listeners[2], /^tls\/127\.0\.0\.1:\d+$/);
  for (const protocol of ['udp', 'tcp', 'tls'] as const) t.not(set.get(protocol).local.port, 0, `${protocol} bound`);
  t.equal(set.ports.tlsPort, set.get('tls').local.port);
});

t.test('UDP: a datagram is one message; the reply goes back to its source', async (t) => {
  const client = dgram.createSocket('udp4');
  t.teardown(() => client.close());
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  const callId = 'udp-listener-set';
  client.send(optionsRequest({ transport: 'UDP', port: set.get('udp').local.port, callId }), set.get('udp').local.port, '127.0.0.1');
  t.ok(await eventually(() => received.some((r) => r.data.includes(callId))), 'the message arrived');
  const message = received.find((r) => r.data.includes(callId)) as Received;
  t.equal(message.transport, 'udp');
  t.same({ ...message.source }, { protocol: 'udp', address: '127.0.0.1', port: client.address().port });
  const reply = new Promise<string>((resolve) => client.once('message', (data) => resolve(data.toString())));
  t.ok(set.send(message.source, Buffer.from('SIP/2.0 200 OK\r\n\r\n')), 'sent');
  t.equal(await reply, 'SIP/2.0 200 OK\r\n\r\n');
});

// The kernel caps the buffer at net.core.rmem_max: install.sh raises Debian's 208 KB on the
// appliance; a test machine that keeps it cannot show the burst.
const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
const burstSkip = rmemMax < RECEIVE_BUFFER_BYTES ? `net.core.rmem_max is ${rmemMax} here, below the ${RECEIVE_BUFFER_BYTES} the listener asks for (install.sh raises it on the appliance)` : false;

t.test('UDP: a burst of 500 datagrams that arrives before the listener reads any is received whole', { skip: burstSkip }, async (t) => {
  // What hundreds of terminals re-registering at once look like to the socket: with the
  // kernel's default receive buffer (~208 KB) most of these were dropped, and came back as
  // retransmissions. The sends all happen before this process's event loop reads the socket.
  const client = dgram.createSocket('udp4');
  t.teardown(() => client.close());
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  const port = set.get('udp').local.port;
  const burst = 500;
  for (let i = 0; i < burst; i++) client.send(optionsRequest({ transport: 'UDP', port, callId: `udp-burst-${i}` }), port, '127.0.0.1');
  const arrived = () => received.filter((r) => r.data.includes('udp-burst-')).length;
  t.ok(await eventually(() => arrived() === burst), `all ${burst} datagrams arrived (${arrived()})`);
});

t.test('TCP: a message in two pieces is framed as one; the reply goes back on its connection', async (t) => {
  const socket = await connectTcp(set.get('tcp').local.port);
  t.teardown(() => socket.destroy());
  const callId = 'tcp-listener-set';
  const request = optionsRequest({ transport: 'TCP', port: set.get('tcp').local.port, callId });
  socket.write(request.slice(0, 40));
  await new Promise((r) => setTimeout(r, 50));
  socket.write(request.slice(40));
  t.ok(await eventually(() => received.some((r) => r.data.includes(callId))), 'the message arrived');
  const messages = received.filter((r) => r.data.includes(callId));
  t.equal(messages.length, 1, 'framed once');
  const message = messages[0] as Received;
  t.equal(message.transport, 'tcp');
  t.equal(message.data, request, 'framed whole');
  t.match(message.source.connectionId, /^tcp-\d+$/);
  t.ok(set.hasConnection(message.source), 'the connection is known');
  t.equal(set.connectionCounts.tcp, 1);
  const reply = nextData(socket);
  t.ok(set.send(message.source, Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n')));
  t.equal(await reply, 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');

  // A request to this peer's address and port reuses the connection it opened.
  const uri = parseUri(`sip:peer@127.0.0.1:${message.source.port};transport=tcp`);
  if (!uri) throw new Error('test URI did not parse');
  const destination = await set.resolve(uri);
  t.equal(destination.connectionId, message.source.connectionId, 'resolved to the peer’s own connection');
});

t.test('TLS: a message over TLS arrives marked tls; the reply goes back on its connection', async (t) => {
  const socket = await connectTls(set.get('tls').local.port);
  t.teardown(() => socket.destroy());
  const callId = 'tls-listener-set';
  socket.write(optionsRequest({ transport: 'TLS', port: set.get('tls').local.port, callId }));
  t.ok(await eventually(() => received.some((r) => r.data.includes(callId))), 'the message arrived');
  const message = received.find((r) => r.data.includes(callId)) as Received;
  t.equal(message.transport, 'tls');
  t.match(message.source.connectionId, /^tls-\d+$/);
  const reply = nextData(socket);
  t.ok(set.send(message.source, Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n')));
  t.equal(await reply, 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
});

t.test('an unframeable stream is reported with its transport, and the connection closed', async (t) => {
  const socket = await connectTcp(set.get('tcp').local.port);
  t.teardown(() => socket.destroy());
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.write('OPTIONS sip:x SIP/2.0\r\nContent-Length: banana\r\n\r\n');
  t.ok(await eventually(() => framingErrors.length > 0), 'reported');
  t.equal(framingErrors[0]?.transport, 'tcp');
  t.ok(await closed, 'closed');
});

t.test('Via/Contact host:port name the listener of the transport asked for', async (t) => {
  t.equal(set.hostport('udp', '127.0.0.1'), `127.0.0.1:${set.get('udp').local.port}`);
  t.equal(set.contactFor('tls', '127.0.0.1'), `<sips:127.0.0.1:${set.get('tls').local.port};transport=tls>`);
  t.equal(set.contactFor('tls', '127.0.0.1', undefined, false), `<sip:127.0.0.1:${set.get('tls').local.port};transport=tls>`, 'over TLS, answering a request that did not ask for SIPS: sip: with transport=tls');
  t.ok(set.isSelf({ protocol: 'tcp', address: '127.0.0.1', port: set.get('tcp').local.port }));
  t.notOk(set.isSelf({ protocol: 'tcp', address: '127.0.0.1', port: set.get('tcp').local.port + 1 }));
});
