/**
 * Remote syslog from the admin's and the collector's side: the admin turns it on in the
 * settings (applied while the box runs), and a real rsyslogd (child process, own config, loopback
 * ports) receives the operation log — a login, a failed login — and the system log (warnings
 * and worse, not info) as RFC 5424 over UDP, TCP (octet counting) and TLS (collector
 * certificate checked against tls.trustedCertificates). When the collector goes away,
 * messages wait in a bounded buffer (oldest dropped, the drop counted and announced) and are
 * delivered once it is back.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { getLogger } from '../../server/core/logger.ts';
import { RemoteSyslog } from '../../server/logging/remote-syslog.ts';
import { openState } from '../../server/process/open-state.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { BUILD_INFO } from '../../server/core/version.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { type ReceivedSyslog, startRsyslog } from '../helpers/rsyslog.ts';

const BUFFER_LIMIT = 20;
const BOM = '\ufeff';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-syslog-'));
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
const initial = readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();

// The collector's certificate: self-signed by the box's own generator (127.0.0.1 in its names).
const certificate = await ensureCertificate(path.join(dataDir, 'collector-certificate'));
const collector = await startRsyslog({ keyFile: certificate.keyFile, certFile: certificate.certFile });
const syslog = new RemoteSyslog({ settings: state.settings, logFile: 'web', processName: 'control-plane', auditDb: state.db, bufferLimit: BUFFER_LIMIT }).start();
t.teardown(async () => {
  syslog.close();
  await collector.stop();
});
const base = await startConsoleApi(t, { state, syslog });
const admin = new ConsoleClient(base);
await admin.login('admin', initial);

// biome-ignore lint/suspicious/noExplicitAny: the status is whatever JSON the API answered
async function statusUntil(what: string, done: (status: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; attempt < 600; attempt++) {
    last = (await admin.call('GET', '/api/v1/settings/syslog/status')).body;
    if (done(last)) return last;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`remote syslog status never showed ${what}; last: ${JSON.stringify(last)}`);
}

/** Turns remote syslog to `protocol` at `port` through the settings API and waits for the link. */
async function useCollector(t: Test, protocol: 'udp' | 'tcp' | 'tls', port: number) {
  const { status, body } = await admin.call('PATCH', '/api/v1/settings', { 'syslog.enabled': true, 'syslog.host': '127.0.0.1', 'syslog.port': port, 'syslog.protocol': protocol });
  t.equal(status, 200, JSON.stringify(body));
  t.notOk(body.storedOnly?.length, 'remote syslog applies now');
  return statusUntil(`${protocol} connected`, (s) => s.target === `${protocol}://127.0.0.1:${port}` && s.state === 'connected');
}

/** A console user of its own, logged in once (the login is the audit entry to look for). */
async function loginAs(t: Test, username: string) {
  t.equal((await admin.call('POST', '/api/v1/admins', { username, password: 'pw-123456', role: 'operator' })).status, 201);
  t.equal((await new ConsoleClient(base).login(username, 'pw-123456')).status, 200);
  const row = state.db.prepare("SELECT id, at FROM audit_log WHERE action = 'session.login' AND actor = ?").get(username) as { id: number; at: string };
  return row;
}

function checkAuditMessage(t: Test, message: ReceivedSyslog, input: string, username: string, row: { id: number; at: string }) {
  t.equal(message.input, input, `came in over ${input}`);
  t.equal(message.pri, '133', 'PRI: facility local0 (16), severity notice (5)');
  t.equal(message.version, '1', 'RFC 5424');
  t.equal(message.timestamp, row.at, 'TIMESTAMP: when the login happened');
  t.equal(message.hostname, os.hostname());
  t.equal(message.appname, 'audit');
  t.equal(message.procid, '-');
  t.equal(message.msgid, 'session.login');
  t.equal(message.sd, `[audit@32473 id="${row.id}" actor="${username}" source="127.0.0.1"][meta sequenceId="${/sequenceId="(\d+)"/.exec(message.sd)?.[1]}"][origin software="vcbox" swVersion="${BUILD_INFO.version}"]`);
  t.equal(message.msg, `${BOM}${username} session.login from 127.0.0.1`, 'MSG: UTF-8 after a BOM');
  t.match(message.raw, new RegExp(`^<133>1 ${row.at.replace(/\./g, '\\.')} \\S+ audit - session\\.login \\[audit@32473 `));
}

t.test('UDP: the operation log arrives as RFC 5424, failures as warnings', async (t) => {
  await useCollector(t, 'udp', collector.port);
  const row = await loginAs(t, 'udp-tester');
  const message = await collector.waitFor((m) => m.msgid === 'session.login' && m.sd.includes('actor="udp-tester"'));
  checkAuditMessage(t, message, 'udp', 'udp-tester', row);

  t.equal((await new ConsoleClient(base).login('udp-tester', 'wrong-pw-1')).status, 401);
  const failed = await collector.waitFor((m) => m.msgid === 'session.login.failed' && m.sd.includes('actor="udp-tester"'));
  t.equal(failed.pri, '132', 'a failed login is a warning (local0.warning)');
  t.match(failed.msg, /udp-tester session\.login\.failed from 127\.0\.0\.1 \{"code":"VCBOX_ERR_LOGIN_FAILED"\}/);
  t.comment(failed.raw);

  // A user name is whatever a visitor typed: it must not break out of its SD-PARAM.
  const hostile = 'eve"] [fake@1 a="b\\ 名';
  await new ConsoleClient(base).login(hostile, 'wrong-pw-1');
  const escaped = await collector.waitFor((m) => m.msgid === 'session.login.failed' && m.sd.includes('eve'));
  t.match(escaped.sd, /^\[audit@32473 id="\d+" actor="eve\\"\\\] \[fake@1 a=\\"b\\\\ 名" source="127\.0\.0\.1"\]\[meta /, 'quote, bracket and backslash escaped (RFC 5424 6.3.3)');
});

t.test('TCP with octet counting: operation log, and the system log from warn up (not info)', async (t) => {
  await useCollector(t, 'tcp', collector.port);
  const row = await loginAs(t, 'tcp-tester');
  checkAuditMessage(t, await collector.waitFor((m) => m.msgid === 'session.login' && m.sd.includes('actor="tcp-tester"')), 'tcp', 'tcp-tester', row);

  const module = getLogger('sip-transport');
  const tag = `${process.pid}-${Date.now()}`;
  module.info({ tag }, 'an info line stays local');
  module.warn({ tag, peer: '127.0.0.1:5060', 名字: '会议室' }, 'flood limit reached');
  module.error({ tag, err: new Error('socket gone') }, 'listener failed');
  const warning = await collector.waitFor((m) => m.msg.includes('flood limit reached') && m.msg.includes(tag));
  t.equal(warning.input, 'tcp');
  t.equal(warning.pri, '132', 'warn → local0.warning');
  t.equal(warning.appname, 'sip-transport', 'APP-NAME: the module that logged');
  t.equal(warning.procid, String(process.pid));
  t.equal(warning.msgid, 'web', "MSGID: the spec's system log (web, sip, mcu)");
  t.match(warning.sd, /^\[log@32473 process="control-plane" level="warn"\]\[meta sequenceId="\d+"\]\[origin /);
  t.equal(warning.msg, `${BOM}flood limit reached ${JSON.stringify({ tag, peer: '127.0.0.1:5060', 名字: '会议室' })}`, 'UTF-8 text intact');
  const error = await collector.waitFor((m) => m.msg.includes('listener failed') && m.msg.includes(tag));
  t.equal(error.pri, '131', 'error → local0.err');
  t.match(error.msg, /"err":\{"type":"Error","message":"socket gone"\}/);
  t.notMatch(error.msg, /\n|at .*remote-syslog\.test/, 'no stack trace on the wire');
  // TCP keeps order: the info line, had it been sent, would be here before the warning.
  t.notOk(collector.received().some((m) => m.msg.includes('an info line stays local')), 'info lines are not sent');
});

t.test('TLS: the collector certificate must be trusted; then it works', async (t) => {
  await admin.call('PATCH', '/api/v1/settings', { 'tls.trustedCertificates': '' });
  const { body } = await admin.call('PATCH', '/api/v1/settings', { 'syslog.protocol': 'tls', 'syslog.port': collector.tlsPort });
  t.same([...body.appliedNow].sort(), ['syslog.port', 'syslog.protocol']);
  const refused = await statusUntil('a refused certificate', (s) => s.target === `tls://127.0.0.1:${collector.tlsPort}` && s.state === 'waiting' && /certificate/.test(s.lastError ?? ''));
  t.match(refused.lastError, /self[- ]signed/, 'the status says why');
  await admin.call('PATCH', '/api/v1/settings', { 'tls.trustedCertificates': certificate.cert.toString() });
  await statusUntil('tls connected', (s) => s.target === `tls://127.0.0.1:${collector.tlsPort}` && s.state === 'connected');
  const row = await loginAs(t, 'tls-tester');
  checkAuditMessage(t, await collector.waitFor((m) => m.msgid === 'session.login' && m.sd.includes('actor="tls-tester"')), 'tls', 'tls-tester', row);
});

t.test('collector down (TCP): buffered up to the bound, oldest dropped and counted, delivered after its restart', async (t) => {
  await useCollector(t, 'tcp', collector.port);
  await collector.stop();
  await statusUntil('the link down', (s) => s.state !== 'connected');
  const count = BUFFER_LIMIT + 10;
  const name = (i: number) => `buffered-${String(i).padStart(2, '0')}`;
  for (let i = 1; i <= count; i++) t.equal((await admin.call('POST', '/api/v1/rooms', { name: name(i), type: 'normal' })).status, 201);
  const buffering = await statusUntil('the buffer full', (s) => s.dropped >= 10 && s.queued === BUFFER_LIMIT);
  t.match(buffering, { state: /waiting|connecting/, queued: BUFFER_LIMIT });
  t.comment(`while down: ${JSON.stringify(buffering)}`);

  await collector.start();
  await collector.waitFor((m) => m.msg.includes(`"name":"${name(count)}"`), 90_000);
  const received = collector.received();
  const rooms = received.flatMap((m, index) => {
    const found = /"name":"buffered-(\d+)"/.exec(m.msg);
    return found && m.msgid === 'room.create' ? [{ n: Number(found[1]), index }] : [];
  });
  const numbers = rooms.map((r) => r.n);
  t.comment(`delivered after the restart: ${numbers.join(' ')}`);
  t.ok(numbers.length <= BUFFER_LIMIT && numbers.length > 0, `at most the buffer (${BUFFER_LIMIT}) delivered: ${numbers.length}`);
  t.same(numbers, Array.from({ length: numbers.length }, (_, i) => count - numbers.length + 1 + i), 'the newest ones, in order, none twice');
  t.notOk(numbers.includes(1), 'the oldest were dropped');

  const notice = received.find((m) => m.msgid === 'dropped');
  t.ok(notice, 'the collector is told about the drop');
  t.equal(notice?.pri, '132');
  t.equal(notice?.appname, 'syslog');
  const dropped = Number(/count="(\d+)"/.exec(notice?.sd ?? '')?.[1]);
  t.ok(dropped >= 10, `dropped count ${dropped}`);
  t.equal(dropped + numbers.length, count, 'every room is either delivered or counted as dropped');
  t.ok(received.indexOf(notice as ReceivedSyslog) < (rooms[0]?.index ?? -1), 'the notice comes before the buffered messages');
  t.match(await statusUntil('the buffer empty', (s) => s.state === 'connected' && s.queued === 0), { dropped });
});

t.test('turned off: nothing is sent, and what happened meanwhile stays local when it is turned on again', async (t) => {
  const { body } = await admin.call('PATCH', '/api/v1/settings', { 'syslog.enabled': false });
  t.same(body.appliedNow, ['syslog.enabled']);
  t.match(await statusUntil('off', (s) => s.enabled === false && s.state === undefined), { enabled: false });
  await loginAs(t, 'while-off');
  await useCollector(t, 'tcp', collector.port);
  await loginAs(t, 'back-on');
  await collector.waitFor((m) => m.sd.includes('actor="back-on"'));
  // Entries go out in id order over one TCP connection: had the earlier one been sent, it would be here by now.
  t.notOk(collector.received().some((m) => m.sd.includes('actor="while-off"')));
});

t.test('settings refused with the key and rule', async (t) => {
  t.match((await admin.call('PATCH', '/api/v1/settings', { 'syslog.protocol': 'relp' })).body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'syslog.protocol' });
  t.match((await admin.call('PATCH', '/api/v1/settings', { 'tls.trustedCertificates': 'not a certificate' })).body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'tls.trustedCertificates' });
});
