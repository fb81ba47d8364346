/**
 * install.sh, run against a temporary root (never this machine's /): documents itself, lays out
 * the software (a release folder and the `current` link a system upgrade switches), the pinned
 * Node, a configuration, a system user entry and the systemd units (the services as user vcbox,
 * the maintenance job as root behind its path unit); keeps an admin's configuration and the
 * previous release on a second run; and what it installed really starts.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { SCHEMA_VERSION } from '../../server/db/migrations.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);
const installer = path.join(PROJECT_ROOT, 'install.sh');

t.test('--help documents the options', async (t) => {
  const { stdout } = await run(installer, ['--help']);
  for (const option of ['--root', '--prefix', '--data-dir', '--log-dir', '--conf-dir', '--no-apt', '--no-start']) {
    t.match(stdout, option, `mentions ${option}`);
  }
  t.match(stdout, /systemd/);
  await t.rejects(run(installer, ['--bogus']), { code: 2, stderr: /unknown option '--bogus'/ });
});

t.test('install into a temporary root, twice, then start what was installed', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'vcbox-root-'));
  const first = await run(installer, ['--root', root, '--no-apt'], { maxBuffer: 10 * 1024 * 1024 });
  t.match(first.stdout, /nothing on this machine was changed/);

  const units = readdirSync(path.join(root, 'etc/systemd/system')).sort();
  t.same(units, ['vcbox-control.service', 'vcbox-maintenance.path', 'vcbox-maintenance.service', 'vcbox-media.service', 'vcbox-signaling.service', 'vcbox-stop-intent.service', 'vcbox-turn.service', 'vcbox.target']);
  for (const unit of units) {
    const text = readFileSync(path.join(root, 'etc/systemd/system', unit), 'utf8');
    t.notMatch(text, /@[A-Z]+@/, `${unit}: every placeholder filled`);
    const exec = /^ExecStart=(\S+) (\S+)$/m.exec(text);
    if (exec) {
      t.ok(existsSync(path.join(root, exec[1] ?? '')), `${unit}: ${exec[1]} installed`);
      t.ok(existsSync(path.join(root, exec[2] ?? '')), `${unit}: ${exec[2]} installed`);
      t.match(exec[2], /^\/opt\/vcbox\/current\//, `${unit}: runs the current release`);
      if (unit === 'vcbox-maintenance.service') t.notMatch(text, /^User=/m, `${unit}: runs as root (it replaces the software and restarts the services)`);
      else t.match(text, /^User=vcbox$/m, `${unit}: runs as the vcbox user`);
      t.match(text, /^Environment=VCBOX_CONFIG=\/etc\/vcbox\/config\.json$/m);
    }
  }
  t.match(readFileSync(path.join(root, 'etc/systemd/system/vcbox-maintenance.path'), 'utf8'), /^PathExists=\/var\/lib\/vcbox\/maintenance\/request\.json$/m, 'the path unit watches the control plane\'s requests');
  t.match(readFileSync(path.join(root, 'usr/lib/tmpfiles.d/vcbox.conf'), 'utf8'), /^d \/var\/lib\/vcbox\/maintenance 0750 vcbox vcbox -$/m, 'the request folder belongs to vcbox');
  t.match(readFileSync(path.join(root, 'usr/lib/tmpfiles.d/vcbox.conf'), 'utf8'), /^d \/var\/lib\/vcbox\/run 0700 vcbox vcbox -$/m, "the sockets' folder exists before the media process, which may write nothing else of the data folder, starts");
  const version = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version as string;
  const current = readlinkSync(path.join(root, 'opt/vcbox/current'));
  t.match(current, new RegExp(`^releases/${version.replace(/\./g, '\\.')}-\\d{14}$`), '`current` points to the release folder');
  const firstRelease = path.basename(current);
  t.match(JSON.parse(readFileSync(path.join(root, 'opt/vcbox', current, 'build-info.json'), 'utf8')), { version, build: firstRelease.slice(version.length + 1) }, 'with its build-info.json');
  t.match(readFileSync(path.join(root, 'usr/lib/sysusers.d/vcbox.conf'), 'utf8'), /^u vcbox - ".*" \/var\/lib\/vcbox$/m);
  t.match(readFileSync(path.join(root, 'usr/lib/sysctl.d/60-vcbox.conf'), 'utf8'), /^net\.core\.rmem_max = 393216$/m, 'the SIP port may have its 384 KB UDP receive buffer');
  t.match(readFileSync(path.join(root, 'usr/lib/tmpfiles.d/vcbox.conf'), 'utf8'), /^d \/var\/log\/vcbox 0750 vcbox vcbox -$/m);

  const { stdout: nodeVersion } = await run(path.join(root, 'opt/vcbox/node/bin/node'), ['--version']);
  t.match(nodeVersion, /^v22\./, 'the pinned Node 22 is installed');
  const modules = path.join(root, 'opt/vcbox/current/node_modules');
  t.ok(existsSync(path.join(modules, 'fastify')), 'production dependencies installed');
  t.ok(existsSync(path.join(modules, 'mediasoup/worker/out/Release/mediasoup-worker')), 'with the built mediasoup worker');
  t.notOk(existsSync(path.join(modules, 'tap')), 'development dependencies left out');
  t.notOk(existsSync(path.join(modules, 'typescript')), 'development dependencies left out');

  const configFile = path.join(root, 'etc/vcbox/config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  t.match(config, { dataDir: '/var/lib/vcbox', logDir: '/var/log/vcbox', http: { host: '0.0.0.0' }, system: { systemd: true }, upgrade: { installRoot: '/opt/vcbox' } });
  t.notOk('port' in config.http, 'the console port is the stored web.httpPort (80), changeable in the console');

  // An admin's change survives a reinstall; point the box at this test's ports and folders.
  const httpPort = await freePort();
  config.dataDir = path.join(root, 'var/lib/vcbox');
  config.logDir = path.join(root, 'var/log/vcbox');
  config.http = { host: '127.0.0.1', port: httpPort };
  // As an older install.sh wrote it: without what upgrades from the console need.
  delete config.upgrade;
  delete config.system;
  writeFileSync(configFile, JSON.stringify(config));
  const second = await run(installer, ['--root', root, '--no-apt'], { maxBuffer: 10 * 1024 * 1024 });
  t.match(second.stdout, /keeping the existing/);
  t.equal(JSON.parse(readFileSync(configFile, 'utf8')).http.port, httpPort, 'configuration kept');
  t.match(second.stdout, /added to .*config\.json: system\.systemd, upgrade\.installRoot/);
  t.match(JSON.parse(readFileSync(configFile, 'utf8')), { system: { systemd: true }, upgrade: { installRoot: '/opt/vcbox' } }, 'with what upgrades need added');
  const releases = readdirSync(path.join(root, 'opt/vcbox/releases'));
  t.ok(releases.includes(firstRelease) && releases.includes(path.basename(readlinkSync(path.join(root, 'opt/vcbox/current')))), `the previous release is kept beside the new one (${releases.join(', ')})`);

  // The installed control plane, as its unit would start it, serves the console.
  const unit = readFileSync(path.join(root, 'etc/systemd/system/vcbox-control.service'), 'utf8');
  const [, node = '', script = ''] = /^ExecStart=(\S+) (\S+)$/m.exec(unit) ?? [];
  const { spawn } = await import('node:child_process');
  const child = spawn(path.join(root, node), [path.join(root, script)], {
    env: { PATH: process.env.PATH, VCBOX_CONFIG: configFile, VCBOX_LOG_STDOUT: '0' },
    stdio: 'ignore',
  });
  t.teardown(() => child.kill('SIGKILL'));
  let health: unknown;
  for (let i = 0; i < 100 && health === undefined; i++) {
    await new Promise((r) => setTimeout(r, 200));
    health = await fetch(`http://127.0.0.1:${httpPort}/api/v1/health`).then((r) => r.json(), () => undefined);
  }
  t.match(health, { status: 'ok', schemaVersion: SCHEMA_VERSION }, 'installed control plane answers');
  t.ok(existsSync(path.join(root, 'var/lib/vcbox/vcbox.sqlite')), 'database created in the configured data directory');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  t.equal(child.exitCode, 0, 'and stops cleanly on SIGTERM');
});
