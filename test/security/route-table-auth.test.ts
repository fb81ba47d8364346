/**
 * Attack suite, generated over the route table: every route the control plane registers (with
 * every optional part switched on) is called over a real socket without a session — also
 * spelled as the router still understands it (first letter percent-encoded, absolute-form
 * request line, doubled slash) — then with an administrator's session but no CSRF token, then
 * as an operator; each must be refused unless the route is public or anyRole. A public or
 * anyRole route must be classified here, with why it may be: a route added with neither is
 * guarded by default, and a route added as public without a line here fails this test.
 */
import t from 'tap';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startFullConsole } from '../helpers/full-console.ts';
import { rawRequest } from '../helpers/raw-http.ts';

/** Public routes ("METHOD url", HEAD counted as GET) and what guards them instead of a session. */
const PUBLIC: Record<string, { why: string; anonymous?: number }> = {
  'GET /api/v1/health': { why: 'liveness for monitors: up/down only', anonymous: 200 },
  'POST /api/v1/session': { why: 'login (rate-limited per address, lock-out per user)' },
  'GET /api/v1/session/captcha': { why: 'the forgot-password picture (rate-limited)', anonymous: 200 },
  'POST /api/v1/session/forgot': { why: 'forgot password (captcha, rate-limited, same answer either way)' },
  'POST /api/v1/session/reset': { why: 'reset with a one-time mailed token (rate-limited)' },
  'GET /api/v1/session/status': { why: 'whether this browser has a session (a boolean)', anonymous: 200 },
  'GET /api/v1/openapi.json': { why: 'the API description, no data', anonymous: 200 },
  'GET /api/v1/join/:number': { why: 'browser join page: meeting exists / needs PIN (rate-limited per address)' },
  'GET /api/v1/join/ws': { why: 'browser join signaling: meeting ID and PIN (wrong PINs rate-limited)' },
  'GET /metrics': { why: 'Prometheus: bearer token checked by the route', anonymous: 401 },
  'GET /provisioning/:name': { why: 'terminal provisioning: HTTP Digest with a SIP account', anonymous: 401 },
  'GET /provisioning/firmware/:id/:fileName': { why: 'firmware download: HTTP Digest with a SIP account', anonymous: 401 },
  'GET /*': { why: "the console's and join page's static files" },
};

/** Changes any logged-in role may make. */
const ANY_ROLE: Record<string, string> = {
  'DELETE /api/v1/session': 'log out',
  'PUT /api/v1/session/password': 'own password',
  'PUT /api/v1/session/email': 'own e-mail',
};

const SAMPLES: Record<string, string> = { step: 'admin', number: '88001', name: 'x.cfg', fileName: 'x.bin' };
const concrete = (url: string) => url.replace(/:(\w+)(\([^)]*\))?/g, (_m, name: string) => SAMPLES[name] ?? '1').replace(/\*$/, 'x');
const key = (method: string, url: string) => `${method === 'HEAD' ? 'GET' : method} ${url}`;
const READS = new Set(['GET', 'HEAD']);

const box = await startFullConsole(t);
await box.admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await box.admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
const admin = new ConsoleClient(box.base);
const operator = new ConsoleClient(box.base);
if ((await admin.login('chief', 'Chief2026')).status !== 200 || (await operator.login('watcher', 'Watch2026')).status !== 200) throw new Error('the test users could not log in');
const routes = box.app.routeTable();

t.test('the route table holds every route of the full box', async (t) => {
  t.ok(routes.length > 100, `${routes.length} routes`);
  for (const part of ['/api/v1/admins', '/api/v1/system/factory-reset', '/api/v1/backups', '/api/v1/firmware', '/api/v1/ivr/prompts', '/api/v1/join/ws', '/metrics', '/provisioning/:name', '/*']) {
    t.ok(
      routes.some((r) => r.url === part || r.url.startsWith(`${part}/`)),
      `${part} is registered`,
    );
  }
});

t.test('every public or anyRole route is classified here', async (t) => {
  for (const route of routes) {
    if (route.public) t.ok(PUBLIC[key(route.method, route.url)], `public route ${route.method} ${route.url} is classified (add it to PUBLIC with why, or drop config.public)`);
    if (route.anyRole) t.ok(ANY_ROLE[key(route.method, route.url)], `anyRole route ${route.method} ${route.url} is classified`);
  }
  for (const name of Object.keys(PUBLIC)) t.ok(routes.some((r) => r.public && key(r.method, r.url) === name), `${name} exists and is public`);
});

t.test('public routes that guard themselves refuse an anonymous caller', async (t) => {
  for (const route of routes) {
    const expected = route.public && route.method === 'GET' ? PUBLIC[key(route.method, route.url)]?.anonymous : undefined;
    if (expected === undefined) continue;
    const answer = await rawRequest(box.port, { method: 'GET', target: concrete(route.url) });
    t.equal(answer.status, expected, `${route.method} ${route.url} anonymous → ${expected}`);
  }
});

/** The spellings of a path the router matches to the same route. */
function spellings(path: string): string[] {
  const encoded = `/%${path.charCodeAt(1).toString(16)}${path.slice(2)}`;
  return [path, encoded, `http://evil.example${path}`, `http://evil.example${encoded}`];
}

t.test('without a session every other route is refused, however it is spelled', async (t) => {
  for (const route of routes) {
    if (route.public) continue;
    for (const target of spellings(concrete(route.url))) {
      const answer = await rawRequest(box.port, { method: route.method, target, headers: { 'content-type': 'application/json' }, body: READS.has(route.method) ? '' : '{}' });
      t.equal(answer.status, 401, `${route.method} ${target} without a session → 401 (${answer.body.slice(0, 120)})`);
      if (route.method !== 'HEAD') t.match(answer.body, /VCBOX_ERR_AUTH_REQUIRED/);
    }
  }
});

t.test('with a session but no CSRF token every change is refused', async (t) => {
  for (const route of routes) {
    if (route.public || READS.has(route.method)) continue;
    const target = concrete(route.url);
    for (const path of [target, spellings(target)[1] as string]) {
      const answer = await rawRequest(box.port, { method: route.method, target: path, headers: { cookie: admin.cookie, 'content-type': 'application/json' }, body: '{}' });
      t.equal(answer.status, 403, `${route.method} ${path} without X-CSRF-Token → 403`);
      t.match(answer.body, /VCBOX_ERR_CSRF/);
    }
    const wrong = await rawRequest(box.port, { method: route.method, target, headers: { cookie: admin.cookie, 'x-csrf-token': operator.csrfToken, 'content-type': 'application/json' }, body: '{}' });
    t.equal(wrong.status, 403, `${route.method} ${target} with another session's CSRF token → 403`);
  }
});

t.test('an operator may change nothing but its own password, e-mail and session', async (t) => {
  for (const route of routes) {
    if (route.public || route.anyRole || READS.has(route.method)) continue;
    const target = concrete(route.url);
    const answer = await rawRequest(box.port, {
      method: route.method,
      target,
      headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrfToken, 'content-type': 'application/json' },
      body: '{}',
    });
    t.equal(answer.status, 403, `${route.method} ${target} as operator → 403`);
    t.match(answer.body, /VCBOX_ERR_FORBIDDEN_ROLE/);
  }
  t.equal((await operator.call('GET', '/api/v1/session')).status, 200, "the operator's session still works");
  t.equal((await admin.call('GET', '/api/v1/session')).status, 200, "the administrator's session still works");
});
