/**
 * Server-side digest checks: right and wrong answers, MD5 and SHA-256, only the accepted
 * algorithms, the signed uri against the Request-URI, nonces bound to the address they were
 * issued to, replays (nonce count with qop, single use without), stale nonces.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ha1 } from '../../server/accounts/account-store.ts';
import { DigestAuthenticator } from '../../server/sip-app/registrar/digest-auth.ts';
import { digestAnswer } from '../helpers/sip-socket.ts';
import { digestAnswerWith } from '../helpers/udp-sip-peer.ts';

const credentials = { ha1Md5: ha1('MD5', '1001', 'vcbox.local', 'pw-1001'), ha1Sha256: ha1('SHA-256', '1001', 'vcbox.local', 'pw-1001') };
const lookup = (user: string) => (user === '1001' ? credentials : undefined);
const BOTH = ['MD5', 'SHA-256'] as const;
const request = { method: 'REGISTER', uri: 'sip:vcbox.local', source: '192.0.2.10' };

t.test('answers are checked for both algorithms; a replayed nonce count asks again (stale)', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32) });
  for (const algorithm of BOTH) {
    const challenge = digest.challenges('vcbox.local', [algorithm], request.source)[0] ?? '';
    const answer = digestAnswer(challenge, '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local');
    t.match(digest.verify(answer, request, 'vcbox.local', BOTH, lookup), { outcome: 'ok', username: '1001', algorithm });
    t.match(digest.verify(answer, request, 'vcbox.local', BOTH, lookup), { outcome: 'challenge', stale: true, reason: 'nonce count replayed' }, 'the same nc again');
    t.match(digest.verify(answer.replace('nc=00000001', 'nc=00000002'), request, 'vcbox.local', BOTH, lookup), { outcome: 'failed', reason: 'wrong password' }, 'nc is part of the hash');
  }
  const wrong = digestAnswer(digest.challenges('vcbox.local', ['MD5'], request.source)[0] ?? '', '1001', 'nope', 'REGISTER', 'sip:vcbox.local');
  t.match(digest.verify(wrong, request, 'vcbox.local', BOTH, lookup), { outcome: 'failed', reason: 'wrong password' });
  const forged = digestAnswer('Digest realm="vcbox.local", nonce="lzzz.abc.def", algorithm=MD5', '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local');
  t.match(digest.verify(forged, request, 'vcbox.local', BOTH, lookup), { outcome: 'challenge', stale: false, reason: /not issued to this address/ });
});

t.test('a nonce issued to one address is no good from another (and a wrong guess with it does not count)', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32) });
  const challenge = digest.challenges('vcbox.local', ['MD5'], '192.0.2.10')[0] ?? '';
  const elsewhere = { ...request, source: '192.0.2.99' };
  t.match(digest.verify(digestAnswer(challenge, '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local'), elsewhere, 'vcbox.local', BOTH, lookup), { outcome: 'challenge', stale: false });
  t.match(digest.verify(digestAnswer(challenge, '1001', 'guess', 'REGISTER', 'sip:vcbox.local'), elsewhere, 'vcbox.local', BOTH, lookup), { outcome: 'challenge' }, 'not "failed": nothing counts');
  t.match(digest.verify(digestAnswer(challenge, '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local'), request, 'vcbox.local', BOTH, lookup), { outcome: 'ok' }, 'from its own address it works');
});

t.test('only the accepted algorithms; the uri must be the Request-URI; unknown qop refused', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32) });
  const challenge = digest.challenges('vcbox.local', ['MD5'], request.source)[0] ?? '';
  const sha = digestAnswerWith(challenge, { user: '1001', password: 'pw-1001', method: 'REGISTER', uri: 'sip:vcbox.local', algorithm: 'SHA-256' });
  t.match(digest.verify(sha, request, 'vcbox.local', ['MD5'], lookup), { outcome: 'refused', reason: 'digest algorithm SHA-256 is not accepted here; use MD5' });
  t.match(digest.verify(sha, request, 'vcbox.local', BOTH, lookup), { outcome: 'ok', algorithm: 'SHA-256' }, 'accepted when configured');
  const other = digestAnswerWith(challenge, { user: '1001', password: 'pw-1001', method: 'REGISTER', uri: 'sip:elsewhere.example' });
  t.match(digest.verify(other, request, 'vcbox.local', BOTH, lookup), { outcome: 'refused', reason: /not the Request-URI/ });
  const sameResource = digestAnswerWith(challenge, { user: '1001', password: 'pw-1001', method: 'REGISTER', uri: 'sip:VCBOX.local', nc: 2 });
  t.match(digest.verify(sameResource, request, 'vcbox.local', BOTH, lookup), { outcome: 'ok' }, 'the host compared without letter case');
  const authInt = digestAnswer(challenge, '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local').replace('qop=auth', 'qop=auth-int');
  t.match(digest.verify(authInt, request, 'vcbox.local', BOTH, lookup), { outcome: 'refused', reason: /qop auth-int is not supported/ });
});

t.test('without qop a nonce is good for one request', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32) });
  const challenge = digest.challenges('vcbox.local', ['MD5'], request.source)[0] ?? '';
  const answer = digestAnswerWith(challenge, { user: '1001', password: 'pw-1001', method: 'REGISTER', uri: 'sip:vcbox.local', qop: false });
  t.match(digest.verify(answer, request, 'vcbox.local', BOTH, lookup), { outcome: 'ok' });
  t.match(digest.verify(answer, request, 'vcbox.local', BOTH, lookup), { outcome: 'challenge', stale: true, reason: /used before/ });
  const withQop = digestAnswerWith(challenge, { user: '1001', password: 'pw-1001', method: 'REGISTER', uri: 'sip:vcbox.local' });
  t.match(digest.verify(withQop, request, 'vcbox.local', BOTH, lookup), { outcome: 'challenge', stale: true }, 'nor with qop afterwards');
});

t.test('a nonce past its lifetime is stale (the terminal retries without asking the user)', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32), nonceLifetimeMs: 30 });
  const answer = digestAnswer(digest.challenges('vcbox.local', ['MD5'], request.source)[0] ?? '', '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local');
  const wrong = digestAnswer(digest.challenges('vcbox.local', ['MD5'], request.source)[0] ?? '', '1001', 'guess', 'REGISTER', 'sip:vcbox.local');
  await new Promise((r) => setTimeout(r, 60));
  t.match(digest.verify(answer, request, 'vcbox.local', BOTH, lookup), { outcome: 'challenge', stale: true, username: '1001' });
  t.match(digest.verify(wrong, request, 'vcbox.local', BOTH, lookup), { outcome: 'failed' }, 'a wrong guess on an old nonce still counts (stale=true would tell it was right)');
  t.match(digest.challenges('vcbox.local', ['MD5'], request.source, true)[0], /stale=true/);
});
