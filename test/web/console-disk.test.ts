/**
 * The disk part of the console's settings page in headless Chromium, on a real 40 GB file
 * system the test mounts as the data directory (root only; skipped otherwise): the storage
 * path with its used/free ring, a bar per part and per server-log module, each part's smallest
 * quota now (12.3 GB of meeting records make it 13 GB); a quota under it asked first with the
 * manual's "change the disk settings?" and refused by its field with the spec's rule, the right
 * value saved; "clean now" of one server-log module asked first with "this deletes [××]" and
 * answered in words (the files gone on disk); firmware not cleanable here; in Chinese at a
 * tablet's width. Screenshots go to the artefacts; no console errors but the refusal provoked.
 */
import { mkdirSync, mkdtempSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { DiskParts, GIB } from '../../server/disk/disk-parts.ts';
import { openState } from '../../server/process/open-state.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { smallFilesystem } from '../helpers/small-filesystem.ts';

const dataDir = smallFilesystem(t, '40g');
if (!dataDir) {
  t.test('needs a file system of its own', { skip: 'mounting a tmpfs needs root' }, () => {});
} else {
  const config = loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_LOG_STDOUT: '0' });
  const state = openState(config);
  await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
  const base = await startConsoleApi(t, { state, disk: { parts: new DiskParts({ dataDir, logDir: config.logDir }) }, webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

  // 12.3 GB of meeting records (a sparse file) and two old days of SIP logs.
  mkdirSync(path.join(dataDir, 'records'), { recursive: true });
  writeFileSync(path.join(dataDir, 'records', 'meeting.mp4'), '');
  truncateSync(path.join(dataDir, 'records', 'meeting.mp4'), Math.round(12.3 * GIB));
  const sip = path.join(config.logDir, 'sip');
  mkdirSync(sip, { recursive: true });
  writeFileSync(path.join(sip, '2026-11-20.signaling.log'), '{"msg":"old"}\n'.repeat(1000));
  writeFileSync(path.join(sip, '2026-11-21.signaling.log'), '{"msg":"old"}\n'.repeat(1000));

  t.test('quotas, usage and clean now on the settings page', async (t) => {
    const p = await openPage(browser, `${base}/#settings`);
    t.teardown(() => p.page.context().close());
    const { page } = p;
    await page.setViewportSize({ width: 1280, height: 900 });
    await logInToConsole(page, 'chief', 'Chief2026');
    await page.waitForSelector('#disk-parts tr[data-part="records"]');
    t.equal(await page.textContent('#disk-storage-path'), dataDir, 'the storage path: the data directory');
    t.match(await page.getAttribute('#disk-usage svg.disk-ring', 'aria-label'), /^Used .+ \(\d+(\.\d)? %\) and free 40\.0 GB of 40\.0 GB$/, 'the ring says used and free');
    t.match(await page.textContent('#disk-parts tr[data-part="records"]'), /Meeting records.*12\.3 GB of 10 GB \(1 file\).*13 GB/, 'records: used, quota, smallest quota now');
    t.equal(await page.getAttribute('#disk-parts tr[data-part="records"] meter', 'value'), String(Math.round(12.3 * GIB)), 'a bar per part');
    t.equal(await page.locator('#disk-parts tr.disk-module').count(), 4, 'and per server-log module');
    t.match(await page.textContent('#disk-parts tr[data-module="sip"]'), /SIP.*40 % of the server-log quota/);
    t.ok(await page.isDisabled('#disk-clean-firmware'), 'firmware is not cleaned here');
    t.match(await page.textContent('#disk-parts tr[data-part="firmware"]'), /deleted on the firmware page/);
    t.match(await page.textContent('#setting-disk-quota-recordsGB-help'), /a whole number of GB from 1 to 100000/, 'the rule as help');
    t.match(await page.textContent('.disk-rules'), /at least the larger of the part's default and what it uses now/);

    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    // Under the minimum: refused by the field, with the spec's rule.
    await page.fill('#setting-disk-quota-recordsGB', '12');
    await page.click('#settings-disk-save');
    await page.waitForSelector('#setting-disk-quota-recordsGB-error:not(:empty)');
    t.equal(dialogs.at(-1), 'Change the disk settings?', 'asked first, as the manual does');
    t.match(await page.textContent('#setting-disk-quota-recordsGB-error'), /^The meeting records quota must be at least 13 GB: the larger of its default \(10 GB\) and the space it uses now \(12\.3 GB\)/);
    await page.fill('#setting-disk-quota-recordsGB', '13');
    await page.click('#settings-disk-save');
    await page.waitForSelector('#settings-disk-outcome.ok');
    t.match(await page.textContent('#settings-disk-outcome'), /Saved\.Applied now: Meeting records \(GB\)/);
    t.equal(state.settings.get('disk.quota.recordsGB'), 13);

    // Clean now: the SIP logs.
    await page.waitForSelector('#disk-clean-serverLogs-sip');
    await page.click('#disk-clean-serverLogs-sip');
    await page.waitForSelector('#disk-clean-outcome.ok');
    t.equal(dialogs.at(-1), 'This deletes [server logs (SIP)]. Continue?', 'the manual\'s confirmation');
    t.match(await page.textContent('#disk-clean-outcome'), /^Cleaned server logs \(SIP\): 2 files deleted, 27\.3 KB freed\.$/);
    t.same(readdirSync(sip), [], 'gone from the disk');
    await page.locator('#settings-disk').screenshot({ path: path.join(artifacts, 'console-disk.png') });

    // In Chinese, at a tablet's width.
    await page.selectOption('#lang', 'zh-CN');
    await page.waitForFunction("document.querySelector('#disk-usage-title')?.textContent === '磁盘空间'");
    t.match(await page.textContent('#disk-parts tr[data-part="records"]'), /会议记录.*已用 12\.3 GB，配额 13 GB/);
    await page.click('#disk-clean-terminalLogs');
    await page.waitForSelector('#disk-clean-outcome.ok');
    t.equal(dialogs.at(-1), '该操作将删除[终端日志]，确定操作？', 'the confirmation in the manual\'s words');
    await page.setViewportSize({ width: 768, height: 1024 });
    t.ok(await page.$eval('body', (b) => b.scrollWidth <= 768), 'nothing wider than a tablet');
    await page.locator('#settings-disk').screenshot({ path: path.join(artifacts, 'console-disk-zh-768.png') });

    const provoked = /status of 400 .*\/api\/v1\/settings$/;
    t.same(
      p.errors.filter((e) => !provoked.test(e)),
      [],
      'no other console errors on the page',
    );
  });
}
