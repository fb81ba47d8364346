/**
 * Security finding 3's sandbox: every vcbox service unit (systemd/) is rated by systemd's own
 * `systemd-analyze security` (offline: no running systemd needed) as installed — placeholders
 * filled in as install.sh does — and must score "OK" or better (exposure below 5.0), with the
 * analyzer accepting every setting. The settings the rating does not show are checked too: no
 * unit sets MemoryDenyWriteExecute (every unit runs Node, whose JIT needs writable code
 * memory), only the units binding ports below 1024 keep CAP_NET_BIND_SERVICE, and the root
 * maintenance job may not write the log folder and logs to the journal; the media process,
 * which opens no database, writes only its socket's folder of the data folder, and the stop-intent
 * unit (rm and touch of one file) only that folder too.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PROJECT_ROOT } from '../helpers/appliance.ts';

const run = promisify(execFile);
/** `--threshold` is the exposure times ten: 49 is the highest "OK" (4.9). */
const THRESHOLD = 49;
const unitsDir = path.join(PROJECT_ROOT, 'systemd');
const services = readdirSync(unitsDir).filter((name) => name.endsWith('.service')).sort();
const PLACEHOLDERS: Record<string, string> = { '@PREFIX@': '/opt/vcbox', '@CONFDIR@': '/etc/vcbox', '@DATADIR@': '/var/lib/vcbox', '@LOGDIR@': '/var/log/vcbox' };

const analyzer = await run('systemd-analyze', ['--version']).then(
  () => true,
  () => false,
);

/** The unit's `[Service]` settings: key → every value given (in order). */
function settings(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) found.set(match[1] as string, [...(found.get(match[1] as string) ?? []), match[2] as string]);
  }
  return found;
}

t.test('every service unit scores OK or better in systemd-analyze security', { skip: analyzer ? false : 'systemd-analyze is not installed (Debian package systemd; scripts/setup.sh test installs it)' }, async (t) => {
  t.same(services, ['vcbox-control.service', 'vcbox-maintenance.service', 'vcbox-media.service', 'vcbox-signaling.service', 'vcbox-stop-intent.service', 'vcbox-turn.service'], 'all units are rated');
  const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-units-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  for (const name of services) {
    let text = readFileSync(path.join(unitsDir, name), 'utf8');
    for (const [from, to] of Object.entries(PLACEHOLDERS)) text = text.replaceAll(from, to);
    const file = path.join(work, name);
    writeFileSync(file, text);
    const result = await run('systemd-analyze', ['security', '--offline=true', `--threshold=${THRESHOLD}`, '--no-pager', file]).then(
      ({ stdout, stderr }) => ({ ok: true, stdout, stderr }),
      (error: { stdout?: string; stderr?: string }) => ({ ok: false, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
    );
    const score = /Overall exposure level for .*: ([0-9.]+) (\w+)/.exec(result.stdout);
    t.ok(score, `${name}: rated (${result.stderr.trim() || 'no complaint'})`);
    t.ok(result.ok, `${name}: exposure ${score?.[1]} ${score?.[2]} is at most ${THRESHOLD / 10} (OK)`);
    t.notMatch(result.stderr, /Unknown key|bad unit file setting|Failed to parse|Ignoring/i, `${name}: every setting is understood`);
  }
});

t.test('what the rating does not show', async (t) => {
  for (const name of services) {
    const unit = settings(readFileSync(path.join(unitsDir, name), 'utf8'));
    for (const [key, value] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', RestrictNamespaces: 'yes', LockPersonality: 'yes', SystemCallArchitectures: 'native' })) {
      t.same(unit.get(key), [value], `${name}: ${key}=${value}`);
    }
    t.equal(unit.get('SystemCallFilter')?.[0], '@system-service', `${name}: system calls limited to @system-service`);
    t.ok(unit.get('RestrictAddressFamilies'), `${name}: address families restricted`);
    t.notOk(unit.has('MemoryDenyWriteExecute'), `${name}: no MemoryDenyWriteExecute (it runs Node, whose JIT writes the code it runs)`);
    const capabilities = unit.get('CapabilityBoundingSet') ?? [];
    t.equal(capabilities.length, 1, `${name}: one capability bounding set`);
    const bindsLowPorts = name === 'vcbox-control.service' || name === 'vcbox-signaling.service';
    if (bindsLowPorts) t.same(capabilities, ['CAP_NET_BIND_SERVICE'], `${name}: only CAP_NET_BIND_SERVICE (ports below 1024)`);
    else if (name !== 'vcbox-maintenance.service') t.same(capabilities, [''], `${name}: no capability at all`);
    if (name === 'vcbox-media.service') {
      // It opens no database (the control plane sends it its settings): it writes only its socket's folder.
      t.same(unit.get('ReadWritePaths'), ['@DATADIR@/run @LOGDIR@'], `${name}: writes only the control channels' socket folder and the log folder`);
      t.same(unit.get('InaccessiblePaths'), ['-@DATADIR@/secrets -@DATADIR@/backups'], `${name}: sees neither the secrets nor the backups`);
    } else if (name === 'vcbox-stop-intent.service') {
      // It writes the one file that says the whole appliance stops, in the run folder.
      t.same(unit.get('ReadWritePaths'), ['@DATADIR@/run'], `${name}: writes only the run folder`);
    } else if (name !== 'vcbox-maintenance.service') t.same(unit.get('ReadWritePaths'), ['@DATADIR@ @LOGDIR@'], `${name}: writes only the data and log folders`);
  }
  const maintenance = settings(readFileSync(path.join(unitsDir, 'vcbox-maintenance.service'), 'utf8'));
  t.same(maintenance.get('ReadWritePaths'), ['@PREFIX@ @DATADIR@'], 'the root job writes the install root and the data folder, not the log folder');
  t.same(maintenance.get('StandardOutput'), ['journal'], 'the root job logs to the journal');
  t.same(maintenance.get('CapabilityBoundingSet'), ['CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER'], 'the root job keeps only the file capabilities it needs');
  t.same(maintenance.get('IPAddressDeny'), ['any'], 'the root job reaches no address but loopback');
});
