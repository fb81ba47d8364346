/**
 * Disk quotas as an administrator sets them (PATCH /settings) on a real file system of known
 * size (a 40 GB tmpfs the test mounts as the data directory): the storage path with its
 * used/free figures, each part with its quota and minimum; whole GB only; a quota under the
 * larger of the part's default and what it uses now refused with the spec's message (English
 * and Chinese), the minimum following real usage (a 12.3 GB file in the records folder); the
 * quotas' sum beyond the space the parts can have refused; nothing written by a refusal; the
 * server-log quota's Web/SIP/MCU/TURN shares adding up to 100 %.
 */
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { DiskParts, GIB } from '../../server/disk/disk-parts.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { smallFilesystem } from '../helpers/small-filesystem.ts';

const dataDir = smallFilesystem(t, '40g');
if (!dataDir) {
  t.test('needs a file system of its own', { skip: 'mounting a tmpfs needs root' }, () => {});
} else {
  const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
  const state = openState(config);
  await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
  const parts = new DiskParts({ dataDir, logDir: config.logDir });
  const base = await startConsoleApi(t, { state, disk: { parts } });
  const admin = new ConsoleClient(base);
  await admin.login('chief', 'Chief2026');
  const patch = (body: Record<string, unknown>, language = 'en') =>
    fetch(`${base}/api/v1/settings`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'accept-language': language },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> & { message: string; changed: string[]; appliedNow: string[] } }));
  const quota = async (key: string) => (await admin.call('GET', '/api/v1/settings')).body[key].value;

  t.test('the storage path and the parts, with their quotas and minimums', async (t) => {
    const { status, body } = await admin.call('GET', '/api/v1/disk');
    t.equal(status, 200);
    t.match(body.storagePath, { path: dataDir, changeable: false, note: /data directory/ });
    t.ok(Math.abs(body.storagePath.totalBytes - 40 * GIB) < GIB / 100, `total ${body.storagePath.totalBytes} bytes: the 40 GB file system`);
    t.ok(body.storagePath.freeBytes > 39.9 * GIB, 'nearly all free');
    t.same(
      body.parts.map((p: { id: string; quotaGB: number; minimumGB: number }) => [p.id, p.quotaGB, p.minimumGB]),
      [
        ['records', 10, 10],
        ['serverLogs', 5, 5],
        ['terminalLogs', 2, 2],
        ['backups', 5, 5],
        ['firmware', 5, 5],
      ],
      'defaults from the manual; minimum = default while nothing is used',
    );
    const logs = body.parts.find((p: { id: string }) => p.id === 'serverLogs');
    t.same(
      logs.modules.map((m: { id: string; percent: number }) => [m.id, m.percent]),
      [
        ['web', 30],
        ['sip', 40],
        ['mcu', 20],
        ['turn', 10],
      ],
      'server logs split Web/SIP/MCU/TURN',
    );
    t.equal(body.filesystems.length, 1, 'logs on the same file system');
    t.equal(body.filesystems[0].quotaBytes, 27 * GIB);
  });

  t.test('quotas are whole numbers of GB', async (t) => {
    const refused = await patch({ 'disk.quota.recordsGB': 10.5 });
    t.equal(refused.status, 400);
    t.match(refused.body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'disk.quota.recordsGB', message: /whole number of GB/ });
    t.equal(await quota('disk.quota.recordsGB'), 10, 'unchanged');
  });

  t.test('a quota under its default is refused with the spec\'s minimum rule', async (t) => {
    const en = await patch({ 'disk.quota.recordsGB': 9 });
    t.equal(en.status, 400);
    t.match(en.body, {
      code: 'VCBOX_ERR_DISK_QUOTA_MIN',
      field: 'disk.quota.recordsGB',
      message: 'The meeting records quota must be at least 10 GB: the larger of its default (10 GB) and the space it uses now (0 GB). Enter a whole number of at least 10, or clean the part first.',
    });
    const zh = await patch({ 'disk.quota.terminalLogsGB': 1 }, 'zh-CN');
    t.match(zh.body, { code: 'VCBOX_ERR_DISK_QUOTA_MIN', message: /^终端日志配额不能小于 2 GB：各部分配额最小值为该部分默认空间（2 GB）与已使用空间（0 GB）中的较大值/ });
    t.equal(await quota('disk.quota.terminalLogsGB'), 2);
  });

  t.test('the minimum follows what a part uses: 12.3 GB of records make it 13 GB', async (t) => {
    const folder = path.join(dataDir, 'records');
    mkdirSync(folder, { recursive: true });
    // A sparse file: 12.3 GB long, no memory taken.
    const file = path.join(folder, 'meeting-2026-11-02.mp4');
    writeFileSync(file, '');
    truncateSync(file, Math.round(12.3 * GIB));
    const records = (await admin.call('GET', '/api/v1/disk')).body.parts[0];
    t.match(records, { id: 'records', files: 1, minimumGB: 13 });
    t.equal(records.usedBytes, Math.round(12.3 * GIB));
    const refused = await patch({ 'disk.quota.recordsGB': 12 });
    t.match(refused.body, { code: 'VCBOX_ERR_DISK_QUOTA_MIN', message: /at least 13 GB: the larger of its default \(10 GB\) and the space it uses now \(12\.3 GB\)/ });
    const accepted = await patch({ 'disk.quota.recordsGB': 13 });
    t.equal(accepted.status, 200, JSON.stringify(accepted.body));
    t.same(accepted.body.changed, ['disk.quota.recordsGB']);
    t.same(accepted.body.appliedNow, ['disk.quota.recordsGB'], 'applies at once');
  });

  t.test('the quotas together may not exceed the free space plus what the parts use', async (t) => {
    // 13 + 5 + 2 + 5 + 5 = 30 GB now; ~40 GB free + 12.3 GB used = ~52.3 GB for the parts.
    const refused = await patch({ 'disk.quota.backupsGB': 30 });
    t.equal(refused.status, 400);
    t.match(refused.body, {
      code: 'VCBOX_ERR_DISK_QUOTA_SUM',
      field: 'disk.quota.backupsGB',
      message: new RegExp(`^The quotas on ${dataDir} add up to 55 GB, more than the 52\\.\\d GB its parts can have there \\(\\d\\d\\.\\d GB free plus the 12\\.3 GB they use now\\)\\. Lower a quota or free space on the disk\\.$`),
    });
    const zh = await patch({ 'disk.quota.backupsGB': 30 }, 'zh');
    t.match(zh.body.message, /各部分磁盘空间总额不能超过可用磁盘空间/);
    t.equal(await quota('disk.quota.backupsGB'), 5, 'nothing written');
    const fits = await patch({ 'disk.quota.backupsGB': 20 });
    t.equal(fits.status, 200, '13 + 5 + 2 + 20 + 5 = 45 GB fits');
  });

  t.test('a change that touches no quota is not held up by the disk', async (t) => {
    // The parts now use more than their free share would allow for a new quota, yet other settings save.
    const saved = await patch({ 'call.ivrLanguage': 'en' });
    t.equal(saved.status, 200);
  });

  t.test('the server-log shares add up to 100 %', async (t) => {
    const refused = await patch({ 'disk.serverLogs.webPercent': 50 });
    t.match(refused.body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'disk.serverLogs.webPercent', message: /must add up to 100 %, not 120 %/ });
    const saved = await patch({ 'disk.serverLogs.webPercent': 50, 'disk.serverLogs.sipPercent': 20 });
    t.equal(saved.status, 200);
    const logs = (await admin.call('GET', '/api/v1/disk')).body.parts.find((p: { id: string }) => p.id === 'serverLogs');
    t.same(
      logs.modules.map((m: { id: string; quotaBytes: number }) => [m.id, m.quotaBytes]),
      [
        ['web', 2.5 * GIB],
        ['sip', 1 * GIB],
        ['mcu', 1 * GIB],
        ['turn', 0.5 * GIB],
      ],
      'each module\'s share of the 5 GB',
    );
  });
}
