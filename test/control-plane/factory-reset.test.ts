/**
 * Factory reset over the real control plane, as an administrator sees it (row counts before and
 * after, per table), on a box with data everywhere: accounts, rooms, a VMR, a meeting, call
 * records, meeting history, daily maxima, operation-log entries, changed settings, a started
 * trial, backups, an uploaded prompt and log files.
 *
 *  - "settings": every setting back to its default; call records, meeting history, daily maxima
 *    and the logs gone; accounts, rooms, VMRs, meetings, administrators, backups, prompts kept;
 *    the operation log holds just the reset.
 *  - "all": every table empty but the licence's; the backups, prompts and logs gone; a new
 *    certificate; a new first administrator with a new first password in the secrets folder;
 *    the setup wizard pending; every session ended — and the trial still counts as used.
 *
 * Both need `"confirm": true` (refused in words otherwise) and an administrator; here nothing can
 * restart the services, which the answer says.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test as Tap } from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { CallRecords } from '../../server/cdr/call-records.ts';
import { ConcurrencyRecords } from '../../server/cdr/concurrency-records.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import type { Db } from '../../server/db/database.ts';
import { flushLogs, getLogger, initLogging } from '../../server/core/logger.ts';
import { SystemLogFiles } from '../../server/logs/system-log-files.ts';
import { openMaintenance } from '../../server/maintenance/open-maintenance.ts';
import { openState } from '../../server/process/open-state.ts';
import { defaultSettings } from '../../server/settings/settings-schema.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-factory-reset-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
const paths = dataPaths(config);
// This process logs to <logDir>/web/<day>.control-plane.log, held open as a running control plane holds it.
initLogging({ ...config, logToStdout: false }, 'web', { process: 'control-plane' });
const state = openState(config);
const admins = new AdminStore(state.db);
await admins.ensureInitialAdmin(paths.secrets);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
await ensureCertificate(paths.certificates);
const backups = new BackupStore(state.db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
const maintenance = openMaintenance({ config, db: state.db, settings: state.settings, admins, backups });
t.teardown(() => maintenance.close());
// A box without a licence: the test starts the trial itself (the reset must keep it).
const base = await startConsoleApi(t, { state, maintenance, unlicensed: true });
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');

const fingerprint = () => new X509Certificate(readFileSync(path.join(paths.certificates, 'server.crt'))).fingerprint256;
/** Rows per ordinary table (not SQLite's own, not the search index's shadow tables). */
function counts(db: Db = state.db): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { name, type } of db.prepare('PRAGMA main.table_list').all() as { name: string; type: string }[]) {
    if (type === 'table' && !name.startsWith('sqlite_')) out[name] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
  }
  return out;
}
const logFile = (name: string) => path.join(config.logDir, name);
/** The Web log file this process writes now. */
async function activeWebLog(): Promise<string> {
  const active = (await new SystemLogFiles(config.logDir).list('web')).find((file) => file.active);
  if (!active) throw new Error('no Web log file is being written');
  return active.path;
}

/** What an administrator sets up: the trial (first: a box without a licence takes no accounts), accounts, a room, a VMR, a meeting. */
async function fillTheBox(t: Tap): Promise<void> {
  t.equal((await admin.call('POST', '/api/v1/license/trial')).status, 200, 'the 14-day trial started');
  for (const [number, name] of [
    ['1001', 'Alice Zhang'],
    ['1002', 'Bob Li'],
  ]) {
    t.equal((await admin.call('POST', '/api/v1/accounts', { number, name, password: 'secret-1' })).status, 201);
  }
  t.equal((await admin.call('POST', '/api/v1/rooms', { name: 'Board room', type: 'video', account: '1001' })).status, 201);
  t.equal((await admin.call('POST', '/api/v1/vmrs', { number: '70001', name: 'Weekly', capacity: 16 })).status, 201);
  const start = new Date(Date.now() + 86_400_000).toISOString();
  t.equal((await admin.call('POST', '/api/v1/meetings', { subject: 'Planning', start, durationMinutes: 30, accounts: ['1001', '1002'] })).status, 201);
  t.equal((await admin.call('POST', '/api/v1/setup/network/skip')).status, 200, 'a wizard step done');
}

/** What the box collects and changes while it runs: settings, call records, history, maxima, the log, backups, prompts, log files. */
async function useTheBox(t: Tap, backup: string): Promise<void> {
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'required', 'sip.port': 5070, 'network.localDomain': 'box.example.com' })).status, 200);
  const records = new CallRecords(state.db);
  const call = records.start('p2p', 'call-1@box', '1001', '1002');
  records.answered(call);
  records.ended(call, 'answered');
  records.ended(records.start('p2p', 'call-2@box', '1002', '1001'), 'busy');
  state.db.prepare("INSERT INTO meeting_records (number, kind, subject, started_at, ended_at, duration_s, participants_total, participants_max) VALUES ('70001', 'vmr', 'Weekly', ?, ?, 60, 3, 2)").run(new Date(Date.now() - 3_600_000).toISOString(), new Date().toISOString());
  new ConcurrencyRecords(state.db).record(3, 1);
  await backups.create('manual', { actor: 'chief' }, backup, 'test passphrase');
  mkdirSync(path.join(paths.prompts, 'en'), { recursive: true });
  writeFileSync(path.join(paths.prompts, 'en', 'welcome.pcm'), Buffer.alloc(3200, 7));
  getLogger('test').warn('a line from before the reset');
  // Written out (the log is asynchronous) before the reset, not while it runs.
  for (let i = 0; i < 100 && !readFileSync(await activeWebLog(), 'utf8').includes('a line from before the reset'); i++) {
    flushLogs();
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(logFile('web/2020-01-01.control-plane.log'), 'a log of an older day\n');
  mkdirSync(logFile('terminals'), { recursive: true });
  writeFileSync(logFile('terminals/192.0.2.10.log'), 'REGISTER sip:box\n');
}

t.test('a reset must be confirmed, by an administrator', async (t) => {
  const unconfirmed = await admin.call('POST', '/api/v1/system/factory-reset', { scope: 'all' });
  t.equal(unconfirmed.status, 400);
  t.match(unconfirmed.body, { code: 'VCBOX_ERR_CONFIRM_REQUIRED', field: 'confirm', message: /A full factory reset must be confirmed.*All data of the box is deleted .* except the licence/ });
  const zh = await fetch(`${base}/api/v1/system/factory-reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'accept-language': 'zh-CN' },
    body: JSON.stringify({ scope: 'settings', confirm: false }),
  }).then((r) => r.json() as Promise<{ message: string }>);
  t.match(zh.message, /恢复出厂设置（仅系统设置）需要确认.*账号、会议室和会议保留/, 'in Chinese too');
  t.match((await admin.call('POST', '/api/v1/system/factory-reset', { scope: 'everything', confirm: true })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'scope' });
  const operator = new ConsoleClient(base);
  await operator.login('watcher', 'Watch2026');
  t.match((await operator.call('POST', '/api/v1/system/factory-reset', { scope: 'all', confirm: true })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await admin.call('POST', '/api/v1/system/reboot', { confirm: true })).body, { code: 'VCBOX_ERR_RESTART_UNAVAILABLE', message: /Nothing on this machine can restart the services/ }, 'nothing here could reboot');
});

t.test('settings only: defaults back, history and logs gone, accounts, rooms and meetings kept', async (t) => {
  await fillTheBox(t);
  await useTheBox(t, 'BeforeReset');
  const before = counts();
  t.ok(before.call_records === 2 && before.meeting_records === 1 && before.concurrency_daily === 1 && (before.audit_log ?? 0) > 5, JSON.stringify(before));
  const certificate = fingerprint();

  const answer = await admin.call('POST', '/api/v1/system/factory-reset', { scope: 'settings', confirm: true });
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  t.match(answer.body, { scope: 'settings', restart: 'needed', message: /The settings were reset: \d+ rows removed\. Restart the services/ });
  t.match(answer.body.removed, { call_records: 2, meeting_records: 1, concurrency_daily: 1, audit_log: before.audit_log });
  t.ok(answer.body.removed.settings >= 3, 'the changed settings rows');
  t.ok(answer.body.settingsChanged.includes('call.srtp') && answer.body.settingsChanged.includes('sip.port'));

  const after = counts();
  for (const table of ['accounts', 'rooms', 'vmrs', 'meetings', 'meeting_participants', 'admins', 'license_trial', 'schema_migrations']) {
    t.equal(after[table], before[table], `${table}: kept (${before[table]})`);
  }
  t.same([after.call_records, after.meeting_records, after.concurrency_daily], [0, 0, 0], 'call records, meeting history and daily maxima gone');
  t.equal(after.audit_log, 1, 'the operation log holds the reset alone');
  t.match(state.db.prepare('SELECT actor, action, detail FROM audit_log').get(), { actor: 'chief', action: 'system.factory-reset', detail: /"scope":"settings"/ });
  t.same(state.settings.getAll(), defaultSettings(), 'every setting is its default');
  t.match((await admin.call('GET', '/api/v1/license')).body, { status: 'trial' }, 'the licence stays');
  const webLog = await activeWebLog();
  t.notMatch(readFileSync(webLog, 'utf8'), /from before the reset/, 'the log file being written is emptied');
  getLogger('test').warn('a line from after the reset');
  for (let i = 0; i < 100 && !readFileSync(webLog, 'utf8').includes('a line from after the reset'); i++) {
    flushLogs();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.match(readFileSync(webLog, 'utf8'), /^\{.*a line from after the reset/, 'and the process writes on into it, from its start');
  t.notOk(existsSync(logFile('web/2020-01-01.control-plane.log')), 'older days\' logs removed');
  t.notOk(existsSync(logFile('terminals/192.0.2.10.log')), 'terminal logs removed');
  t.same((await backups.list()).map((b) => b.name), ['BeforeReset'], 'backups kept');
  t.ok(existsSync(path.join(paths.prompts, 'en', 'welcome.pcm')), 'uploaded prompts kept');
  t.equal(fingerprint(), certificate, 'the certificate kept');
  t.equal((await admin.call('GET', '/api/v1/session')).status, 200, 'the administrator is still logged in');
  t.match((await admin.call('GET', '/api/v1/accounts?q=Alice')).body, { total: 1 }, 'accounts still searchable');
});

t.test('everything: the box is like new, but the trial stays used', async (t) => {
  await useTheBox(t, 'BeforeFullReset');
  const firstPassword = readFileSync(path.join(paths.secrets, 'initial-admin-password'), 'utf8').trim();
  const certificate = fingerprint();
  const before = counts();

  const answer = await admin.call('POST', '/api/v1/system/factory-reset', { scope: 'all', confirm: true });
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  t.match(answer.body, { scope: 'all', restart: 'needed', initialPasswordFile: path.join(paths.secrets, 'initial-admin-password'), message: /reset to its factory state.*Log in as admin with the password in/ });
  t.match(answer.body.removed, { accounts: 2, admins: before.admins, meetings: before.meetings, call_records: 2 });

  const after = counts();
  for (const [table, rows] of Object.entries(after)) {
    if (table.startsWith('license')) t.equal(rows, before[table], `${table}: the licence's, kept`);
    else if (table === 'schema_migrations') t.equal(rows, before[table], 'the migration history kept');
    else if (table === 'admins') t.equal(rows, 1, 'a new first administrator');
    else if (table === 'audit_log') t.equal(rows, 1, 'the operation log holds the reset alone');
    else if (!table.startsWith('accounts_fts')) t.equal(rows, 0, `${table}: empty`);
  }
  t.equal((await admin.call('GET', '/api/v1/session')).status, 401, 'every session ended');
  const newPassword = readFileSync(path.join(paths.secrets, 'initial-admin-password'), 'utf8').trim();
  t.not(newPassword, firstPassword, 'a new first password');
  const fresh = new ConsoleClient(base);
  t.match((await fresh.login('admin', newPassword)).body, { username: 'admin', mustChangePassword: true }, 'the new admin logs in with it and must change it');
  t.equal((await fresh.login('chief', 'Chief2026')).status, 401, 'the old administrators are gone');
  await fresh.login('admin', newPassword);
  const setup = await fresh.call('GET', '/api/v1/setup');
  t.match(setup.body, { completed: false, current: 'network' }, 'the setup wizard starts again');
  t.ok(setup.body.steps.every((step: { status: string }) => step.status === 'pending'), 'every step pending');
  t.match((await fresh.call('GET', '/api/v1/license')).body, { status: 'trial' }, 'the licence (here the trial) stays');
  t.match((await fresh.call('POST', '/api/v1/license/trial')).body, { code: 'VCBOX_ERR_LICENSE_TRIAL_USED' }, 'no second trial');
  t.not(fingerprint(), certificate, 'a new certificate');
  t.same(readdirSync(paths.backups), [], 'no backup left');
  t.same(readdirSync(paths.prompts), [], 'no uploaded prompt left');
  t.notMatch(readFileSync(await activeWebLog(), 'utf8'), /from before the reset/, 'logs emptied');
  t.match(state.db.prepare('SELECT actor, action, detail FROM audit_log').get(), { actor: 'chief', action: 'system.factory-reset', detail: /"scope":"all"/ });
  t.equal((await fresh.call('POST', '/api/v1/accounts', { number: '1001', name: 'New Alice', password: 'secret-9' })).status, 201, 'the box works on');
});
