/**
 * "Clean now" and "oldest files overwritten when a quota is full", from an administrator's side
 * and on the files themselves: cleaning one server-log module deletes its older files and
 * empties — does not delete — the file this process is writing, which goes on taking lines from
 * its start; terminal logs and backups cleaned (backups through the backup store, audited);
 * firmware through its store, keeping each model's latest; operators refused. Then parts over
 * their quotas (sparse files of gigabytes, real backups) lose exactly their oldest files at the
 * disk check, written to the operation log by the system, and the usage the console shows follows.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { DiskKeeper } from '../../server/disk/disk-keeper.ts';
import { DiskParts, GIB } from '../../server/disk/disk-parts.ts';
import { closeLogs, getLogger, initLogging } from '../../server/core/logger.ts';
import { localDay } from '../../server/core/rotating-log-file.ts';
import { Mailer } from '../../server/mail/mailer.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-disk-clean-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_LOG_STDOUT: '0' });
const paths = dataPaths(config);
const state = openState(config);
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
const backups = new BackupStore(state.db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
const firmware = new FirmwareStore(state.db, { dir: paths.firmware, settings: state.settings, maxUploadBytes: config.firmware.maxUploadBytes });
const parts = new DiskParts({ dataDir, logDir: config.logDir, backups, firmware });
const keeper = new DiskKeeper({ db: state.db, settings: state.settings, parts, admins, mailer: new Mailer(state.settings) });
t.teardown(() => keeper.close());
const base = await startConsoleApi(t, { state, disk: { parts, keeper } });
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');
t.teardown(() => closeLogs());

/** A file of `bytes` (sparse beyond its text) last changed `daysAgo` days ago. */
function oldFile(file: string, bytes: number, daysAgo: number, text = ''): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  if (bytes > text.length) truncateSync(file, Math.round(bytes));
  const at = new Date(Date.now() - daysAgo * 86_400_000);
  utimesSync(file, at, at);
}
const audit = (action: string) => state.db.prepare('SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id').all(action) as { actor: string; detail: string }[];

t.test('clean now: a server-log module; the file being written is emptied and keeps taking lines', async (t) => {
  // This process logs to the SIP module as the signaling service does.
  initLogging(config, 'sip', { process: 'signaling' });
  const log = getLogger('disk-clean-test');
  log.info('a line before cleaning');
  const sip = path.join(config.logDir, 'sip');
  oldFile(path.join(sip, '2026-11-20.signaling.log'), 0, 12, '{"msg":"an old day"}\n');
  oldFile(path.join(sip, '2026-11-21.signaling.log'), 0, 11, '{"msg":"another old day"}\n');
  oldFile(path.join(config.logDir, 'web', '2026-11-21.control-plane.log'), 0, 11, '{"msg":"web stays"}\n');
  const today = `${localDay(Date.now())}.signaling.log`;
  await new Promise((resolve) => setTimeout(resolve, 100)); // the asynchronous writer
  t.ok(statSync(path.join(sip, today)).size > 0, 'today\'s file has lines');

  const cleaned = await admin.call('POST', '/api/v1/disk/clean', { part: 'serverLogs', module: 'sip' });
  t.equal(cleaned.status, 200);
  t.match(cleaned.body, { part: 'serverLogs', module: 'sip', deleted: 2, truncated: [today], message: /^Cleaned the server logs \(SIP\): deleted 2 file\(s\), \d+ bytes freed\. Emptied 1 file\(s\) a process is writing: / });
  t.same(readdirSync(sip), [today], 'the old days are gone, the file being written stays');
  t.equal(statSync(path.join(sip, today)).size, 0, 'emptied');
  t.same(readdirSync(path.join(config.logDir, 'web')), ['2026-11-21.control-plane.log'], 'other modules untouched');

  log.info('a line after cleaning');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const text = readFileSync(path.join(sip, today), 'utf8');
  t.match(JSON.parse(text.split('\n')[0] ?? ''), { msg: 'a line after cleaning' }, 'the writer goes on at the file\'s start (no hole)');
  t.match(audit('disk.clean').at(-1), { actor: 'chief' });
  t.match(JSON.parse(audit('disk.clean').at(-1)?.detail ?? '{}'), { part: 'serverLogs', module: 'sip', deleted: 2, truncated: [today] });
});

t.test('clean now: terminal logs, backups, firmware but each model\'s latest; operators may not', async (t) => {
  oldFile(path.join(config.logDir, 'terminals', '10.0.0.7.log'), 0, 1, '----- 2026-11-30T10:00:00.000Z from 10.0.0.7\nREGISTER sip:vcbox.local SIP/2.0\n');
  oldFile(path.join(config.logDir, 'terminals', '10.0.0.7.log.1'), 0, 2, '----- 2026-11-29T10:00:00.000Z from 10.0.0.7\nREGISTER sip:vcbox.local SIP/2.0\n');
  const terminals = await admin.call('POST', '/api/v1/disk/clean', { part: 'terminalLogs' });
  t.match(terminals.body, { part: 'terminalLogs', deleted: 2, truncated: [] });
  t.same(readdirSync(path.join(config.logDir, 'terminals')), []);

  await backups.create('manual', { actor: 'test' }, 'Before', 'test passphrase');
  await backups.create('manual', { actor: 'test' }, 'After', 'test passphrase');
  const cleaned = await admin.call('POST', '/api/v1/disk/clean', { part: 'backups' });
  t.match(cleaned.body, { part: 'backups', deleted: 2 });
  t.same(await backups.list(), [], 'every backup deleted');
  t.match(JSON.parse(audit('backup.delete').at(-1)?.detail ?? '{}'), { names: ['After', 'Before'] }, 'through the backup store, in its log too');

  // Firmware: every file but each model's latest.
  const rom = (text: string) => Readable.from([Buffer.from(text)]);
  const old = await firmware.upload(rom('old firmware'), 12, { model: 'Yealink SIP-VC800', fileName: 'VC800-63.345.0.10.rom' }, { actor: 'test' });
  const latest = await firmware.upload(rom('new firmware'), 12, { model: 'Yealink SIP-VC800', fileName: 'VC800-63.345.0.20.rom' }, { actor: 'test' });
  const other = await firmware.upload(rom('other model'), 11, { model: 'Polycom Group 500', fileName: 'G500-6.2.2.rom' }, { actor: 'test' });
  const cleanedFirmware = await admin.call('POST', '/api/v1/disk/clean', { part: 'firmware' });
  t.match(cleanedFirmware.body, { part: 'firmware', deleted: 1, freedBytes: 12 });
  t.same(firmware.list().map((f) => f.id).sort(), [latest.id, other.id].sort(), 'each model keeps its latest');
  t.same(readdirSync(paths.firmware).sort(), [`${latest.id}.rom`, `${other.id}.rom`].sort());
  t.match(JSON.parse(audit('firmware.delete').at(-1)?.detail ?? '{}'), { id: old.id }, 'through the firmware store, in its log too');

  const wrongModule = await admin.call('POST', '/api/v1/disk/clean', { part: 'records', module: 'web' });
  t.match(wrongModule, { status: 400, body: { code: 'VCBOX_ERR_VALIDATION', field: 'module' } });
  const unknown = await admin.call('POST', '/api/v1/disk/clean', { part: 'everything' });
  t.match(unknown, { status: 400, body: { field: 'part', message: /one of records, serverLogs, terminalLogs, backups, firmware/ } });

  const operator = new ConsoleClient(base);
  await operator.login('watcher', 'Watch2026');
  t.equal((await operator.call('GET', '/api/v1/disk')).status, 200, 'operators see the disk');
  t.match(await operator.call('POST', '/api/v1/disk/clean', { part: 'records' }), { status: 403, body: { code: 'VCBOX_ERR_FORBIDDEN_ROLE' } });
});

t.test('a full quota overwrites its oldest files at the disk check', async (t) => {
  // Records: 10 GB quota, four files of 3 GB each (12 GB).
  const records = path.join(dataDir, 'records');
  for (const [i, name] of ['2026-10-01.mp4', '2026-10-08.mp4', '2026-10-15.mp4', '2026-10-22.mp4'].entries()) oldFile(path.join(records, name), 3 * GIB, 40 - i * 7);
  // SIP logs: 40 % of 5 GB = 2 GB; three old days of 0.9 GB beside the file being written.
  const sip = path.join(config.logDir, 'sip');
  for (const [i, day] of ['2026-11-01', '2026-11-02', '2026-11-03'].entries()) oldFile(path.join(sip, `${day}.signaling.log`), 0.9 * GIB, 30 - i);
  // Backups: 5 GB; a 6 GB file from long ago (unreadable as a backup, so listed as unknown) and a real one.
  oldFile(path.join(paths.backups, 'Huge.tar.gz'), 6 * GIB, 400);
  const kept = await backups.create('manual', { actor: 'test' }, 'Recent', 'test passphrase');

  const before = (await admin.call('GET', '/api/v1/disk')).body.parts;
  t.equal(before.find((p: { id: string }) => p.id === 'records').usedBytes, 12 * GIB, 'records over quota');
  await keeper.check();

  t.same(readdirSync(records).sort(), ['2026-10-08.mp4', '2026-10-15.mp4', '2026-10-22.mp4'], 'records: the oldest file went (9 GB left)');
  t.same(readdirSync(sip).sort(), ['2026-11-02.signaling.log', '2026-11-03.signaling.log', `${localDay(Date.now())}.signaling.log`], 'SIP logs: the oldest day went, the file being written stays');
  t.same((await backups.list()).map((b) => b.name), [kept.name], 'backups: the old huge file went, the recent backup stays');
  const overwrites = audit('disk.overwrite').map((row) => ({ actor: row.actor, ...JSON.parse(row.detail) }));
  t.match(
    overwrites,
    [
      { actor: 'system', part: 'records', files: 1, freedBytes: 3 * GIB, names: ['2026-10-01.mp4'] },
      { actor: 'system', part: 'serverLogs', module: 'sip', files: 1, names: ['2026-11-01.signaling.log'] },
      { actor: 'system', part: 'backups', files: 1, freedBytes: 6 * GIB, names: ['Huge.tar.gz'] },
    ],
    'each overwrite in the operation log, by the system',
  );
  const after = (await admin.call('GET', '/api/v1/disk')).body.parts;
  t.equal(after.find((p: { id: string }) => p.id === 'records').usedBytes, 9 * GIB, 'the usage follows');

  await keeper.check();
  t.equal(audit('disk.overwrite').length, 3, 'within quota now: the next check deletes nothing');
});
