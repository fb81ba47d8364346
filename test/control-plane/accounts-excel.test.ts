
import zlib from 'node:zlib';
import t from 'tap';
import XLSX from 'xlsx';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'admin', password: 'admin-pw1', role: 'admin' });
const base = await startConsoleApi(t, { state });
const client = new ConsoleClient(base);
await client.login('admin', 'admin-pw1');
const accounts = new AccountStore(state.db);
const count = () => accounts.list({ pageSize: 1 }).total;

const HEADER = ['姓名 Name', '账号 Account', '邮箱 E-mail', '密码 Password'];
function workbook(rows: string[][], bookType: 'biff8' | 'xlsx'): Buffer {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(rows), 'Accounts');
  return XLSX.write(book, { type: 'buffer', bookType }) as Buffer;
}
function sheetRows(data: Buffer): string[][] {
  const book = XLSX.read(data, { type: 'buffer' });
  return XLSX.utils.sheet_to_json<string[]>(book.Sheets[book.SheetNames[0] ?? ''] as XLSX.WorkSheet, { header: 1, raw: false, defval: '' });
}
async function upload(data: Buffer, type = 'application/vnd.ms-excel') {
  const response = await fetch(`${base}/api/v1/accounts/import`, {
    method: 'POST',
    headers: { cookie: client.cookie, 'x-csrf-token': client.csrfToken, 'content-type': type },
    body: data,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { failed: { row: number; reason: string }[]; failureFile: string | null } };
}
async function download(pathname: string) {
  const response = await fetch(`${base}${pathname}`, { headers: { cookie: client.cookie } });
  return { status: response.status, type: response.headers.get('content-type'), disposition: response.headers.get('content-disposition'), data: Buffer.from(await response.arrayBuffer()) };
}

t.test('templates in .xls and .xlsx with the fixed header row', async (t) => {
  for (const format of ['xls', 'xlsx']) {
    const file = await download(`/api/v1/accounts/template?format=${format}`);
    t.equal(file.status, 200);
    t.match(file.disposition, `accounts-template.${format}`);
    t.same(sheetRows(file.data)[0], HEADER, `${format} header`);
  }
});

t.test('a 1 000-row import creates every account; a corrected re-import updates them', async (t) => {
  const rows = Array.from({ length: 1000 }, (_, i) => [`User ${i}`, String(3000 + i), `user${i}@example.com`, `pass-${i}x`]);
  const first = await upload(workbook([HEADER, ...rows], 'biff8'));
  t.equal(first.status, 200);
  t.match(first.body, { created: 1000, updated: 0, failed: [], failureFile: null });
  t.equal(count(), 1000);
  const renamed = rows.slice(0, 10).map(([name, number, email]) => [`${name} (renamed)`, number ?? '', email ?? '', '']);
  const second = await upload(workbook([HEADER, ...renamed], 'xlsx'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  t.match(second.body, { created: 0, updated: 10 });
  t.equal(accounts.findByNumber('3005')?.name, 'User 5 (renamed)');
  t.equal(count(), 1000, 'no duplicates');
});

t.test('bad rows come back with reasons and a failure file; good rows are applied', async (t) => {
  const rows = [
    HEADER,
    ['Good One', '4001', 'good@example.com', 'secret-1'],
    ['', '4002', '', 'secret-2'],
    ['Bad Number', '40O3', '', 'secret-3'],
    ['Bad Mail', '4004', 'not an email', 'secret-4'],
    ['No Password', '4005', '', ''],
    ['Twice', '4001', '', 'secret-6'],
  ];
  const result = await upload(workbook(rows, 'biff8'));
  t.match(result.body, { created: 1, updated: 0 });
  t.same(result.body.failed.map((f) => f.row), [3, 4, 5, 6, 7]);
  t.match(result.body.failed.map((f) => f.reason), [/name is required/, /exactly 4 digits/, /e-mail/, /needs a password/, /appears twice/]);
  const failure = sheetRows(Buffer.from(result.body.failureFile ?? '', 'base64'));
  t.same(failure[0], [...HEADER, '失败原因 Failure reason']);
  t.equal(failure.length, 6);

  const corrected = failure.slice(1).map(([name, number, email, password]) => [name || 'Named Now', number === '40O3' ? '4003' : number ?? '', email === 'not an email' ? '' : email ?? '', password || 'secret-9']);
  const again = await upload(workbook([HEADER, ...corrected], 'biff8'));
  t.match(again.body, { created: 4, updated: 1, failed: [] }, 'the corrected failure file imports (4001 is updated)');
});

t.test('hostile or broken files are refused with a clear reason and change nothing', async (t) => {
  const before = count();
  const tooMany = workbook([HEADER, ...Array.from({ length: 1001 }, (_, i) => [`N ${i}`, String(5000 + i), '', 'secret-1'])], 'xlsx');
  const cases: [string, Buffer, RegExp][] = [
    ['1 001 rows', tooMany, /more than 1000 data rows/],
    ['random bytes', Buffer.from('this is not a spreadsheet at all'), /not an Excel file/],
    ['a CSV', Buffer.from('Name,Account\nA,1234\n'), /not an Excel file/],
    ['a truncated .xlsx', tooMany.subarray(0, 2000), /damaged/],
    ['a wrong header', workbook([['Who', 'What'], ['A', '1234']], 'biff8'), /header row must be/],
    ['an empty file', Buffer.alloc(0), /empty|required|body/],
  ];
  // A zip bomb: one entry of 200 MB of zeros that deflates to a few hundred KB.
  const zeros = zlib.deflateRawSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });
  const name = Buffer.from('xl/worksheets/sheet1.xml');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(zeros.length, 18);
  local.writeUInt32LE(200 * 1024 * 1024, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(zeros.length, 20);
  central.writeUInt32LE(200 * 1024 * 1024, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + zeros.length, 16);
  cases.push(['a zip bomb', Buffer.concat([local, name, zeros, central, name, end]), /unpacks to 200 MB/]);
  for (const [what, data, reason] of cases) {
    const result = await upload(data);
    t.equal(result.status, 400, `${what}: 400`);
    t.match(result.body, { message: reason }, `${what}: ${String(result.body.message)}`);
  }
  t.equal(count(), before, 'nothing changed');
  const huge = await upload(Buffer.alloc(6 * 1024 * 1024, 1));
  t.equal(huge.status, 413, 'an upload over 5 MB is cut off');
});

t.test('exports neutralise cells that look like formulas', async (t) => {
  accounts.create({ number: '6001', name: '=HYPERLINK("http://evil","x")', email: '+1@example.com', password: 'secret-1' }, 'vcbox.local');
  accounts.create({ number: '6002', name: '@SUM(A1)', password: 'secret-1' }, 'vcbox.local');
  const file = await download('/api/v1/accounts/export?format=xlsx');
  t.equal(file.status, 200);
  const rows = sheetRows(file.data);
  t.same(rows[0], ['姓名 Name', '账号 Account', '邮箱 E-mail', '创建日期 Created']);
  const row6001 = rows.find((r) => r[1] === '6001');
  t.equal(row6001?.[0], '\'=HYPERLINK("http://evil","x")');
  t.equal(row6001?.[2], "'+1@example.com");
  t.equal(rows.find((r) => r[1] === '6002')?.[0], "'@SUM(A1)");
  t.equal(rows.length - 1, count(), 'every account exported');
  t.notOk(rows.flat().some((cell) => /pass-|secret-/.test(cell)), 'no passwords in the export');
});
