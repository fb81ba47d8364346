/**
 * Lock-out of addresses that keep failing digest authentication, shared by REGISTER, INVITE
 * and the provisioning URL's HTTP Digest: after `failures` failures within `windowMs`, every
 * request from that address is refused for `durationMs`. Each lock-out (not each failure) is
 * written to the audit log.
 *
 * What counts is the caller's business: the digest checks report a failure only for a wrong
 * password against a nonce issued to that very address (./digest-auth.ts), so a spoofed UDP
 * source cannot lock a terminal out. The table itself is bounded against a flood of addresses:
 * records expire (a failure window passed without lock-out, a lock-out served), and at
 * `maxTracked` records the oldest record that is not a running lock-out gives way (only when
 * every record is a running lock-out does the oldest of those).
 */
import { recordAudit } from '../../audit/audit-log.ts';
import type { Db } from '../../db/database.ts';
import { getLogger } from '../../core/logger.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('sip-auth-lockout');

export interface LockoutPolicy {
  readonly failures: number;
  readonly windowMs: number;
  readonly durationMs: number;
  /** Most addresses tracked at once (failing or locked out); default 10 000. */
  readonly maxTracked?: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { failures: 10, windowMs: 5 * 60_000, durationMs: 10 * 60_000, maxTracked: 10_000 };

/** How often a full sweep of expired records may run (each failure may trigger one). */
const SWEEP_INTERVAL_MS = 1000;
/** A full table is logged at most this often. */
const FULL_WARNING_INTERVAL_MS = 60_000;

interface FailureRecord {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

export class AuthLockout {
  readonly #db: Db;
  readonly #policy: LockoutPolicy;
  /** Per address, in order of last change (oldest first). */
  readonly #records = new Map<string, FailureRecord>();
  #lastSweep = 0;
  #lastFullWarning = Number.NEGATIVE_INFINITY;
  readonly #lockListeners: (() => void)[] = [];

  constructor(db: Db, policy: LockoutPolicy = DEFAULT_LOCKOUT) {
    this.#db = db;
    this.#policy = policy;
  }

  /** Addresses tracked now (failing or locked out). */
  get size(): number {
    return this.#records.size;
  }

  isLocked(source: string, now = monotonicMs()): boolean {
    return (this.#records.get(source)?.lockedUntil ?? 0) > now;
  }

  /** Every source locked out now, with the end of its lock-out (the signaling service's fast registrar is fed it). */
  lockedOut(now = monotonicMs()): [string, number][] {
    const out: [string, number][] = [];
    for (const [source, record] of this.#records) if (record.lockedUntil > now) out.push([source, record.lockedUntil]);
    return out;
  }

  /** `listener` runs at each new lock-out. */
  onLocked(listener: () => void): void {
    this.#lockListeners.push(listener);
  }

  succeeded(source: string): void {
    this.#records.delete(source);
  }

  /** One wrong password (or user name, or PIN) from `source`. */
  failed(source: string, account: string, method: string, reason: string, now = monotonicMs()): void {
    const { failures, durationMs } = this.#policy;
    this.#sweep(now);
    let record = this.#records.get(source);
    if (record) this.#records.delete(source); // re-inserted below: the map stays in order of last change
    else this.#makeRoom(now);
    if (!record || this.#expired(record, now)) record = { count: 0, firstAt: now, lockedUntil: 0 };
    record.count++;
    this.#records.set(source, record);
    log.warn({ source, account, method, reason, failures: record.count }, 'SIP authentication failed');
    if (record.count < failures) return;
    record.lockedUntil = now + durationMs;
    record.count = 0;
    record.firstAt = now;
    log.warn({ source, minutes: durationMs / 60_000 }, 'source locked out after repeated authentication failures');
    for (const listener of this.#lockListeners) listener();
    recordAudit(this.#db, {
      actor: 'system',
      source,
      action: 'sip.auth.lockout',
      detail: { account, method, failures, lockedForSeconds: durationMs / 1000 },
    });
  }

  get #max(): number {
    return this.#policy.maxTracked ?? DEFAULT_LOCKOUT.maxTracked ?? 10_000;
  }

  #expired(record: FailureRecord, now: number): boolean {
    return record.lockedUntil <= now && now - record.firstAt > this.#policy.windowMs;
  }

  /** Drops expired records (at most once a second, or whenever the table is full). */
  #sweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS && this.#records.size < this.#max) return;
    this.#lastSweep = now;
    for (const [source, record] of this.#records) if (this.#expired(record, now)) this.#records.delete(source);
  }

  /** Frees one place when the table is full: the oldest record that is not a running lock-out, else the oldest. */
  #makeRoom(now: number): void {
    if (this.#records.size < this.#max) return;
    let victim: string | undefined;
    for (const [source, record] of this.#records) {
      if (record.lockedUntil <= now) {
        victim = source;
        break;
      }
    }
    victim ??= this.#records.keys().next().value;
    if (victim !== undefined) this.#records.delete(victim);
    if (now - this.#lastFullWarning >= FULL_WARNING_INTERVAL_MS) {
      this.#lastFullWarning = now;
      log.warn({ tracked: this.#records.size + 1, max: this.#max }, 'authentication lock-out table full: forgetting the oldest failing address');
    }
  }
}
