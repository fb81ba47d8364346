/**
 * The hand-over between the control plane and whoever restarts the box's services — the dev
 * supervisor (server/supervisor), or on an appliance the root unit vcbox-maintenance started by
 * the path unit watching the request (systemd/) — as files in `<dataDir>/maintenance/`:
 *
 *   request.json          one job waiting: upgrade (with its package file), restart, reboot
 *   package-<id>.tar.gz   the uploaded release package of an upgrade
 *   upgrade-status.json   the last upgrade: its state while it runs, its outcome after
 *   database-<id>/        the database files an upgrade may roll back to (while it runs)
 *
 * Each is written whole (a temporary name renamed over), so a reader never sees half a file.
 * On an appliance the folder is the vcbox user's and the reader of requests is root: every
 * file is reached through the folder opened without following links (./untrusted-folder.ts),
 * the request is checked strictly (./maintenance-request.ts), job ids are checked before they
 * become file names.
 * The control plane writes requests; the runner takes them (reads and deletes) and writes the
 * status; the control plane reads the status and writes the outcome to the operation log.
 * What a job does lives in ./maintenance-runner.ts and server/upgrade/.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createError, type ErrorCode } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { assertJobId, checkRequest } from './maintenance-request.ts';
import { UntrustedFileError, UntrustedFolder } from './untrusted-folder.ts';

export { newJobId } from './maintenance-request.ts';

const log = getLogger('maintenance');
const REQUEST = 'request.json';
const STATUS = 'upgrade-status.json';
/** The file names of job `id` (a job id only: ./maintenance-request.ts). */
export const packageName = (id: string): string => {
  assertJobId(id);
  return `package-${id}.tar.gz`;
};
export const databaseName = (id: string): string => {
  assertJobId(id);
  return `database-${id}`;
};

export interface Author {
  readonly actor: string;
  readonly source?: string | undefined;
}

interface RequestBase {
  readonly id: string;
  readonly requestedAt: string;
  readonly by: Author;
}
export type MaintenanceRequest =
  | (RequestBase & {
      readonly kind: 'upgrade';
      readonly package: string;
      /** Where the control plane answers its health check now (its HTTP port may come from the settings). */
      readonly health?: string;
    })
  | (RequestBase & { readonly kind: 'restart' })
  | (RequestBase & { readonly kind: 'reboot' });

/** A version of the software as the upgrade shows it. */
export interface ReleaseInfo {
  readonly version: string;
  readonly build: string;
  readonly buildTime: string;
  /** Its folder name under `releases/`, when installed that way. */
  readonly release?: string;
}

export const FINAL_STATES = ['installed', 'rolled-back', 'failed'] as const;
export type UpgradeState = 'requested' | 'installing' | 'checking' | 'restarting' | 'health-check' | 'rolling-back' | (typeof FINAL_STATES)[number];

export interface UpgradeStatus {
  readonly id: string;
  readonly state: UpgradeState;
  readonly from: ReleaseInfo;
  readonly to: ReleaseInfo;
  /** Which trusted key signed the package (`test` only where the test key is configured). */
  readonly key: string;
  readonly requestedAt: string;
  readonly requestedBy: Author;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** Whether the services were restarted onto the new version (false: it runs from their next start). */
  readonly restarted?: boolean;
  /** Why it did not stay installed (rolled-back, failed): an error code and its parameters. */
  readonly outcome?: { readonly code: ErrorCode; readonly params: Readonly<Record<string, unknown>> };
  /** What happened, in order (for the console and the logs). */
  readonly steps: readonly { readonly at: string; readonly step: string; readonly detail?: string }[];
}

export const isFinal = (state: UpgradeState): boolean => (FINAL_STATES as readonly string[]).includes(state);

/** Largest request and status files read (they are a few hundred bytes). */
const MAX_JSON_BYTES = 64 * 1024;

export class MaintenanceFiles {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get requestFile(): string {
    return path.join(this.dir, REQUEST);
  }

  /** The uploaded package of job `id` (a job id only: it becomes a file name). */
  packageFile(id: string): string {
    return path.join(this.dir, packageName(id));
  }

  /** The folder of job `id`'s database copy (a job id only). */
  databaseCopy(id: string): string {
    return path.join(this.dir, databaseName(id));
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
  }

  /** Runs `work` in the folder opened safely (./untrusted-folder.ts); undefined when it does not exist. */
  #inFolder<T>(work: (folder: UntrustedFolder) => Promise<T>): Promise<T | undefined> {
    return UntrustedFolder.with(this.dir, work);
  }

  async #write(name: string, value: unknown): Promise<void> {
    await this.ensure();
    // Readable by all: the root job writes the status the control plane (user vcbox) reads; no secrets in it.
    await this.#inFolder((folder) => folder.writeAtomically(name, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 }));
  }

  async #read<T>(name: string): Promise<T | undefined> {
    try {
      const bytes = await this.#inFolder((folder) => folder.read(name, MAX_JSON_BYTES));
      return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as T);
    } catch (error) {
      log.warn({ file: path.join(this.dir, name), err: (error as Error).message }, 'a maintenance file could not be read');
      return undefined;
    }
  }

  /** Hands a job over (replacing one not taken yet: the control plane allows one at a time). */
  request(request: MaintenanceRequest): Promise<void> {
    assertJobId(request.id);
    return this.#write(REQUEST, request);
  }

  /**
   * The waiting job, taken: read, removed (so a path unit does not fire again), and checked
   * (./maintenance-request.ts). Throws VCBOX_ERR_MAINTENANCE_REFUSED for a request that is not
   * one the control plane makes — a link, not a file, too long, not JSON, a field wrong.
   */
  async take(): Promise<MaintenanceRequest | undefined> {
    const taken = await this.#inFolder(async (folder): Promise<{ bytes?: Buffer; problem?: string }> => {
      try {
        const bytes = await folder.read(REQUEST, MAX_JSON_BYTES);
        return bytes === undefined ? {} : { bytes };
      } catch (error) {
        if (error instanceof UntrustedFileError) return { problem: error.message };
        throw error;
      } finally {
        await folder.remove(REQUEST);
      }
    });
    if (!taken || (!taken.bytes && !taken.problem)) return undefined;
    if (taken.problem) throw createError('VCBOX_ERR_MAINTENANCE_REFUSED', { file: this.requestFile, reason: taken.problem });
    let parsed: unknown;
    try {
      parsed = JSON.parse((taken.bytes as Buffer).toString('utf8'));
    } catch {
      throw createError('VCBOX_ERR_MAINTENANCE_REFUSED', { file: this.requestFile, reason: 'it is not JSON' });
    }
    return checkRequest(parsed, this.requestFile, (id) => this.packageFile(id));
  }

  /** Whether a job waits to be taken. */
  async pending(): Promise<MaintenanceRequest | undefined> {
    return this.#read<MaintenanceRequest>(REQUEST);
  }

  writeStatus(status: UpgradeStatus): Promise<void> {
    assertJobId(status.id);
    return this.#write(STATUS, status);
  }

  status(): Promise<UpgradeStatus | undefined> {
    return this.#read<UpgradeStatus>(STATUS);
  }
}
