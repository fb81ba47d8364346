/**
 * The stateful proxy as an open relay: with Record-Route the box proxies in-dialog requests
 * that name it in their top Route, without asking the application. A LAN attacker must not be
 * able to use that to reach anyone: a Route naming the box on a request of a dialog the box did
 * not record-route (made-up Call-ID and tags, BYE or ACK) gets 481 or nothing, and the would-be
 * victim receives nothing; once the real dialog ended with its BYE, a replayed BYE is refused
 * too. The real call (raw UDP caller and callee on loopback, a drachtio-srf application asking
 * for the proxying) goes through meanwhile. On the application port, `proxy` is an application
 * command: refused before authentication, and an authenticated application cannot proxy a
 * request that went to another one.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import t from 'tap';
import { encodeFrame, type Frame, FrameDecoder } from '../../server/signaling/drachtio/wire-frames.ts';
import { signalingWithApp } from '../helpers/signaling-app.ts';
import { UdpSipPeer } from '../helpers/udp-sip-peer.ts';

const header = (text: string, name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(text)?.[1]?.trim() ?? '';
const headers = (text: string, name: string): string[] => [...text.matchAll(new RegExp(`^${name}:[ \\t]*(.*)$`, 'gim'))].map((m) => (m[1] ?? '').trim());

/** A callee on a raw UDP socket: answers INVITE and BYE with 200 (Record-Route echoed), notes every request. */
async function openCallee(): Promise<{ port: number; received: string[]; close(): void }> {
  const socket = dgram.createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (data, rinfo) => {
    const text = data.toString('latin1');
    if (text.startsWith('SIP/2.0')) return;
    received.push(text);
    const method = text.slice(0, text.indexOf(' '));
    if (method === 'ACK') return;
    const to = header(text, 'To');
    const answer = [
      'SIP/2.0 200 OK',
      ...headers(text, 'Via').map((v) => `Via: ${v}`),
      ...headers(text, 'Record-Route').map((v) => `Record-Route: ${v}`),
      `From: ${header(text, 'From')}`,
      `To: ${/;tag=/.test(to) ? to : `${to};tag=callee1`}`,
      `Call-ID: ${header(text, 'Call-ID')}`,
      `CSeq: ${header(text, 'CSeq')}`,
      `Contact: <sip:callee@127.0.0.1:${(socket.address() as { port: number }).port}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, received, close: () => socket.close() };
}

function request(method: string, options: { box: number; from: UdpSipPeer; target: string; callId: string; fromTag: string; toTag?: string; route?: string; cseq: number }): string {
  return [
    `${method} ${options.target} SIP/2.0`,
    `Via: SIP/2.0/UDP ${options.from.address}:${options.from.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    ...(options.route ? [`Route: ${options.route}`] : []),
    'Max-Forwards: 70',
    `From: <sip:caller@${options.from.address}>;tag=${options.fromTag}`,
    `To: <sip:callee@127.0.0.1:${options.box}>${options.toTag ? `;tag=${options.toTag}` : ''}`,
    `Call-ID: ${options.callId}`,
    `CSeq: ${options.cseq} ${method}`,
    `Contact: <sip:caller@${options.from.address}:${options.from.port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

t.test('a Route naming the box relays only requests of a dialog it record-routed, while that dialog lasts', async (t) => {
  const callee = await openCallee();
  t.teardown(() => callee.close());
  const { port } = await signalingWithApp(t, {}, (on) => {
    on('invite', (req) => {
      (req as unknown as { proxy(o: object): Promise<unknown> }).proxy({ destination: `sip:127.0.0.1:${callee.port}`, remainInDialog: true }).catch(() => undefined);
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  const caller = await UdpSipPeer.open('127.0.0.1');
  const attacker = await UdpSipPeer.open('127.0.0.66');
  t.teardown(() => {
    caller.close();
    attacker.close();
  });
  const victimTarget = `sip:victim@127.0.0.1:${callee.port}`;
  const boxRoute = `<sip:127.0.0.1:${port};lr>`;

  // Before any call: forged in-dialog requests naming the box in Route.
  const forgedBye = await attacker.request(port, request('BYE', { box: port, from: attacker, target: victimTarget, callId: 'forged-1', fromTag: 'a1', toTag: 'b1', route: boxRoute, cseq: 5 }));
  t.match(forgedBye, /^SIP\/2\.0 481 /, 'a BYE of no dialog the box record-routed: 481');
  attacker.send(port, request('ACK', { box: port, from: attacker, target: victimTarget, callId: 'forged-2', fromTag: 'a2', toTag: 'b2', route: boxRoute, cseq: 1 }));

  // The real call, record-routed.
  const answer = await caller.request(port, request('INVITE', { box: port, from: caller, target: `sip:callee@127.0.0.1:${port}`, callId: 'real-call', fromTag: 'c1', cseq: 1 }));
  t.match(answer, /^SIP\/2\.0 200 /, 'the proxied INVITE is answered');
  t.equal(headers(answer ?? '', 'Record-Route')[0], boxRoute, 'the box record-routed it');
  const toTag = /;tag=([^;\s]+)/.exec(header(answer ?? '', 'To'))?.[1] ?? '';
  const inDialog = { box: port, from: caller, target: `sip:callee@127.0.0.1:${callee.port}`, callId: 'real-call', fromTag: 'c1', toTag, route: boxRoute };
  caller.send(port, request('ACK', { ...inDialog, cseq: 1 }));
  const bye = await caller.request(port, request('BYE', { ...inDialog, cseq: 2 }));
  t.match(bye, /^SIP\/2\.0 200 /, 'the BYE through the box reaches the callee and its 200 comes back');

  // The dialog is over: a replayed BYE (new branch) relays nothing.
  const replay = await attacker.request(port, request('BYE', { ...inDialog, from: attacker, cseq: 3 }));
  t.match(replay, /^SIP\/2\.0 481 /, 'a BYE after the dialog ended: 481');

  await new Promise((r) => setTimeout(r, 300)); // (a stray relay would have arrived by now)
  const methods = callee.received.map((m) => `${m.slice(0, m.indexOf(' '))} ${header(m, 'Call-ID')}`);
  t.same(methods, ['INVITE real-call', 'ACK real-call', 'BYE real-call'], 'the callee got the real call only, each request once');
});

/** A raw connection to the application port: sends frames, reads the replies. */
async function rawApplication(t: { teardown(fn: () => unknown): void }, port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  t.teardown(() => socket.destroy());
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  socket.on('close', () => {
    closed = true;
  });
  return {
    get closed() {
      return closed;
    },
    /** Sends `msgId|tokens…` and waits (bounded) for the reply to it. */
    async ask(msgId: string, tokens: string[], sip?: string): Promise<string[]> {
      socket.write(encodeFrame([msgId, ...tokens], sip === undefined ? undefined : Buffer.from(sip)));
      for (let i = 0; i < 50; i++) {
        const reply = frames.find((f) => f.tokens[1] === 'response' && f.tokens[2] === msgId);
        if (reply) return reply.tokens.slice(3);
        await new Promise((r) => setTimeout(r, 100));
      }
      return [];
    },
  };
}

t.test('proxy is an application command: not before authentication, and only for the application the request went to', async (t) => {
  const victim = dgram.createSocket('udp4');
  const victimGot: string[] = [];
  victim.on('message', (data) => victimGot.push(data.toString('latin1')));
  await new Promise<void>((resolve) => victim.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => victim.close());
  const victimUri = `sip:127.0.0.1:${victim.address().port}`;

  let held: { id: string; answer: () => void } | undefined;
  const { service, port, secret } = await signalingWithApp(t, {}, (on) => {
    on('invite', (req, res) => {
      held = { id: (req as unknown as { stackTxnId: string }).stackTxnId, answer: () => res.send(486) };
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  const applicationPort = service.applicationPort ?? 0;

  const stranger = await rawApplication(t, applicationPort);
  const refused = await stranger.ask('1', ['proxy', 'any', '', 'fullResponse', '', 'serial', '', '', victimUri], `INVITE ${victimUri} SIP/2.0\r\n\r\n`);
  t.same(refused.slice(0, 2), ['NO', 'not authenticated'], 'before authentication: refused');
  for (let i = 0; i < 20 && !stranger.closed; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(stranger.closed, 'and the connection is closed');

  const caller = await UdpSipPeer.open('127.0.0.1');
  t.teardown(() => caller.close());
  const answer = caller.request(port, request('INVITE', { box: port, from: caller, target: `sip:callee@127.0.0.1:${port}`, callId: 'held-call', fromTag: 'h1', cseq: 1 }));
  for (let i = 0; i < 50 && !held; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(held, 'the INVITE reached the first application');

  const other = await rawApplication(t, applicationPort);
  t.equal((await other.ask('2', ['authenticate', secret, '']))[0], 'OK', 'a second application authenticates');
  const taken = await other.ask('3', ['proxy', held?.id ?? '', '', 'fullResponse', '', 'serial', '', '', victimUri], `INVITE ${victimUri} SIP/2.0\r\n\r\n`);
  t.equal(taken[0], 'NOK', "another application's request cannot be proxied");
  t.match(taken[1], /^Unknown transaction id: /);

  held?.answer();
  t.match(await answer, /^SIP\/2\.0 486 /, 'the request stayed with the application it went to');
  t.same(victimGot, [], 'nothing was sent to the destination named');
});
