/**
 * The appliance's root maintenance job (server/maintenance/main.ts) run for real, as root, over
 * a box laid out in a temporary folder: an install root as install.sh makes it (a running
 * release and `current`), a data folder with the vcbox user's maintenance folder and database
 * file, a log folder, and a folder "outside" both holding sentinel files that no attack may
 * change. `systemctl` is a small script on PATH that records its command lines (there is no
 * systemd here) and answers `show` with the restart count the test asks for.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './appliance.ts';

export interface MaintenanceBox {
  readonly work: string;
  readonly installRoot: string;
  readonly dataDir: string;
  readonly maintenanceDir: string;
  readonly logDir: string;
  /** A folder that is neither the data folder nor the install root: nothing may change in it. */
  readonly outside: string;
  /** What `outside` holds now: every entry (recursively) with its content and mtime. */
  outsideState(): Record<string, string>;
  /** The command lines the job gave systemctl. */
  systemctlCalls(): string[];
  /** Runs the job once; resolves with its exit code and output. */
  runJob(env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
}

export const RUNNING_RELEASE = '1.0.0-20260101000000';

/** A new box in its own temporary folder; `restarts` is what the fake systemctl reports per unit. */
export function maintenanceBox(options: { restarts?: number; releaseTestKeyFile?: string } = {}): MaintenanceBox {
  const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-root-job-'));
  const installRoot = path.join(work, 'opt', 'vcbox');
  const dataDir = path.join(work, 'data');
  const maintenanceDir = path.join(dataDir, 'maintenance');
  const logDir = path.join(work, 'log');
  const outside = path.join(work, 'outside');
  const bin = path.join(work, 'bin');
  mkdirSync(path.join(installRoot, 'releases', RUNNING_RELEASE), { recursive: true, mode: 0o755 });
  writeFileSync(path.join(installRoot, 'releases', RUNNING_RELEASE, 'build-info.json'), JSON.stringify({ version: '1.0.0', build: '20260101000000', buildTime: '2026-01-01T00:00:00.000Z' }));
  symlinkSync(path.join('releases', RUNNING_RELEASE), path.join(installRoot, 'current'));
  mkdirSync(maintenanceDir, { recursive: true, mode: 0o750 });
  writeFileSync(path.join(dataDir, 'vcbox.sqlite'), 'the box database\n', { mode: 0o640 });
  mkdirSync(path.join(logDir, 'web'), { recursive: true });
  mkdirSync(path.join(outside, 'dir'), { recursive: true });
  writeFileSync(path.join(outside, 'sentinel'), 'root-owned file outside the box folders\n');
  writeFileSync(path.join(outside, 'dir', 'sentinel'), 'a file in a folder outside\n');
  mkdirSync(bin);
  const calls = path.join(work, 'systemctl-calls');
  writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh\necho "$*" >> '${calls}'\nif [ "$1" = show ]; then echo ${options.restarts ?? 0}; fi\nexit 0\n`,
  );
  chmodSync(path.join(bin, 'systemctl'), 0o755);

  const outsideState = (): Record<string, string> => {
    const state: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const name of readdirSync(dir).sort()) {
        const full = path.join(dir, name);
        const stats = lstatSync(full);
        const key = path.relative(outside, full);
        if (stats.isDirectory()) {
          state[`${key}/`] = `dir ${stats.mtimeMs}`;
          walk(full);
        } else state[key] = `${stats.mtimeMs} ${stats.isSymbolicLink() ? 'link' : readFileSync(full, 'utf8')}`;
      }
    };
    walk(outside);
    return state;
  };

  return {
    work,
    installRoot,
    dataDir,
    maintenanceDir,
    logDir,
    outside,
    outsideState,
    systemctlCalls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : []),
    runJob: (env = {}) =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          [path.join(PROJECT_ROOT, 'server', 'maintenance', 'main.ts')],
          {
            cwd: work,
            timeout: 300_000,
            maxBuffer: 16 * 1024 * 1024,
            env: {
              PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
              VCBOX_DATA_DIR: dataDir,
              VCBOX_LOG_DIR: logDir,
              VCBOX_INSTALL_ROOT: installRoot,
              VCBOX_LOG_LEVEL: 'info',
              VCBOX_UPGRADE_HEALTH_TIMEOUT_S: '5',
              ...(options.releaseTestKeyFile ? { VCBOX_RELEASE_TEST_KEY_FILE: options.releaseTestKeyFile } : {}),
              ...env,
            },
          },
          (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      }),
  };
}

/** A request as the control plane writes it (fields overridable, even with hostile values). */
export function requestOf(box: MaintenanceBox, fields: Record<string, unknown>): Record<string, unknown> {
  const id = (fields.id as string | undefined) ?? 'mabc1234-0123abcd';
  return {
    id,
    kind: 'upgrade',
    package: path.join(box.maintenanceDir, `package-${id}.tar.gz`),
    requestedAt: new Date().toISOString(),
    by: { actor: 'chief', source: '127.0.0.1' },
    ...fields,
  };
}
