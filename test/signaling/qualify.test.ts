/**
 * Qualify: the box sends OPTIONS to every registered terminal on a timer; a terminal that
 * answers (sipp, -aa) is reachable with a round-trip time, one whose contact answers nothing is
 * unreachable — visible in the console's online users long before the registration expires.
 */
import t from 'tap';
import { startConsoleApi } from '../helpers/console-api.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const box = await startSipBox({ qualify: { intervalMs: 500, timeoutMs: 1000 } });
t.teardown(() => box.close());
const target = `127.0.0.1:${box.port}`;

async function register(account: string, port: number) {
  box.app.accounts.create({ number: account, name: `Desk ${account}`, password: `secret-${account}` }, box.realm);
  const result = await runSipp({
    scenario: 'register.xml',
    target,
    transport: 'u1',
    auth: [account, `secret-${account}`],
    keys: { account, contact_port: String(port), expires: '300', device: `p${port}` },
  });
  if (!result.ok) throw new Error(`registration of ${account} failed:\n${result.errors}`);
}

t.test('answering terminals are reachable, silent ones unreachable', async (t) => {
  const alivePort = await freePort();
  // A terminal that answers OPTIONS (sipp's automatic answers) while waiting for a call.
  const alive = await startSipp({ scenario: 'uas-answer.xml', transport: 'u1', localPort: alivePort, timeoutSeconds: 8, extraArgs: ['-aa'] });
  await register('2301', alivePort);
  await register('2302', await freePort()); // nothing listens there
  const contactOf = (account: string) => box.app.location.lookup(account)[0]?.contact ?? '';
  const reachable = await waitFor('2301 reachable', 5000, () => box.app.qualifier.status('2301', contactOf('2301'))?.reachable === true || undefined);
  t.ok(reachable, 'the answering terminal is reachable');
  t.ok((box.app.qualifier.status('2301', contactOf('2301'))?.rttMs ?? -1) >= 0, `with a round-trip time (${box.app.qualifier.status('2301', contactOf('2301'))?.rttMs} ms)`);
  await waitFor('2302 unreachable', 5000, () => box.app.qualifier.status('2302', contactOf('2302'))?.reachable === false || undefined);
  t.pass('the silent one is unreachable');

  const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
  await new AdminStore(box.db).ensureInitialAdmin(secrets);
  const base = await startConsoleApi(t, {
    state: { db: box.db, settings: box.settings },
    keepDb: true,
    online: () => box.app.location.online(),
    reachability: (account, contact) => box.app.qualifier.status(account, contact),
  });
  const client = new ConsoleClient(base);
  await client.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim());
  const users = (await client.call('GET', '/api/v1/online-users')).body as { account: string; devices: { status: string; rttMs: number | null }[] }[];
  t.match(users.find((u) => u.account === '2301')?.devices, [{ status: 'reachable' }], 'online users: reachable');
  t.match(users.find((u) => u.account === '2302')?.devices, [{ status: 'unreachable', rttMs: null }], 'online users: unreachable');
  await alive.result;
});
