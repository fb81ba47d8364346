/**
 * Attacks on the registrar's hot path in the signaling service (server/signaling/registrar/):
 * challenges and refreshes of a known binding are answered there, the rest by the SIP
 * application. From a terminal's side over loopback — sipp for real registrations and
 * refreshes, raw UDP for crafted answers: a replayed Authorization (qop and nonce count), a
 * nonce from another address, forged or of another realm, the credentials of another account,
 * a password changed a moment ago, a source locked out, a Contact that differs from the cached
 * binding, and garbage Authorization headers. Each time: what the terminal gets, what the
 * fast path counted (answered there, or sent on), and what the location service holds.
 */
import t from 'tap';
import { headerValues, registerRequest } from '../helpers/sip-socket.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp } from '../helpers/sipp.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { digestAnswerWith, UdpSipPeer } from '../helpers/udp-sip-peer.ts';

const box = await startSipBox({ registrar: { lockout: { failures: 3, windowMs: 60_000, durationMs: 60_000 } } });
t.teardown(() => box.close());
const fast = box.fastRegistrar;
if (!fast) throw new Error('the box runs without its fast registrar');
box.app.accounts.create({ number: '1001', name: 'Room East', password: 'secret-1001' }, box.realm);
box.app.accounts.create({ number: '1002', name: 'Desk West', password: 'secret-1002' }, box.realm);
box.app.accounts.create({ number: '1003', name: 'Locked', password: 'secret-1003' }, box.realm);
const target = () => `127.0.0.1:${box.port}`;
const requestUri = `sip:${box.realm}`;
const counts = () => ({ ...fast.counts });

/** The fast path knows the account's binding for this contact (the application fed it). */
const cached = (account: string, device: string) => waitFor(`${account}/${device} in the fast registrar's cache`, 5000, () => fast.cache.bindings(account).some((b) => b.contact.includes(`device=${device}`)) || undefined);

t.test('sipp: a first registration goes to the application, its refresh is answered by the signaling service', async (t) => {
  const localPort = await freePort();
  const sipp = (password: string, scenario = 'register.xml') =>
    runSipp({ scenario, target: target(), transport: 'u1', localPort, auth: ['1001', password], keys: { contact_port: String(localPort), account: '1001', expires: '300', device: 'desk' } });
  const before = counts();
  t.ok((await sipp('secret-1001')).ok, 'first registration');
  t.equal(fast.counts.challenges - before.challenges, 1, 'challenged by the signaling service');
  t.equal(fast.counts.refreshes, before.refreshes, 'the first registration was not answered on the fast path');
  await cached('1001', 'desk');
  const first = box.app.location.lookup('1001')[0];

  t.ok((await sipp('secret-1001')).ok, 'refresh');
  t.equal(fast.counts.refreshes - before.refreshes, 1, 'the refresh was answered by the signaling service');
  const refreshed = await waitFor('the refresh reported to the application', 5000, () => box.app.location.lookup('1001').find((b) => b.callId !== first?.callId));
  t.equal(box.app.location.lookup('1001').length, 1, 'still one binding');
  t.ok(refreshed.expiresAt >= (first?.expiresAt ?? 0), 'the application holds the new expiry');
  t.match(refreshed, { model: 'Yealink SIP-VC800', source: { protocol: 'udp', port: localPort } });

  // A password changed a moment ago: the old one fails at once (the application refuses, and counts it).
  box.app.accounts.setPassword('1001', 'changed-1001', box.realm);
  const refreshesBefore = fast.counts.refreshes;
  t.ok((await sipp('secret-1001', 'register-refused.xml')).ok, 'the old password is refused with 403 right after the change');
  t.equal(fast.counts.refreshes, refreshesBefore, 'not by the fast path');
  t.ok((await sipp('changed-1001')).ok, 'the new password registers');
  box.app.lockout.succeeded('127.0.0.1');

  // A Contact that differs from the cached binding (another device from the same port) goes to the application.
  const other = await runSipp({ scenario: 'register.xml', target: target(), transport: 'u1', localPort, auth: ['1001', 'changed-1001'], keys: { contact_port: String(localPort), account: '1001', expires: '300', device: 'second' } });
  t.ok(other.ok, 'a second device registers');
  t.equal(box.app.location.lookup('1001').length, 2, 'the application bound the new Contact');
  // Un-registering is the application's too.
  const gone = await runSipp({ scenario: 'register.xml', target: target(), transport: 'u1', localPort, auth: ['1001', 'changed-1001'], keys: { contact_port: String(localPort), account: '1001', expires: '0', device: 'second' } });
  t.ok(gone.ok, 'un-registered');
  t.equal(box.app.location.lookup('1001').length, 1);
  t.equal(fast.counts.refreshes, refreshesBefore + 1, 'only the refresh with the new password was answered on the fast path');
});

t.test('raw UDP: replays, foreign nonces, other accounts and garbage never get a 200 from the fast path', async (t) => {
  const peer = await UdpSipPeer.open('127.0.0.1');
  t.teardown(() => peer.close());
  let sequence = 0;
  const register = (account: string, authorization?: string, device = 'raw') => {
    sequence++;
    return registerRequest({
      transport: 'UDP',
      account,
      domain: box.realm,
      callId: `fast-${sequence}`,
      cseq: sequence,
      contact: `sip:${account}@127.0.0.1:${peer.port};device=${device}`,
      expires: 120,
      ...(authorization ? { authorization } : {}),
    }).replace('127.0.0.1:5099', `127.0.0.1:${peer.port}`);
  };
  const challenge = async (account = '1002') => {
    const answer = (await peer.request(box.port, register(account))) ?? '';
    const [value] = headerValues(answer, 'WWW-Authenticate');
    if (!value) throw new Error(`no challenge: ${answer}`);
    return value;
  };
  const answer = (value: string, password = 'secret-1002', user = '1002', nc = 1) => digestAnswerWith(value, { user, password, method: 'REGISTER', uri: requestUri, nc });

  t.match(await peer.request(box.port, register('1002', answer(await challenge()))), /^SIP\/2\.0 200 OK\r\n/, 'first registration (the application)');
  await cached('1002', 'raw');
  const authorization = answer(await challenge());
  const before = counts();
  t.match(await peer.request(box.port, register('1002', authorization)), /^SIP\/2\.0 200 OK\r\n/, 'the refresh');
  t.equal(fast.counts.refreshes - before.refreshes, 1, 'answered by the fast path');

  const replay = await peer.request(box.port, register('1002', authorization));
  t.match(replay, /^SIP\/2\.0 401 Unauthorized\r\n/, 'the same Authorization in a new request: challenged again');
  t.match(replay, /stale=true/, 'as stale (the password was right)');
  t.equal(fast.counts.refreshes - before.refreshes, 1, 'the replay was not accepted');

  // A nonce forged, of another realm, or issued to another address.
  const nonce = /nonce="([^"]+)"/.exec(await challenge())?.[1] ?? '';
  const [time, salt] = nonce.split('.');
  const forged = `Digest realm="${box.realm}", nonce="${time}.${salt}.AAAAAAAAAAAAAAAAAAAAAA", algorithm=MD5, qop="auth"`;
  const foreignRealm = `Digest realm="elsewhere.example", nonce="${nonce}", algorithm=MD5, qop="auth"`;
  for (const [name, value] of [['forged nonce', forged], ['another realm', foreignRealm]] as const) {
    const refused = await peer.request(box.port, register('1002', answer(value)));
    t.match(refused, /^SIP\/2\.0 401 Unauthorized\r\n/, `${name}: challenged again`);
    t.notMatch(refused, /stale=true/, `${name}: not as stale`);
  }
  const other = await UdpSipPeer.open('127.0.0.5');
  t.teardown(() => other.close());
  const elsewhere = await other.request(box.port, register('1002', answer(await challenge())).replaceAll(`127.0.0.1:${peer.port}`, `127.0.0.5:${other.port}`));
  t.match(elsewhere, /^SIP\/2\.0 401 Unauthorized\r\n/, 'a nonce issued to another address: challenged again');

  // The credentials of another account (right for 1001) cannot refresh 1002.
  box.app.accounts.setPassword('1001', 'secret-1001', box.realm);
  const crossed = await peer.request(box.port, register('1002', answer(await challenge(), 'secret-1001', '1001')));
  t.match(crossed, /^SIP\/2\.0 403 Forbidden - the credentials of account 1001 cannot register 1002\r\n/, 'another account: the application refuses');

  // Garbage Authorization headers: refused or challenged, never a 200, the service still answers.
  const garbage = [
    'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
    'Digest',
    `Digest username="1002", realm="${box.realm}", nonce="${'x'.repeat(4000)}", uri="${requestUri}", response="00"`,
    `Digest ${'a='.repeat(1500)}`,
    `Digest username="1002", realm="${box.realm}", nonce="${nonce}", uri="${requestUri}", response="${'0'.repeat(32)}", qop=auth, nc=zz, cnonce="x"`,
    `Digest username="1002", realm="${box.realm}", nonce="${nonce}", uri="${requestUri}", response="${'"'.repeat(300)}`,
    `Digest username="1002" realm="${box.realm}" ${'\\"'.repeat(2000)}`,
  ];
  const refreshes = fast.counts.refreshes;
  for (const value of garbage) {
    const reply = await peer.request(box.port, register('1002', value));
    t.match(reply, /^SIP\/2\.0 (401|403|400) /, `garbage answered ${String(reply).slice(8, 11)}: ${value.slice(0, 40)}…`);
  }
  t.equal(fast.counts.refreshes, refreshes, 'no garbage refreshed a binding');
  t.notOk(box.app.lockout.isLocked('127.0.0.1'), 'wrong answers against forged nonces do not lock the source out');
  box.app.lockout.succeeded('127.0.0.1');
  t.match(await peer.request(box.port, register('1002', answer(await challenge()))), /^SIP\/2\.0 200 OK\r\n/, 'the terminal still refreshes');
});

t.test('a source locked out gets no 200 and no usable challenge from the fast path', async (t) => {
  const peer = await UdpSipPeer.open('127.0.0.6');
  t.teardown(() => peer.close());
  let sequence = 0;
  const register = (authorization?: string) => {
    sequence++;
    return registerRequest({
      transport: 'UDP',
      account: '1003',
      domain: box.realm,
      callId: `locked-${sequence}`,
      cseq: sequence,
      contact: `sip:1003@127.0.0.6:${peer.port};device=locked`,
      expires: 120,
      ...(authorization ? { authorization } : {}),
    }).replaceAll('127.0.0.1:5099', `127.0.0.6:${peer.port}`);
  };
  const challenge = async () => headerValues((await peer.request(box.port, register())) ?? '', 'WWW-Authenticate')[0] ?? '';
  const answer = (value: string, password: string) => digestAnswerWith(value, { user: '1003', password, method: 'REGISTER', uri: requestUri });
  t.match(await peer.request(box.port, register(answer(await challenge(), 'secret-1003'))), /^SIP\/2\.0 200 OK\r\n/, 'registered');
  await cached('1003', 'locked');
  // A challenge taken before the lock-out, answered after it with the right password.
  const early = await challenge();
  for (let attempt = 1; attempt <= 3; attempt++) {
    t.match(await peer.request(box.port, register(answer(await challenge(), 'guess'))), /^SIP\/2\.0 403 /, `wrong password ${attempt}`);
  }
  t.ok(box.app.lockout.isLocked('127.0.0.6'), 'locked out');
  await waitFor('the lock-out fed to the signaling service', 5000, () => fast.cache.isLocked('127.0.0.6') || undefined);
  const refreshes = fast.counts.refreshes;
  t.match(await peer.request(box.port, register()), /^SIP\/2\.0 403 Too many failed authentications/, 'no challenge: refused');
  t.match(await peer.request(box.port, register(answer(early, 'secret-1003'))), /^SIP\/2\.0 403 Too many failed authentications/, 'a refresh with the right password: refused');
  t.equal(fast.counts.refreshes, refreshes, 'nothing answered on the fast path');
});

t.test('without a feed the fast path answers nothing', async (t) => {
  const stale = Date.now() + 10_000;
  t.notOk(fast.cache.live(stale), 'a cache not fed for 2 s is not used');
});
