/**
 * Finding 12 (issue #16, the console's part), over real sockets against the real control plane
 * with its real HTTP and HTTPS listeners:
 * - HSTS: answers over HTTPS (while it is on) carry Strict-Transport-Security; plain HTTP ones
 *   do not (a browser ignores it there);
 * - the setup wizard's admin step: during the first start it sets the password as before; once
 *   the first start is over (wizard completed, or quick setup started) a session alone — left
 *   open, or taken — cannot change the password there without the current one;
 * - `GET /api/v1/join/:number` (public: the join page) is rate-limited per address, so the
 *   meeting numbers cannot be walked.
 */
import https from 'node:https';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { buildApp, HSTS_MAX_AGE_SECONDS } from '../../server/control-plane/app.ts';
import { WebListeners } from '../../server/control-plane/web-listeners.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { SETUP_STEPS } from '../../server/settings/settings-schema.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { freePort } from '../helpers/ports.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const httpPort = await freePort();
const httpsPort = await freePort();
const web = new WebListeners({ host: '127.0.0.1', pinnedHttpPort: httpPort, certificates: path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-hsts-')), 'certificates') });
const app = await buildApp({ ...boxConsoleOptions(box), web });
await app.ready();
web.attach(app);
t.teardown(async () => {
  await web.close();
  await app.close();
});
box.settings.update({ 'web.httpsEnabled': true, 'web.httpsPort': httpsPort }, { actor: 'test' });
const listening = await web.apply(box.settings.getAll());
if (listening.https.port !== httpsPort) throw new Error(`HTTPS did not start: ${JSON.stringify(listening)}`);
const base = `http://127.0.0.1:${httpPort}`;
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });

function httpsGet(pathname: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port: httpsPort, path: pathname, rejectUnauthorized: false, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on('error', reject);
  });
}

t.test('HSTS over HTTPS, not over HTTP', async (t) => {
  for (const pathname of ['/api/v1/health', '/api/v1/settings', '/index.html', '/no-such-page']) {
    const answer = await httpsGet(pathname);
    t.equal(answer.headers['strict-transport-security'], `max-age=${HSTS_MAX_AGE_SECONDS}`, `HTTPS ${pathname} (${answer.status}) carries HSTS`);
  }
  const plain = await rawRequest(httpPort, { method: 'GET', target: '/api/v1/health' });
  t.equal(plain.status, 200);
  t.equal(plain.headers['strict-transport-security'], undefined, 'plain HTTP carries none');
});

t.test("once the first start is over, the wizard's admin step needs the current password", async (t) => {
  const chief = new ConsoleClient(base);
  t.equal((await chief.login('chief', 'Chief2026')).status, 200);
  t.match((await chief.call('GET', '/api/v1/setup')).body, { completed: false, currentPasswordRequired: false });
  const first = await chief.call('PUT', '/api/v1/setup/admin', { newPassword: 'First2026', confirmPassword: 'First2026', email: 'chief@example.org' });
  t.equal(first.status, 200, 'during the first start the step sets the password as before');
  for (const step of SETUP_STEPS) if (step !== 'admin') t.equal((await chief.call('POST', `/api/v1/setup/${step}/skip`)).status, 200);
  t.match((await chief.call('GET', '/api/v1/setup')).body, { completed: true, currentPasswordRequired: true });
  t.equal((await chief.call('POST', '/api/v1/setup/restart')).status, 200, 'quick setup');
  t.match((await chief.call('GET', '/api/v1/setup')).body, { completed: false, current: 'network', currentPasswordRequired: true });

  // Someone with the session (cookie and CSRF token) but not the password:
  const taken = await rawRequest(httpPort, {
    method: 'PUT',
    target: '/api/v1/setup/admin',
    headers: { cookie: chief.cookie, 'x-csrf-token': chief.csrfToken, 'content-type': 'application/json' },
    body: JSON.stringify({ newPassword: 'Taken2026', confirmPassword: 'Taken2026', email: 'thief@example.org' }),
  });
  t.equal(taken.status, 400, 'no current password: refused');
  t.match(JSON.parse(taken.body), { code: 'VCBOX_ERR_CURRENT_PASSWORD_REQUIRED', field: 'currentPassword' });
  const wrong = await chief.call('PUT', '/api/v1/setup/admin', { currentPassword: 'guess-123', newPassword: 'Taken2026', confirmPassword: 'Taken2026', email: 'thief@example.org' });
  t.equal(wrong.status, 400, 'a wrong current password: refused');
  t.match(wrong.body, { code: 'VCBOX_ERR_PASSWORD_CHANGE', field: 'currentPassword' });
  t.equal((await new ConsoleClient(base).login('chief', 'Taken2026')).status, 401, 'the password was not changed');
  t.notOk(new AdminStore(box.db).byNameAndEmail('chief', 'thief@example.org'), 'nor the e-mail');

  const right = await chief.call('PUT', '/api/v1/setup/admin', { currentPassword: 'First2026', newPassword: 'Second2026', confirmPassword: 'Second2026', email: 'chief@example.org' });
  t.equal(right.status, 200, 'with the current password the step works');
  t.equal((await new ConsoleClient(base).login('chief', 'Second2026')).status, 200);
});

t.test('GET /join/:number is rate-limited per address', async (t) => {
  // (A meeting that exists: unknown numbers are wrong meeting IDs, which lock an address out
  // after 5 — the participant sessions' rule, tested in meeting-pin-brute-force.)
  const room = new VmrStore(box.db).create({ name: 'Look-up room', number: '880100', hostPin: '1122', guestPin: '', capacity: 10 });
  const statuses: number[] = [];
  for (let i = 0; i < 31; i++) statuses.push((await rawRequest(httpPort, { method: 'GET', target: `/api/v1/join/${room.number}` })).status);
  t.same(statuses.slice(0, 30), Array(30).fill(200), '30 look-ups a minute are answered');
  t.equal(statuses[30], 429, 'the 31st is refused');
  const refused = await rawRequest(httpPort, { method: 'GET', target: `/api/v1/join/${room.number}` });
  t.match(JSON.parse(refused.body), { code: 'VCBOX_ERR_RATE_LIMITED', message: /wait \d+ seconds/ });
});
