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
 * The control plane writes requests; the runner takes them (reads and deletes) and writes the
 * status; the control plane reads the status and writes the outcome to the operation log.
 * What a job does lives in ./maintenance-runner.ts and server/upgrade/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorCode } from '../errors.ts';

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

export const newJobId = (): string => `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

export class MaintenanceFiles {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get requestFile(): string {
    return path.join(this.dir, 'request.json');
  }

  packageFile(id: string): string {
    return path.join(this.dir, `package-${id}.tar.gz`);
  }

  databaseCopy(id: string): string {
    return path.join(this.dir, `database-${id}`);
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
  }

  async #write(name: string, value: unknown): Promise<void> {
    await this.ensure();
    const file = path.join(this.dir, name);
    const temporary = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    // Readable by all: the root job writes the status the control plane (user vcbox) reads; no secrets in it.
    await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });
    await rename(temporary, file);
  }

  async #read<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** Hands a job over (replacing one not taken yet: the control plane allows one at a time). */
  request(request: MaintenanceRequest): Promise<void> {
    return this.#write('request.json', request);
  }

  /** The waiting job, taken: read and removed (so a path unit does not fire again). */
  async take(): Promise<MaintenanceRequest | undefined> {
    const request = await this.#read<MaintenanceRequest>('request.json');
    await rm(this.requestFile, { force: true });
    return request;
  }

  /** Whether a job waits to be taken. */
  async pending(): Promise<MaintenanceRequest | undefined> {
    return this.#read<MaintenanceRequest>('request.json');
  }

  writeStatus(status: UpgradeStatus): Promise<void> {
    return this.#write('upgrade-status.json', status);
  }

  status(): Promise<UpgradeStatus | undefined> {
    return this.#read<UpgradeStatus>('upgrade-status.json');
  }
}
