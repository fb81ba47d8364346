/**
 * drachtio's `proxy` command (srf's proxyRequest / req.proxy): a real drachtio-srf application
 * connected to the signaling service proxies what a sipp caller sends to sipp callees on
 * loopback. Checked at both ends: 180 and 200 relayed, the callee sees Max-Forwards decremented
 * and the box's Via (and Record-Route when asked), ACK and BYE reach the callee — through the
 * box with Record-Route, straight without (and, with Record-Route, a PRACK in the early dialog
 * and the callee's BYE too); a busy callee's 486 goes upstream; two callees
 * forked at once, the one that does not answer gets CANCEL; the caller's CANCEL reaches the
 * ringing callee and its 487 comes back; serial forking with a redirect followed; a silent
 * destination given up after provisionalTimeout; MESSAGE and OPTIONS proxied; what the application is
 * told (srf's result); and the refusals in words (bad destinations, Max-Forwards 0 → 483).
 */
import dgram from 'node:dgram';
import t from 'tap';
import { freePort } from '../helpers/ports.ts';
import { signalingWithApp } from '../helpers/signaling-app.ts';
import { runSipp, type SippResult, scenarioWith, startSipp } from '../helpers/sipp.ts';

interface ProxyResult {
  connected: boolean;
  finalStatus?: number;
  responses: { address: string; port: number; msgs: { status: number }[] }[];
}

type Proxying = { proxy(opts: Record<string, unknown>): Promise<ProxyResult> };
type Responding = { send(status: number, callback: (error?: Error) => void): void };

/**
 * A signaling service whose application proxies every `verbs` request as `options` says; when
 * the service refuses to proxy, the application answers 500 itself (srf's error is kept).
 */
async function proxyingApp(t: { teardown(fn: () => unknown): void }, verbs: string[], options: () => Record<string, unknown>) {
  const outcomes: Promise<ProxyResult>[] = [];
  const { service, port } = await signalingWithApp(t, {}, (on) => {
    for (const verb of verbs) {
      on(verb, (req, res) => {
        const outcome = (req as unknown as Proxying).proxy(options());
        outcome.catch(() => (res as unknown as Responding).send(500, () => undefined));
        outcomes.push(outcome);
      });
    }
  });
  // (The routes are registered right after the connection is authenticated.)
  await new Promise((r) => setTimeout(r, 200));
  return { service, port, box: `127.0.0.1:${port}`, outcomes };
}

function failure(name: string, result: SippResult): string {
  return `${name}: sipp exit ${result.exitCode}\n${result.errors.slice(0, 3000)}`;
}

/** Waits (bounded) until the service has no proxy operation left. */
async function settled(service: { stats(): { proxyOperations: number } }): Promise<number> {
  for (let i = 0; i < 50 && service.stats().proxyOperations > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return service.stats().proxyOperations;
}

/** Sends the in-dialog requests straight to `port` (no Record-Route: the box is not in the path). */
const directTo = (port: number) => `<nop><action><setdest host="127.0.0.1" port="${port}" protocol="udp"/></action></nop>`;

/**
 * A callee (sipp) on `calleePort` that rings for `ring` ms, answers and takes the caller's BYE;
 * with `recordRoute` its in-dialog requests go through the box, else straight to `callerPort`.
 */
function answeringCallee(box: string, calleePort: number, callerPort: number, recordRoute: boolean, ring: string) {
  return startSipp({
    scenario: scenarioWith('proxy-uas-answer.xml', {
      box,
      rr: recordRoute ? 'check_it="true"' : 'check_it_inverse="true"',
      ring,
      bye_via: recordRoute ? box : `127.0.0.1:${callerPort}`,
      setdest: recordRoute ? '' : directTo(callerPort),
    }),
    transport: 'u1',
    localPort: calleePort,
  });
}

/** A caller (sipp) from `callerPort` through the box at `port`, hanging up after `hold` ms. */
function callThrough(box: string, port: number, callerPort: number, calleePort: number, recordRoute: boolean, hold: string) {
  return runSipp({
    scenario: scenarioWith('proxy-uac-call.xml', { box, rr: recordRoute ? 'check_it="true"' : 'check_it_inverse="true"', setdest: recordRoute ? '' : directTo(calleePort), hold }),
    target: `127.0.0.1:${port}`,
    transport: 'u1',
    localPort: callerPort,
  });
}

for (const recordRoute of [true, false]) {
  t.test(`a proxied call ${recordRoute ? 'with' : 'without'} Record-Route: 180 and 200 relayed, ACK and BYE reach the callee`, async (t) => {
    const calleePort = await freePort();
    const callerPort = await freePort();
    const { service, port, box, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination: `sip:127.0.0.1:${calleePort}`, remainInDialog: recordRoute }));
    const callee = await answeringCallee(box, calleePort, callerPort, recordRoute, '300');
    const caller = await callThrough(box, port, callerPort, calleePort, recordRoute, '200');
    t.ok(caller.ok, failure('caller', caller));
    const calleeResult = await callee.result;
    t.ok(calleeResult.ok, failure('callee', calleeResult));
    const outcome = await outcomes[0];
    t.equal(outcome?.finalStatus, 200, 'the application is told the call was answered');
    t.equal(outcome?.connected, true, 'srf reports it connected');
    t.equal(await settled(service), 0, 'no proxy operation left');
    t.equal(service.stats().proxiedDialogs, 0, recordRoute ? 'the BYE through the box ended the record-routed dialog' : 'no dialog kept without Record-Route');
  });
}

t.test('a callee reached over TCP (destination ;transport=tcp), caller over UDP, with Record-Route', async (t) => {
  const calleePort = await freePort();
  const { service, port, box, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination: `sip:127.0.0.1:${calleePort};transport=tcp`, remainInDialog: true }));
  const rr = 'check_it="true"';
  const callee = await startSipp({
    scenario: scenarioWith('proxy-uas-answer.xml', { box, rr, ring: '100', bye_via: box, setdest: '' }),
    transport: 't1',
    localPort: calleePort,
  });
  const caller = await runSipp({ scenario: scenarioWith('proxy-uac-call.xml', { box, rr, setdest: '', hold: '100' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(caller.ok, failure('caller (UDP)', caller));
  const calleeResult = await callee.result;
  t.ok(calleeResult.ok, failure('callee (TCP)', calleeResult));
  t.match(calleeResult.messages, /Record-Route: <sip:127\.0\.0\.1:\d+;transport=tcp;lr>/, 'the Record-Route names the TCP listener');
  t.equal((await outcomes[0])?.finalStatus, 200);
  t.equal(await settled(service), 0);
  t.equal(service.stats().proxiedDialogs, 0);
});

/** A raw SIP peer on loopback UDP for steps sipp cannot script: what it receives, in order. */
async function rawPeer(t: { teardown(fn: () => unknown): void }) {
  const socket = dgram.createSocket('udp4');
  const inbox: string[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (data) => {
    inbox.push(data.toString('latin1'));
    wake?.();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => socket.close());
  const port = socket.address().port;
  return {
    port,
    send: (to: number, lines: string[]) => socket.send(`${lines.join('\r\n')}\r\n\r\n`, to, '127.0.0.1'),
    /** The first message received matching `start` (a start-line prefix), within 5 s. */
    async next(start: string): Promise<string> {
      for (let i = 0; i < 50; i++) {
        const index = inbox.findIndex((m) => m.startsWith(start));
        if (index >= 0) return inbox.splice(index, 1)[0] as string;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      throw new Error(`nothing starting with "${start}" came to port ${port}; got: ${inbox.map((m) => m.split('\r\n')[0]).join(' | ')}`);
    },
  };
}

const field = (message: string, name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(message)?.[1]?.trim() ?? '';
const fields = (message: string, name: string): string[] => [...message.matchAll(new RegExp(`^${name}:[ \\t]*(.*)$`, 'gim'))].map((m) => (m[1] ?? '').trim());
/** The headers a UAS copies into its response (Via, Record-Route, From, Call-ID, CSeq). */
const echoed = (request: string): string[] => [
  ...fields(request, 'Via').map((v) => `Via: ${v}`),
  ...fields(request, 'Record-Route').map((v) => `Record-Route: ${v}`),
  `From: ${field(request, 'From')}`,
  `Call-ID: ${field(request, 'Call-ID')}`,
  `CSeq: ${field(request, 'CSeq')}`,
];

t.test('Record-Route: a PRACK in the early dialog, the ACK and a BYE from the callee all pass through the box', async (t) => {
  const caller = await rawPeer(t);
  const callee = await rawPeer(t);
  const { service, port, box, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination: `sip:127.0.0.1:${callee.port}`, remainInDialog: true }));
  const route = `Route: <sip:${box};lr>`;
  const from = `<sip:caller@127.0.0.1:${caller.port}>;tag=raw-caller`;
  caller.send(port, [
    `INVITE sip:callee@${box} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-raw-invite;rport`,
    'Max-Forwards: 70',
    `From: ${from}`,
    `To: <sip:callee@${box}>`,
    'Call-ID: raw-early-dialog',
    'CSeq: 1 INVITE',
    'Supported: 100rel',
    `Contact: <sip:caller@127.0.0.1:${caller.port}>`,
    'Content-Length: 0',
  ]);
  const invite = await callee.next('INVITE ');
  t.equal(fields(invite, 'Record-Route')[0], `<sip:${box};lr>`, 'the callee sees the box record-route');
  const to = `${field(invite, 'To')};tag=raw-callee`;
  const contact = `Contact: <sip:callee@127.0.0.1:${callee.port}>`;
  callee.send(port, ['SIP/2.0 183 Session Progress', ...echoed(invite), `To: ${to}`, 'Require: 100rel', 'RSeq: 1', contact, 'Content-Length: 0']);
  const progress = await caller.next('SIP/2.0 183 ');
  t.equal(fields(progress, 'Record-Route')[0], `<sip:${box};lr>`, 'the reliable 183 is relayed with the route set');

  caller.send(port, [
    `PRACK sip:callee@127.0.0.1:${callee.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-raw-prack;rport`,
    route,
    'Max-Forwards: 70',
    `From: ${from}`,
    `To: ${to}`,
    'Call-ID: raw-early-dialog',
    'CSeq: 2 PRACK',
    'RAck: 1 1 INVITE',
    'Content-Length: 0',
  ]);
  const prack = await callee.next('PRACK ');
  t.match(field(prack, 'Via'), new RegExp(`^SIP/2\\.0/UDP ${box};`), 'the PRACK came through the box');
  callee.send(port, ['SIP/2.0 200 OK', ...echoed(prack), `To: ${to}`, 'Content-Length: 0']);
  await caller.next('SIP/2.0 200 OK');
  t.pass('the 200 to the PRACK comes back');

  callee.send(port, ['SIP/2.0 200 OK', ...echoed(invite), `To: ${to}`, contact, 'Content-Length: 0']);
  const answer = await caller.next('SIP/2.0 200 OK');
  t.match(field(answer, 'CSeq'), /^1 INVITE$/, 'the INVITE is answered');
  caller.send(port, [
    `ACK sip:callee@127.0.0.1:${callee.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-raw-ack;rport`,
    route,
    'Max-Forwards: 70',
    `From: ${from}`,
    `To: ${to}`,
    'Call-ID: raw-early-dialog',
    'CSeq: 1 ACK',
    'Content-Length: 0',
  ]);
  const ack = await callee.next('ACK ');
  t.match(field(ack, 'Via'), new RegExp(`^SIP/2\\.0/UDP ${box};`), 'the ACK came through the box');

  callee.send(port, [
    `BYE sip:caller@127.0.0.1:${caller.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${callee.port};branch=z9hG4bK-raw-bye;rport`,
    route,
    'Max-Forwards: 70',
    `From: ${to}`,
    `To: ${from}`,
    'Call-ID: raw-early-dialog',
    'CSeq: 1 BYE',
    'Content-Length: 0',
  ]);
  const bye = await caller.next('BYE ');
  t.match(field(bye, 'Via'), new RegExp(`^SIP/2\\.0/UDP ${box};`), "the callee's BYE came through the box");
  caller.send(port, ['SIP/2.0 200 OK', ...echoed(bye), `To: ${field(bye, 'To')}`, 'Content-Length: 0']);
  await callee.next('SIP/2.0 200 OK');
  t.pass("the 200 to the callee's BYE comes back");
  t.equal((await outcomes[0])?.finalStatus, 200);
  t.equal(service.stats().proxiedDialogs, 0, 'the dialog is forgotten after its BYE');
});

t.test('a busy callee: its 486 goes upstream and the application is told', async (t) => {
  const calleePort = await freePort();
  const { service, port, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination: `sip:127.0.0.1:${calleePort}` }));
  const callee = await startSipp({ scenario: 'uas-busy.xml', transport: 'u1', localPort: calleePort });
  const caller = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '486', max_forwards: '70' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(caller.ok, failure('caller', caller));
  const calleeResult = await callee.result;
  t.ok(calleeResult.ok, failure('callee (takes the box ACK for its 486)', calleeResult));
  const outcome = await outcomes[0];
  t.equal(outcome?.finalStatus, 486);
  t.equal(outcome?.connected, false);
  t.equal(await settled(service), 0);
});

t.test('two callees forked at once: one answers, the other gets CANCEL', async (t) => {
  const answeringPort = await freePort();
  const ringingPort = await freePort();
  const callerPort = await freePort();
  const { service, port, box, outcomes } = await proxyingApp(t, ['invite'], () => ({
    destination: [`sip:127.0.0.1:${ringingPort}`, `sip:127.0.0.1:${answeringPort}`],
    forking: 'simultaneous',
  }));
  const answering = await answeringCallee(box, answeringPort, callerPort, false, '1000');
  const ringing = await startSipp({ scenario: 'uas-ring.xml', transport: 'u1', localPort: ringingPort });
  const caller = await callThrough(box, port, callerPort, answeringPort, false, '200');
  t.ok(caller.ok, failure('caller', caller));
  const answered = await answering.result;
  t.ok(answered.ok, failure('answering callee', answered));
  const cancelled = await ringing.result;
  t.ok(cancelled.ok, failure('ringing callee (CANCEL → 200, 487, ACK)', cancelled));
  t.match(cancelled.messages, /CANCEL sip:127\.0\.0\.1:\d+ SIP\/2\.0[\s\S]*Reason: SIP;cause=200;text="Call completed elsewhere"/, 'the CANCEL says the call was answered elsewhere');
  const outcome = await outcomes[0];
  t.equal(outcome?.finalStatus, 200);
  t.equal(await settled(service), 0);
});

t.test('a 6xx wins: the other branch, still ringing, is cancelled and the caller gets the 603', async (t) => {
  const decliningPort = await freePort();
  const ringingPort = await freePort();
  const { service, port, outcomes } = await proxyingApp(t, ['invite'], () => ({
    destination: [`sip:127.0.0.1:${ringingPort}`, `sip:127.0.0.1:${decliningPort}`],
    forking: 'simultaneous',
  }));
  const ringing = await startSipp({ scenario: 'uas-ring.xml', transport: 'u1', localPort: ringingPort });
  // Whichever comes first, the 603 or the other's 180: that branch is cancelled once it rings.
  const declining = await startSipp({ scenario: scenarioWith('proxy-uas-refuse.xml', { status: '603', reason: 'Decline' }), transport: 'u1', localPort: decliningPort });
  const caller = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '603', max_forwards: '70' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(caller.ok, failure('caller gets the 603', caller));
  const cancelled = await ringing.result;
  t.ok(cancelled.ok, failure('ringing callee (CANCEL → 200, 487, ACK)', cancelled));
  t.ok((await declining.result).ok, 'the declining callee took the ACK for its 603');
  t.equal((await outcomes[0])?.finalStatus, 603);
  t.equal(await settled(service), 0);
});

t.test('a 503 from the only callee goes upstream as 500 (RFC 3261 §16.7)', async (t) => {
  const calleePort = await freePort();
  const { port, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination: `sip:127.0.0.1:${calleePort}` }));
  const callee = await startSipp({ scenario: scenarioWith('proxy-uas-refuse.xml', { status: '503', reason: 'Service Unavailable' }), transport: 'u1', localPort: calleePort });
  const caller = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '500', max_forwards: '70' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(caller.ok, failure('caller gets 500', caller));
  t.ok((await callee.result).ok, 'the callee took the ACK for its 503');
  t.equal((await outcomes[0])?.finalStatus, 503, 'the application is told what the callee said');
});

t.test('two callees that both challenge: the caller gets one 401 with both challenges (RFC 3261 §16.7 step 7)', async (t) => {
  const [firstPort, secondPort] = [await freePort(), await freePort()];
  const { port, outcomes } = await proxyingApp(t, ['invite'], () => ({
    destination: [`sip:127.0.0.1:${firstPort}`, `sip:127.0.0.1:${secondPort}`],
    forking: 'simultaneous',
  }));
  const challenge = (realm: string) => scenarioWith('proxy-uas-refuse.xml', { status: '401', reason: 'Unauthorized', headers: `\n      WWW-Authenticate: Digest realm="${realm}", nonce="n-${realm}"` });
  const first = await startSipp({ scenario: challenge('first'), transport: 'u1', localPort: firstPort });
  const second = await startSipp({ scenario: challenge('second'), transport: 'u1', localPort: secondPort });
  const caller = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '401', max_forwards: '70' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(caller.ok, failure('caller gets 401', caller));
  const unauthorized = /SIP\/2\.0 401 [\s\S]*?\r?\n\r?\n/.exec(caller.messages)?.[0] ?? '';
  t.match(unauthorized, /WWW-Authenticate: Digest realm="first"/, 'the first challenge');
  t.match(unauthorized, /WWW-Authenticate: Digest realm="second"/, 'the second challenge');
  t.ok((await first.result).ok && (await second.result).ok, 'both callees took the ACK');
  await outcomes[0];
});

t.test('serial forking: a busy callee, then one that redirects (followed), then the one it names answers', async (t) => {
  const busyPort = await freePort();
  const redirectingPort = await freePort();
  const answeringPort = await freePort();
  const callerPort = await freePort();
  const { service, port, box, outcomes } = await proxyingApp(t, ['invite'], () => ({
    destination: [`sip:127.0.0.1:${busyPort}`, `sip:127.0.0.1:${redirectingPort}`],
    followRedirects: true,
  }));
  const busy = await startSipp({ scenario: 'uas-busy.xml', transport: 'u1', localPort: busyPort });
  const redirecting = await startSipp({ scenario: scenarioWith('proxy-uas-redirect.xml', { contact: `sip:callee@127.0.0.1:${answeringPort}` }), transport: 'u1', localPort: redirectingPort });
  const answering = await answeringCallee(box, answeringPort, callerPort, false, '100');
  const caller = await callThrough(box, port, callerPort, answeringPort, false, '100');
  t.ok(caller.ok, failure('caller', caller));
  for (const [name, peer] of [['busy', busy], ['redirecting', redirecting], ['answering', answering]] as const) {
    const result = await peer.result;
    t.ok(result.ok, failure(`${name} callee`, result));
  }
  const outcome = await outcomes[0];
  t.same(
    outcome?.responses.flatMap((r) => r.msgs.map((m) => m.status)),
    [486, 302, 200],
    'the application is told each final response, in order',
  );
  t.equal(outcome?.finalStatus, 200);
  t.equal(await settled(service), 0);
});

t.test('provisionalTimeout: a destination silent past it is given up, the next one answers', async (t) => {
  const silent = dgram.createSocket('udp4');
  const silentInvites: string[] = [];
  silent.on('message', (data) => silentInvites.push(data.toString('latin1')));
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => silent.close());
  const answeringPort = await freePort();
  const callerPort = await freePort();
  const { port, box, outcomes } = await proxyingApp(t, ['invite'], () => ({
    destination: [`sip:127.0.0.1:${silent.address().port}`, `sip:127.0.0.1:${answeringPort}`],
    provisionalTimeout: '1s',
  }));
  const answering = await answeringCallee(box, answeringPort, callerPort, false, '100');
  const caller = await callThrough(box, port, callerPort, answeringPort, false, '100');
  t.ok(caller.ok, failure('caller', caller));
  const answered = await answering.result;
  t.ok(answered.ok, failure('answering callee', answered));
  t.ok(silentInvites.some((m) => m.startsWith('INVITE ')), 'the silent destination was tried first');
  t.equal((await outcomes[0])?.finalStatus, 200);
});

t.test('the caller cancels while the callee rings: the callee gets CANCEL, its 487 goes upstream', async (t) => {
  const calleePort = await freePort();
  const { service, port, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination: `sip:127.0.0.1:${calleePort}` }));
  const callee = await startSipp({ scenario: 'uas-ring.xml', transport: 'u1', localPort: calleePort });
  const caller = await runSipp({ scenario: 'proxy-uac-cancel.xml', target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(caller.ok, failure('caller', caller));
  const calleeResult = await callee.result;
  t.ok(calleeResult.ok, failure('callee', calleeResult));
  const outcome = await outcomes[0];
  t.equal(outcome?.finalStatus, 487, 'the application is told the call was cancelled');
  t.equal(await settled(service), 0);
});

for (const method of ['MESSAGE', 'OPTIONS']) {
  t.test(`a ${method} outside any dialog is proxied`, async (t) => {
    const calleePort = await freePort();
    const { service, port, box, outcomes } = await proxyingApp(t, [method.toLowerCase()], () => ({ destination: `sip:127.0.0.1:${calleePort}` }));
    const callee = await startSipp({ scenario: scenarioWith('proxy-uas-request.xml', { method, box }), transport: 'u1', localPort: calleePort });
    const caller = await runSipp({ scenario: scenarioWith('proxy-uac-request.xml', { method }), target: `127.0.0.1:${port}`, transport: 'u1' });
    t.ok(caller.ok, failure('caller', caller));
    const calleeResult = await callee.result;
    t.ok(calleeResult.ok, failure('callee', calleeResult));
    t.equal((await outcomes[0])?.finalStatus, 200);
    t.equal(await settled(service), 0);
  });
}

/** Why srf's proxy promise was rejected ('' when it resolved). */
async function refusal(outcome: Promise<ProxyResult> | undefined): Promise<string> {
  return outcome ? outcome.then(() => '', (error: unknown) => String(error)) : 'no proxy attempt';
}

t.test('refusals in words: a destination that is no SIP URI, too many destinations, Max-Forwards 0', async (t) => {
  let destination: unknown = 'tel:+15551234';
  const { port, outcomes } = await proxyingApp(t, ['invite'], () => ({ destination }));
  const refused = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '500', max_forwards: '70' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.match(await refusal(outcomes[0]), /invalid destination 'tel:\+15551234': a SIP URI/);
  t.ok(refused.ok, failure('the request stays the application\'s to answer (500)', refused));

  destination = Array.from({ length: 11 }, (_, i) => `sip:127.0.0.1:${20000 + i}`);
  const many = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '500', max_forwards: '70' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.match(await refusal(outcomes[1]), /too many destinations \(11\): at most 10/);
  t.ok(many.ok, failure('caller', many));

  destination = 'sip:127.0.0.1:9';
  const hops = await runSipp({ scenario: scenarioWith('proxy-uac-refused.xml', { status: '483', max_forwards: '0' }), target: `127.0.0.1:${port}`, transport: 'u1' });
  t.ok(hops.ok, failure('caller with Max-Forwards 0 gets 483', hops));
  t.match(await refusal(outcomes[2]), /Rejected with 483/);
});
