/** Server-side digest checks: right and wrong answers, MD5 and SHA-256, replayed nonce counts, stale nonces. */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ha1 } from '../../server/accounts/account-store.ts';
import { DigestAuthenticator } from '../../server/sip-app/registrar/digest-auth.ts';
import { digestAnswer } from '../helpers/sip-socket.ts';

const credentials = { ha1Md5: ha1('MD5', '1001', 'vcbox.local', 'pw-1001'), ha1Sha256: ha1('SHA-256', '1001', 'vcbox.local', 'pw-1001') };
const lookup = (user: string) => (user === '1001' ? credentials : undefined);

t.test('answers are checked for both algorithms; a replayed nonce count is refused', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32) });
  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    const challenge = digest.challenges('vcbox.local', [algorithm])[0] ?? '';
    const answer = digestAnswer(challenge, '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local');
    t.match(digest.verify(answer, 'REGISTER', 'vcbox.local', lookup), { outcome: 'ok', username: '1001' });
    t.match(digest.verify(answer, 'REGISTER', 'vcbox.local', lookup), { outcome: 'failed', reason: 'nonce count replayed' }, 'the same nc again');
    t.match(digest.verify(answer.replace('nc=00000001', 'nc=00000002'), 'REGISTER', 'vcbox.local', lookup), { outcome: 'failed', reason: 'wrong password' }, 'nc is part of the hash');
  }
  const wrong = digestAnswer(digest.challenges('vcbox.local', ['MD5'])[0] ?? '', '1001', 'nope', 'REGISTER', 'sip:vcbox.local');
  t.match(digest.verify(wrong, 'REGISTER', 'vcbox.local', lookup), { outcome: 'failed', reason: 'wrong password' });
  const forged = digestAnswer('Digest realm="vcbox.local", nonce="lzzz.abc.def", algorithm=MD5', '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local');
  t.match(digest.verify(forged, 'REGISTER', 'vcbox.local', lookup), { outcome: 'failed', reason: /not issued by this server/ });
});

t.test('a nonce past its lifetime is stale (the terminal retries without asking the user)', async (t) => {
  const digest = new DigestAuthenticator({ secret: randomBytes(32), nonceLifetimeMs: 30 });
  const answer = digestAnswer(digest.challenges('vcbox.local', ['MD5'])[0] ?? '', '1001', 'pw-1001', 'REGISTER', 'sip:vcbox.local');
  await new Promise((r) => setTimeout(r, 60));
  t.match(digest.verify(answer, 'REGISTER', 'vcbox.local', lookup), { outcome: 'stale', username: '1001' });
  t.match(digest.challenges('vcbox.local', ['MD5'], true)[0], /stale=true/);
});
