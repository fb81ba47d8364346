/**
 * The control-plane API over a real socket, as the console uses it: log in (lock-out after 5
 * wrong passwords), cookie + CSRF, roles, idle timeout, change password, the accounts API with
 * validation errors that name the field, the audit log, and the generated OpenAPI document.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AccountStore, ha1 } from '../../server/accounts/account-store.ts';
import { CallRecords } from '../../server/cdr/call-records.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-api-'));
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
const admins = new AdminStore(state.db);
await admins.ensureInitialAdmin(path.join(dataDir, 'secrets'));
const initialPassword = readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();
const base = await startConsoleApi(t, { state });

t.test('without a session the API answers 401; the OpenAPI document is public and generated', async (t) => {
  const client = new ConsoleClient(base);
  const denied = await client.call('GET', '/api/v1/accounts');
  t.equal(denied.status, 401);
  t.match(denied.body, { code: 'VCBOX_ERR_AUTH_REQUIRED', message: /log in/ });
  const openapi = await client.call('GET', '/api/v1/openapi.json');
  t.equal(openapi.status, 200);
  t.ok(openapi.body.paths['/api/v1/accounts'].get, 'accounts list described');
  t.ok(openapi.body.paths['/api/v1/session'].post.requestBody, 'login body described from the route schema');
  t.equal(openapi.body.paths['/api/v1/accounts'].post.requestBody.content['application/json'].schema.properties.number.pattern, '^[0-9]{4}$');
});

t.test('login: the generated first password works once; 5 wrong passwords lock the user for 3 minutes', async (t) => {
  const client = new ConsoleClient(base);
  const ok = await client.login('admin', initialPassword);
  t.equal(ok.status, 200);
  t.match(ok.body, { username: 'admin', role: 'admin', mustChangePassword: true, idleTimeoutSeconds: 1800 });
  const cookie = ok.headers.get('set-cookie') ?? '';
  t.match(cookie, /^vcbox_session=[\w-]{40,};/);
  t.match(cookie, /HttpOnly/i);
  t.match(cookie, /SameSite=Strict/i);
  t.notMatch(cookie, /Max-Age|Expires/i, 'a browser-session cookie: the idle timeout is the server\'s, not a fixed cookie lifetime');

  await admins.create({ username: 'victim', password: 'right-one', role: 'admin' });
  const attacker = new ConsoleClient(base);
  for (let i = 1; i <= 4; i++) t.match((await attacker.login('victim', 'wrong')).body, { code: 'VCBOX_ERR_LOGIN_FAILED' }, `wrong password ${i}`);
  const fifth = await attacker.login('victim', 'wrong');
  t.equal(fifth.status, 423);
  t.match(fifth.body, { code: 'VCBOX_ERR_LOGIN_LOCKED', message: /locked for 180 more seconds/ });
  const right = await attacker.login('victim', 'right-one');
  t.equal(right.status, 423, 'even the right password waits out the lock');
  t.match((await attacker.login('nobody', 'x')).body, { code: 'VCBOX_ERR_LOGIN_FAILED' }, 'unknown users look like wrong passwords');
  const failures = state.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'session.login.failed' AND actor = 'victim'").get() as { n: number };
  t.equal(failures.n, 6, 'every failed login is audited');
});

t.test('changes need the CSRF token; accounts API with validation, search, paging, reset, delete', async (t) => {
  const client = new ConsoleClient(base);
  await client.login('admin', initialPassword);
  const noCsrf = await client.call('POST', '/api/v1/accounts', { number: '1001', name: 'Room', password: 'secret1' }, { csrf: false });
  t.equal(noCsrf.status, 403);
  t.match(noCsrf.body, { code: 'VCBOX_ERR_CSRF' });

  const created = await client.call('POST', '/api/v1/accounts', { number: '1001', name: 'Room East', email: 'east@vcbox.local', password: 'secret1' });
  t.equal(created.status, 201);
  t.same(Object.keys(created.body).sort(), ['createdAt', 'email', 'name', 'number'], 'no credential material in the answer');
  const invalid: [unknown, string, RegExp][] = [
    [{ number: '12', name: 'x', password: 'secret1' }, 'number', /must be an account number of exactly 4 digits/],
    [{ number: '1002', name: 'x', password: '123' }, 'password', /fewer than 6 characters/],
    [{ number: '1002', password: 'secret1' }, 'name', /required property 'name'/],
    [{ number: '1002', name: 'x', password: 'secret1', email: 'a<b@c.d' }, 'email', /may not contain/],
    [{ number: '1002', name: 'x', password: 'secret1', admin: true }, 'admin', /additional properties/],
  ];
  for (const [body, field, reason] of invalid) {
    const answer = await client.call('POST', '/api/v1/accounts', body);
    t.equal(answer.status, 400, `${field}: 400`);
    t.match(answer.body, { code: /VCBOX_ERR_(VALIDATION|ACCOUNT_INVALID)/, field, message: reason }, `${field}: says what is wrong`);
  }
  t.match((await client.call('POST', '/api/v1/accounts', { number: '1001', name: 'Again', password: 'secret1' })).body, { code: 'VCBOX_ERR_ACCOUNT_EXISTS' });

  const store = new AccountStore(state.db);
  for (let i = 2; i <= 30; i++) store.create({ number: String(1000 + i), name: i % 2 ? `Odd ${i}` : `Even ${i}`, password: 'secret1' }, 'vcbox.local');
  const page = await client.call('GET', '/api/v1/accounts?page=2&pageSize=10&sort=number&order=desc');
  t.equal(page.body.total, 30);
  t.same(page.body.items.map((a: { number: string }) => a.number), ['1020', '1019', '1018', '1017', '1016', '1015', '1014', '1013', '1012', '1011']);
  const search = await client.call('GET', '/api/v1/accounts?q=odd&pageSize=100');
  t.equal(search.body.total, 14, 'search by name, case-insensitive (Odd 3 … Odd 29)');
  t.equal((await client.call('GET', '/api/v1/accounts?q=east%40')).body.total, 1, 'search by e-mail');
  t.equal((await client.call('GET', '/api/v1/accounts?q=%25')).body.total, 0, 'LIKE wildcards are taken literally');
  t.match((await client.call('GET', '/api/v1/accounts?pageSize=1000')).body, { code: 'VCBOX_ERR_VALIDATION', field: 'pageSize' });

  t.match((await client.call('PATCH', '/api/v1/accounts/1001', { name: 'Room West' })).body, { number: '1001', name: 'Room West' });
  t.equal((await client.call('POST', '/api/v1/accounts/1001/password', { password: 'newsecret' })).status, 204);
  t.equal(store.findByNumber('1001')?.ha1Md5, ha1('MD5', '1001', 'vcbox.local', 'newsecret'), 'the SIP credentials changed');
  t.equal((await client.call('DELETE', '/api/v1/accounts/1030')).status, 204);
  t.same((await client.call('POST', '/api/v1/accounts/delete', { numbers: ['1028', '1029', '1099'] })).body, { deleted: ['1028', '1029'] });
  t.match((await client.call('GET', '/api/v1/accounts/1029')).body, { code: 'VCBOX_ERR_ACCOUNT_NOT_FOUND', message: 'No account 1029.' });
  const audit = state.db.prepare("SELECT action FROM audit_log WHERE actor = 'admin' AND action LIKE 'account.%' ORDER BY id").all() as { action: string }[];
  t.same(audit.map((a) => a.action), ['account.create', 'account.update', 'account.password.reset', 'account.delete', 'account.delete']);
  const zh = await fetch(`${base}/api/v1/accounts/1029`, { headers: { cookie: client.cookie, 'accept-language': 'zh-CN' } });
  t.match(await zh.json(), { message: '账号 1029 不存在。' }, 'errors in Chinese for a zh-CN console');
});

t.test('operators read but may not change; everyone changes their own password; idle sessions end', async (t) => {
  const admin = new ConsoleClient(base);
  await admin.login('admin', initialPassword);
  t.equal((await admin.call('POST', '/api/v1/admins', { username: 'watcher', password: 'watch-me1', role: 'operator' })).status, 201);
  const operator = new ConsoleClient(base);
  t.match((await operator.login('watcher', 'watch-me1')).body, { role: 'operator', mustChangePassword: true });
  t.equal((await operator.call('GET', '/api/v1/accounts')).status, 200);
  t.match((await operator.call('POST', '/api/v1/accounts', { number: '1500', name: 'x', password: 'secret1' })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await operator.call('PUT', '/api/v1/session/password', { currentPassword: 'watch-me1', newPassword: 'watched1', confirmPassword: 'other' })).body, {
    code: 'VCBOX_ERR_PASSWORD_CHANGE',
    message: /confirmation differs/,
    field: 'confirmPassword',
  });
  t.match((await operator.call('PUT', '/api/v1/session/password', { currentPassword: 'nope', newPassword: 'watched1', confirmPassword: 'watched1' })).body, {
    message: /current password is wrong/,
    field: 'currentPassword',
  });
  const inChinese = await fetch(`${base}/api/v1/session/password`, {
    method: 'PUT',
    headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrfToken, 'content-type': 'application/json', 'accept-language': 'zh-CN' },
    body: JSON.stringify({ currentPassword: 'watch-me1', newPassword: 'watch-me1', confirmPassword: 'watch-me1' }),
  });
  t.match(await inChinese.json(), { message: '密码未修改：新密码不能与当前密码相同。', field: 'newPassword' }, 'the refusal in Chinese, by its field');
  t.equal((await operator.call('PUT', '/api/v1/session/password', { currentPassword: 'watch-me1', newPassword: 'watched1', confirmPassword: 'watched1' })).status, 204);
  t.match((await operator.call('GET', '/api/v1/session')).body, { mustChangePassword: false });
  t.equal((await operator.call('PUT', '/api/v1/session/email', { email: 'watcher@vcbox.local' })).status, 204);

  state.db.prepare("UPDATE admin_sessions SET last_seen_at = ? WHERE admin_id = (SELECT id FROM admins WHERE username = 'watcher')").run(new Date(Date.now() - 31 * 60_000).toISOString());
  t.match((await operator.call('GET', '/api/v1/accounts')).body, { code: 'VCBOX_ERR_AUTH_REQUIRED' }, 'after 31 idle minutes the session is gone');

  t.equal((await admin.call('DELETE', '/api/v1/session')).status, 204);
  t.equal((await admin.call('GET', '/api/v1/session')).status, 401, 'logged out');
});

t.test('operation log: newest first, by period and user, read-only', async (t) => {
  const client = new ConsoleClient(base);
  await client.login('admin', initialPassword);
  state.db.prepare("INSERT INTO audit_log (at, actor, source, action) VALUES (?, 'old-admin', '10.0.0.9', 'account.create')").run(new Date(Date.now() - 20 * 86_400_000).toISOString());
  const week = await client.call('GET', '/api/v1/audit?period=7d&pageSize=500');
  t.equal(week.status, 200);
  t.notOk(week.body.items.some((e: { actor: string }) => e.actor === 'old-admin'), 'a 20-day-old entry is not in the last 7 days');
  t.equal(week.body.items[0].action, 'session.login', 'newest first');
  const all = await client.call('GET', '/api/v1/audit?period=all&user=old');
  t.match(all.body, { total: 1, items: [{ actor: 'old-admin', source: '10.0.0.9', action: 'account.create' }] });
  const range = await client.call('GET', `/api/v1/audit?period=range&from=${encodeURIComponent(new Date(Date.now() - 25 * 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() - 15 * 86_400_000).toISOString())}`);
  t.equal(range.body.total, 1, 'date range');
  t.not((await client.call('DELETE', '/api/v1/audit')).status, 204, 'no route deletes the log');
});

t.test('operation log export: the same filters, as a spreadsheet', async (t) => {
  const client = new ConsoleClient(base);
  await client.login('admin', initialPassword);
  const response = await fetch(`${base}/api/v1/audit/export?period=all&user=old&format=xlsx`, { headers: { cookie: client.cookie } });
  t.equal(response.status, 200);
  t.match(response.headers.get('content-disposition'), 'operation-log.xlsx');
  const XLSX = (await import('xlsx')).default;
  const book = XLSX.read(Buffer.from(await response.arrayBuffer()), { type: 'buffer' });
  const rows = XLSX.utils.sheet_to_json<string[]>(book.Sheets[book.SheetNames[0] ?? ''] as import('xlsx').WorkSheet, { header: 1, raw: false });
  t.same(rows[0], ['时间 Time', '用户 User', '来源 Source', '操作 Action', '详情 Detail']);
  t.match(rows.slice(1), [[/^\d{4}-/, 'old-admin', '10.0.0.9', 'account.create']]);
});

t.test('call records: list by period, type and search; export', async (t) => {
  const client = new ConsoleClient(base);
  await client.login('admin', initialPassword);
  const records = new CallRecords(state.db);
  const recent = records.start('p2p', 'call-a', '1001', '1002');
  records.answered(recent);
  records.ended(recent, 'answered');
  records.start('p2p', 'call-b', '1003', '1004', new Date(Date.now() - 100 * 86_400_000));
  const month = await client.call('GET', '/api/v1/call-records?period=1m');
  t.match(month.body, { total: 1, items: [{ type: 'p2p', caller: '1001', callee: '1002', outcome: 'answered' }] });
  t.equal((await client.call('GET', '/api/v1/call-records?period=6m')).body.total, 2);
  t.equal((await client.call('GET', '/api/v1/call-records?period=all&q=1004')).body.total, 1, 'search');
  t.equal((await client.call('GET', '/api/v1/call-records?period=all&type=vmr')).body.total, 0, 'type filter');
  const file = await fetch(`${base}/api/v1/call-records/export?period=6m&format=xls`, { headers: { cookie: client.cookie } });
  t.equal(file.status, 200);
  const XLSX = (await import('xlsx')).default;
  const book = XLSX.read(Buffer.from(await file.arrayBuffer()), { type: 'buffer' });
  const rows = XLSX.utils.sheet_to_json<string[]>(book.Sheets[book.SheetNames[0] ?? ''] as import('xlsx').WorkSheet, { header: 1, raw: false });
  t.equal(rows.length, 3, 'header and two records');
  t.equal(rows[0]?.[0], '类型 Type');
});

t.test('account search: substrings of 3+ characters through the index, shorter ones and odd characters too', async (t) => {
  const client = new ConsoleClient(base);
  await client.login('admin', initialPassword);
  const store = new AccountStore(state.db);
  store.create({ number: '8001', name: 'Zürich "Quote" Room', email: 'zh@example.com', password: 'secret-1' }, 'vcbox.local');
  store.create({ number: '8002', name: '会议室 东', password: 'secret-1' }, 'vcbox.local');
  const q = async (text: string) => (await client.call('GET', `/api/v1/accounts?pageSize=100&q=${encodeURIComponent(text)}`)).body.items.map((a: { number: string }) => a.number);
  t.same(await q('rich "quo'), ['8001'], 'quotes inside the search are literal');
  t.same(await q('ZÜRICH'), ['8001'], 'case-insensitive');
  t.same(await q('会议室'), ['8002'], 'Chinese names');
  t.same(await q('东'), ['8002'], 'a single character (LIKE path)');
  t.same(await q('800'), ['8001', '8002'], 'numbers');
  t.ok((await q('zh@example')).includes('8001'), 'by e-mail');
  store.update('8001', { name: 'Geneva Room' });
  t.same(await q('rich'), [], 'renames reach the index');
  t.same(await q('geneva'), ['8001']);
  store.delete(['8001']);
  t.same(await q('geneva'), [], 'deletions too');
});
