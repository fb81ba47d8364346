/**
 * The console's guard against a full data disk (#18, "disk full"): before a request that
 * changes something runs, the free space of the data folder's file system is looked at (statfs,
 * at most once a second) and, below a reserve, the request is refused with
 * VCBOX_ERR_DISK_FULL (507, in words: what is full and what to do; the folder's path only in the
 * log, not to a caller who may not be logged in) before anything is written —
 * so a change is never half-saved (an account without its operation-log entry). The reserve is
 * what the box keeps for what must go on when the disk fills: the call records of calls in
 * progress, registrations, the log. Routes that free space or let an administrator in to do so
 * (log in, log out, "Clean now", deleting backups) declare `config: { freesSpace: true }` and
 * are let through. A write that still meets a full disk (SQLite's SQLITE_FULL, ENOSPC) is told
 * apart by `isDiskFull` and answered the same way. Nothing here deletes anything; the quotas and
 * the 80 % alert are ./disk-keeper.ts.
 */
import { createError, type VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { sizeInWords } from '../firmware/firmware-store.ts';
import { storageSpace } from './storage-space.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('disk-space-guard');

/** Below this much free space the console takes no change (32 MiB). */
export const DEFAULT_RESERVE_BYTES = 32 * 1024 * 1024;

/** True when an error says the disk (or the quota) is full: SQLite's SQLITE_FULL, or ENOSPC/EDQUOT from a file write. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

export interface DiskSpaceGuardOptions {
  /** The data folder (the SQLite database, backups, logs by default). */
  readonly dir: string;
  readonly reserveBytes?: number;
  /** How long one look at the free space is trusted. */
  readonly cacheMs?: number;
}

export class DiskSpaceGuard {
  readonly #dir: string;
  readonly #reserve: number;
  readonly #cacheMs: number;
  #free: { bytes: number; at: number } | undefined;
  #looking: Promise<number> | undefined;
  #warned = false;

  constructor(options: DiskSpaceGuardOptions) {
    this.#dir = options.dir;
    this.#reserve = options.reserveBytes ?? DEFAULT_RESERVE_BYTES;
    this.#cacheMs = options.cacheMs ?? 1000;
  }

  /** Free bytes on the data folder's file system now (cached for `cacheMs`; Infinity when it cannot be measured). */
  async #freeBytes(): Promise<number> {
    const now = monotonicMs();
    if (this.#free && now - this.#free.at < this.#cacheMs) return this.#free.bytes;
    this.#looking ??= storageSpace(this.#dir)
      .then(
        (space) => space.freeBytes,
        (error: Error) => {
          log.warn({ dir: this.#dir, err: error.message }, 'cannot measure the free disk space; changes are let through');
          return Number.POSITIVE_INFINITY;
        },
      )
      .then((bytes) => {
        this.#free = { bytes, at: monotonicMs() };
        this.#looking = undefined;
        return bytes;
      });
    return this.#looking;
  }

  /** The refusal for a full disk, with the free space now (for an error met while writing). */
  async refusal(): Promise<VcboxError> {
    this.#free = undefined;
    const free = await this.#freeBytes();
    return createError('VCBOX_ERR_DISK_FULL', { free: Number.isFinite(free) ? sizeInWords(free) : 'unknown' });
  }

  /** Throws VCBOX_ERR_DISK_FULL while the free space is below the reserve. */
  async check(): Promise<void> {
    const free = await this.#freeBytes();
    if (free >= this.#reserve) {
      if (this.#warned) log.info({ dir: this.#dir, free }, 'disk space is back: changes are taken again');
      this.#warned = false;
      return;
    }
    if (!this.#warned) log.error({ dir: this.#dir, free, reserve: this.#reserve }, 'the data disk is full: the console refuses changes until space is freed');
    this.#warned = true;
    throw createError('VCBOX_ERR_DISK_FULL', { free: sizeInWords(free) });
  }
}
