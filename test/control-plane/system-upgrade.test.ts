/**
 * System upgrade over the real control plane, as an administrator sees it, on a box whose
 * services nothing restarts (a control plane alone, as here): the version and build time are
 * shown; a package built by scripts/build-release.ts is verified and installed into the install
 * root (a temporary folder) — unpacked to releases/<version>-<build>, self-checked, `current`
 * switched — and a package whose self-check fails is rolled back. Refused with a reason, and
 * with nothing changed or left behind: a text file, a foreign tar, a truncated file, another
 * key's signature, a manifest edited after signing, a tampered file, an unlisted extra file, an
 * older or the same version, a release needing another Node or platform or an older schema, an
 * oversized upload; a box without an install root says it cannot be upgraded; operators and
 * requests without the CSRF header may not upload. Every refusal is in the operation log.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { SCHEMA_VERSION } from '../../server/db/migrations.ts';
import { openMaintenance } from '../../server/maintenance/open-maintenance.ts';
import { openState } from '../../server/process/open-state.ts';
import { BUILD_INFO } from '../../server/core/version.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { buildRelease, readEntries, resign, setVersion, strangerKey, TEST_RELEASE_PUBLIC_KEY, writeEntries } from '../helpers/release-package.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-upgrade-'));
const installRoot = path.join(work, 'opt', 'vcbox');
const dataDir = path.join(work, 'data');
// The install root as install.sh lays it out: the running version's release and `current`.
const running = `${BUILD_INFO.version}-installed`;
mkdirSync(path.join(installRoot, 'releases', running), { recursive: true });
writeFileSync(path.join(installRoot, 'releases', running, 'build-info.json'), JSON.stringify({ version: BUILD_INFO.version, build: '', buildTime: BUILD_INFO.buildTime }));
symlinkSync(path.join('releases', running), path.join(installRoot, 'current'));

const MAX_UPLOAD_MB = 64;
const config = loadConfig({
  VCBOX_DATA_DIR: dataDir,
  VCBOX_INSTALL_ROOT: installRoot,
  VCBOX_RELEASE_TEST_KEY_FILE: TEST_RELEASE_PUBLIC_KEY,
  VCBOX_UPGRADE_MAX_UPLOAD_MB: String(MAX_UPLOAD_MB),
});
const state = openState(config);
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
const maintenance = openMaintenance({ config, db: state.db, settings: state.settings, admins });
t.teardown(() => maintenance.close());
const base = await startConsoleApi(t, { state, maintenance });
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');
const maintenanceDir = dataPaths(config).maintenance;

const built = await buildRelease({ version: '99.0.0', out: path.join(work, 'dist') });
const good = readFileSync(built.package);
t.comment(`package: ${built.files} files, ${(built.size / 1024 ** 2).toFixed(1)} MiB`);

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
async function upload(bytes: Buffer | ReadableStream<Uint8Array>, options: { client?: ConsoleClient; language?: string; csrf?: boolean } = {}): Promise<{ status: number; body: any }> {
  const client = options.client ?? admin;
  const headers: Record<string, string> = { 'content-type': 'application/gzip', cookie: client.cookie, 'accept-language': options.language ?? 'en' };
  if (options.csrf !== false) headers['x-csrf-token'] = client.csrfToken;
  const response = await fetch(`${base}/api/v1/system/upgrade`, { method: 'POST', headers, body: bytes, ...(bytes instanceof Buffer ? {} : { duplex: 'half' }) } as RequestInit);
  return { status: response.status, body: await response.json() };
}

/** Every path under the install root (links with their targets) and what the maintenance folder holds. */
function installState(): { tree: string[]; maintenance: string[] } {
  const tree: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) tree.push(`${prefix}${entry.name} -> ${readlinkSync(full)}`);
      else if (entry.isDirectory() && prefix.split('/').length < 4) walk(full, `${prefix}${entry.name}/`);
      else tree.push(`${prefix}${entry.name}`);
    }
  };
  walk(installRoot, '');
  const kept = existsSync(maintenanceDir) ? readdirSync(maintenanceDir).filter((name) => name !== 'upgrade-status.json') : [];
  return { tree: tree.sort(), maintenance: kept };
}

// biome-ignore lint/suspicious/noExplicitAny: as above
async function waitForOutcome(id: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const { body } = await admin.call('GET', '/api/v1/system/upgrade');
    if (body.upgrade?.id === id && ['installed', 'rolled-back', 'failed'].includes(body.upgrade.state)) return body.upgrade;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`upgrade ${id} did not finish within 60 s`);
}

t.test('the version and build time are shown, and whether the box can be upgraded', async (t) => {
  const { status, body } = await admin.call('GET', '/api/v1/system');
  t.equal(status, 200);
  t.match(body, { version: BUILD_INFO.version, buildTime: BUILD_INFO.buildTime, release: running, installRoot, upgradable: true, notUpgradable: null, restart: 'none', maxUploadBytes: MAX_UPLOAD_MB * 1024 * 1024, lastUpgrade: null });
  const health = await fetch(`${base}/api/v1/health`).then((r) => r.json());
  t.match(health, { version: BUILD_INFO.version, buildTime: BUILD_INFO.buildTime, build: '' }, 'the health check says the same');
});

t.test('bad packages are refused with the reason, and nothing changes or stays behind', async (t) => {
  const before = installState();
  const entries = readEntries(good);
  const manifest = JSON.parse((entries[0] as { data: Buffer }).data.toString('utf8'));
  const foreignDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-foreign-'));
  writeFileSync(path.join(foreignDir, 'notes.txt'), 'hello');
  const foreignTar = execFileSync('tar', ['czf', '-', '-C', foreignDir, '.']);
  rmSync(foreignDir, { recursive: true, force: true });
  const tamperedFile = writeEntries(entries.map((e) => (e.name === 'app/server/core/version.ts' ? { name: e.name, data: Buffer.from(e.data.toString().replace('readBuildInfo', 'readBuildInfX')) } : e)));
  const editedManifest = writeEntries(entries.map((e, i) => (i === 0 ? { name: e.name, data: Buffer.from(e.data.toString().replace('"version": "99.0.0"', '"version": "99.0.1"')) } : e)));
  const withExtra = writeEntries([...entries, { name: 'app/server/extra.ts', data: Buffer.from('export {};\n') }]);

  const cases: [string, Buffer, number, string, RegExp][] = [
    ['a text file', Buffer.from('this is not a release\n'), 422, 'VCBOX_ERR_UPGRADE_FOREIGN', /not gzip-compressed/],
    ['a foreign tar.gz', foreignTar, 422, 'VCBOX_ERR_UPGRADE_FOREIGN', /not a vcbox release package/],
    ['a truncated package', good.subarray(0, Math.floor(good.length / 2)), 422, 'VCBOX_ERR_UPGRADE_TRUNCATED', /truncated/],
    ['a package signed by another key', resign(entries, () => undefined, strangerKey()), 422, 'VCBOX_ERR_UPGRADE_SIGNATURE', /not signed by the vendor/],
    ['a manifest edited after signing', editedManifest, 422, 'VCBOX_ERR_UPGRADE_SIGNATURE', /changed after signing/],
    ['a tampered file', tamperedFile, 422, 'VCBOX_ERR_UPGRADE_TAMPERED', /server\/core\/version\.ts .*SHA-256 differs/],
    ['a file the manifest does not list', withExtra, 422, 'VCBOX_ERR_UPGRADE_INVALID', /files the manifest does not list/],
    ['an older version', resign(entries, (m, f) => setVersion(m, f, '0.0.9')), 409, 'VCBOX_ERR_UPGRADE_OLDER', new RegExp(`vcbox 0\\.0\\.9 .*older than the vcbox ${BUILD_INFO.version.replace(/\./g, '\\.')}`)],
    ['the same version', resign(entries, (m, f) => setVersion(m, f, BUILD_INFO.version)), 409, 'VCBOX_ERR_UPGRADE_SAME', /the version this box already runs/],
    ['a release for another Node', resign(entries, (m) => Object.assign(m, { node: '>=99' })), 409, 'VCBOX_ERR_UPGRADE_NODE', /needs Node\.js >=99/],
    ['a release for another platform', resign(entries, (m) => Object.assign(m, { platform: 'linux-riscv64' })), 422, 'VCBOX_ERR_UPGRADE_INVALID', /built for linux-riscv64/],
    ['a release knowing an older schema', resign(entries, (m) => Object.assign(m, { schemaVersion: SCHEMA_VERSION - 1 })), 409, 'VCBOX_ERR_UPGRADE_SCHEMA', new RegExp(`schema ${SCHEMA_VERSION - 1} at most`)],
  ];
  t.equal(manifest.version, '99.0.0');
  for (const [what, bytes, status, code, message] of cases) {
    const answer = await upload(bytes);
    t.equal(answer.status, status, `${what}: ${answer.status}`);
    t.equal(answer.body.code, code, `${what}: ${code}`);
    t.match(answer.body.message, message, `${what}: ${answer.body.message}`);
    t.match(answer.body.message, /[Nn]othing (was )?changed/, `${what}: says nothing changed`);
    t.same(installState(), before, `${what}: install root and maintenance folder unchanged`);
  }
  const zh = await upload(tamperedFile, { language: 'zh-CN' });
  t.match(zh.body.message, /升级包中的文件 server\/core\/version\.ts 与已签名的清单不符.*未作任何修改/, 'in Chinese for a Chinese console');

  const refused = state.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'system.upgrade.refused'").all() as { actor: string; detail: string }[];
  t.equal(refused.length, cases.length + 1, 'every refusal is in the operation log');
  t.match(refused[0], { actor: 'chief', detail: /VCBOX_ERR_UPGRADE_FOREIGN/ });
  t.same(installState(), before);
});

t.test('an oversized upload is refused before or while it arrives', async (t) => {
  const before = installState();
  // Declared too large: answered at once, before any of the body is sent.
  const declared = await new Promise<{ status: number; body: { code?: string } }>((resolve, reject) => {
    const request = http.request(`${base}/api/v1/system/upgrade`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-length': String((MAX_UPLOAD_MB + 1) * 1024 * 1024) },
    });
    request.on('response', (response) => {
      let text = '';
      response.on('data', (d: Buffer) => (text += d.toString()));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
      });
    });
    request.on('error', reject);
    request.flushHeaders();
  });
  t.match(declared, { status: 413, body: { code: 'VCBOX_ERR_UPGRADE_TOO_LARGE' } }, 'a declared length over the limit');
  let sent = 0;
  const chunk = new Uint8Array(1024 * 1024);
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      sent += chunk.length;
      if (sent > (MAX_UPLOAD_MB + 8) * 1024 * 1024) controller.close();
      else controller.enqueue(chunk);
    },
  });
  const streamed = await upload(endless);
  t.equal(streamed.status, 413);
  t.match(streamed.body, { code: 'VCBOX_ERR_UPGRADE_TOO_LARGE', message: /larger than 64 MiB/ });
  t.same(installState(), before, 'nothing left of it');
});

t.test('only administrators upload, with the CSRF header', async (t) => {
  const operator = new ConsoleClient(base);
  await operator.login('watcher', 'Watch2026');
  t.equal((await operator.call('GET', '/api/v1/system')).status, 200, 'operators see the version');
  t.match((await upload(good, { client: operator })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await upload(good, { csrf: false })).body, { code: 'VCBOX_ERR_CSRF' });
  t.equal((await fetch(`${base}/api/v1/system`)).status, 401, 'and nobody without a session');
});

let installedName = '';
t.test('a good package is installed into the install root and `current` switched', async (t) => {
  const answer = await upload(good);
  t.equal(answer.status, 202, JSON.stringify(answer.body));
  t.match(answer.body, { state: 'requested', from: { version: BUILD_INFO.version, release: running }, to: { version: '99.0.0', build: built.build, buildTime: built.buildTime }, key: 'test', restart: 'none', message: /runs from the next start of the services/ });
  const busy = await upload(good);
  t.match(busy, { status: 409, body: { code: 'VCBOX_ERR_UPGRADE_BUSY', message: /in progress/ } }, 'one upgrade at a time');
  const outcome = await waitForOutcome(answer.body.id);
  t.match(outcome, { state: 'installed', restarted: false, to: { version: '99.0.0', release: `99.0.0-${built.build}` } });
  t.same(
    outcome.steps.map((s: { step: string }) => s.step),
    ['verified', 'unpacking', 'self-check', 'switching the release'],
    'verified, unpacked, self-checked, switched',
  );
  installedName = `99.0.0-${built.build}`;
  t.equal(readlinkSync(path.join(installRoot, 'current')), path.join('releases', installedName), '`current` points to the new release');
  const dir = path.join(installRoot, 'releases', installedName);
  const manifest = JSON.parse((readEntries(good)[0] as { data: Buffer }).data.toString('utf8')) as { files: { path: string; sha256: string; executable: boolean }[] };
  let checked = 0;
  for (const file of manifest.files) {
    const data = readFileSync(path.join(dir, file.path));
    if (createHash('sha256').update(data).digest('hex') === file.sha256) checked++;
  }
  t.equal(checked, manifest.files.length, `all ${manifest.files.length} files installed as the manifest says`);
  t.equal(statSync(path.join(dir, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker')).mode & 0o777, 0o755, 'the worker binary is executable');
  t.equal(statSync(path.join(dir, 'server/core/version.ts')).mode & 0o777, 0o644, 'source files are not');
  t.match(JSON.parse(readFileSync(path.join(dir, 'build-info.json'), 'utf8')), { version: '99.0.0', build: built.build });
  t.ok(lstatSync(path.join(installRoot, 'releases', running)).isDirectory(), 'the previous release stays (to go back to)');
  t.same(installState().maintenance, [], 'the package file is gone');
  t.same(readdirSync(path.join(installRoot, 'releases')).filter((name) => name.startsWith('.')), [], 'no unpacking leftovers');
  const audit = state.db.prepare("SELECT actor, action, detail FROM audit_log WHERE action IN ('system.upgrade.requested', 'system.upgrade.installed') ORDER BY id").all() as { actor: string; action: string; detail: string }[];
  t.match(audit, [
    { actor: 'chief', action: 'system.upgrade.requested', detail: /"99\.0\.0"/ },
    { actor: 'chief', action: 'system.upgrade.installed', detail: new RegExp(answer.body.id) },
  ]);
  const about = await admin.call('GET', '/api/v1/system');
  t.match(about.body, { version: BUILD_INFO.version, release: installedName, lastUpgrade: { state: 'installed', restarted: false } }, 'this process still runs the old version; `current` is the new one');
});

t.test('a package whose self-check fails is rolled back', async (t) => {
  const broken = resign(good, (m, f) => {
    setVersion(m, f, '99.1.0');
    f.set('server/upgrade/release-check.ts', Buffer.from("process.stderr.write('broken on purpose\\n');\nprocess.exit(3);\n"));
  });
  const answer = await upload(broken);
  t.equal(answer.status, 202, JSON.stringify(answer.body));
  const outcome = await waitForOutcome(answer.body.id);
  t.match(outcome, { state: 'rolled-back', code: 'VCBOX_ERR_UPGRADE_CHECK_FAILED', message: /vcbox 99\.1\.0 was unpacked but failed its self-check \(broken on purpose\)/ });
  t.equal(readlinkSync(path.join(installRoot, 'current')), path.join('releases', installedName), '`current` was not switched');
  t.notOk(existsSync(path.join(installRoot, 'releases', `99.1.0-${built.build}`)), 'the failed release is removed');
  const chinese = (await fetch(`${base}/api/v1/system/upgrade`, { headers: { cookie: admin.cookie, 'accept-language': 'zh-CN' } }).then((r) => r.json())) as { upgrade: { message: string } };
  t.match(chinese.upgrade.message, /已解包，但未通过自检/, 'the reason in Chinese for a Chinese console');
  t.match(state.db.prepare("SELECT detail FROM audit_log WHERE action = 'system.upgrade.rolled-back'").get(), { detail: /VCBOX_ERR_UPGRADE_CHECK_FAILED/ });
});

t.test('a box running from a source folder, or installed without `current`, says why it cannot be upgraded', async (t) => {
  const plainDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-upgrade-plain-'));
  const plainConfig = loadConfig({ VCBOX_DATA_DIR: plainDir });
  const plainState = openState(plainConfig);
  await new AdminStore(plainState.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
  const plain = openMaintenance({ config: plainConfig, db: plainState.db, settings: plainState.settings, admins: new AdminStore(plainState.db) });
  t.teardown(() => plain.close());
  const plainBase = await startConsoleApi(t, { state: plainState, maintenance: plain });
  const client = new ConsoleClient(plainBase);
  await client.login('chief', 'Chief2026');
  const about = await client.call('GET', '/api/v1/system');
  t.match(about.body, { upgradable: false, installRoot: null, release: null, notUpgradable: { code: 'VCBOX_ERR_UPGRADE_UNAVAILABLE', message: /runs from a source folder/ } });
  const refused = await fetch(`${plainBase}/api/v1/system/upgrade`, { method: 'POST', headers: { 'content-type': 'application/gzip', cookie: client.cookie, 'x-csrf-token': client.csrfToken }, body: good }).then(async (r) => ({ status: r.status, body: await r.json() }));
  t.match(refused, { status: 409, body: { code: 'VCBOX_ERR_UPGRADE_UNAVAILABLE' } });

  const oldLayout = path.join(work, 'old-layout');
  mkdirSync(path.join(oldLayout, 'app'), { recursive: true });
  const oldConfig = loadConfig({ VCBOX_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'vcbox-upgrade-old-')), VCBOX_INSTALL_ROOT: oldLayout });
  const oldState = openState(oldConfig);
  const old = openMaintenance({ config: oldConfig, db: oldState.db, settings: oldState.settings, admins: new AdminStore(oldState.db) });
  t.teardown(() => old.close());
  t.match(await old.upgrade.about(), { upgradable: { ok: false, code: 'VCBOX_ERR_UPGRADE_LAYOUT' } }, 'an install without `current` (an older install.sh) is told to reinstall once');
});
