/**
 * System log export (spec "Logs": per module Web, SIP, MCU, TURN, by date range), as an
 * administrator downloads it: real processes write today's SIP and Web logs (rotated files),
 * earlier days lie beside them; the console lists the days per module; an export of some
 * modules and days is one ZIP that Info-ZIP's `unzip` tests and unpacks to exactly those files,
 * byte for byte; a range outside the logs, a reversed range and a day the calendar lacks are
 * refused in words; every export is in the operation log.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { DiskParts } from '../../server/disk/disk-parts.ts';
import { localDay } from '../../server/core/rotating-log-file.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const run = promisify(execFile);
const WRITER = path.join(import.meta.dirname, '..', 'fixtures', 'logs', 'log-writer.ts');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-logs-export-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_LOG_STDOUT: '0' });
const state = openState(config);
await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const parts = new DiskParts({ dataDir, logDir: config.logDir });
const base = await startConsoleApi(t, { state, disk: { parts } });
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');

const today = localDay(Date.now());
// Today: the signaling service and the control plane log (real processes, files of 32 KiB).
await Promise.all([
  run(process.execPath, [WRITER, config.logDir, 'signaling', '2000', String(32 * 1024), 'sip'], { timeout: 60_000 }),
  run(process.execPath, [WRITER, config.logDir, 'control-plane', '300', String(32 * 1024), 'web'], { timeout: 60_000 }),
]);
// Earlier days, as rotation left them.
const earlier: Record<string, string> = {
  'sip/2026-11-20.signaling.log': '{"msg":"20 November"}\n',
  'sip/2026-11-21.signaling.log': '{"msg":"21 November"}\n',
  'sip/2026-11-21.signaling.1.log': '{"msg":"21 November, continued"}\n',
  'mcu/2026-11-21.media.log': '{"msg":"media on 21 November"}\n',
  'web/2026-11-19.supervisor.log': '{"msg":"19 November"}\n',
};
for (const [name, text] of Object.entries(earlier)) {
  mkdirSync(path.dirname(path.join(config.logDir, name)), { recursive: true });
  writeFileSync(path.join(config.logDir, name), text);
}
// A module's single file from before rotation belongs to its module, dated by its last change.
writeFileSync(path.join(config.logDir, 'mcu.log'), '{"msg":"before rotation"}\n');
utimesSync(path.join(config.logDir, 'mcu.log'), new Date(2026, 10, 18, 12), new Date(2026, 10, 18, 12));

/** Downloads an export; answers the status, headers and (for a ZIP) the file on disk. */
async function download(query: string): Promise<{ status: number; type: string | null; disposition: string | null; file: string; json?: { code: string; message: string; field?: string } }> {
  const response = await fetch(`${base}/api/v1/logs/system/export?${query}`, { headers: { cookie: admin.cookie } });
  const body = Buffer.from(await response.arrayBuffer());
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-export-')), 'export.zip');
  writeFileSync(file, body);
  const type = response.headers.get('content-type');
  return { status: response.status, type, disposition: response.headers.get('content-disposition'), file, ...(type?.startsWith('application/json') ? { json: JSON.parse(body.toString()) } : {}) };
}

t.test('the days each module holds', async (t) => {
  const { status, body } = await admin.call('GET', '/api/v1/logs/system');
  t.equal(status, 200);
  const days = Object.fromEntries(body.modules.map((m: { id: string; days: { date: string }[] }) => [m.id, m.days.map((d) => d.date)]));
  t.same(days, { web: ['2026-11-19', today], sip: ['2026-11-20', '2026-11-21', today], mcu: ['2026-11-18', '2026-11-21'], turn: [] });
  const sip = body.modules.find((m: { id: string }) => m.id === 'sip');
  t.ok(sip.files >= 8, `today's SIP log rotated by size (${sip.files} files)`);
});

t.test('an export of some modules and days is one ZIP of exactly those files', async (t) => {
  const zip = await download(`modules=sip,mcu&from=2026-11-21&to=${today}`);
  t.equal(zip.status, 200);
  t.equal(zip.type, 'application/zip');
  t.equal(zip.disposition, `attachment; filename="vcbox-logs-sip-mcu-2026-11-21_${today}.zip"`);
  t.match(execFileSync('unzip', ['-t', zip.file]).toString(), /No errors detected/, 'unzip checks every entry (CRC, sizes)');
  const listed = execFileSync('unzip', ['-Z1', zip.file]).toString().trim().split('\n').sort();
  const todays = readdirSync(path.join(config.logDir, 'sip'))
    .filter((name) => name.startsWith(today))
    .map((name) => `sip/${name}`);
  t.same(listed, ['mcu/2026-11-21.media.log', 'sip/2026-11-21.signaling.1.log', 'sip/2026-11-21.signaling.log', ...todays].sort(), 'the days asked for, nothing of 20 November, no Web');
  const out = mkdtempSync(path.join(os.tmpdir(), 'vcbox-unzipped-'));
  execFileSync('unzip', ['-q', zip.file, '-d', out]);
  for (const name of listed) t.same(readFileSync(path.join(out, name)), readFileSync(path.join(config.logDir, name)), `${name} byte for byte`);
  const lines = todays.flatMap((name) => readFileSync(path.join(out, name), 'utf8').split('\n').filter(Boolean));
  t.equal(lines.length, 2000, 'every line the signaling process wrote today');

  const audit = state.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'logs.export'").all() as { actor: string; detail: string }[];
  t.equal(audit.length, 1);
  t.match(JSON.parse(audit[0]?.detail ?? '{}'), { modules: ['sip', 'mcu'], from: '2026-11-21', to: today, files: listed.length });
  t.equal(audit[0]?.actor, 'chief');
});

t.test('every module by default', async (t) => {
  const zip = await download('from=2026-11-18&to=2026-11-19');
  t.equal(zip.status, 200);
  t.same(execFileSync('unzip', ['-Z1', zip.file]).toString().trim().split('\n'), ['web/2026-11-19.supervisor.log', 'mcu/mcu.log'], 'the file from before rotation too');
});

t.test('ranges refused in words', async (t) => {
  const empty = await download('modules=turn&from=2026-11-01&to=2026-11-30');
  t.equal(empty.status, 404);
  t.match(empty.json, { code: 'VCBOX_ERR_LOG_EXPORT_EMPTY', message: 'No TURN log has lines from 2026-11-01 to 2026-11-30. The box has none of these logs yet.' });
  const before = await download('modules=sip&from=2026-01-01&to=2026-01-31');
  t.equal(before.status, 404);
  t.match(before.json, { message: `No SIP log has lines from 2026-01-01 to 2026-01-31. The box has these logs from 2026-11-20 to ${today}.` });
  const reversed = await download('from=2026-11-21&to=2026-11-20');
  t.match(reversed, { status: 400, json: { code: 'VCBOX_ERR_LOG_RANGE', field: 'from', message: /the first day is after the last\. Give two dates YYYY-MM-DD, the first not after the second\./ } });
  const impossible = await download('from=2026-02-30&to=2026-03-01');
  t.match(impossible, { status: 400, json: { code: 'VCBOX_ERR_LOG_RANGE', message: /2026-02-30 to 2026-03-01 is not valid: not a day of the calendar/ } });
  const shape = await download('from=yesterday&to=2026-03-01');
  t.match(shape, { status: 400, json: { code: 'VCBOX_ERR_VALIDATION', field: 'from', message: /a day YYYY-MM-DD/ } });
  const module = await download('modules=web,ftp&from=2026-11-01&to=2026-11-02');
  t.match(module, { status: 400, json: { field: 'modules' } });
  const zh = await fetch(`${base}/api/v1/logs/system/export?from=2026-11-21&to=2026-11-20`, { headers: { cookie: admin.cookie, 'accept-language': 'zh-CN' } });
  t.match(await zh.json(), { message: /开始日期晚于结束日期/ });
  const anonymous = await fetch(`${base}/api/v1/logs/system/export?from=2026-11-19&to=2026-11-19`);
  t.equal(anonymous.status, 401, 'behind the console login');
});
