/**
 * The stateful proxy as an open relay: with Record-Route the box proxies in-dialog requests
 * that name it in their top Route, without asking the application. A LAN attacker must not be
 * able to use that to reach anyone: a Route naming the box on a request of a dialog the box did
 * not record-route (made-up Call-ID and tags, BYE or ACK) gets 481 or nothing, and the would-be
 * victim receives nothing; once the real dialog ended with its BYE, a replayed BYE is refused
 * too. The real call (raw UDP caller and callee on loopback, a drachtio-srf application asking
 * for the proxying) goes through meanwhile.
 */
import dgram from 'node:dgram';
import t from 'tap';
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
