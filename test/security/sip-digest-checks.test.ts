/**
 * Findings 12 and 14, digest authentication from a terminal's side (raw UDP REGISTERs): the box
 * challenges with MD5 alone by default (terminals that read one challenge, libre-based ones
 * that fail beside SHA-256); an answer in an algorithm not configured is refused, and accepted
 * once an administrator opts in to SHA-256; an answer whose signed `uri` is not the
 * Request-URI is refused; an Authorization replayed in a new request — without qop (same
 * nonce) or with qop (same nonce count) — is refused with a fresh `stale=true` challenge.
 */
import t from 'tap';
import { headerValues, registerRequest } from '../helpers/sip-socket.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { digestAnswerWith, UdpSipPeer } from '../helpers/udp-sip-peer.ts';

const box = await startSipBox();
t.teardown(() => box.close());
box.app.accounts.create({ number: '1001', name: 'Room East', password: 'secret-1001' }, box.realm);
const peer = await UdpSipPeer.open('127.0.0.1');
t.teardown(() => peer.close());
const requestUri = `sip:${box.realm}`;

let sequence = 0;
function register(device: string, authorization?: string): string {
  sequence++;
  return registerRequest({
    transport: 'UDP',
    account: '1001',
    domain: box.realm,
    callId: `digest-${sequence}`,
    cseq: sequence,
    contact: `sip:1001@127.0.0.1:${peer.port};device=${device}`,
    expires: 120,
    ...(authorization ? { authorization } : {}),
  }).replace('127.0.0.1:5099', `127.0.0.1:${peer.port}`);
}

async function challenge(): Promise<string[]> {
  const answer = (await peer.request(box.port, register('challenge'))) ?? '';
  const challenges = headerValues(answer, 'WWW-Authenticate');
  if (challenges.length === 0) throw new Error(`no challenge: ${answer}`);
  return challenges;
}

const bound = (device: string) => box.app.location.lookup('1001').some((b) => b.contact.includes(`device=${device}`));

t.test('MD5 alone is offered by default', async (t) => {
  const challenges = await challenge();
  t.equal(challenges.length, 1, 'one challenge');
  t.match(challenges[0], /algorithm=MD5/);
  t.equal(box.settings.get('sip.digestAlgorithms'), 'MD5');
});

t.test('an answer in an algorithm not configured is refused; accepted once SHA-256 is opted in', async (t) => {
  const [md5] = await challenge();
  const sha = digestAnswerWith(md5 ?? '', { user: '1001', password: 'secret-1001', method: 'REGISTER', uri: requestUri, algorithm: 'SHA-256' });
  const refused = await peer.request(box.port, register('sha-refused', sha));
  t.match(refused, /^SIP\/2\.0 403 Forbidden - digest algorithm SHA-256 is not accepted here; use MD5\r\n/, 'refused, saying what to use');
  t.notOk(bound('sha-refused'));

  box.settings.update({ 'sip.digestAlgorithms': 'SHA-256,MD5' }, { actor: 'test' });
  t.teardown(() => box.settings.update({ 'sip.digestAlgorithms': 'MD5' }, { actor: 'test' }));
  const offered = await challenge();
  t.same(offered.map((c) => /algorithm=([^,\s]+)/.exec(c)?.[1]), ['SHA-256', 'MD5'], 'both offered, SHA-256 first');
  const accepted = await peer.request(box.port, register('sha-ok', digestAnswerWith(offered[0] ?? '', { user: '1001', password: 'secret-1001', method: 'REGISTER', uri: requestUri })));
  t.match(accepted, /^SIP\/2\.0 200 OK\r\n/, 'SHA-256 accepted when configured');
  t.ok(bound('sha-ok'));
});

t.test('a digest uri other than the Request-URI is refused', async (t) => {
  const [md5] = await challenge();
  const elsewhere = digestAnswerWith(md5 ?? '', { user: '1001', password: 'secret-1001', method: 'REGISTER', uri: 'sip:other.example' });
  const refused = await peer.request(box.port, register('uri-refused', elsewhere));
  t.match(refused, /^SIP\/2\.0 403 Forbidden - the digest uri sip:other\.example is not the Request-URI sip:/, 'refused, naming both');
  t.notOk(bound('uri-refused'));
  t.notOk(box.app.lockout.isLocked('127.0.0.1'));
});

t.test('an Authorization replayed without qop (same nonce) is refused with a fresh stale challenge', async (t) => {
  const [md5] = await challenge();
  const once = digestAnswerWith(md5 ?? '', { user: '1001', password: 'secret-1001', method: 'REGISTER', uri: requestUri, qop: false });
  t.match(await peer.request(box.port, register('no-qop-first', once)), /^SIP\/2\.0 200 OK\r\n/, 'the first use registers');
  const replay = await peer.request(box.port, register('no-qop-replay', once));
  t.match(replay, /^SIP\/2\.0 401 /, 'the replay is not accepted');
  t.match(headerValues(replay ?? '', 'WWW-Authenticate')[0], /stale=true/, 'the terminal is told to retry with the fresh nonce');
  t.notOk(bound('no-qop-replay'), 'the replayed request bound nothing');
  t.ok(bound('no-qop-first'));
});

t.test('an Authorization replayed with qop (same nonce count) is refused with a fresh stale challenge', async (t) => {
  const [md5] = await challenge();
  const once = digestAnswerWith(md5 ?? '', { user: '1001', password: 'secret-1001', method: 'REGISTER', uri: requestUri });
  t.match(await peer.request(box.port, register('qop-first', once)), /^SIP\/2\.0 200 OK\r\n/);
  const replay = await peer.request(box.port, register('qop-replay', once));
  t.match(replay, /^SIP\/2\.0 401 /);
  t.match(headerValues(replay ?? '', 'WWW-Authenticate')[0], /stale=true/);
  t.notOk(bound('qop-replay'));
  const next = digestAnswerWith(md5 ?? '', { user: '1001', password: 'secret-1001', method: 'REGISTER', uri: requestUri, nc: 2 });
  t.match(await peer.request(box.port, register('qop-next', next)), /^SIP\/2\.0 200 OK\r\n/, 'the next nonce count is fine');
});
