/**
 * "Send test mail" from the admin's side: POST /api/v1/settings/smtp/test against real SMTP
 * servers (npm smtp-server) on loopback — plain, SSL (implicit TLS) and STARTTLS, each with a
 * login — with the stored settings or with settings typed but not saved; and the failures an
 * admin meets (nothing on that port, login refused, a certificate the box does not trust),
 * each answered in words: which server, what went wrong, what to do. Every try is audited.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { freePort } from '../helpers/ports.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-smtp-test-'));
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
const base = await startConsoleApi(t, { state });
const admin = new ConsoleClient(base);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());

// The mail servers' certificate: self-signed (the box's own generator), 127.0.0.1 in its names.
const certificate = await ensureCertificate(path.join(dataDir, 'mail-server-certificate'));
const login = { user: 'mailer', password: 'smtp-secret' };
const plain = await startSmtpSink(login);
const ssl = await startSmtpSink({ ...login, tls: certificate, implicitTls: true });
const starttls = await startSmtpSink({ ...login, tls: certificate });
t.teardown(() => Promise.all([plain.close(), ssl.close(), starttls.close()]));

const stored = {
  'smtp.server': '127.0.0.1',
  'smtp.port': plain.port,
  'smtp.security': 'none',
  'smtp.sender': 'box@vcbox.local',
  'smtp.user': login.user,
  'smtp.password': login.password,
};
t.equal((await admin.call('PATCH', '/api/v1/settings', stored)).status, 200);

function auditedTests(): { detail: string }[] {
  return state.db.prepare("SELECT detail FROM audit_log WHERE action = 'smtp.test' ORDER BY id").all() as { detail: string }[];
}

t.test('plain SMTP with the stored settings: the mail arrives, the answer says who took it', async (t) => {
  const arrived = plain.next();
  const { status, body } = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'Ops@Example.com' });
  t.equal(status, 200, JSON.stringify(body));
  t.match(body, { sent: true, server: `127.0.0.1:${plain.port}`, security: 'none', response: /^250/, message: /accepted the test mail to Ops@Example\.com/ });
  const mail = await arrived;
  t.same(mail.to.map((address) => address.toLowerCase()), ['ops@example.com']);
  t.equal(mail.from, 'box@vcbox.local');
  t.equal(mail.secure, false);
  t.match(mail.decoded, /Subject: =\?UTF-8\?Q\?vcbox_test_mail/);
  t.match(mail.decoded, /the SMTP settings work/);
  t.match(JSON.parse(auditedTests().at(-1)?.detail ?? '{}'), { to: 'Ops@Example.com', server: `127.0.0.1:${plain.port}`, result: 'sent', unsaved: [] });
});

t.test('SSL (implicit TLS), settings typed but not saved, CA of the server trusted', async (t) => {
  await admin.call('PATCH', '/api/v1/settings', { 'tls.trustedCertificates': certificate.cert.toString() });
  const arrived = ssl.next();
  // Another port and security: the password is typed again (the stored one goes only to the stored server).
  const { status, body } = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', port: ssl.port, security: 'ssl', password: login.password });
  t.equal(status, 200, JSON.stringify(body));
  t.match(body, { sent: true, server: `127.0.0.1:${ssl.port}`, security: 'ssl', message: /\(SSL\) accepted/ });
  t.equal((await arrived).secure, true, 'the mail came over TLS');
  t.equal(state.settings.get('smtp.port'), plain.port, 'a test changes no stored setting');
  t.match(JSON.parse(auditedTests().at(-1)?.detail ?? '{}'), { security: 'ssl', unsaved: ['smtp.port', 'smtp.security', 'smtp.password'], result: 'sent' });
});

t.test('STARTTLS', async (t) => {
  const arrived = starttls.next();
  const { status, body } = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', port: starttls.port, security: 'tls', password: login.password });
  t.equal(status, 200, JSON.stringify(body));
  t.match(body, { security: 'tls', message: /\(STARTTLS\) accepted/ });
  t.equal((await arrived).secure, true, 'upgraded to TLS before the mail');
});

t.test('failures say which server, what went wrong and what to do', async (t) => {
  const closedPort = await freePort();
  const refused = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', port: closedPort, password: login.password });
  t.equal(refused.status, 502);
  t.match(refused.body, { code: 'VCBOX_ERR_SMTP_CONNECT', server: `127.0.0.1:${closedPort}`, message: new RegExp(`Cannot reach the SMTP server 127\\.0\\.0\\.1:${closedPort}: .*ECONNREFUSED.*Check the server name and port`) });

  const badLogin = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', password: 'wrong-secret' });
  t.equal(badLogin.status, 502);
  t.match(badLogin.body, { code: 'VCBOX_ERR_SMTP_AUTH', message: /did not accept the login \(user "mailer"\).*Check the SMTP user name and password/ });
  t.notMatch(JSON.stringify(badLogin.body), /wrong-secret/, 'the password is not echoed');

  const zh = await fetch(`${base}/api/v1/settings/smtp/test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'accept-language': 'zh-CN' },
    body: JSON.stringify({ to: 'ops@example.com', password: 'wrong-secret' }),
  });
  t.match(await zh.json(), { code: 'VCBOX_ERR_SMTP_AUTH', message: /未接受登录/ }, 'in Chinese when asked');

  await admin.call('PATCH', '/api/v1/settings', { 'tls.trustedCertificates': '' });
  const untrusted = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'ops@example.com', port: ssl.port, security: 'ssl', password: login.password });
  t.equal(untrusted.status, 502);
  t.match(untrusted.body, { code: 'VCBOX_ERR_SMTP_TLS', message: /secure connection \(SSL\).*self[- ]signed.*tls\.trustedCertificates/ });

  for (const answer of [refused, badLogin, untrusted]) t.comment(answer.body.message);
  const audited = auditedTests().slice(-4).map((row) => JSON.parse(row.detail).result);
  t.same(audited, ['VCBOX_ERR_SMTP_CONNECT', 'VCBOX_ERR_SMTP_AUTH', 'VCBOX_ERR_SMTP_AUTH', 'VCBOX_ERR_SMTP_TLS'], 'failed tries are audited with their reason');
});

t.test('bad input is refused with the field, before any mail goes out', async (t) => {
  const sentBefore = plain.mails.length;
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', {})).body, { code: 'VCBOX_ERR_VALIDATION', field: 'to' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'not-an-address' })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'to' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com', port: 70000 })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'port' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com', security: 'starttls' })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'security' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com', sender: 'no at sign' })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'sender' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com', cc: 'b@example.com' })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'cc' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com' }, { csrf: false })).body, { code: 'VCBOX_ERR_CSRF' });
  t.match((await new ConsoleClient(base).call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com' })).body, { code: 'VCBOX_ERR_AUTH_REQUIRED' });
  t.equal(plain.mails.length, sentBefore);
});

t.test('no server set', async (t) => {
  const { status, body } = await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com', server: '' });
  t.equal(status, 400, 'an empty server is refused by the schema');
  t.match(body, { code: 'VCBOX_ERR_VALIDATION', field: 'server' });
  await admin.call('PATCH', '/api/v1/settings', { 'smtp.server': '' });
  t.match((await admin.call('POST', '/api/v1/settings/smtp/test', { to: 'a@example.com' })).body, { code: 'VCBOX_ERR_SMTP_NOT_SET', field: 'smtp.server' });
});
