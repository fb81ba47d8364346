/**
 * Terminals register with digest authentication, from a SIP peer's side: sipp over UDP and TCP
 * (MD5), a TLS client with SHA-256, wrong passwords, the five-device limit, un-registration,
 * and the lock-out of a source that keeps failing.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { connectTcp, connectTls, digestAnswer, headerValues, registerRequest, streamExchange } from '../helpers/sip-socket.ts';
import { runSipp } from '../helpers/sipp.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ registrar: { lockout: { failures: 4, windowMs: 60_000, durationMs: 60_000 } } });
t.teardown(() => box.close());
box.app.accounts.create({ number: '1001', name: 'Room East', password: 'secret-1001' }, box.realm);
box.app.accounts.create({ number: '1002', name: 'Desk West', password: 'secret-1002' }, box.realm);
box.app.accounts.create({ number: '1003', name: 'Six devices', password: 'secret-1003' }, box.realm);

const target = () => `127.0.0.1:${box.port}`;

t.test('REGISTER with MD5 digest over UDP and TCP', async (t) => {
  for (const transport of ['u1', 't1'] as const) {
    const result = await runSipp({
      scenario: 'register.xml',
      target: target(),
      transport,
      auth: ['1001', 'secret-1001'],
      keys: { contact_port: '5060', account: '1001', expires: '300', device: transport },
    });
    t.ok(result.ok, `${transport}: registered (exit ${result.exitCode})\n${result.errors}`);
  }
  const bindings = box.app.location.lookup('1001');
  t.equal(bindings.length, 2, 'one binding per transport');
  t.same(bindings.map((b) => b.source.protocol).sort(), ['tcp', 'udp']);
  t.match(bindings[0], { model: 'Yealink SIP-VC800', version: '63.345.0.10', source: { address: '127.0.0.1' } });
  const remaining = ((bindings[0]?.expiresAt ?? 0) - Date.now()) / 1000;
  t.ok(remaining > 290 && remaining <= 300, `expiry honoured (${remaining.toFixed(0)} s left)`);
});

t.test('wrong password is refused with 403 and binds nothing', async (t) => {
  const result = await runSipp({
    scenario: 'register-refused.xml',
    target: target(),
    transport: 'u1',
    auth: ['1002', 'not-the-password'],
    keys: { contact_port: '5060', account: '1002', expires: '300', device: 'x' },
  });
  t.ok(result.ok, `403 received (exit ${result.exitCode})\n${result.errors}`);
  t.same(box.app.location.lookup('1002'), []);
});

t.test('five devices per account; the sixth gets a clear rejection', async (t) => {
  for (let device = 1; device <= 5; device++) {
    const result = await runSipp({
      scenario: 'register.xml',
      target: target(),
      transport: 'u1',
      auth: ['1003', 'secret-1003'],
      keys: { contact_port: '5060', account: '1003', expires: '300', device: `d${device}` },
    });
    t.ok(result.ok, `device ${device} registered\n${result.errors}`);
  }
  const sixth = await runSipp({
    scenario: 'register-refused.xml',
    target: target(),
    transport: 'u1',
    auth: ['1003', 'secret-1003'],
    keys: { contact_port: '5060', account: '1003', expires: '300', device: 'd6' },
  });
  t.ok(sixth.ok, `sixth refused with 403\n${sixth.errors}`);
  t.match(sixth.messages, /SIP\/2\.0 403 Forbidden - at most 5 devices may register to one account/);
  t.equal(box.app.location.lookup('1003').length, 5);

  const refresh = await runSipp({
    scenario: 'register.xml',
    target: target(),
    transport: 'u1',
    auth: ['1003', 'secret-1003'],
    keys: { contact_port: '5060', account: '1003', expires: '600', device: 'd3' },
  });
  t.ok(refresh.ok, 'a registered device may still refresh');
});

t.test('un-register with Expires: 0', async (t) => {
  const before = box.app.location.lookup('1003').length;
  const result = await runSipp({
    scenario: 'register.xml',
    target: target(),
    transport: 'u1',
    auth: ['1003', 'secret-1003'],
    keys: { contact_port: '5060', account: '1003', expires: '0', device: 'd2' },
  });
  t.ok(result.ok, `un-registered\n${result.errors}`);
  t.equal(box.app.location.lookup('1003').length, before - 1);
  t.notOk(box.app.location.lookup('1003').some((b) => b.contact.includes('device=d2')));
});

t.test('REGISTER over TLS answering the SHA-256 challenge; challenge order follows the setting', async (t) => {
  // SHA-256 is an opt-in (the default offers MD5 alone): an administrator offers both.
  box.settings.update({ 'sip.digestAlgorithms': 'MD5,SHA-256' }, { actor: 'test' });
  const socket = await connectTls(box.tlsPort, box.cert);
  t.teardown(() => socket.destroy());
  const base = { transport: 'TLS' as const, account: '1002', domain: box.realm, callId: 'tls-sha256', contact: 'sips:1002@127.0.0.1:5099', expires: 120 };
  const first = await streamExchange(socket, registerRequest({ ...base, cseq: 1 }), /\r\n\r\n/);
  t.match(first.received, /^SIP\/2\.0 401 Unauthorized\r\n/);
  const challenges = headerValues(first.received, 'WWW-Authenticate');
  t.equal(challenges.length, 2, 'one challenge per algorithm, each on its own header line');
  t.match(challenges[0], /algorithm=MD5/, 'MD5 first as configured (terminals that read only the first)');
  t.match(challenges[1], /algorithm=SHA-256/);
  const authorization = digestAnswer(challenges[1] ?? '', '1002', 'secret-1002', 'REGISTER', `sip:${box.realm}`);
  const second = await streamExchange(socket, registerRequest({ ...base, cseq: 2, authorization }), /\r\n\r\n/);
  t.match(second.received, /^SIP\/2\.0 200 OK\r\n/);
  t.match(second.received, /\r\nContact: <sips:1002@127\.0\.0\.1:5099>;expires=12\d\r\n/);
  t.match(box.app.location.lookup('1002'), [{ source: { protocol: 'tls' }, model: 'vcbox-test-terminal', version: '1.0' }]);

  box.settings.update({ 'sip.digestAlgorithms': 'SHA-256' }, { actor: 'test' });
  const third = await streamExchange(socket, registerRequest({ ...base, callId: 'tls-only', cseq: 1 }), /\r\n\r\n/);
  t.same(headerValues(third.received, 'WWW-Authenticate').map((c) => /algorithm=(\S+?),/.exec(c)?.[1]), ['SHA-256']);
  box.settings.update({ 'sip.digestAlgorithms': 'MD5' }, { actor: 'test' });
});

t.test('a source that keeps failing is locked out, and the audit log says so', async (t) => {
  // From 127.0.0.9, so the lock-out cannot touch the other tests' 127.0.0.1.
  const socket = await connectTcp(box.port, '127.0.0.9');
  t.teardown(() => socket.destroy());
  const base = { transport: 'TCP' as const, account: '1001', domain: box.realm, contact: 'sip:1001@127.0.0.9:5099', expires: 120 };
  for (let attempt = 1; attempt <= 4; attempt++) {
    const callId = `lock-${attempt}`;
    const challenge = await streamExchange(socket, registerRequest({ ...base, callId, cseq: 1 }), /\r\n\r\n/);
    const md5 = headerValues(challenge.received, 'WWW-Authenticate')[0] ?? '';
    const authorization = digestAnswer(md5, '1001', 'guessing', 'REGISTER', `sip:${box.realm}`);
    const answer = await streamExchange(socket, registerRequest({ ...base, callId, cseq: 2, authorization }), /\r\n\r\n/);
    t.match(answer.received, /^SIP\/2\.0 403 Forbidden - wrong account or password\r\n/, `attempt ${attempt} refused`);
  }
  const locked = await streamExchange(socket, registerRequest({ ...base, callId: 'lock-5', cseq: 1 }), /\r\n\r\n/);
  t.match(locked.received, /^SIP\/2\.0 403 Too many failed authentications; try again later\r\n/, 'even the unauthenticated REGISTER is refused now');
  const audit = box.db.prepare("SELECT actor, source, detail FROM audit_log WHERE action = 'sip.auth.lockout'").all() as { source: string; detail: string }[];
  t.equal(audit.length, 1);
  t.match(audit[0], { actor: 'system', source: '127.0.0.9' });
  t.match(JSON.parse(audit[0]?.detail ?? '{}'), { account: '1001', method: 'REGISTER', failures: 4 });

  const other = await runSipp({ scenario: 'register.xml', target: target(), transport: 'u1', auth: ['1001', 'secret-1001'], keys: { contact_port: '5060', account: '1001', expires: '300', device: 'after-lockout' } });
  t.ok(other.ok, 'other sources are not affected');
});

t.test('terminal logs: with the setting on, each terminal IP gets its REGISTER traffic in a file', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-terminal-logs-'));
  const logged = await startSipBox({ terminalLogDir: dir });
  t.teardown(() => logged.close());
  logged.app.accounts.create({ number: '1001', name: 'Room East', password: 'secret-1001' }, logged.realm);
  const result = await runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${logged.port}`,
    transport: 'u1',
    auth: ['1001', 'secret-1001'],
    keys: { contact_port: '5060', account: '1001', expires: '300', device: 'logged' },
  });
  t.ok(result.ok, 'registered');
  await logged.service.flushTerminalLogs();
  t.same(readdirSync(dir), ['127.0.0.1.log']);
  const text = readFileSync(path.join(dir, '127.0.0.1.log'), 'utf8');
  t.equal((text.match(/^REGISTER sip:vcbox\.local SIP\/2\.0$/gm) ?? []).length, 2, 'both REGISTERs');
  t.match(text, /^SIP\/2\.0 401 Unauthorized$/m);
  t.match(text, /^SIP\/2\.0 200 OK$/m);
  t.match(text, /User-Agent: Yealink SIP-VC800/);
});
