/**
 * The SIP listener from a peer's side: OPTIONS answered on UDP, TCP and TLS (sipp where sipp
 * can), received/rport stamped, 503 for methods no application handles, and malformed, unframeable or
 * oversized input answered with 400 (or dropped on UDP) without taking the service down.
 */
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SignalingService } from '../../server/signaling/signaling-service.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { freePort } from '../helpers/ports.ts';
import { connectTcp, connectTls, optionsRequest, streamExchange, udpExchange } from '../helpers/sip-socket.ts';
import { runSipp } from '../helpers/sipp.ts';

const port = await freePort();
const tlsPort = await freePort();
const certificate = await ensureCertificate(path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-cert-')), 'certs'));
const service = new SignalingService({ host: '127.0.0.1', port, tlsPort, tls: certificate });
await service.start();
t.teardown(() => service.close());

t.test('listeners report proto/address:port', async (t) => {
  t.same(service.listeners(), [`udp/127.0.0.1:${port}`, `tcp/127.0.0.1:${port}`, `tls/127.0.0.1:${tlsPort}`]);
});

t.test('sipp OPTIONS over UDP and TCP', async (t) => {
  for (const transport of ['u1', 't1'] as const) {
    const result = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${port}`, transport, calls: 5 });
    t.ok(result.ok, `${transport}: 5 OPTIONS answered 200 (exit ${result.exitCode})\n${result.errors}`);
  }
});

t.test('OPTIONS over TLS; received and rport stamped in the Via', async (t) => {
  const socket = await connectTls(tlsPort, certificate.cert);
  const { received } = await streamExchange(socket, optionsRequest({ transport: 'TLS', port: tlsPort }), /\r\n\r\n/);
  socket.destroy();
  t.match(received, /^SIP\/2\.0 200 OK\r\n/);
  t.match(received, /\r\nVia: SIP\/2\.0\/TLS 127\.0\.0\.1:9;branch=\S+;rport=\d+\r\n/);
  t.match(received, /\r\nTo: <sip:vcbox@127\.0\.0\.1>;tag=\w+\r\n/, 'a To tag is added');
  t.match(received, /\r\nContent-Length: 0\r\n\r\n$/);
});

t.test('compact headers and folded lines are understood', async (t) => {
  const request = [
    `OPTIONS sip:vcbox@127.0.0.1:${port} SIP/2.0`,
    'v: SIP/2.0/UDP 10.9.9.9:5062;branch=z9hG4bKcompact',
    'f: <sip:test@127.0.0.1>',
    '  ;tag=folded',
    't: <sip:vcbox@127.0.0.1>',
    'i: compact-call',
    'CSEQ: 7 OPTIONS',
    'l: 0',
    '',
    '',
  ].join('\r\n');
  // No rport: the answer goes to the Via's port, so send from that port.
  const reply = await udpExchange(port, request);
  t.equal(reply, undefined, 'without rport the answer goes to the Via port (5062), not to the source');
  // Over TCP with its own branch (the same branch would be a retransmission of the UDP one).
  const socket = await connectTcp(port);
  const { received } = await streamExchange(socket, request.replace('z9hG4bKcompact', 'z9hG4bKcompact2'), /\r\n\r\n/);
  socket.destroy();
  t.match(received, /^SIP\/2\.0 200 OK\r\n/);
  t.match(received, /\r\nFrom: <sip:test@127\.0\.0\.1> ;tag=folded\r\n/);
  t.match(received, /\r\nVia: SIP\/2\.0\/UDP 10\.9\.9\.9:5062;branch=z9hG4bKcompact2;received=127\.0\.0\.1\r\n/);
  t.match(received, /\r\nCall-ID: compact-call\r\nCSeq: 7 OPTIONS\r\n/);
});

t.test('with no SIP application connected, requests get 503 Retry-After (try again soon)', async (t) => {
  const request = optionsRequest({ transport: 'UDP', port }).replace(/OPTIONS/g, 'SUBSCRIBE');
  const reply = await udpExchange(port, request);
  t.match(reply, /^SIP\/2\.0 503 Service Unavailable\r\n/);
  t.match(reply, /\r\nRetry-After: 30\r\n/);
});

t.test('malformed input: 400 with the reason, drop, or close — and the service keeps answering', async (t) => {
  const badCseq = optionsRequest({ transport: 'UDP', port }).replace('CSeq: 1 OPTIONS', 'CSeq: one OPTIONS');
  t.match(await udpExchange(port, badCseq), /^SIP\/2\.0 400 Bad Request\r\n[\s\S]*Warning: 399 vcbox "invalid CSeq/);

  t.equal(await udpExchange(port, 'hello there\r\n\r\n', 500), undefined, 'UDP garbage is dropped');
  t.equal(await udpExchange(port, Buffer.alloc(70_000, 0x41), 500), undefined, 'oversized datagram dropped');

  const noLength = optionsRequest({ transport: 'TCP', port }).replace('Content-Length: 0\r\n', '');
  const tcp = await connectTcp(port);
  const exchange = await streamExchange(tcp, noLength, /\r\n\r\n/);
  t.match(exchange.received, /^SIP\/2\.0 400 Bad Request\r\n[\s\S]*missing Content-Length/);
  tcp.destroy();

  const flood = await connectTcp(port);
  const oversized = await streamExchange(flood, `OPTIONS sip:x SIP/2.0\r\nX-Junk: ${'a'.repeat(80_000)}`, /$^/, 3000);
  t.ok(oversized.closed, 'a stream that never ends its headers is closed past the size limit');

  const bodyTooLong = optionsRequest({ transport: 'TCP', port }).replace('Content-Length: 0', 'Content-Length: 900000');
  const big = await connectTcp(port);
  const bigExchange = await streamExchange(big, bodyTooLong, /\r\n\r\n/);
  t.match(bigExchange.received, /513 Message Too Large[\s\S]*larger than 65535 bytes/, '513 (RFC 3261 §21.5.14) with the reason');
  big.destroy();

  const result = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(result.ok, 'OPTIONS still answered after the bad input');
});

t.test('a retransmitted request gets the same answer again (the transaction remembers it)', async (t) => {
  // From one socket, as a terminal retransmits: the answer goes where the first one went.
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const exchange = (data: string) =>
    new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(message.toString('latin1'));
      });
      socket.send(data, port, '127.0.0.1');
    });
  const request = optionsRequest({ transport: 'UDP', port, callId: 'retransmitted-options' });
  const first = await exchange(request);
  const second = await exchange(request);
  t.match(first, /^SIP\/2\.0 200 OK\r\n/);
  const tag = (reply: string | undefined) => /\r\nTo: [^\r\n]*;tag=(\w+)/.exec(reply ?? '')?.[1];
  t.ok(tag(first), 'the answer carries a To tag');
  t.equal(tag(second), tag(first), 'the retransmission is answered from the transaction, with the same tag');
  const fresh = await exchange(request.replace(/branch=z9hG4bK\w+/, 'branch=z9hG4bKanother'));
  t.not(tag(fresh), tag(first), 'a new transaction gets its own tag');
});
