/**
 * SIP over TCP/TLS against a hostile LAN (finding 11), from an attacker's sockets on loopback
 * against the SIP side of the box in its own process: one address holding connections is
 * refused past the per-address cap (64) while another address (127.0.0.2) is still served;
 * slow-loris connections — silent, trickling one byte at a time before or after a first
 * message — are closed (the test box shortens the deadlines to 1.5 s); a header block that
 * never ends is answered 513 and closed; an oversized datagram is answered 513.
 */
import dgram from 'node:dgram';
import type net from 'node:net';
import type tls from 'node:tls';
import t from 'tap';
import { MAX_CONNECTIONS_PER_ADDRESS } from '../../server/signaling/transports/stream-transport.ts';
import { type SipBoxProcess, startSipBoxProcess } from '../helpers/sip-box-process.ts';
import { connectTcp, connectTls, optionsRequest, streamExchange, udpExchange } from '../helpers/sip-socket.ts';

let box: SipBoxProcess;
t.before(async () => {
  box = await startSipBoxProcess({ streamLimits: { firstMessageTimeoutMs: 1500, partialMessageTimeoutMs: 1500 } });
});
t.teardown(() => box?.close());

/** Resolves true when the socket closes within `timeoutMs` (a bounded wait, not a measurement). */
function closedWithin(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function optionsAnswered(socket: net.Socket | tls.TLSSocket, transport: 'TCP' | 'TLS'): Promise<boolean> {
  const exchange = await streamExchange(socket, optionsRequest({ transport, port: transport === 'TLS' ? box.tlsPort : box.port }), /\r\n\r\n/, 5000);
  return /^SIP\/2\.0 200 OK\r\n/.test(exchange.received);
}

t.test(`one address holds at most ${MAX_CONNECTIONS_PER_ADDRESS} TCP connections; another address is still served`, async (t) => {
  const held: net.Socket[] = [];
  t.teardown(() => {
    for (const socket of held) socket.destroy();
  });
  // Each held connection sends a valid OPTIONS first, so no deadline closes it: the cap alone must hold.
  for (let i = 0; i < MAX_CONNECTIONS_PER_ADDRESS; i++) {
    const socket = await connectTcp(box.port);
    held.push(socket);
    if (!(await optionsAnswered(socket, 'TCP'))) {
      t.fail(`connection ${i + 1} was not served`);
      return;
    }
  }
  t.pass(`${MAX_CONNECTIONS_PER_ADDRESS} connections from 127.0.0.1 served`);

  const extra = await connectTcp(box.port);
  held.push(extra);
  const extraExchange = await streamExchange(extra, optionsRequest({ transport: 'TCP', port: box.port }), /\r\n\r\n/, 5000);
  t.ok(extraExchange.closed, 'one more from 127.0.0.1 is closed');
  t.equal(extraExchange.received, '', 'and not answered');

  const other = await connectTcp(box.port, '127.0.0.2');
  held.push(other);
  t.ok(await optionsAnswered(other, 'TCP'), 'a connection from 127.0.0.2 is served');

  (held.shift() as net.Socket).destroy();
  // The box notices the close asynchronously: retry a bounded number of times.
  let servedAgain = false;
  for (let attempt = 0; attempt < 20 && !servedAgain; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    const again = await connectTcp(box.port);
    held.push(again);
    servedAgain = await optionsAnswered(again, 'TCP');
  }
  t.ok(servedAgain, 'once one of them closes, 127.0.0.1 may connect again');
});

t.test('TLS: the cap is checked before the handshake', async (t) => {
  const held: tls.TLSSocket[] = [];
  t.teardown(() => {
    for (const socket of held) socket.destroy();
  });
  for (let i = 0; i < MAX_CONNECTIONS_PER_ADDRESS; i++) {
    const socket = await connectTls(box.tlsPort);
    held.push(socket);
    if (!(await optionsAnswered(socket, 'TLS'))) {
      t.fail(`TLS connection ${i + 1} was not served`);
      return;
    }
  }
  const refused = await connectTls(box.tlsPort).then(
    (socket) => {
      held.push(socket);
      return closedWithin(socket, 5000);
    },
    () => true,
  );
  t.ok(refused, `connection ${MAX_CONNECTIONS_PER_ADDRESS + 1} from 127.0.0.1 gets no TLS session`);
});

t.test('slow-loris: a silent connection is closed', async (t) => {
  const socket = await connectTcp(box.port);
  t.teardown(() => socket.destroy());
  t.ok(await closedWithin(socket, 15_000), 'closed without having sent anything');
});

t.test('slow-loris: one byte at a time before the first message is closed', async (t) => {
  const socket = await connectTcp(box.port);
  t.teardown(() => socket.destroy());
  const message = optionsRequest({ transport: 'TCP', port: box.port });
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  let sent = 0;
  // 100 ms a byte: the message would take ~25 s; the loop ends when the box closes it.
  while (sent < message.length && !socket.destroyed) {
    socket.write(message[sent] as string);
    sent++;
    if (await closedWithin(socket, 100)) break;
  }
  t.ok(socket.destroyed, `closed after ${sent} of ${message.length} bytes`);
  t.ok(sent < message.length, 'before the message was complete');
  t.equal(received, '', 'nothing answered');
});

t.test('slow-loris: after a valid message, a trickled one is closed too', async (t) => {
  const socket = await connectTcp(box.port);
  t.teardown(() => socket.destroy());
  t.ok(await optionsAnswered(socket, 'TCP'), 'the first OPTIONS is answered');
  const message = optionsRequest({ transport: 'TCP', port: box.port });
  let sent = 0;
  while (sent < message.length && !socket.destroyed) {
    socket.write(message[sent] as string);
    sent++;
    if (await closedWithin(socket, 100)) break;
  }
  t.ok(socket.destroyed && sent < message.length, `closed after ${sent} of ${message.length} bytes of the second message`);
});

t.test('a header block that never ends is answered 513 and closed', async (t) => {
  const socket = await connectTcp(box.port);
  t.teardown(() => socket.destroy());
  const start = optionsRequest({ transport: 'TCP', port: box.port }).replace(/Content-Length: 0\r\n\r\n$/, '');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.write(start);
  const junk = `X-Junk: ${'a'.repeat(1000)}\r\n`;
  // Up to 1 MB of headers, 100 at a time: far past the 64 KiB limit unless the box stops it.
  for (let i = 0; i < 10 && !socket.destroyed; i++) {
    socket.write(junk.repeat(100));
    await closedWithin(socket, 200);
  }
  t.ok(await closedWithin(socket, 5000), 'the connection is closed');
  t.match(received, /^SIP\/2\.0 513 Message Too Large\r\n[\s\S]*Warning: 399 vcbox "headers longer than 65535 bytes"/, 'answered 513 with the reason');
});

t.test('UDP: an oversized datagram is answered 513, not parsed', async (t) => {
  const big = optionsRequest({ transport: 'UDP', port: box.port }).replace('Max-Forwards: 70', `Max-Forwards: 70\r\nX-Junk: ${'a'.repeat(64_000)}`);
  const answer = await udpExchange(box.port, big, 5000);
  t.match(answer, /^SIP\/2\.0 513 Message Too Large\r\n[\s\S]*header X-Junk longer than 8192 bytes/, '513 with the reason');
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  t.match(await udpExchange(box.port, optionsRequest({ transport: 'UDP', port: box.port }), 5000), /^SIP\/2\.0 200 OK\r\n/, 'OPTIONS still answered');
});
