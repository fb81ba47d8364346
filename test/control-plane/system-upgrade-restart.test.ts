/**
 * System upgrade, reboot and a factory reset's restart on a box that restarts its services: the
 * run command's supervisor, started from an install root (a temporary folder laid out from a
 * release package as install.sh lays it out), with its four real processes. From the console's
 * API: a good package is installed and the services restarted onto it — the health check
 * answers the new version, the processes are new; a package whose control plane cannot start
 * (after its other processes migrated the database to a schema only it knows) fails its health
 * check — it keeps exiting, so the check gives up before its timeout — and is rolled back — the previous release runs again on the database as it was; a
 * reboot (on a dev machine, a restart of the services) and a factory reset restart the services
 * after their answer has come back. Ctrl-C afterwards leaves no process behind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SCHEMA_VERSION } from '../../server/db/migrations.ts';
import { BUILD_INFO } from '../../server/core/version.ts';
import { alive } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { readEntries, resign, setVersion, startInstalledBox } from '../helpers/release-package.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-upgrade-restart-'));
// The installed release (this version, as a package), and two newer ones made from it.
const { box, built, release, installRoot, dataDir } = await startInstalledBox(work, { VCBOX_UPGRADE_HEALTH_TIMEOUT_S: '60' });
t.teardown(() => box.interrupt(10_000));
const entries = readEntries(readFileSync(built.package));
const good = resign(entries, (m, f) => setVersion(m, f, '99.0.0'));
const broken = resign(entries, (m, f) => {
  setVersion(m, f, '99.1.0');
  // Its signaling and media processes migrate the database to a schema only it knows; its
  // control plane then fails to start, so the health check never passes.
  const migrations = (f.get('server/db/migrations.ts') as Buffer).toString();
  f.set('server/db/migrations.ts', Buffer.from(migrations.replace(/\n\];\n\nexport const SCHEMA_VERSION/, "\n  { version: 900, name: 'only the broken release knows this', up(db) { db.exec('CREATE TABLE broken_release_marker (x)'); } },\n];\n\nexport const SCHEMA_VERSION")));
  m.schemaVersion = 900;
  const main = (f.get('server/control-plane/main.ts') as Buffer).toString();
  f.set('server/control-plane/main.ts', Buffer.from(main.replace("await runService('control plane', async () => {", "await runService('control plane', async () => {\n  throw new Error('broken on purpose');")));
});
const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());

/** Pids of the supervisor's children started so far, in order. */
const childPids = () => [...box.output().matchAll(/"pid":(\d+),"msg":"process started"/g)].map((m) => Number(m[1]));
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
const health = async (): Promise<any> => fetch(`${box.baseUrl}/api/v1/health`).then((r) => r.json(), () => undefined);

async function upload(bytes: Buffer): Promise<{ status: number; body: { id: string; restart: string; message: string } }> {
  const response = await fetch(`${box.baseUrl}/api/v1/system/upgrade`, { method: 'POST', headers: { 'content-type': 'application/gzip', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken }, body: bytes });
  return { status: response.status, body: (await response.json()) as { id: string; restart: string; message: string } };
}

/** Polls the upgrade's status through the restarts (the console is away meanwhile). */
// biome-ignore lint/suspicious/noExplicitAny: as above
async function waitForOutcome(id: string): Promise<any> {
  for (let i = 0; i < 240; i++) {
    const answer = await admin.call('GET', '/api/v1/system/upgrade').catch(() => undefined);
    const upgrade = answer?.body?.upgrade;
    if (upgrade?.id === id && ['installed', 'rolled-back', 'failed'].includes(upgrade.state)) return upgrade;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`upgrade ${id} did not finish within 120 s\n${box.output().slice(-4000)}`);
}

/** Waits until the four services were started again (more than `count` starts) and the console answers. */
async function waitForRestart(count: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (childPids().length >= count + 4 && (await health())?.status === 'ok') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the services did not restart\n${box.output().slice(-4000)}`);
}

t.test('the installed release runs', async (t) => {
  t.match(await health(), { status: 'ok', version: BUILD_INFO.version, build: built.build });
  t.match((await admin.call('GET', '/api/v1/system')).body, { release, upgradable: true, restart: 'supervisor' });
  t.equal((await admin.call('POST', '/api/v1/accounts', { number: '1001', name: 'Alice Zhang', password: 'secret-1' })).status, 201, 'the box has data');
});

let goodRelease = '';
t.test('a good package: installed, the services restarted onto it', async (t) => {
  const before = childPids();
  const answer = await upload(good);
  t.equal(answer.status, 202, JSON.stringify(answer.body));
  t.match(answer.body, { restart: 'supervisor', message: /installs it and restarts its services/ });
  const outcome = await waitForOutcome(answer.body.id);
  t.match(outcome, { state: 'installed', restarted: true, from: { version: BUILD_INFO.version, release }, to: { version: '99.0.0' } });
  goodRelease = outcome.to.release;
  t.same(
    outcome.steps.map((s: { step: string }) => s.step),
    ['verified', 'unpacking', 'self-check', 'stopping the services', 'copying the database', 'switching the release', 'starting the services', 'health check'],
  );
  t.match(await health(), { status: 'ok', version: '99.0.0', build: built.build }, 'the new version answers');
  const restarted = childPids().slice(before.length);
  t.equal(restarted.length, 4, 'all four services were started again');
  t.same(before.filter(alive), [], 'and the old processes are gone');
  t.equal(readlinkSync(path.join(installRoot, 'current')), path.join('releases', goodRelease));
  t.same(readdirSync(path.join(installRoot, 'releases')).sort(), [release, goodRelease].sort(), 'the previous release is kept');
  t.match((await admin.call('GET', '/api/v1/accounts/1001')).body, { name: 'Alice Zhang' }, 'the data is still there, the session too');
  const audit = await admin.call('GET', '/api/v1/audit?period=all');
  t.ok(
    audit.body.items.some((e: { action: string }) => e.action === 'system.upgrade.installed'),
    'the new version wrote the outcome to the operation log',
  );
});

t.test('a package whose control plane cannot start is rolled back, database included', async (t) => {
  const answer = await upload(broken);
  t.equal(answer.status, 202, JSON.stringify(answer.body));
  const outcome = await waitForOutcome(answer.body.id);
  t.match(outcome, {
    state: 'rolled-back',
    code: 'VCBOX_ERR_UPGRADE_ROLLED_BACK',
    message: /vcbox 99\.1\.0 was installed but failed its check \(control-plane exited 2 times right after its start \(its log says why\)\); the box went back to vcbox 99\.0\.0 with its database as it was before the upgrade\./,
  });
  t.ok(outcome.steps.some((s: { step: string }) => s.step === 'rolling back'));
  t.match(await health(), { status: 'ok', version: '99.0.0', schemaVersion: SCHEMA_VERSION }, 'the previous version runs again');
  t.equal(readlinkSync(path.join(installRoot, 'current')), path.join('releases', goodRelease), '`current` is back');
  t.notOk(existsSync(path.join(installRoot, 'releases', `99.1.0-${built.build}`)), 'the failed release is removed');
  const db = new Database(path.join(dataDir, 'vcbox.sqlite'), { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION, 'the database is at the schema it had before');
  t.notOk(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'broken_release_marker'").get(), 'what the failed version migrated is undone');
  t.match((await admin.call('GET', '/api/v1/accounts/1001')).body, { name: 'Alice Zhang' });
  t.match(box.output(), /broken on purpose/, 'the broken control plane did run (and fail)');
  const audit = await admin.call('GET', '/api/v1/audit?period=all');
  t.ok(audit.body.items.some((e: { action: string }) => e.action === 'system.upgrade.rolled-back'), 'the rollback is in the operation log');
});

t.test('reboot: confirmed, answered, then the services restart', async (t) => {
  t.match((await admin.call('POST', '/api/v1/system/reboot', {})).body, { code: 'VCBOX_ERR_CONFIRM_REQUIRED', field: 'confirm', message: /A reboot must be confirmed.*Calls and meetings in progress end/ });
  const before = childPids();
  const answer = await admin.call('POST', '/api/v1/system/reboot', { confirm: true });
  t.equal(answer.status, 202, 'the answer comes back first');
  t.match(answer.body, { action: 'restart-services', message: /services restart now/ });
  await waitForRestart(before.length);
  t.same(before.filter(alive), [], 'every service was restarted');
  t.match(await health(), { status: 'ok', version: '99.0.0' });
});

t.test('a factory reset of the settings restarts the services for the defaults to apply', async (t) => {
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'required' })).status, 200);
  const before = childPids();
  const answer = await admin.call('POST', '/api/v1/system/factory-reset', { scope: 'settings', confirm: true });
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  t.match(answer.body, { scope: 'settings', restart: 'requested', message: /services restart now/ });
  await waitForRestart(before.length);
  t.equal((await admin.call('GET', '/api/v1/settings')).body['call.srtp'].value, 'optional', 'back to the default');
  t.match((await admin.call('GET', '/api/v1/accounts/1001')).body, { name: 'Alice Zhang' }, 'accounts kept');
});

t.test('Ctrl-C stops everything', async (t) => {
  const pids = childPids();
  t.equal(await box.interrupt(), 0);
  t.same(pids.filter(alive), [], 'no process left');
});
