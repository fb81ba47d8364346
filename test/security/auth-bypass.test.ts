/**
 * Finding 1 (issue #16), console auth bypass: the session check was decided on the raw URL while
 * the router matches the percent-decoded path and accepts absolute-form request lines, so
 * `POST /%61pi/v1/admins` created an administrator with no session, CSRF token or role, and
 * `GET http://box/api/v1/settings` answered the settings. Performed here over a raw TCP socket
 * against the real control plane, with every spelling the router might still match: none may
 * answer data or create anyone; the one legitimate spelling with a session still works.
 */
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { rawRequest } from '../helpers/raw-http.ts';

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const base = await startConsoleApi(t, { state });
const port = Number(new URL(base).port);

const SETTINGS_SPELLINGS = [
  '/%61pi/v1/settings',
  '/api/v1/%73ettings',
  '/%2561pi/v1/settings',
  'http://box/api/v1/settings',
  'http://box/%61pi/v1/settings',
  'HTTP://BOX/api/v1/settings',
  'https://box:1/api/v1/settings',
  '//api/v1/settings',
  '/api//v1/settings',
  '/api/v1//settings',
  '/API/v1/settings',
  '/Api/V1/Settings',
  '/api/v1/settings/',
  '/api/v1/settings;x=1',
  '/api/v1;x/settings',
  '/api/v1/settings?x=1',
  '/api/v1/settings#x',
  '/api/v1/./settings',
  '/api/v1/x/../settings',
  '/api/v1/%2e/settings',
  '/api/v1/x/%2e%2e/settings',
  '/api/v1/%2e%2e/v1/settings',
  '/x/%2e%2e/api/v1/settings',
  '/api%2fv1%2fsettings',
  '/api/v1/settings%00',
  '/api/v1/settings%20',
  '/api/v1\\settings',
  '/./api/v1/settings',
];

t.test('no spelling of GET /api/v1/settings answers the settings without a session', async (t) => {
  for (const target of SETTINGS_SPELLINGS) {
    const answer = await rawRequest(port, { method: 'GET', target });
    t.ok(answer.status >= 400 && answer.status < 500, `GET ${target} → ${answer.status} (refused or unknown)`);
    t.notMatch(answer.body, /smtp\.server|web\.httpPort|nat\.publicIp/, `GET ${target} leaks no setting`);
  }
  const plain = await rawRequest(port, { method: 'GET', target: 'http://box/api/v1/settings' });
  t.equal(plain.status, 401, 'the absolute-form request line is refused as "log in"');
  t.match(JSON.parse(plain.body), { code: 'VCBOX_ERR_AUTH_REQUIRED' });
});

t.test('no spelling of POST /api/v1/admins creates an administrator without a session', async (t) => {
  const targets = SETTINGS_SPELLINGS.map((s) => s.replace(/settings/i, (m) => (m === 'settings' ? 'admins' : 'Admins')).replace('%73ettings', '%61dmins'));
  let n = 0;
  for (const target of targets) {
    const username = `intruder${n++}`;
    const answer = await rawRequest(port, {
      method: 'POST',
      target,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'Owned2026', role: 'admin' }),
    });
    t.ok(answer.status >= 400 && answer.status < 500, `POST ${target} → ${answer.status}`);
    t.notOk(admins.list().some((a) => a.username === username), `POST ${target} created nobody`);
  }
  const encoded = await rawRequest(port, { method: 'POST', target: '/%61pi/v1/admins', headers: { 'content-type': 'application/json' }, body: '{"username":"intruder","password":"Owned2026","role":"admin"}' });
  t.equal(encoded.status, 401, 'POST /%61pi/v1/admins → 401');
  t.equal((await new ConsoleClient(base).login('intruder', 'Owned2026')).status, 401, 'no such administrator can log in');
  t.same(
    admins.list().map((a) => a.username),
    ['chief'],
    'the administrators are as before',
  );
});

t.test('with a session but no CSRF token, an encoded path changes nothing', async (t) => {
  const client = new ConsoleClient(base);
  t.equal((await client.login('chief', 'Chief2026')).status, 200);
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const answer = await rawRequest(port, { method, target: '/%61pi/v1/settings', headers: { cookie: client.cookie, 'content-type': 'application/json' }, body: '{}' });
    t.ok([403, 404].includes(answer.status), `${method} /%61pi/v1/settings with a session but no CSRF token → ${answer.status}`);
    if (answer.status === 403) t.match(answer.body, /VCBOX_ERR_CSRF/);
  }
});

t.test('the legitimate spelling with a session still works', async (t) => {
  const client = new ConsoleClient(base);
  t.equal((await client.login('chief', 'Chief2026')).status, 200);
  t.equal((await client.call('GET', '/api/v1/settings')).status, 200);
  const created = await client.call('POST', '/api/v1/admins', { username: 'deputy', password: 'Deputy2026', role: 'operator' });
  t.equal(created.status, 201);
});
