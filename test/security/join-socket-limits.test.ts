/**
 * Attack: one source floods the public join WebSocket, and a page of another site tries to
 * drive it — against the real control plane and media service over loopback, each "address" a
 * client socket bound to its own 127.0.0.x. Refused in words: a page of a foreign origin (403,
 * VCBOX_ERR_JOIN_ORIGIN) while the box's own join page (its address, its static NAT address,
 * the DNS name of its certificate) and non-browser clients (no Origin) get in; the socket
 * beyond the per-address limit (an error frame VCBOX_ERR_JOIN_CONNECTIONS, then close 1008)
 * while another address still joins, and a slot comes back when a socket closes; joins beyond
 * the per-address budget a minute (VCBOX_ERR_RATE_LIMITED); joins sent together on one socket
 * (one participant); produce calls beyond one per kind (VCBOX_ERR_JOIN_PEER_LIMIT) — the media
 * service holds one producer for the flooder; a second consumer of the same producer and
 * transport connects beyond two.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { JOIN_LIMITS } from '../../server/control-plane/join-socket/join-limits.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { type JoinAnswer, JoinSocket } from '../helpers/join-socket.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Flood room', number: '880032', hostPin: '1122', guestPin: '', capacity: 100 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });
const { port } = new URL(base);

const open = async (options: { localAddress?: string; origin?: string } = {}) => {
  const opened = await JoinSocket.open(base, options);
  if (opened.ok) t.teardown(() => opened.socket.close());
  return opened;
};
const connect = async (options: { localAddress?: string; origin?: string } = {}) => {
  const opened = await open(options);
  if (!opened.ok) throw new Error(`refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  return opened.socket;
};
const join = (s: JoinSocket, name: string) => s.request('join', { number: room.number, name });

/** Opus as the media service's router takes it: a browser's microphone. */
const OPUS = {
  mid: '0',
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 11_111_111 }],
  rtcp: { cname: 'flood' },
};

t.test("a page of another origin is refused; the box's own page and a client without Origin get in", async (t) => {
  for (const origin of ['http://evil.example', `http://127.0.0.1:${Number(port) + 1}`, 'null', 'file://', `ftp://127.0.0.1:${port}`]) {
    const refused = await open({ origin });
    t.match(refused, { ok: false, status: 403, body: { code: 'VCBOX_ERR_JOIN_ORIGIN' } }, `Origin ${origin} → 403`);
    if (!refused.ok) t.match(refused.body.message, /is not this box\. Open the join page from the box's own address/, 'in words');
  }
  const own = await connect({ origin: `http://127.0.0.1:${port}` });
  t.match((await join(own, 'Own page')).result, { participantId: String }, "the box's own page joins");
  await own.request('leave');
  // Behind static NAT the page's origin is the public address and the mapped HTTP port.
  box.settings.update({ 'nat.enabled': true, 'nat.publicIp': '203.0.113.7', 'web.httpNatPort': 8080 }, { actor: 'test' });
  t.match(await open({ origin: 'http://203.0.113.7:8080' }), { ok: true }, 'the static NAT public address and HTTP mapping port are the box');
  t.match(await open({ origin: 'http://203.0.113.8:8080' }), { ok: false, status: 403 }, 'a neighbour of it is not');
  box.settings.update({ 'nat.enabled': false }, { actor: 'test' });
  t.match(await open({ origin: 'http://203.0.113.7:8080' }), { ok: false, status: 403 }, 'nor is the public address once NAT is off');
  // A box reached by a DNS name: the name its web certificate is issued for is its own.
  const dir = path.join(path.dirname(box.db.name), 'certificates');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vcbox-origin-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=vcbox.corp.example', '-addext', 'subjectAltName=DNS:vcbox.corp.example', '-keyout', path.join(scratch, 'server.key'), '-out', path.join(scratch, 'server.crt')], { stdio: 'ignore' });
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  copyFileSync(path.join(scratch, 'server.key'), path.join(dir, 'server.key'));
  copyFileSync(path.join(scratch, 'server.crt'), path.join(dir, 'server.crt'));
  t.match(await open({ origin: `http://vcbox.corp.example:${port}` }), { ok: true }, "the DNS name of the box's certificate is the box");
  t.match(await open({ origin: `http://evil.corp.example:${port}` }), { ok: false, status: 403 }, 'another name is not (a page that rebinds its own name to the box)');
  const script = await connect();
  t.match((await join(script, 'No origin')).result, { participantId: String }, 'a client without Origin joins');
  await script.request('leave');
});

t.test('a connection flood from one address is refused in words while another address joins', async (t) => {
  const flood: JoinSocket[] = [];
  for (let i = 0; i < JOIN_LIMITS.socketsPerAddress; i++) flood.push(await connect({ localAddress: '127.0.0.7' }));
  t.equal(flood.length, JOIN_LIMITS.socketsPerAddress, `${flood.length} sockets from 127.0.0.7 open`);
  // The next one is told why (the join page shows it) and closed.
  const beyond = await connect({ localAddress: '127.0.0.7' });
  const told = await beyond.answer((a) => a.id === null && a.error !== undefined);
  t.equal(told.error?.code, 'VCBOX_ERR_JOIN_CONNECTIONS', 'the next one is refused');
  t.match(told.error?.message, new RegExp(`from your address 127\\.0\\.0\\.7: at most ${JOIN_LIMITS.socketsPerAddress} at a time`), 'in words');
  t.match(await beyond.whenClosed(), { code: 1008 }, 'and closed (policy violation)');
  const other = await connect({ localAddress: '127.0.0.8' });
  t.match((await join(other, 'Other address')).result, { participantId: String }, 'another address still joins');
  await other.request('leave');
  flood[0]?.close();
  await flood[0]?.whenClosed();
  // The server counts the socket until its TCP connection is gone (bounded retries).
  let joinedAgain: JoinAnswer | undefined;
  for (let i = 0; i < 50 && !joinedAgain?.result; i++) {
    const again = await connect({ localAddress: '127.0.0.7' });
    joinedAgain = await join(again, 'In a freed slot').catch(() => undefined);
  }
  t.match(joinedAgain?.result, { participantId: String }, 'a closed socket gives its slot back: a new one joins');
  for (const s of flood) s.close();
});

t.test('joins beyond the budget a minute from one address are refused; another address joins', async (t) => {
  const s = await connect({ localAddress: '127.0.0.9' });
  let refused: JoinAnswer | undefined;
  let joins = 0;
  for (let i = 0; i < JOIN_LIMITS.joinsPerAddressPerMinute + 1 && !refused; i++) {
    const answer = await join(s, `Joiner ${i}`);
    if (answer.error) refused = answer;
    else {
      joins++;
      await s.request('leave');
    }
  }
  t.equal(joins, JOIN_LIMITS.joinsPerAddressPerMinute, `${joins} joins went through`);
  t.match(refused?.error, { code: 'VCBOX_ERR_RATE_LIMITED', message: /Too many requests from your address; wait \d+ seconds/ }, 'the next one is refused in words');
  const other = await connect({ localAddress: '127.0.0.10' });
  t.match((await join(other, 'Elsewhere')).result, { participantId: String }, 'another address joins meanwhile');
  await other.request('leave');
});

t.test('joins sent together on one socket make one participant', async (t) => {
  const s = await connect({ localAddress: '127.0.0.13' });
  const inMeeting = () => box.app.live.get(room.number)?.participants.size ?? 0;
  const before = inMeeting();
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => join(s, `Twin ${i}`)));
  t.equal(answers.filter((a) => a.result).length, 1, 'one join went through');
  t.ok(
    answers.filter((a) => a.error).every((a) => a.error?.code === 'VCBOX_ERR_JOIN_REQUEST' && /joining already|joined already/.test(a.error.message)),
    'the others are refused in words',
  );
  t.equal(inMeeting(), before + 1, 'one more participant in the meeting');
  await s.request('leave');
  t.equal(inMeeting(), before, 'and none left behind when it leaves');
});

t.test('a produce flood gets one producer per kind; the rest is refused in words', async (t) => {
  const flooder = await connect({ localAddress: '127.0.0.11' });
  const joined = await join(flooder, 'Flooder');
  const participantId = joined.result?.participantId;
  t.match(await flooder.request('produce', { kind: 'audio', rtpParameters: OPUS }), { result: { id: String } }, 'the first microphone is taken');
  const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => flooder.request('produce', { kind: 'audio', rtpParameters: { ...OPUS, mid: String(100 + i), encodings: [{ ssrc: 20_000_000 + i }] } })));
  t.equal(flood.filter((a) => a.result).length, 0, 'none of 50 more produce calls made a producer');
  t.match(flood[0]?.error, { code: 'VCBOX_ERR_JOIN_PEER_LIMIT', message: /already has 1 audio producers, the most one participant may have is 1/ }, 'each is refused in words');

  const watcher = await connect({ localAddress: '127.0.0.12' });
  const seen = (await join(watcher, 'Watcher')).result as { producers: { producerId: string; participantId: string }[]; recv: unknown } | undefined;
  const ofFlooder = seen?.producers.filter((p) => p.participantId === participantId) ?? [];
  t.equal(ofFlooder.length, 1, 'the media service holds one producer of the flooder');
  const producerId = ofFlooder[0]?.producerId;
  const capabilities = { codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111, parameters: {}, rtcpFeedback: [] }], headerExtensions: [] };
  t.match(await watcher.request('consume', { producerId, rtpCapabilities: capabilities }), { result: { id: String } }, 'another participant consumes it');
  t.match(await watcher.request('consume', { producerId, rtpCapabilities: capabilities }), { error: { code: 'VCBOX_ERR_JOIN_PEER_LIMIT', message: /consumers of producer/ } }, 'a second consumer of the same producer is refused');
  const dtls = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:'.repeat(31).concat('AA') }] };
  const transports = joined.result as { send: { id: string }; recv: { id: string } };
  const connects = await Promise.all([transports.send.id, transports.recv.id, transports.send.id, transports.recv.id].map((transportId) => flooder.request('connectTransport', { transportId, dtlsParameters: dtls })));
  // Each request takes its slot as it arrives: the third and fourth find both taken.
  t.match(
    connects.slice(2).map((a) => a.error?.code),
    ['VCBOX_ERR_JOIN_PEER_LIMIT', 'VCBOX_ERR_JOIN_PEER_LIMIT'],
    `transport connects beyond two are refused (${connects.map((a) => a.error?.code ?? 'ok').join(', ')})`,
  );
  await flooder.request('leave');
  await watcher.request('leave');
});
