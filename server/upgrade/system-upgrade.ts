/**
 * System upgrade as the control plane runs it (spec "Maintenance": upload a .tar.gz, the box
 * installs it and restarts; version and build time shown): what runs now, receiving a package,
 * deciding whether it may be installed, handing it over, and writing the outcome to the
 * operation log.
 *
 * An upload is received into `<dataDir>/maintenance/` (bounded by `upgrade.maxUploadBytes`)
 * and verified in full before anything else happens — the signature against the trusted release
 * keys, every file against the signed manifest (./release-package.ts) — then refused when it is
 * for another platform, not newer than the running version, needs another Node, or knows an
 * older database schema than this box's, or when the install root lacks the space. A refused
 * package is deleted: nothing is left, nothing changed, the refusal is in the operation log. An
 * accepted one gets an upgrade status (`requested`) and is handed over
 * (server/maintenance/maintenance-dispatch.ts) once the answer is sent; ./upgrade-runner.ts
 * does the rest. Its outcome, written by the runner to the status file, is put into the
 * operation log here (by whichever version of the control plane runs then) exactly once.
 */
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { recordAudit } from '../audit/audit-log.ts';
import { ensureSpace } from '../backup/backup-store.ts';
import type { Db } from '../db/database.ts';
import { schemaVersion } from '../db/migrations.ts';
import { createError, VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { type Author, isFinal, type MaintenanceFiles, type MaintenanceRequest, newJobId, type ReleaseInfo, type UpgradeStatus } from '../maintenance/maintenance-files.ts';
import type { MaintenanceDispatch } from '../maintenance/maintenance-dispatch.ts';
import type { TrustedKey } from '../security/trusted-keys.ts';
import type { InstallRoot } from './release-installer.ts';
import { readReleasePackage } from './release-package.ts';
import { compareVersions, satisfiesRange } from './versions.ts';
import { receiveUpload } from '../uploads/receive-upload.ts';

const log = getLogger('upgrade');
/** An unfinished status older than this belongs to a runner that is gone: not "busy" any more. */
const STALE_MS = 60 * 60 * 1000;

export interface SystemUpgradeOptions {
  readonly db: Db;
  readonly files: MaintenanceFiles;
  /** The install root; undefined: this box runs from a source folder and is not upgraded from the console. */
  readonly installRoot?: InstallRoot | undefined;
  readonly keys: readonly TrustedKey[];
  readonly maxUploadBytes: number;
  readonly dispatch: MaintenanceDispatch;
  /** The software running now (server/core/version.ts). */
  readonly running: ReleaseInfo & { readonly commit: string };
  /** Where this control plane answers its health check now (its HTTP port may come from the settings). */
  readonly healthUrl?: () => string;
}

/** The answer to an accepted upload. */
export interface UpgradeAccepted {
  readonly id: string;
  readonly state: 'requested';
  readonly from: ReleaseInfo;
  readonly to: ReleaseInfo;
  readonly key: string;
  /** Who restarts the services onto it: systemd, the supervisor, or nobody (it runs from their next start). */
  readonly restart: 'systemd' | 'supervisor' | 'none';
  readonly message: string;
}

function mebibytes(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

export class SystemUpgrade {
  readonly #options: SystemUpgradeOptions;
  /** An upload being received or verified (one at a time; it has no status file yet). */
  #accepting: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SystemUpgradeOptions) {
    this.#options = options;
  }

  /** Follows an upgrade in progress (its outcome goes to the operation log as soon as it is known). */
  start(): this {
    void this.recordOutcome();
    this.#timer = setInterval(() => void this.recordOutcome(), 5000);
    this.#timer.unref();
    return this;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get maxUploadBytes(): number {
    return this.#options.maxUploadBytes;
  }

  /** What runs now, and whether (and how) this box can be upgraded. */
  async about(): Promise<{
    version: string;
    build: string;
    buildTime: string;
    commit: string;
    release: string | null;
    installRoot: string | null;
    upgradable: { ok: true } | { ok: false; code: 'VCBOX_ERR_UPGRADE_UNAVAILABLE' | 'VCBOX_ERR_UPGRADE_LAYOUT'; error: VcboxError };
    restart: 'systemd' | 'supervisor' | 'none';
    maxUploadBytes: number;
    last: UpgradeStatus | null;
  }> {
    const { running, installRoot, dispatch } = this.#options;
    const release = (await installRoot?.current()) ?? null;
    let upgradable: Awaited<ReturnType<SystemUpgrade['about']>>['upgradable'] = { ok: true };
    try {
      await this.#assertUpgradable();
    } catch (error) {
      if (error instanceof VcboxError && (error.code === 'VCBOX_ERR_UPGRADE_UNAVAILABLE' || error.code === 'VCBOX_ERR_UPGRADE_LAYOUT')) upgradable = { ok: false, code: error.code, error };
      else throw error;
    }
    await this.recordOutcome();
    return {
      version: running.version,
      build: running.build,
      buildTime: running.buildTime,
      commit: running.commit,
      release,
      installRoot: installRoot?.root ?? null,
      upgradable,
      restart: dispatch.manager,
      maxUploadBytes: this.#options.maxUploadBytes,
      last: (await this.#options.files.status()) ?? null,
    };
  }

  async #assertUpgradable(): Promise<InstallRoot> {
    const root = this.#options.installRoot;
    if (!root) throw createError('VCBOX_ERR_UPGRADE_UNAVAILABLE');
    if (!(await root.current())) throw createError('VCBOX_ERR_UPGRADE_LAYOUT', { root: root.root });
    return root;
  }

  /** Throws VCBOX_ERR_UPGRADE_BUSY while an upgrade is being received, verified or installed (also for a reboot or reset). */
  async assertIdle(): Promise<void> {
    const status = await this.#options.files.status();
    if (this.#accepting) throw createError('VCBOX_ERR_UPGRADE_BUSY', { version: '(being uploaded)', state: 'receiving and verifying the package', since: this.#accepting });
    if (status && !isFinal(status.state) && Date.now() - Date.parse(status.updatedAt) < STALE_MS) {
      throw createError('VCBOX_ERR_UPGRADE_BUSY', { version: status.to.version || '?', state: status.state, since: status.requestedAt });
    }
  }

  /**
   * Receives, verifies and accepts an uploaded package (see the header); the caller hands the
   * returned request over (`handOver`) after answering. Throws the refusal, in words.
   */
  async accept(body: Readable, declaredLength: number | undefined, author: Author): Promise<{ answer: UpgradeAccepted; request: Extract<MaintenanceRequest, { kind: 'upgrade' }> }> {
    const { files, db, running, keys } = this.#options;
    const id = newJobId();
    const file = files.packageFile(id);
    let mine = false;
    try {
      const root = await this.#assertUpgradable();
      await this.assertIdle();
      this.#accepting = new Date().toISOString();
      mine = true;
      await files.ensure();
      const limit = this.#options.maxUploadBytes;
      const tooLarge = () => createError('VCBOX_ERR_UPGRADE_TOO_LARGE', { limit: mebibytes(limit), field: 'file' });
      if (declaredLength !== undefined && declaredLength > limit) throw tooLarge();
      const size = await receiveUpload(body, file, { limit, tooLarge });
      const { manifest, key } = await readReleasePackage(file, { keys });
      const platform = `${process.platform}-${process.arch}`;
      if (manifest.platform !== platform) throw createError('VCBOX_ERR_UPGRADE_INVALID', { reason: `it is built for ${manifest.platform}, this box is ${platform}`, field: 'file' });
      const order = compareVersions(manifest.version, running.version);
      const shown = { version: manifest.version, buildTime: manifest.buildTime, current: running.version, field: 'file' };
      if (order < 0) throw createError('VCBOX_ERR_UPGRADE_OLDER', shown);
      if (order === 0) throw createError('VCBOX_ERR_UPGRADE_SAME', shown);
      if (!satisfiesRange(process.version, manifest.node)) throw createError('VCBOX_ERR_UPGRADE_NODE', { version: manifest.version, required: manifest.node, node: process.version, field: 'file' });
      const database = schemaVersion(db);
      if (manifest.schemaVersion < database) throw createError('VCBOX_ERR_UPGRADE_SCHEMA', { version: manifest.version, schema: manifest.schemaVersion, database, field: 'file' });
      const unpacked = manifest.files.reduce((sum, f) => sum + f.size, 0);
      // The new release beside the running one, plus a copy of the database during the restart.
      await ensureSpace(root.root, unpacked + size, 'upgrade');

      const now = new Date().toISOString();
      const from: ReleaseInfo = { version: running.version, build: running.build, buildTime: running.buildTime, ...((await root.current()) ? { release: (await root.current()) as string } : {}) };
      const to: ReleaseInfo = { version: manifest.version, build: manifest.build, buildTime: manifest.buildTime };
      const health = this.#options.healthUrl?.();
      const request = { id, kind: 'upgrade' as const, package: file, requestedAt: now, by: author, ...(health ? { health } : {}) };
      await files.writeStatus({ id, state: 'requested', from, to, key, requestedAt: now, requestedBy: author, updatedAt: now, steps: [{ at: now, step: 'verified', detail: `${manifest.files.length} files, signed with the ${key} key` }] });
      recordAudit(db, { ...author, action: 'system.upgrade.requested', detail: { id, from, to, key, size } });
      log.info({ id, from: from.version, to: to.version, key, size }, 'upgrade package verified and accepted');
      const restart = this.#options.dispatch.manager;
      return {
        request,
        answer: {
          id,
          state: 'requested',
          from,
          to,
          key,
          restart,
          message:
            restart === 'none'
              ? `vcbox ${to.version} (built ${to.buildTime}) is verified and being installed; it runs from the next start of the services (nothing restarts them on this machine).`
              : `vcbox ${to.version} (built ${to.buildTime}) is verified. The box installs it and restarts its services; the console is back in a minute or two.`,
        },
      };
    } catch (error) {
      await rm(file, { force: true });
      const reason = error instanceof VcboxError ? { code: error.code, reason: error.message } : { reason: (error as Error).message };
      recordAudit(db, { ...author, action: 'system.upgrade.refused', detail: reason });
      log.warn(reason, 'upgrade package refused; nothing changed');
      throw error;
    } finally {
      // Accepted ones are "busy" through their status file from here on.
      if (mine) this.#accepting = undefined;
    }
  }

  /** Hands an accepted upgrade to whoever installs it (after the answer was sent). */
  async handOver(request: MaintenanceRequest): Promise<void> {
    await this.#options.dispatch.handOver(request);
    await this.recordOutcome();
  }

  /** Writes the finished upgrade's outcome to the operation log, once per upgrade. */
  async recordOutcome(): Promise<void> {
    try {
      const status = await this.#options.files.status();
      if (!status || !isFinal(status.state)) return;
      const action = `system.upgrade.${status.state}`;
      const { db } = this.#options;
      const seen = db.prepare("SELECT 1 FROM audit_log WHERE action = ? AND json_extract(detail, '$.id') = ?").get(action, status.id);
      if (seen) return;
      recordAudit(db, {
        ...status.requestedBy,
        action,
        detail: { id: status.id, from: status.from, to: status.to, restarted: status.restarted ?? false, ...(status.outcome ? { code: status.outcome.code, reason: status.outcome.params.reason } : {}) },
      });
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not record the upgrade outcome');
    }
  }
}
