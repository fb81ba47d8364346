/**
 * The console's backups page in headless Chromium against the real backup API (store,
 * restorer, schedule): an administrator sees the automatic schedule with a link to its
 * settings, makes a backup now (listed under its default name), downloads it, deletes one and
 * then two at once (confirmed), restores one from the list after the data changed (confirmed:
 * "restore replaces the data of this box"; the outcome in words; the data back in the
 * database), restores the downloaded file by upload, sees a file that is no backup refused in
 * words, and reads the page in Chinese at a tablet's width. Screenshots go to the artefacts; no
 * console errors but the refusal provoked on purpose.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupScheduler } from '../../server/backup/backup-scheduler.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-console-backups-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
const paths = dataPaths(config);
const state = openState(config);
await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const store = new BackupStore(state.db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
const restorer = new BackupRestorer({ db: state.db, settings: state.settings, store, maxUploadBytes: config.backup.maxUploadBytes });
const scheduler = new BackupScheduler(state.settings, store).start();
t.teardown(() => scheduler.close());
const base = await startConsoleApi(t, { state, backups: { store, restorer, scheduler }, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
const accounts = new AccountStore(state.db);
const author = { actor: 'test', source: '127.0.0.1' };

t.test('backups made, listed, downloaded, deleted and restored from the console', async (t) => {
  const p = await openPage(browser, `${base}/#backups`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('#backup-schedule');
  t.match(await page.textContent('#backup-schedule-text'), /^Every Monday at 02:00, keeping the newest 3\. Next run: .+\.$/, 'the automatic schedule in words');
  t.match(await page.textContent('.empty'), /No backup yet/, 'nothing listed yet');

  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  const outcome = async () => {
    await page.waitForSelector('#backup-outcome.ok, #backup-outcome.failed');
    return (await page.textContent('#backup-outcome')) ?? '';
  };

  // Made now, under the default name, with a passphrase typed twice; downloaded.
  await page.click('#backup-now');
  t.match(await outcome(), /^Type a passphrase of 8 to 256 characters first\.$/, 'no backup without a passphrase');
  await page.fill('#backup-passphrase', 'test passphrase');
  await page.fill('#backup-passphrase-again', 'test passphrase, typo');
  await page.click('#backup-now');
  t.match(await outcome(), /^The two passphrases differ/, 'a typo in the passphrase is caught before the backup is made');
  t.same(await store.list(), [], 'nothing made yet');
  await page.fill('#backup-passphrase-again', 'test passphrase');
  await page.click('#backup-now');
  t.match(await outcome(), /^Backup Backup\d{14} made \(.+ KB\)\.$/, 'made, in words');
  const name = (await page.getAttribute('#backups-table tbody tr', 'data-backup')) ?? '';
  t.match(name, /^Backup\d{14}$/, 'listed under the default name');
  t.match(await page.textContent(`tr[data-backup="${name}"]`), /manual/, 'made by hand');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`tr[data-backup="${name}"] a.download`)]);
  const downloaded = path.join(dataDir, `${name}-downloaded.vcbackup`);
  await download.saveAs(downloaded);
  t.equal(download.suggestedFilename(), `${name}.vcbackup`, 'downloaded as its (encrypted) file');

  // Deleted one, then two at once; each confirmed.
  await page.click(`tr[data-backup="${name}"] button.delete`);
  t.match(dialogs.at(-1), new RegExp(`^Delete the backup ${name}\\?`), 'deleting is confirmed');
  t.match(await outcome(), new RegExp(`Deleted: ${name}\\.`), 'deleted, in words');
  t.same(await store.list(), [], 'and gone from the box');
  await store.create('manual', author, 'First', 'test passphrase');
  await store.create('manual', author, 'Second', 'test passphrase');
  await page.reload();
  await page.waitForSelector('tr[data-backup="First"]');
  await page.check('tr[data-backup="First"] input[type="checkbox"]');
  await page.check('tr[data-backup="Second"] input[type="checkbox"]');
  await page.click('#backup-delete-selected');
  t.match(dialogs.at(-1), /^Delete 2 backups\?/, 'deleting many is confirmed');
  t.match(await outcome(), /Deleted: (First, Second|Second, First)\./, 'both deleted');
  t.same(await store.list(), [], 'and gone from the box');

  // Restore from the list: the data as it was when the backup was made.
  await accounts.create({ number: '3001', name: 'Kept', password: 'secret12' }, state.settings.get('network.localDomain'));
  await store.create('manual', author, 'WithKept', 'test passphrase');
  await accounts.create({ number: '3002', name: 'Added later', password: 'secret12' }, state.settings.get('network.localDomain'));
  await page.reload();
  await page.waitForSelector('tr[data-backup="WithKept"]');
  await page.fill('#restore-passphrase', 'not the passphrase');
  await page.click('tr[data-backup="WithKept"] button.restore');
  t.match(await outcome(), /^The passphrase does not open this backup/, 'a wrong passphrase is refused in words');
  t.ok(accounts.findByNumber('3002'), 'nothing changed');
  await page.fill('#restore-passphrase', 'test passphrase');
  await page.click('tr[data-backup="WithKept"] button.restore');
  t.match(dialogs.at(-1), /^Restore WithKept\?\n\nRestore replaces the data of this box/, 'restoring is confirmed with the spec\'s warning');
  const restored = await outcome();
  t.match(restored, /^Restored WithKept \(made .+ on .+ by vcbox .+\): \d+ rows, \d+ certificate files, \d+ prompt files\./, `the outcome in words: ${restored}`);
  t.match(restored, /No service needs a restart\.Other console sessions were ended; yours goes on\./, 'services to restart and sessions');
  t.ok(accounts.findByNumber('3001') && !accounts.findByNumber('3002'), 'the data is the backup\'s');
  await page.screenshot({ path: path.join(artifacts, 'console-backups.png'), fullPage: true });

  // Restore by upload: the file downloaded above (the box before any account).
  await page.fill('#restore-passphrase', 'test passphrase');
  await page.setInputFiles('#restore-file', downloaded);
  await page.click('#restore-upload');
  t.match(dialogs.at(-1), new RegExp(`^Restore ${name}-downloaded\\.vcbackup\\?`), 'confirmed');
  t.match(await outcome(), new RegExp(`^Restored ${name} `), 'restored from the upload');
  t.notOk(accounts.findByNumber('3001'), 'the data is the uploaded backup\'s');

  // A file that is no backup: refused in words, nothing changed.
  const bogus = path.join(dataDir, 'notes.tar.gz');
  writeFileSync(bogus, 'this is not a backup\n');
  await page.fill('#restore-passphrase', 'test passphrase');
  await page.setInputFiles('#restore-file', bogus);
  await page.click('#restore-upload');
  const refused = await outcome();
  t.ok(await page.$('#backup-outcome.failed'), 'shown as a failure');
  t.match(refused, /^The file is not a usable vcbox backup: it is not gzip-compressed .+ Nothing was changed\./, 'the refusal in words');
  t.notOk(accounts.findByNumber('3001'), 'nothing changed');

  // The passphrase of the automatic backups: set here, never shown back.
  t.match(await page.textContent('#auto-passphrase-state'), /No passphrase is set/, 'automatic backups need a passphrase');
  await page.fill('#auto-passphrase', 'scheduled passphrase');
  await page.click('#auto-passphrase-save');
  t.match(await outcome(), /passphrase of the automatic backups was saved/);
  t.match(await page.textContent('#auto-passphrase-state'), /A passphrase is set/);
  t.equal(state.settings.get('backup.passphrase'), 'scheduled passphrase', 'stored (sealed) for the scheduler');

  // The schedule's settings are on the settings page.
  await page.click('#backup-schedule-link');
  await page.waitForSelector('#settings-backup');
  t.equal(await page.evaluate('document.activeElement?.id'), 'settings-backup-title', 'the link opens the settings at the schedule');
  await page.goBack();
  await page.waitForSelector('#backup-schedule');

  await page.selectOption('#lang', 'zh-CN');
  await page.waitForFunction("document.querySelector('#content h1')?.textContent === '备份与恢复'");
  t.match(await page.textContent('#backup-schedule-text'), /^每周一 02:00，保留最新的 3 份。下次运行：/, 'the page in Chinese');
  await page.setViewportSize({ width: 768, height: 1024 });
  t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
  await page.screenshot({ path: path.join(artifacts, 'console-backups-zh-768.png'), fullPage: true });

  // Chromium logs every refused request; only the refused upload is allowed.
  const provoked = /status of 422 .*\/api\/v1\/backups\/(WithKept\/)?restore$/;
  t.same(
    p.errors.filter((e) => !provoked.test(e)),
    [],
    'no other console errors on the page',
  );
});
