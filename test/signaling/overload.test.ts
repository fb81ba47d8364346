/**
 * Overload: when the SIP application has too many new requests unanswered, the signaling
 * service answers further new requests 503 with Retry-After at once (load shedding), and
 * serves again as soon as the application catches up; the same when its answers come later
 * than the queue-delay bound, until a window passes with nothing queued — for a load of calls
 * alone too (INVITEs whose first answer, their digest challenge, comes late).
 */
import dgram from 'node:dgram';
import type Srf from 'drachtio-srf';
import t from 'tap';
import { readWhileLate } from '../helpers/late-loop.ts';
import { signalingWithApp } from '../helpers/signaling-app.ts';
import { optionsRequest, udpExchange } from '../helpers/sip-socket.ts';

t.test('past the limit of unanswered requests, new ones get 503 Retry-After', async (t) => {
  const held: Srf.SrfResponse[] = [];
  // A slow application: answers only when told.
  const { service, port } = await signalingWithApp(t, { overloadLimit: 2 }, (on) => on('options', (_req, res) => held.push(res)));
  await new Promise((r) => setTimeout(r, 100));

  const request = (n: number) => optionsRequest({ transport: 'UDP', port, callId: `overload-${n}` });
  t.equal(await udpExchange(port, request(1), 300), undefined, 'first request waits for the application');
  t.equal(await udpExchange(port, request(2), 300), undefined, 'second too');
  t.match(await udpExchange(port, request(3)), /^SIP\/2\.0 503 Service Unavailable\r\n[\s\S]*Retry-After: 5\r\n/, 'third is shed at once');
  t.equal(service.stats().awaitingApplication, 2);
  for (const res of held.splice(0)) res.send(200);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(service.stats().awaitingApplication, 0, 'answered requests no longer count');
  t.equal(await udpExchange(port, request(4), 500), undefined, 'the next is forwarded again (the slow app holds it)');
  t.equal(held.length, 1);
  held[0]?.send(200);
});

t.test('answers queued past the delay bound: new requests get 503 Retry-After until the queue is gone', async (t) => {
  const held: Srf.SrfResponse[] = [];
  const { service, port } = await signalingWithApp(t, { overloadQueueDelayMs: 50 }, (on) => on('options', (_req, res) => held.push(res)));

  const request = (n: number) => optionsRequest({ transport: 'UDP', port, callId: `delay-${n}` });
  // The application takes 300 ms to answer four requests (a queue): the answers arrive late.
  const first = [1, 2, 3, 4].map((n) => udpExchange(port, request(n), 5000));
  for (let i = 0; i < 200 && held.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  for (const res of held.splice(0)) res.send(200);
  for (const answer of first) t.match(await answer, /^SIP\/2\.0 200 /, 'a slow answer');
  t.match(await udpExchange(port, request(5)), /^SIP\/2\.0 503 Service Unavailable\r\n[\s\S]*Retry-After: 5\r\n/, 'the next request is shed at once');
  t.equal(held.length, 0, 'without reaching the application');
  t.equal(service.stats().overloadRefused.queueDelay, 1, 'counted by its bound');
  // A window with nothing waiting: nothing queued any more, requests go through again.
  await new Promise((r) => setTimeout(r, 250));
  t.equal(await udpExchange(port, request(6), 500), undefined, 'forwarded again (the app holds it)');
  t.equal(held.length, 1);
  held[0]?.send(200);
});

/** A new INVITE without credentials, as a caller's first. */
const inviteRequest = (port: number, localPort: number, callId: string) =>
  [
    `INVITE sip:7001@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${callId};rport`,
    `From: <sip:7002@127.0.0.1>;tag=${callId}`,
    'To: <sip:7001@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:7002@127.0.0.1:${localPort}>`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

t.test('a load of calls alone: INVITEs challenged past the delay bound shed new INVITEs with 503', async (t) => {
  const held: Srf.SrfResponse[] = [];
  const { service, port } = await signalingWithApp(t, { overloadQueueDelayMs: 50 }, (on) => on('invite', (_req, res) => held.push(res)));
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  const localPort = socket.address().port;
  const statuses = new Map<string, number[]>();
  socket.on('message', (data) => {
    const text = data.toString('utf8');
    const callId = /\r\nCall-ID: (\S+)/i.exec(text)?.[1] ?? '';
    const status = Number(/^SIP\/2\.0 (\d{3}) /.exec(text)?.[1]);
    statuses.set(callId, [...(statuses.get(callId) ?? []), status]);
  });
  const send = (callId: string) => socket.send(inviteRequest(port, localPort, callId), port, '127.0.0.1');
  const finalOf = (callId: string) => statuses.get(callId)?.find((s) => s >= 200);
  const until = async (probe: () => boolean) => {
    for (let i = 0; i < 300 && !probe(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  // The application takes 300 ms to challenge four calls (a queue): their 407s come late.
  for (const n of [1, 2, 3, 4]) send(`invite-delay-${n}`);
  await until(() => held.length === 4);
  await new Promise((r) => setTimeout(r, 300));
  for (const res of held.splice(0)) res.send(407);
  await until(() => [1, 2, 3, 4].every((n) => finalOf(`invite-delay-${n}`) === 407));
  t.same([1, 2, 3, 4].map((n) => finalOf(`invite-delay-${n}`)), [407, 407, 407, 407], 'four late challenges');
  t.same(statuses.get('invite-delay-1')?.[0], 100, 'each had its 100 Trying at once (not counted as an answer)');

  send('invite-delay-5');
  await until(() => finalOf('invite-delay-5') !== undefined);
  t.equal(finalOf('invite-delay-5'), 503, 'the next INVITE is shed at once');
  t.equal(held.length, 0, 'without reaching the application');
  t.equal(service.stats().overloadRefused.queueDelay, 1, 'counted by its bound');

  // A window with nothing waiting: calls go through again.
  await new Promise((r) => setTimeout(r, 250));
  send('invite-delay-6');
  await until(() => held.length === 1);
  t.equal(held.length, 1, 'the next INVITE reaches the application again');
  held[0]?.send(486);
});

const byeOutOfNowhere = (port: number) =>
  [
    `BYE sip:vcbox@127.0.0.1:${port} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKlate-bye;rport',
    'From: <sip:test@127.0.0.1>;tag=a1',
    'To: <sip:vcbox@127.0.0.1>;tag=b2',
    'Call-ID: late-bye',
    'CSeq: 2 BYE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

t.test('the signaling process itself runs late: new requests get 503 from a partial parse; in-dialog ones go on', async (t) => {
  const seen: string[] = [];
  const { service, port } = await signalingWithApp(t, { overloadLoopLagMs: 50 }, (on) =>
    on('options', (req, res) => {
      seen.push(req.get('Call-ID'));
      res.send(200);
    }),
  );
  const news = [1, 2, 3].map((n) => optionsRequest({ transport: 'UDP', port, callId: `late-${n}` }));
  const answers = await readWhileLate(port, [...news, byeOutOfNowhere(port)]);
  const refused = answers.filter((a) => /^SIP\/2\.0 503 Service Unavailable\r\n/.test(a));
  t.equal(refused.length, 3, 'each new request refused');
  for (const a of refused) t.match(a, /\r\nRetry-After: 5\r\n[\s\S]*\r\nCall-ID: late-\d\r\n|\r\nCall-ID: late-\d\r\n[\s\S]*\r\nRetry-After: 5\r\n/, 'with Retry-After, matched to its request');
  t.ok(answers.some((a) => /^SIP\/2\.0 481 /.test(a) && a.includes('Call-ID: late-bye')), 'the BYE took the ordinary path (481: no such dialog), not a 503');
  t.same(seen, [], 'no new request reached the application');
  t.equal(service.stats().overloadRefused.loopLag, 3, 'counted by the loop-lag bound');
  // The loop on time again: requests are served.
  for (let i = 0; i < 50 && service.stats().loopLagMs > 50; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(await udpExchange(port, optionsRequest({ transport: 'UDP', port, callId: 'late-after' })), /^SIP\/2\.0 200 /, 'served again once the loop is on time');
});

t.test('far past the loop-lag bound, new requests are dropped unanswered; in-dialog ones still go on', async (t) => {
  const { service, port } = await signalingWithApp(t, { overloadLoopLagMs: 20 }, (on) => on('options', (_req, res) => res.send(200)));
  const answers = await readWhileLate(port, [optionsRequest({ transport: 'UDP', port, callId: 'drop-1' }), optionsRequest({ transport: 'UDP', port, callId: 'drop-2' }), byeOutOfNowhere(port)]);
  t.same(answers.filter((a) => a.includes('Call-ID: drop-')), [], 'no answer to the new requests');
  t.ok(answers.some((a) => /^SIP\/2\.0 481 /.test(a)), 'the BYE answered');
  t.equal(service.stats().overloadRefused.loopLagDropped, 2, 'counted as dropped');
});
