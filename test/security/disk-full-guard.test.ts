/**
 * The full-disk guard (server/disk/disk-space-guard.ts) seen by a LAN attacker: the real
 * control plane with a guard whose reserve is more than any disk has (a real statfs of the
 * data folder says "full"), so every change meets it. It must not open a way around the
 * session, CSRF and role checks (those answer first: 401, 403), must not tell an
 * unauthenticated caller where the box keeps its data, and must leave an administrator the way
 * in to free space (log in, "Clean now") — while changes are refused in words (507).
 */
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { DiskSpaceGuard } from '../../server/disk/disk-space-guard.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
const base = await startConsoleApi(t, { state, diskGuard: new DiskSpaceGuard({ dir: state.dataDir, reserveBytes: Number.MAX_SAFE_INTEGER }) });

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, text: await r.text() }));

t.test('without a session the checks answer first; nothing says where the data is', async (t) => {
  const account = await post('/api/v1/accounts', { number: '3201', name: 'Intruder', password: 'secret-3201' });
  t.equal(account.status, 401, 'a change without a session: 401, not the disk state');
  const unknown = await post('/api/v1/no-such-route', {});
  t.equal(unknown.status, 404, 'an unknown route: 404');
  const forgot = await post('/api/v1/session/forgot', { username: 'chief', email: 'chief@example.com', captchaId: 'x', captcha: 'y' });
  t.equal(forgot.status, 507, 'a public change is refused for the full disk');
  t.notMatch(forgot.text, state.dataDir, 'without the data folder in the answer');
  t.notMatch(forgot.text, /\/tmp\/|\/var\/lib/, 'nor any path');
});

t.test('with a session: CSRF and role first, then 507 in words; logging in and "Clean now" still work', async (t) => {
  const operator = new ConsoleClient(base);
  t.equal((await operator.login('watcher', 'Watch2026')).status, 200, 'an operator logs in on a full disk');
  t.equal((await operator.call('POST', '/api/v1/admins', { username: 'x', password: 'Xxxx2026x', role: 'admin' })).status, 403, 'an admin-only change by an operator: 403, not 507');
  const noCsrf = await operator.call('POST', '/api/v1/accounts', { number: '3201', name: 'Room', password: 'secret-3201' }, { csrf: false });
  t.equal(noCsrf.status, 403, 'a change without the CSRF token: 403');

  const admin = new ConsoleClient(base);
  t.equal((await admin.login('chief', 'Chief2026')).status, 200, 'an administrator logs in on a full disk');
  const refused = await admin.call('POST', '/api/v1/accounts', { number: '3201', name: 'Room', password: 'secret-3201' });
  t.equal(refused.status, 507);
  t.match(refused.body, { code: 'VCBOX_ERR_DISK_FULL', message: /disk .* is full.*Free space/s });
  t.same(Object.keys(refused.body).sort(), ['code', 'free', 'message'], 'code, message and the free space; no path');
  const clean = await admin.call('POST', '/api/v1/disk/clean', { part: 'records' });
  t.not(clean.status, 507, `"Clean now" is not refused for the full disk (${clean.status})`);
});
