/**
 * Carries out one system upgrade that the control plane has accepted (./system-upgrade.ts
 * verified the package and handed it over in `<dataDir>/maintenance/`), in the process that
 * can restart the services — the dev supervisor, the appliance's root vcbox-maintenance unit —
 * or, where nothing can restart them, in the control plane itself:
 *
 *  1. unpack: the package is verified again (signature, every file) while it is unpacked into
 *     the install root's `releases/<version>-<build>` (./release-installer.ts);
 *  2. self-check: the new release's own server/upgrade/release-check.ts runs with the box's
 *     Node and must load everything and report the package's version and build;
 *  3. with services to restart: stop them, copy the database files (all processes stopped, so
 *     the copy is exact), switch `current`, start them, and wait for the health check — the
 *     control plane answering GET /api/v1/health with the new version and build within
 *     `upgrade.healthTimeoutSeconds`, and every service still running a few seconds later;
 *  4. when the check fails: stop, put the database files back (whatever the new version
 *     migrated or wrote is undone), switch `current` back, start, check the old version is
 *     back, remove the failed release. Without services: `current` is switched after the
 *     self-check, and the new version runs from the services' next start.
 *
 * Every step is written to the status file; the outcome (installed, rolled back, failed) with
 * the reason as an error code the console shows in the admin's language. The control plane
 * turns the outcome into an operation-log entry (this process may not open the database: on an
 * appliance it runs as root, and the database belongs to the vcbox user).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Config, dataPaths } from '../core/config.ts';
import { type ErrorCode, VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { databaseName, MaintenanceFiles, type MaintenanceRequest, packageName, type ReleaseInfo, type UpgradeStatus } from '../maintenance/maintenance-files.ts';
import { isJobId, LOOPBACK_HEALTH, shownValue } from '../maintenance/maintenance-request.ts';
import type { ServiceControl } from '../maintenance/service-control.ts';
import { UntrustedFileError, UntrustedFolder } from '../maintenance/untrusted-folder.ts';
import type { TrustedKey } from '../security/trusted-keys.ts';
import { trustedReleaseKeys } from './release-keys.ts';
import { InstallRoot } from './release-installer.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('upgrade');
const run = promisify(execFile);
const SELF_CHECK_TIMEOUT_MS = 120_000;
/** After the health check passed: how long every service must stay up. */
const SETTLE_MS = 3000;
/** A service that exits this often right after its start will not come up: no need to wait for the timeout. */
const CRASHES_TO_GIVE_UP = 2;
const DATABASE_SUFFIXES = ['', '-wal'];

/** The steps' names in the status and in a failure's message (en, zh). */
export const UPGRADE_STEPS = {
  unpacking: '解包',
  'self-check': '自检',
  'stopping the services': '停止服务',
  'copying the database': '复制数据库',
  'switching the release': '切换版本',
  'starting the services': '启动服务',
  'health check': '健康检查',
  'rolling back': '回退',
} as const;
type Step = keyof typeof UPGRADE_STEPS;
const STEPS = UPGRADE_STEPS;

export interface UpgradeRunnerOptions {
  readonly installRoot: InstallRoot;
  readonly keys: readonly TrustedKey[];
  readonly files: MaintenanceFiles;
  /** The database file (`<dataDir>/vcbox.sqlite`). */
  readonly database: string;
  /** Who stops and starts the services; undefined: nothing restarts them here. */
  readonly services?: ServiceControl | undefined;
  /**
   * The control plane's health URL (unless the request names where it answers now) and how long
   * a new version has to answer it.
   */
  readonly health: { readonly url: string; readonly timeoutMs: number };
  /** The Node that runs the self-check (the box's). */
  readonly node?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class UpgradeRunner {
  readonly #options: UpgradeRunnerOptions;

  constructor(options: UpgradeRunnerOptions) {
    this.#options = options;
  }

  /** Runs the upgrade `request` to its end; resolves with the final status (never rejects). */
  async run(request: Extract<MaintenanceRequest, { kind: 'upgrade' }>): Promise<UpgradeStatus> {
    const now = new Date().toISOString();
    const refused = (reason: string): UpgradeStatus => {
      log.error({ id: shownValue(request.id), reason }, 'upgrade refused');
      const none = { version: '', build: '', buildTime: '' };
      return { id: String(request.id), state: 'failed', from: none, to: none, key: '', requestedAt: now, requestedBy: request.by, updatedAt: now, finishedAt: now, outcome: { code: 'VCBOX_ERR_MAINTENANCE_UNSAFE', params: { reason, dir: this.#options.files.dir } }, steps: [] };
    };
    // The id names files and folders: nothing is touched for one that is not a job id.
    if (!isJobId(request.id)) return refused(`${shownValue(request.id)} is not a job id`);
    let folder: UntrustedFolder | undefined;
    try {
      folder = UntrustedFolder.open(this.#options.files.dir);
    } catch (error) {
      return refused((error as Error).message);
    }
    if (!folder) return refused(`${this.#options.files.dir} does not exist`);
    const jobs = { folder, databaseCopy: undefined as UntrustedFolder | undefined };
    try {
      return await this.#run(request, jobs);
    } finally {
      jobs.databaseCopy?.close();
      folder.close();
    }
  }

  async #run(request: Extract<MaintenanceRequest, { kind: 'upgrade' }>, jobs: { folder: UntrustedFolder; databaseCopy: UntrustedFolder | undefined }): Promise<UpgradeStatus> {
    const { installRoot, files, services } = this.#options;
    const healthUrl = request.health && LOOPBACK_HEALTH.test(request.health) ? request.health : this.#options.health.url;
    const now = () => new Date().toISOString();
    const known = await files.status();
    let status: UpgradeStatus =
      known?.id === request.id
        ? known
        : { id: request.id, state: 'requested', from: { version: '', build: '', buildTime: '' }, to: { version: '', build: '', buildTime: '' }, key: '', requestedAt: request.requestedAt, requestedBy: request.by, updatedAt: now(), steps: [] };
    let step: Step = 'unpacking';
    const advance = async (change: Partial<UpgradeStatus>, next?: Step, detail?: string) => {
      if (next) step = next;
      status = { ...status, ...change, updatedAt: now(), steps: next ? [...status.steps, { at: now(), step: next, ...(detail ? { detail } : {}) }] : status.steps };
      await files.writeStatus(status);
      if (next) log.info({ id: request.id, step: next, detail }, 'upgrade');
    };
    const finish = async (state: 'installed' | 'rolled-back' | 'failed', outcome?: UpgradeStatus['outcome']) => {
      await advance({ state, finishedAt: now(), ...(outcome ? { outcome } : {}) });
      await jobs.folder.remove(packageName(request.id));
      if (state !== 'failed' && jobs.databaseCopy) await this.#removeDatabaseCopy(jobs.folder, jobs.databaseCopy, request.id);
      log.info({ id: request.id, state, outcome }, 'upgrade finished');
      return status;
    };
    const previous = await installRoot.current();
    let installed: string | undefined;
    /** How far the box was changed, for putting it back after an unexpected failure. */
    const changed = { stopped: false, databaseSaved: false };
    try {
      await advance({ state: 'installing' }, 'unpacking');
      let unpacked: Awaited<ReturnType<InstallRoot['unpack']>>;
      // The package as the control plane left it: a file of its own, not a link (read through its open handle).
      const opened = await jobs.folder.openFile(packageName(request.id));
      if (!opened) throw new Error(`the package ${files.packageFile(request.id)} is not there`);
      try {
        unpacked = await installRoot.unpack(`/proc/self/fd/${opened.handle.fd}`, this.#options.keys, request.id);
      } catch (error) {
        if (error instanceof VcboxError) return await finish('rolled-back', { code: error.code, params: error.params });
        throw error;
      } finally {
        await opened.handle.close();
      }
      installed = unpacked.name;
      const to: ReleaseInfo = { version: unpacked.manifest.version, build: unpacked.manifest.build, buildTime: unpacked.manifest.buildTime, release: unpacked.name };
      await advance({ state: 'checking', to, key: unpacked.key }, 'self-check');
      const problem = await this.#selfCheck(unpacked.dir, to);
      if (problem) {
        await installRoot.remove(unpacked.name);
        installed = undefined;
        return await finish('rolled-back', { code: 'VCBOX_ERR_UPGRADE_CHECK_FAILED', params: { version: to.version, previous: status.from.version, reason: problem } });
      }
      if (!services) {
        await advance({}, 'switching the release', unpacked.name);
        await installRoot.switchTo(unpacked.name);
        await installRoot.prune([previous]);
        await advance({ restarted: false });
        return await finish('installed');
      }
      if (!previous) {
        await installRoot.remove(unpacked.name);
        return await finish('rolled-back', { code: 'VCBOX_ERR_UPGRADE_LAYOUT', params: { root: installRoot.root } });
      }

      await advance({ state: 'restarting' }, 'stopping the services');
      changed.stopped = true;
      await services.stopServices();
      await advance({}, 'copying the database');
      jobs.databaseCopy = await this.#saveDatabase(this.#options.database, jobs.folder, request.id);
      changed.databaseSaved = true;
      await advance({}, 'switching the release', unpacked.name);
      await installRoot.switchTo(unpacked.name);
      await advance({}, 'starting the services');
      await services.startServices();
      await advance({ state: 'health-check' }, 'health check', healthUrl);
      const unhealthy = await this.#healthCheck(healthUrl, to);
      if (!unhealthy) {
        await advance({ restarted: true });
        const removed = await installRoot.prune([previous]);
        if (removed.length > 0) log.info({ removed }, 'older releases removed');
        return await finish('installed');
      }

      // Back to where the box was: the old release on the old data.
      await advance({ state: 'rolling-back' }, 'rolling back', unhealthy);
      await services.stopServices();
      await this.#restoreDatabase(jobs.databaseCopy, this.#options.database);
      await installRoot.switchTo(previous);
      await services.startServices();
      const back = await this.#healthCheck(healthUrl, status.from);
      await installRoot.remove(unpacked.name).catch((error: Error) => log.warn({ err: error.message }, 'could not remove the failed release'));
      if (back) {
        return await finish('failed', { code: 'VCBOX_ERR_UPGRADE_FAILED', params: { version: to.version, step: 'rolling back', stepZh: STEPS['rolling back'], reason: `${unhealthy}; and after going back: ${back}`, running: `vcbox ${status.from.version} (${previous})` } });
      }
      await advance({ restarted: true });
      return await finish('rolled-back', { code: 'VCBOX_ERR_UPGRADE_ROLLED_BACK', params: { version: to.version, previous: status.from.version, reason: unhealthy } });
    } catch (error) {
      const reason = (error as Error).message;
      log.error({ id: request.id, step, err: reason }, 'upgrade failed');
      if (services && changed.stopped) await this.#putBack(services, previous, changed.databaseSaved ? jobs.databaseCopy : undefined);
      const running = await installRoot.current();
      // A release left unpacked but never switched to is no use to anyone.
      if (installed && running !== installed) await installRoot.remove(installed).catch(() => undefined);
      const code: ErrorCode = error instanceof UntrustedFileError ? 'VCBOX_ERR_MAINTENANCE_UNSAFE' : 'VCBOX_ERR_UPGRADE_FAILED';
      if (code === 'VCBOX_ERR_MAINTENANCE_UNSAFE') {
        return await finish('failed', { code, params: { reason, dir: files.dir } }).catch(() => status);
      }
      return await finish('failed', { code, params: { version: status.to.version || '?', step, stepZh: STEPS[step], reason, running: running ?? 'an unknown release' } }).catch(() => status);
    }
  }

  /**
   * After an unexpected failure with the services stopped: the previous release and (when it was
   * copied) the previous database back, and the services started again — as far as it goes.
   */
  async #putBack(services: ServiceControl, previous: string | undefined, databaseCopy: UntrustedFolder | undefined): Promise<void> {
    try {
      await services.stopServices();
      if (databaseCopy) await this.#restoreDatabase(databaseCopy, this.#options.database);
      if (previous && (await this.#options.installRoot.current()) !== previous) await this.#options.installRoot.switchTo(previous);
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not put the previous release back');
    }
    await services.startServices().catch((error: Error) => log.error({ err: error.message }, 'could not start the services again'));
  }

  /** Runs the release's own check; returns what is wrong, or undefined when it passed. */
  async #selfCheck(dir: string, expected: ReleaseInfo): Promise<string | undefined> {
    const script = path.join(dir, 'server', 'upgrade', 'release-check.ts');
    try {
      // An empty environment: the check must not see this box's configuration (VCBOX_*) or data.
      const { stdout } = await run(this.#options.node ?? process.execPath, [script], { cwd: dir, timeout: SELF_CHECK_TIMEOUT_MS, env: {}, maxBuffer: 1024 * 1024 });
      const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Partial<ReleaseInfo>;
      if (report.version !== expected.version || report.build !== expected.build) {
        return `it reports vcbox ${report.version} build ${report.build}, the package says ${expected.version} build ${expected.build}`;
      }
      return undefined;
    } catch (error) {
      const failure = error as Error & { stderr?: string; killed?: boolean };
      if (failure.killed) return `it did not finish within ${SELF_CHECK_TIMEOUT_MS / 1000} s`;
      return (failure.stderr?.trim() || failure.message).split('\n').slice(0, 3).join('; ');
    }
  }

  /**
   * Waits for the control plane to answer its health check with `expected`'s version and build
   * (any version when `expected` has none), then for every service to stay up a moment. Gives
   * up early when a service keeps exiting. Returns what was wrong, or undefined.
   */
  async #healthCheck(url: string, expected: ReleaseInfo): Promise<string | undefined> {
    const { timeoutMs } = this.#options.health;
    const services = this.#options.services;
    // Monotonic: a clock set at the services' start (NTP) must not cut the wait short.
    const deadline = monotonicMs() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      const crashed = Object.entries((await services?.crashes()) ?? {}).find(([, count]) => count >= CRASHES_TO_GIVE_UP);
      if (crashed) return `${crashed[0]} exited ${crashed[1]} times right after its start (its log says why)`;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        const body = (await response.json()) as { status?: string; version?: string; build?: string };
        const matches = body.status === 'ok' && (!expected.version || (body.version === expected.version && body.build === expected.build));
        if (matches) break;
        last = `it answered ${response.status} with vcbox ${body.version ?? '?'} build ${body.build || '(none)'}`;
      } catch (error) {
        last = (error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      }
      if (monotonicMs() > deadline) return `the control plane did not answer its health check as vcbox ${expected.version} within ${Math.round(timeoutMs / 1000)} s (last: ${last})`;
      await sleep(500);
    }
    await sleep(SETTLE_MS);
    const down = (await services?.notRunning()) ?? [];
    const crashed = Object.entries((await services?.crashes()) ?? {}).filter(([, count]) => count > 0);
    if (down.length > 0 || crashed.length > 0) return `${[...new Set([...down, ...crashed.map(([name]) => name)])].join(', ')} stopped right after the start`;
    return undefined;
  }

  /**
   * Copies the database's files (main file and WAL; no process has them open) into a new
   * private folder `database-<id>` of the maintenance folder, and returns it open. The data
   * folder is the vcbox user's: its files are read without following links, and must be files
   * of that folder's owner with one link (./untrusted-folder.ts).
   */
  async #saveDatabase(database: string, maintenance: UntrustedFolder, id: string): Promise<UntrustedFolder> {
    const data = UntrustedFolder.open(path.dirname(database));
    if (!data) throw new UntrustedFileError(`the data folder ${path.dirname(database)} is not there`);
    const copy = await maintenance.makePrivateFolder(databaseName(id));
    try {
      for (const suffix of DATABASE_SUFFIXES) {
        const name = `${path.basename(database)}${suffix}`;
        const opened = await data.openFile(name);
        if (!opened) continue;
        try {
          if (opened.stats.uid !== data.owner.uid) throw new UntrustedFileError(`${data.shown(name)} belongs to user ${opened.stats.uid}, not to the data folder's owner ${data.owner.uid}`);
          // The copy keeps the owner and mode to give back on restoring (the folder is private).
          await copy.copyIn(name, opened.handle, { mode: opened.stats.mode & 0o777 });
        } finally {
          await opened.handle.close();
        }
      }
      return copy;
    } catch (error) {
      copy.close();
      throw error;
    } finally {
      data.close();
    }
  }

  /**
   * Puts the files saved in `copy` back as the database (a WAL or index the new version left is
   * dropped): each written new and renamed into the data folder, owned by its owner.
   */
  async #restoreDatabase(copy: UntrustedFolder | undefined, database: string): Promise<void> {
    if (!copy) throw new Error('there is no copy of the database to put back');
    const data = UntrustedFolder.open(path.dirname(database));
    if (!data) throw new UntrustedFileError(`the data folder ${path.dirname(database)} is not there`);
    try {
      for (const suffix of [...DATABASE_SUFFIXES, '-shm']) await data.remove(`${path.basename(database)}${suffix}`);
      for (const suffix of DATABASE_SUFFIXES) {
        const name = `${path.basename(database)}${suffix}`;
        const opened = await copy.openFile(name);
        if (!opened) continue;
        try {
          await data.copyIn(name, opened.handle, { mode: opened.stats.mode & 0o777, ...(process.geteuid?.() === 0 ? { owner: data.owner } : {}) });
        } finally {
          await opened.handle.close();
        }
      }
    } finally {
      data.close();
    }
  }

  /** Removes the database copy of a job that no longer needs it (its files, then the empty folder). */
  async #removeDatabaseCopy(maintenance: UntrustedFolder, copy: UntrustedFolder, id: string): Promise<void> {
    for (const name of await copy.list()) await copy.remove(name);
    await maintenance.removeEmptyFolder(databaseName(id));
  }
}

/** Reads `<release>/build-info.json`: what a release folder holds (install.sh and packages write it). */
export async function releaseInfo(dir: string, name: string): Promise<ReleaseInfo> {
  try {
    const info = JSON.parse(await readFile(path.join(dir, 'build-info.json'), 'utf8')) as Partial<ReleaseInfo>;
    return { version: info.version ?? '', build: info.build ?? '', buildTime: info.buildTime ?? '', release: name };
  } catch {
    return { version: '', build: '', buildTime: '', release: name };
  }
}


/**
 * The control plane's health check on this box, on loopback (the API always answers over HTTP):
 * at `port`, or the configuration's fixed HTTP port, or the default setting's (80) — the control
 * plane names its live port in each upgrade request.
 */
export function healthUrl(config: Pick<Config, 'http'>, port?: number | null): string {
  return `http://127.0.0.1:${port ?? config.http.port ?? 80}/api/v1/health`;
}

/** The runner for this box's configuration (install root, keys, data folder, health check); undefined without an install root. */
export function upgradeRunnerFor(config: Config, services: ServiceControl | undefined): UpgradeRunner | undefined {
  if (!config.upgrade.installRoot) return undefined;
  return new UpgradeRunner({
    installRoot: new InstallRoot(config.upgrade.installRoot),
    keys: trustedReleaseKeys({ testPublicKeyFile: config.upgrade.testPublicKeyFile }),
    files: new MaintenanceFiles(dataPaths(config).maintenance),
    database: dataPaths(config).database,
    services,
    health: { url: healthUrl(config), timeoutMs: config.upgrade.healthTimeoutMs },
  });
}
