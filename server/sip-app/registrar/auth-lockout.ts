/**
 * Lock-out of addresses that keep failing SIP digest authentication, shared by REGISTER and
 * INVITE: after `failures` failures within `windowMs`, every request from that address is
 * refused for `durationMs`. Each lock-out is written to the audit log.
 */
import { recordAudit } from '../../audit/audit-log.ts';
import type { Db } from '../../db/database.ts';
import { getLogger } from '../../logging/logger.ts';

const log = getLogger('sip-auth-lockout');

export interface LockoutPolicy {
  readonly failures: number;
  readonly windowMs: number;
  readonly durationMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { failures: 10, windowMs: 5 * 60_000, durationMs: 10 * 60_000 };

interface FailureRecord {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

export class AuthLockout {
  readonly #db: Db;
  readonly #policy: LockoutPolicy;
  readonly #records = new Map<string, FailureRecord>();

  constructor(db: Db, policy: LockoutPolicy = DEFAULT_LOCKOUT) {
    this.#db = db;
    this.#policy = policy;
  }

  isLocked(source: string, now = Date.now()): boolean {
    return (this.#records.get(source)?.lockedUntil ?? 0) > now;
  }

  succeeded(source: string): void {
    this.#records.delete(source);
  }

  failed(source: string, account: string, method: string, reason: string, now = Date.now()): void {
    const { failures, windowMs, durationMs } = this.#policy;
    let record = this.#records.get(source);
    if (!record || now - record.firstAt > windowMs) record = { count: 0, firstAt: now, lockedUntil: 0 };
    record.count++;
    this.#records.set(source, record);
    log.warn({ source, account, method, reason, failures: record.count }, 'SIP authentication failed');
    if (record.count < failures) return;
    record.lockedUntil = now + durationMs;
    record.count = 0;
    record.firstAt = now;
    log.warn({ source, minutes: durationMs / 60_000 }, 'source locked out after repeated authentication failures');
    recordAudit(this.#db, {
      actor: 'system',
      source,
      action: 'sip.auth.lockout',
      detail: { account, method, failures, lockedForSeconds: durationMs / 1000 },
    });
  }
}
