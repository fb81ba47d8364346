/**
 * Terminal logs (spec "Logs": per terminal IP, registration messages; filter by model and
 * online/offline; search; export), with real terminals: sipp registers with digest from three
 * loopback addresses as a Yealink, a Polycom and a Cisco to the real signaling service and
 * registrar; the Cisco then un-registers. With the setting on, the console API lists the three
 * by IP with model, version, account and online/offline (the registrar's bindings), filters and
 * searches them, shows one terminal's REGISTERs and the box's answers newest first with a
 * search, and exports one or several as a ZIP. Turning the setting off stops the logging at
 * once, without a restart; on again, it resumes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { DiskParts } from '../../server/disk/disk-parts.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { registerAs } from '../helpers/sipp.ts';

const logDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-terminal-logs-'));
const terminalsDir = path.join(logDir, 'terminals');
const box = await startSipBox({ terminalLogDir: terminalsDir, terminalLogsFromSetting: true });
t.teardown(() => box.close());
for (const [number, name] of [
  ['1001', 'Room East'],
  ['1002', 'Room West'],
  ['1003', 'Desk North'],
  ['1004', 'Desk South'],
] as const) {
  box.app.accounts.create({ number, name, password: `secret-${number}` }, box.realm);
}
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const parts = new DiskParts({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'vcbox-terminal-data-')), logDir });
const base = await startConsoleApi(t, { state: { db: box.db, settings: box.settings }, keepDb: true, disk: { parts }, online: () => box.app.location.online() });
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');

/** One terminal registering (expires 0: un-registering) from `address`, its log written. */
async function register(address: string, account: string, userAgent: string, expires = '300') {
  await registerAs(`127.0.0.1:${box.port}`, address, account, userAgent, expires);
  await box.service.flushTerminalLogs();
}

t.test('three terminals register; their logs are listed with model, account and online/offline', async (t) => {
  t.same((await admin.call('PATCH', '/api/v1/settings', { 'terminalLogs.enabled': true })).body.appliedNow, ['terminalLogs.enabled'], 'on at once');
  await register('127.0.0.21', '1001', 'Yealink SIP-VC800 63.345.0.10');
  await register('127.0.0.22', '1002', 'Polycom RealPresence Group 500 6.2.2');
  await register('127.0.0.23', '1003', 'Cisco TelePresence SX20 9.15.3');
  await register('127.0.0.23', '1003', 'Cisco TelePresence SX20 9.15.3', '0');

  const { status, body } = await admin.call('GET', '/api/v1/logs/terminals');
  t.equal(status, 200);
  t.equal(body.enabled, true);
  t.equal(body.total, 3);
  const byIp = Object.fromEntries(body.terminals.map((term: { ip: string }) => [term.ip, term]));
  t.match(byIp['127.0.0.21'], { id: '127.0.0.21', model: 'Yealink SIP-VC800', version: '63.345.0.10', accounts: ['1001'], online: true, entries: 4 });
  t.match(byIp['127.0.0.22'], { model: 'Polycom RealPresence Group 500', version: '6.2.2', accounts: ['1002'], online: true });
  t.match(byIp['127.0.0.23'], { model: 'Cisco TelePresence SX20', accounts: ['1003'], online: false, entries: 8 }, 'un-registered: offline, its model from its own messages');
  t.same(body.models, ['Cisco TelePresence SX20', 'Polycom RealPresence Group 500', 'Yealink SIP-VC800'], 'the models to filter by');
});

t.test('filtered by model and status, searched', async (t) => {
  const ips = async (query: string) => (await admin.call('GET', `/api/v1/logs/terminals?${query}`)).body.terminals.map((term: { ip: string }) => term.ip).sort();
  t.same(await ips('status=online'), ['127.0.0.21', '127.0.0.22']);
  t.same(await ips('status=offline'), ['127.0.0.23']);
  t.same(await ips(`model=${encodeURIComponent('Polycom RealPresence Group 500')}`), ['127.0.0.22']);
  t.same(await ips(`model=${encodeURIComponent('Polycom RealPresence Group 500')}&status=offline`), []);
  t.same(await ips('q=yealink'), ['127.0.0.21'], 'by model, any case');
  t.same(await ips('q=1003'), ['127.0.0.23'], 'by account');
  t.same(await ips('q=0.0.22'), ['127.0.0.22'], 'by IP');
  const paged = (await admin.call('GET', '/api/v1/logs/terminals?pageSize=2&page=2')).body;
  t.match(paged, { total: 3, page: 2, pageSize: 2 });
  t.equal(paged.terminals.length, 1, 'paged');
});

t.test('one terminal\'s messages, newest first, searched', async (t) => {
  const { body } = await admin.call('GET', '/api/v1/logs/terminals/127.0.0.21');
  t.equal(body.total, 4, 'two REGISTERs and the two answers');
  t.same(
    body.entries.map((e: { direction: string; summary: string }) => `${e.direction} ${e.summary}`),
    ['out SIP/2.0 200 OK', 'in REGISTER sip:vcbox.local SIP/2.0', 'out SIP/2.0 401 Unauthorized', 'in REGISTER sip:vcbox.local SIP/2.0'],
    'newest first, in and out',
  );
  t.match(body.entries[1].text, /Authorization: Digest username="1001"/);
  t.match(body.terminal, { ip: '127.0.0.21', online: true });
  const searched = (await admin.call('GET', '/api/v1/logs/terminals/127.0.0.23?q=expires:%200')).body;
  t.equal(searched.total, 2, 'the un-registration (both its REGISTERs say Expires: 0)');
  t.ok(searched.entries.every((e: { text: string }) => /Expires: 0/i.test(e.text)));
  const page = (await admin.call('GET', '/api/v1/logs/terminals/127.0.0.23?pageSize=3&page=3')).body;
  t.match(page, { total: 8, page: 3 });
  t.equal(page.entries.length, 2);
  const missing = await admin.call('GET', '/api/v1/logs/terminals/10.9.9.9');
  t.match(missing, { status: 404, body: { code: 'VCBOX_ERR_TERMINAL_LOG_NOT_FOUND', message: /There is no terminal log 10\.9\.9\.9/ } });
  t.equal((await admin.call('GET', '/api/v1/logs/terminals/..%2F..%2Fetc%2Fpasswd')).status, 404, 'only log ids');
});

t.test('export one or several as a ZIP', async (t) => {
  const fetchZip = async (query: string) => {
    const response = await fetch(`${base}/api/v1/logs/terminals/export?${query}`, { headers: { cookie: admin.cookie } });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-terminal-export-')), 'export.zip');
    writeFileSync(file, Buffer.from(await response.arrayBuffer()));
    return { status: response.status, disposition: response.headers.get('content-disposition'), file };
  };
  const one = await fetchZip('ids=127.0.0.22');
  t.equal(one.status, 200);
  t.equal(one.disposition, 'attachment; filename="vcbox-terminal-log-127.0.0.22.zip"');
  t.same(execFileSync('unzip', ['-Z1', one.file]).toString().trim().split('\n'), ['terminals/127.0.0.22.log']);
  t.match(execFileSync('unzip', ['-p', one.file, 'terminals/127.0.0.22.log']).toString(), /User-Agent: Polycom RealPresence Group 500 6\.2\.2/);
  const online = await fetchZip('status=online');
  t.same(execFileSync('unzip', ['-Z1', online.file]).toString().trim().split('\n').sort(), ['terminals/127.0.0.21.log', 'terminals/127.0.0.22.log'], 'the filtered list');
  t.match(execFileSync('unzip', ['-t', online.file]).toString(), /No errors detected/);
  const unknown = await fetchZip('ids=127.0.0.21,10.1.1.1');
  t.equal(unknown.status, 404);
  const audit = box.db.prepare("SELECT detail FROM audit_log WHERE action = 'logs.terminals.export' ORDER BY id").all() as { detail: string }[];
  t.same(audit.map((row) => (JSON.parse(row.detail).ids as string[]).sort()), [['127.0.0.22'], ['127.0.0.21', '127.0.0.22']], 'exports audited');
});

t.test('turning terminal logs off stops them at once; on again, they resume', async (t) => {
  await admin.call('PATCH', '/api/v1/settings', { 'terminalLogs.enabled': false });
  // The signaling side reads the setting within 100 ms (the settings store's cache).
  await new Promise((resolve) => setTimeout(resolve, 150));
  await register('127.0.0.24', '1004', 'Yealink MeetingEye 400 133.0.1');
  t.notOk(existsSync(path.join(terminalsDir, '127.0.0.24.log')), 'nothing written while off');
  t.equal((await admin.call('GET', '/api/v1/logs/terminals')).body.enabled, false);
  await admin.call('PATCH', '/api/v1/settings', { 'terminalLogs.enabled': true });
  await new Promise((resolve) => setTimeout(resolve, 150));
  await register('127.0.0.24', '1004', 'Yealink MeetingEye 400 133.0.1');
  const list = (await admin.call('GET', '/api/v1/logs/terminals?q=127.0.0.24')).body.terminals;
  t.match(list, [{ ip: '127.0.0.24', model: 'Yealink MeetingEye 400', online: true, entries: 4 }], 'logged again');
});
