/**
 * The 80 % alert mail, end to end: the data directory is a real 64 MB file system (a tmpfs the
 * test mounts), the real node-cron schedule checks it every minute on an injected clock (Node's
 * mock timers: minutes pass in milliseconds), and the mail goes through the mailer to a real
 * SMTP server on loopback. Filling the disk to ~87 % brings one mail to the administrator
 * (not the operator) — and no second one at the following checks, nor after a restart of the
 * check; back below and above again is a new crossing with a new mail; with the setting off,
 * a crossing sends nothing.
 */
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mock } from 'node:test';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { DiskKeeper } from '../../server/disk/disk-keeper.ts';
import { DiskParts } from '../../server/disk/disk-parts.ts';
import { Mailer } from '../../server/mail/mailer.ts';
import { openState } from '../../server/process/open-state.ts';
import { smallFilesystem } from '../helpers/small-filesystem.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const dataDir = smallFilesystem(t, '64m');
if (!dataDir) {
  t.test('needs a file system of its own', { skip: 'mounting a tmpfs needs root' }, () => {});
} else {
  const config = loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_LOG_STDOUT: '0' });
  const state = openState(config);
  const sink = await startSmtpSink();
  const admins = new AdminStore(state.db);
  await admins.create({ username: 'chief', password: 'Chief2026', email: 'chief@example.com', role: 'admin' });
  await admins.create({ username: 'watcher', password: 'Watch2026', email: 'watcher@example.com', role: 'operator' });
  state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': sink.port, 'smtp.sender': 'box@vcbox.local' }, { actor: 'test' });
  const parts = new DiskParts({ dataDir, logDir: config.logDir });
  t.teardown(async () => {
    await sink.close();
    state.db.close();
  });

  // Monday 4 January 2027, 09:00:30 local time.
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: new Date(2027, 0, 4, 9, 0, 30) });
  let keeper = new DiskKeeper({ db: state.db, settings: state.settings, parts, admins, mailer: new Mailer(state.settings) });
  /** Back to the real clock (tap's own end runs on timers too), the schedule stopped. */
  const realClock = () => {
    keeper.close();
    mock.timers.reset();
  };

  const fill = path.join(dataDir, 'fill.bin');
  /** Real bytes on the file system (tmpfs keeps them in memory). */
  const fillTo = (mebibytes: number) => writeFileSync(fill, Buffer.alloc(mebibytes * 1024 * 1024, 1));
  const alertState = () => keeper.alerts().find((a) => a.path === dataDir);

  /** Moves the clock to the next scheduled check and waits for it (and for a mail it sends) to finish. */
  async function nextCheck(): Promise<void> {
    const checked = once(keeper.observer, 'checked');
    let done = false;
    void checked.then(() => (done = true));
    const due = (keeper.nextRun() as Date).getTime();
    mock.timers.tick(Math.max(1, due - Date.now()));
    // The check's file system calls are real I/O; a mail's SMTP exchange runs on the mocked timers: move them in small steps.
    for (let i = 0; i < 4000 && !done; i++) {
      mock.timers.tick(5);
      for (let j = 0; j < 3; j++) await new Promise((resolve) => setImmediate(resolve));
    }
    await checked;
    // Let node-cron see its run end before the clock moves on.
    for (let j = 0; j < 5; j++) await new Promise((resolve) => setImmediate(resolve));
  }

  t.test('above 80 %: one mail per crossing, to the administrators; with the setting off, none', async (t) => {
    t.teardown(realClock);
    keeper.start();
    t.same(keeper.nextRun(), new Date(2027, 0, 4, 9, 1, 0), 'checked every minute');
    await nextCheck();
    t.match(alertState(), { above: false, mailedAt: null }, 'an empty disk: no alert');

    fillTo(55);
    await nextCheck();
    t.equal(sink.mails.length, 1, 'one mail when usage goes above 80 %');
    const mail = sink.mails[0];
    t.same(mail?.to, ['chief@example.com'], 'to the administrator, not the operator');
    t.match(mail?.decoded, new RegExp(`The disk holding ${dataDir} on the vcbox .* is 8\\d\\.\\d % full \\(.* used of 64 MB, .* free\\), above the 80 % alert level\\.`));
    t.match(mail?.decoded, /meeting records: 0 MB of 10 GB/);
    t.match(mail?.decoded, /所在磁盘已使用 8\d\.\d%/, 'and in Chinese');
    t.match(alertState(), { above: true, recipients: ['chief@example.com'] });
    t.ok((alertState()?.percent ?? 0) > 80);

    for (let i = 0; i < 5; i++) await nextCheck();
    t.equal(sink.mails.length, 1, 'no second mail at the next five checks');

    keeper.close();
    keeper = new DiskKeeper({ db: state.db, settings: state.settings, parts, admins, mailer: new Mailer(state.settings) }).start();
    await nextCheck();
    t.equal(sink.mails.length, 1, 'nor after the check restarts (the crossing is remembered in the database)');

    rmSync(fill);
    await nextCheck();
    t.match(alertState(), { above: false }, 'back below');
    t.equal(sink.mails.length, 1);

    fillTo(55);
    await nextCheck();
    t.equal(sink.mails.length, 2, 'above again: a new crossing, a new mail');
    const audit = state.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'disk.alert' ORDER BY id").all() as { actor: string; detail: string }[];
    t.equal(audit.length, 2, 'each mail in the operation log');
    t.match(JSON.parse(audit[0]?.detail ?? '{}'), { path: dataDir, recipients: ['chief@example.com'] });
    t.equal(audit[0]?.actor, 'system');
    rmSync(fill);
    await nextCheck();

    state.settings.update({ 'disk.alertAbove80': false }, { actor: 'test' });
    fillTo(55);
    await nextCheck();
    t.match(alertState(), { above: true, mailedAt: null }, 'the crossing is seen');
    t.equal(sink.mails.length, 2, 'but no mail');
    rmSync(fill);
    await nextCheck();
  });
}
