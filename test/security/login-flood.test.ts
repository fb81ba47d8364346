/**
 * Finding 11 (issue #16, the console's part), login flood, over real sockets against the real
 * control plane; loopback's whole 127.0.0.0/8 gives the test many source addresses:
 * - logins for one user sent all at once cannot slip past the lock-out (5 wrong passwords →
 *   locked): at most five are checked, the rest are told "locked", and the right password is
 *   then refused too until the lock ends;
 * - a flood of logins from many addresses (each under its own rate limit) does not run all its
 *   password hashes at once: beyond the cap and its queue they are refused "busy, try again";
 *   nothing fails with 500 and the box keeps answering;
 * - a flood of new addresses does not reset the rate-limit window of an address already
 *   counted (the window table used to be emptied when it passed 10 000 addresses).
 */
import net from 'node:net';
import t from 'tap';
import { AdminStore, LOGIN_LOCKOUT } from '../../server/admin/admin-store.ts';
import { HASH_CONCURRENCY, HASH_QUEUE } from '../../server/admin/password-hash.ts';
import { MAX_KEYS } from '../../server/control-plane/rate-limit.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'deputy', password: 'Deputy2026', role: 'admin' });
const base = await startConsoleApi(t, { state });
const port = Number(new URL(base).port);

/** One HTTP request from a chosen loopback source address; resolves with status and body. */
function requestFrom(source: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: source });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(
      `${method} ${path} HTTP/1.1\r\nhost: box\r\nconnection: close\r\n${payload ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n` : ''}\r\n${payload}`,
    );
  });
}

/** The n-th address of 127.0.0.0/8 above 127.1.0.0. */
const address = (n: number) => `127.${1 + Math.floor(n / 65536)}.${Math.floor(n / 256) % 256}.${n % 256}`;

/** Runs the tasks with at most `width` at a time. */
async function inBatches<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += width) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => task(start + k)))));
  }
  return results;
}

t.test('wrong passwords sent all at once cannot get past the lock-out', async (t) => {
  const answers = await Promise.all(Array.from({ length: 15 }, () => requestFrom('127.0.0.2', 'POST', '/api/v1/session', { username: 'chief', password: 'guess-123' })));
  const failed = answers.filter((a) => a.status === 401).length;
  const locked = answers.filter((a) => a.status === 423).length;
  t.equal(failed + locked, 15, `every attempt was answered "wrong" or "locked" (${failed} wrong, ${locked} locked)`);
  t.ok(failed <= LOGIN_LOCKOUT.failures - 1, `at most ${LOGIN_LOCKOUT.failures - 1} were told "wrong" before the lock (${failed})`);
  t.ok(locked >= 15 - (LOGIN_LOCKOUT.failures - 1), 'the others were told "locked"');
  const right = await new ConsoleClient(base).login('chief', 'Chief2026');
  t.equal(right.status, 423, 'the right password is refused while the lock lasts');
  t.match(right.body, { code: 'VCBOX_ERR_LOGIN_LOCKED' });
  t.equal((await new ConsoleClient(base).login('deputy', 'Deputy2026')).status, 200, 'other users are not locked');
});

t.test('a login flood from many addresses is held to the hashing cap, and the box keeps answering', async (t) => {
  const flood = 120;
  const answers = await Promise.all(Array.from({ length: flood }, (_, i) => requestFrom(address(i), 'POST', '/api/v1/session', { username: `nobody${i}`, password: 'guess-123' })));
  const statuses = answers.map((a) => a.status);
  t.notOk(statuses.includes(500), 'no request failed with 500');
  t.ok(
    statuses.every((s) => s === 401 || s === 503),
    'each was answered "wrong" or "busy"',
  );
  const busy = answers.filter((a) => a.status === 503);
  t.ok(busy.length > 0, `beyond ${HASH_CONCURRENCY} running and ${HASH_QUEUE} waiting, logins were refused at once (${busy.length} of ${flood})`);
  t.match(JSON.parse(busy[0]?.body ?? '{}'), { code: 'VCBOX_ERR_BUSY', message: /try again in a few seconds/ });
  t.equal((await fetch(`${base}/api/v1/health`)).status, 200, 'the box still answers');
  t.equal((await new ConsoleClient(base).login('deputy', 'Deputy2026')).status, 200, 'a right login works once the flood is over');
});

t.test('a flood of new addresses does not reset the window of an address already counted', async (t) => {
  // The captcha picture has the same per-address budget kind as the login (30 a minute) and is cheap.
  const victim = '127.0.0.3';
  const first = await inBatches(31, 31, () => requestFrom(victim, 'GET', '/api/v1/session/captcha'));
  t.same(
    first.map((a) => a.status),
    [...Array(30).fill(200), 429],
    'the 31st picture of the minute is refused',
  );
  const flood = await inBatches(MAX_KEYS + 50, 100, (i) => requestFrom(address(10_000 + i), 'GET', '/api/v1/session/captcha'));
  t.notOk(
    flood.some((a) => a.status >= 500),
    `${flood.length} new addresses were answered without a server error`,
  );
  t.ok(
    flood.some((a) => a.status === 429),
    'addresses beyond the table share one overflow budget: some of them were refused',
  );
  const after = await requestFrom(victim, 'GET', '/api/v1/session/captcha');
  t.equal(after.status, 429, 'the address already counted is still refused');
  t.match(JSON.parse(after.body), { code: 'VCBOX_ERR_RATE_LIMITED' });
});
