/**
 * Finding 6, SMTP password exfiltration: "send test mail" must not hand the stored SMTP password
 * to a server the request names. An administrator's session (or a forged request riding one)
 * points the test at an SMTP server the attacker runs on the LAN — here a real smtp-server on
 * loopback that records every AUTH it is offered — changing the server, the port, the security
 * or the user, without typing a password: the request is refused in words and the attacker's
 * server never sees an AUTH with the stored password (nor a connection at all). With the stored
 * server the test mail still works; with another server and a typed password it still works.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const STORED_PASSWORD = 'stored-smtp-secret-7f3a';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sec-smtp-'));
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
const base = await startConsoleApi(t, { state });
const admin = new ConsoleClient(base);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());

// The box's real mail server, and the attacker's: it accepts any login and writes down what it got.
const real = await startSmtpSink({ user: 'mailer', password: STORED_PASSWORD });
const attacker = await startSmtpSink({ user: 'mailer', password: 'typed-for-this-test' });
t.teardown(() => Promise.all([real.close(), attacker.close()]));

t.equal(
  (
    await admin.call('PATCH', '/api/v1/settings', {
      'smtp.server': '127.0.0.1',
      'smtp.port': real.port,
      'smtp.security': 'none',
      'smtp.sender': 'box@vcbox.local',
      'smtp.user': 'mailer',
      'smtp.password': STORED_PASSWORD,
    })
  ).status,
  200,
);

t.test('a test pointed at another server without a password is refused; the stored password never reaches it', async (t) => {
  const overrides: Record<string, unknown>[] = [
    { port: attacker.port },
    { server: 'localhost', port: attacker.port },
    { port: attacker.port, security: 'none', password: '(set)' },
    { port: attacker.port, user: 'someone-else' },
  ];
  for (const override of overrides) {
    const answer = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', ...override });
    t.equal(answer.status, 400, JSON.stringify(override));
    t.match(answer.body, { code: 'VCBOX_ERR_SMTP_PASSWORD_NEEDED', field: 'password', message: /^Type the password to test another server: .*Nothing was sent\./ }, JSON.stringify(override));
    t.notMatch(JSON.stringify(answer.body), new RegExp(STORED_PASSWORD), 'the answer does not hold the password');
  }
  // The stored server with another security: the password could go out in clear or elsewhere, refused too.
  const security = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', security: 'tls' });
  t.match(security.body, { code: 'VCBOX_ERR_SMTP_PASSWORD_NEEDED', message: /security/ });
  t.same(attacker.auths, [], 'the attacker\'s server was offered no login at all');
  t.same(attacker.mails, [], 'and got no mail');
  const audited = state.db.prepare("SELECT detail FROM audit_log WHERE action = 'smtp.test'").all() as { detail: string }[];
  t.ok(audited.length >= overrides.length + 1 && audited.every((row) => JSON.parse(row.detail).result === 'VCBOX_ERR_SMTP_PASSWORD_NEEDED'), 'each refused try is in the operation log');
  t.notMatch(JSON.stringify(audited), new RegExp(STORED_PASSWORD), 'without the password');
});

t.test('the stored server still gets the stored password; another server gets only a typed one', async (t) => {
  const arrived = real.next();
  const stored = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com' });
  t.equal(stored.status, 200, JSON.stringify(stored.body));
  await arrived;
  t.same(real.auths.at(-1), { username: 'mailer', password: STORED_PASSWORD }, 'the stored server was logged in to');
  const same = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', server: '127.0.0.1', port: real.port, security: 'none', user: 'mailer' });
  t.equal(same.status, 200, 'the stored values typed again are no override');

  const typed = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', port: attacker.port, password: 'typed-for-this-test' });
  t.equal(typed.status, 200, JSON.stringify(typed.body));
  t.same(attacker.auths, [{ username: 'mailer', password: 'typed-for-this-test' }], 'the other server got the typed password, never the stored one');
});
