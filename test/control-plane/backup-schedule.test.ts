/**
 * The automatic backup schedule with an injected clock: Node's mock timers stand in for the wall
 * clock (Date and setTimeout, which node-cron runs on), so days pass in milliseconds. The real
 * scheduler, store and database make real backups at the scheduled times; rotation keeps the
 * newest `backup.keep` automatic backups and never touches manual ones; changed settings move
 * the next run at once (daily / weekly / monthly, off); without the passphrase automatic
 * backups are encrypted with, none is made.
 */
import { once } from 'node:events';
import { mock } from 'node:test';
import path from 'node:path';
import t from 'tap';
import { BackupScheduler, cronExpression } from '../../server/backup/backup-scheduler.ts';
import { type BackupInfo, BackupStore } from '../../server/backup/backup-store.ts';
import { freshState } from '../helpers/console-api.ts';

const state = freshState();
const store = new BackupStore(state.db, { backups: path.join(state.dataDir, 'backups'), certificates: path.join(state.dataDir, 'certificates'), prompts: path.join(state.dataDir, 'prompts') });
const author = { actor: 'test' };
// Monday 4 January 2027, 01:59:00 in the box's local time.
const start = new Date(2027, 0, 4, 1, 59, 0);
mock.timers.enable({ apis: ['setTimeout', 'Date'], now: start });
const scheduler = new BackupScheduler(state.settings, store);
t.teardown(() => {
  scheduler.close();
  mock.timers.reset();
  state.db.close();
});

t.test('cron expressions from the settings', async (t) => {
  const base = { 'backup.auto': true, 'backup.day': 5, 'backup.time': '02:30' } as const;
  t.equal(cronExpression({ ...base, 'backup.period': 'daily' }), '0 30 2 * * *');
  t.equal(cronExpression({ ...base, 'backup.period': 'weekly' }), '0 30 2 * * 5');
  t.equal(cronExpression({ ...base, 'backup.period': 'weekly', 'backup.day': 7 }), '0 30 2 * * 0', 'Sunday');
  t.equal(cronExpression({ ...base, 'backup.period': 'monthly' }), '0 30 2 5 * *');
});

t.test('without a passphrase no automatic backup is made, and the failure says why', async (t) => {
  const failed = once(scheduler.observer, 'failed') as Promise<[Error & { code?: string }]>;
  await scheduler.runNow();
  const [error] = await failed;
  t.match(error, { code: 'VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', message: /backup\.passphrase/ });
  t.same(await store.list(), [], 'nothing made, in particular nothing unencrypted');
});

t.test('daily at 02:00, keep 2: the schedule fires each day and rotation keeps the newest two', async (t) => {
  state.settings.update({ 'backup.period': 'daily', 'backup.time': '02:00', 'backup.keep': 2, 'backup.passphrase': 'scheduled passphrase' }, author);
  const manual = await store.create('manual', author, undefined, 'test passphrase');
  scheduler.start();
  t.same(scheduler.nextRun(), new Date(2027, 0, 4, 2, 0, 0), 'next run today at 02:00');

  const made: BackupInfo[] = [];
  const removed: string[] = [];
  for (let day = 0; day < 3; day++) {
    const ran = once(scheduler.observer, 'ran') as Promise<[BackupInfo, string[]]>;
    // Up to the due time (node-cron re-arms at most a day ahead, so step in hours).
    const due = (scheduler.nextRun() as Date).getTime();
    for (let guard = 0; Date.now() < due && guard < 48; guard++) mock.timers.tick(Math.min(3600_000, due - Date.now()));
    const [backup, gone] = await ran;
    // Let node-cron see its run finish (it resolves after our 'ran') before the clock moves on.
    await new Promise((resolve) => setImmediate(resolve));
    made.push(backup);
    removed.push(...gone);
  }
  t.same(
    made.map((b) => b.name),
    ['AutoBackup20270104020000', 'AutoBackup20270105020000', 'AutoBackup20270106020000'],
    'one automatic backup per day, named by the (injected) time',
  );
  t.ok(made.every((b) => b.kind === 'auto'));
  t.same(removed, ['AutoBackup20270104020000'], 'the oldest automatic backup was removed');
  const list = await store.list();
  t.same(list.filter((b) => b.kind === 'auto').map((b) => b.name), ['AutoBackup20270106020000', 'AutoBackup20270105020000']);
  t.ok(list.some((b) => b.name === manual.name), 'the manual backup is kept');
  t.same(scheduler.nextRun(), new Date(2027, 0, 7, 2, 0, 0));
  const audit = state.db.prepare("SELECT actor, action FROM audit_log WHERE actor = 'system' ORDER BY id").all();
  t.match(audit, [{ action: 'backup.create' }, { action: 'backup.create' }, { action: 'backup.create' }, { action: 'backup.delete' }], 'in the operation log as the system');
});

t.test('a settings change moves the next run at once', async (t) => {
  // Now: Wednesday 6 January 2027, 02:00.
  state.settings.update({ 'backup.period': 'weekly', 'backup.day': 5, 'backup.time': '23:30' }, author);
  t.same(scheduler.nextRun(), new Date(2027, 0, 8, 23, 30, 0), 'weekly: Friday 23:30');
  state.settings.update({ 'backup.day': 7 }, author);
  t.same(scheduler.nextRun(), new Date(2027, 0, 10, 23, 30, 0), 'weekly: Sunday');
  state.settings.update({ 'backup.period': 'monthly', 'backup.day': 1, 'backup.time': '04:00' }, author);
  t.same(scheduler.nextRun(), new Date(2027, 1, 1, 4, 0, 0), 'monthly: the 1st of next month');
  state.settings.update({ 'backup.auto': false }, author);
  t.equal(scheduler.nextRun(), null, 'off');
  state.settings.update({ 'backup.auto': true }, author);
  t.same(scheduler.nextRun(), new Date(2027, 1, 1, 4, 0, 0), 'on again');

  // The monthly run fires on its day (the clock jumps in day-long steps, as node-cron re-arms).
  const ran = once(scheduler.observer, 'ran') as Promise<[BackupInfo, string[]]>;
  const due = (scheduler.nextRun() as Date).getTime();
  for (let guard = 0; Date.now() < due && guard < 64; guard++) mock.timers.tick(Math.min(86_400_000, due - Date.now()));
  const [backup, gone] = await ran;
  t.equal(backup.name, 'AutoBackup20270201040000');
  t.same(gone, ['AutoBackup20270105020000'], 'still two automatic backups kept');
});
