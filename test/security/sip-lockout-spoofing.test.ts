/**
 * Finding 9, the SIP lock-out as a weapon. Forged REGISTERs "from" a terminal's address (UDP,
 * with no nonce, a made-up nonce, or a real nonce the box issued to another address) must not
 * lock that address out, nor write an audit row each; the terminal then registers. A real brute
 * force (the box's nonce for that address, wrong passwords) still locks out, once, audited. A
 * flood of failing addresses (127.0.0.x) leaves the lock-out table at its cap, and the address
 * locked out before stays locked.
 */
import t from 'tap';
import { headerValues, registerRequest } from '../helpers/sip-socket.ts';
import { runSipp } from '../helpers/sipp.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { digestAnswerWith, UdpSipPeer } from '../helpers/udp-sip-peer.ts';

const CAP = 20;
const box = await startSipBox({ registrar: { lockout: { failures: 4, windowMs: 60_000, durationMs: 60_000, maxTracked: CAP } } });
t.teardown(() => box.close());
box.app.accounts.create({ number: '1001', name: 'Room East', password: 'secret-1001' }, box.realm);
box.app.accounts.create({ number: '1002', name: 'Room West', password: 'secret-1002' }, box.realm);

const lockoutRows = () => (box.db.prepare("SELECT source FROM audit_log WHERE action = 'sip.auth.lockout'").all() as { source: string }[]).map((r) => r.source);

let sequence = 0;
/** A REGISTER of `account` from `peer` (its own address in Via and Contact). */
function register(peer: UdpSipPeer, account: string, authorization?: string): string {
  sequence++;
  return registerRequest({
    transport: 'UDP',
    account,
    domain: box.realm,
    callId: `spoof-${sequence}`,
    cseq: sequence,
    contact: `sip:${account}@${peer.address}:${peer.port}`,
    expires: 120,
    ...(authorization ? { authorization } : {}),
  }).replace('127.0.0.1:5099', `${peer.address}:${peer.port}`);
}

/** The box's challenge to `peer` (a 401 it really received). */
async function challengeFor(peer: UdpSipPeer, account: string): Promise<string> {
  const answer = await peer.request(box.port, register(peer, account));
  const challenge = headerValues(answer ?? '', 'WWW-Authenticate')[0];
  if (!challenge) throw new Error(`no challenge for ${peer.address}: ${answer}`);
  return challenge;
}

t.test('forged failures from a terminal\'s address do not lock it out; the terminal registers', async (t) => {
  const victim = '127.0.0.20';
  const forger = await UdpSipPeer.open(victim); // sends with the victim's source address, reads nothing
  const attacker = await UdpSipPeer.open('127.0.0.21'); // the attacker's own address, where it can read
  t.teardown(() => {
    forger.close();
    attacker.close();
  });
  const foreignChallenge = await challengeFor(attacker, '1001');
  const madeUp = 'Digest realm="vcbox.local", nonce="lzzzzzz.AAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB", algorithm=MD5';
  const answers = [
    // a nonce the box issued, but to another address
    digestAnswerWith(foreignChallenge, { user: '1001', password: 'guess-1', method: 'REGISTER', uri: `sip:${box.realm}` }),
    digestAnswerWith(foreignChallenge, { user: '1001', password: 'guess-2', method: 'REGISTER', uri: `sip:${box.realm}`, qop: false }),
    // a nonce the box never issued
    digestAnswerWith(madeUp.replace('vcbox.local', box.realm), { user: '1001', password: 'guess-3', method: 'REGISTER', uri: `sip:${box.realm}` }),
    // no nonce at all
    `Digest username="1001", realm="${box.realm}", uri="sip:${box.realm}", response="00000000000000000000000000000000"`,
  ];
  for (let round = 0; round < 10; round++) {
    for (const authorization of answers) forger.send(box.port, register(forger, '1001', authorization));
  }
  // The forged packets are in the box before this (one socket, sent in order; the box answers in order).
  const last = await forger.request(box.port, register(forger, '1001', answers[0]));
  t.match(last, /^SIP\/2\.0 401 /, 'a forged answer only gets a fresh challenge');
  t.notOk(box.app.lockout.isLocked(victim), `41 forged failures did not lock ${victim} out`);
  t.same(lockoutRows(), [], 'no audit row for forged packets');

  const terminal = await runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${box.port}`,
    transport: 'u1',
    localIp: victim,
    auth: ['1001', 'secret-1001'],
    keys: { contact_port: '5060', account: '1001', expires: '300', device: 'victim' },
  });
  t.ok(terminal.ok, `the real terminal at ${victim} registers\n${terminal.errors}`);
  t.match(box.app.location.lookup('1001'), [{ source: { address: victim } }]);
});

t.test('a real brute force (the box\'s nonce for that address, wrong passwords) still locks out, audited once', async (t) => {
  const guesser = await UdpSipPeer.open('127.0.0.22');
  t.teardown(() => guesser.close());
  for (let attempt = 1; attempt <= 4; attempt++) {
    const challenge = await challengeFor(guesser, '1002');
    const answer = await guesser.request(box.port, register(guesser, '1002', digestAnswerWith(challenge, { user: '1002', password: `guess-${attempt}`, method: 'REGISTER', uri: `sip:${box.realm}` })));
    t.match(answer, /^SIP\/2\.0 403 Forbidden - wrong account or password\r\n/, `guess ${attempt} refused`);
  }
  t.ok(box.app.lockout.isLocked('127.0.0.22'), 'locked out after 4 wrong passwords');
  const locked = await guesser.request(box.port, register(guesser, '1002'));
  t.match(locked, /^SIP\/2\.0 403 Too many failed authentications; try again later\r\n/, 'refused at once, even without credentials');
  t.same(lockoutRows(), ['127.0.0.22'], 'one audit row for the lock-out');
});

t.test('a flood of failing addresses leaves the table at its cap; a running lock-out is kept', async (t) => {
  const peers: UdpSipPeer[] = [];
  t.teardown(() => {
    for (const peer of peers) peer.close();
  });
  for (let n = 30; n < 30 + 3 * CAP; n++) {
    const peer = await UdpSipPeer.open(`127.0.0.${n}`);
    peers.push(peer);
    const challenge = await challengeFor(peer, '1001');
    const answer = await peer.request(box.port, register(peer, '1001', digestAnswerWith(challenge, { user: '1001', password: 'flood', method: 'REGISTER', uri: `sip:${box.realm}` })));
    t.match(answer, /^SIP\/2\.0 403 /, `127.0.0.${n} failed once`);
    t.ok(box.app.lockout.size <= CAP, `table at ${box.app.lockout.size} of ${CAP} after 127.0.0.${n}`);
  }
  t.equal(box.app.lockout.size, CAP, 'full, not beyond');
  t.ok(box.app.lockout.isLocked('127.0.0.22'), 'the brute-forcing address is still locked out');
  t.same(lockoutRows(), ['127.0.0.22'], 'single failures wrote no audit rows');
});
