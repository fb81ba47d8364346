/**
 * Wrong meeting IDs and wrong meeting PINs, whatever the way in (SIP direct dial, IVR, browser),
 * counted in two tables: per source address (IDs and PINs together; an IPv6 address counts by
 * its /64, which one host is usually given whole) and per meeting (PINs). When a table's count
 * reaches its rule's limit within the rule's window, that address — or that meeting's PIN
 * entry — is locked out for the rule's duration; the lock-out ends by itself. Each lock-out is
 * one audit row (`meeting.entry.lockout`), never one row per attempt. Attempts during a
 * lock-out are refused by the caller (./participant-sessions.ts) before they are checked, so
 * they neither count nor extend it. Both tables are capped: past `maxEntries` the expired
 * entries go first, then the oldest unlocked ones.
 *
 * What does not live here: SIP digest password failures (server/sip-app/registrar/auth-lockout.ts)
 * and console logins (server/admin) — other secrets, other rules.
 */
import { isIPv6 } from 'node:net';
import { recordAudit } from '../../audit/audit-log.ts';
import type { Db } from '../../db/database.ts';
import { getLogger } from '../../core/logger.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('meeting-entry-lockout');

export interface LockoutRule {
  /** Wrong entries that start a lock-out… */
  readonly failures: number;
  /** …when they come within this time of the first one counted. */
  readonly windowMs: number;
  /** How long the lock-out lasts. */
  readonly durationMs: number;
}

export interface EntryLockoutPolicy {
  /** Per source address: wrong meeting IDs and PINs together. */
  readonly source: LockoutRule;
  /** Per meeting: wrong PINs from anywhere (a guess spread over many addresses). */
  readonly meeting: LockoutRule;
  /** Most addresses (and most meetings) remembered at once. */
  readonly maxEntries: number;
}

/**
 * Per address, the spec's rule for guessing a secret (the console: 5 wrong passwords → locked
 * 3 minutes), counted over 10 minutes. Per meeting, twice that many within 10 minutes pauses
 * the meeting's PIN entry for 5 minutes: a spread-out guesser then gets at most ~10 guesses in
 * 15 minutes, and a nuisance can pause PIN entry only briefly (people already in are untouched,
 * the host can still invite from the console).
 */
export const DEFAULT_ENTRY_LOCKOUT: EntryLockoutPolicy = {
  source: { failures: 5, windowMs: 10 * 60_000, durationMs: 3 * 60_000 },
  meeting: { failures: 10, windowMs: 10 * 60_000, durationMs: 5 * 60_000 },
  maxEntries: 10_000,
};

interface Count {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

/** One rule's counts, keyed by address or meeting number. */
class FailureTable {
  readonly #rule: LockoutRule;
  readonly #max: number;
  readonly #counts = new Map<string, Count>();

  constructor(rule: LockoutRule, max: number) {
    this.#rule = rule;
    this.#max = max;
  }

  /** Milliseconds left of the key's lock-out (0: not locked out). */
  lockedFor(key: string, now: number): number {
    return Math.max(0, (this.#counts.get(key)?.lockedUntil ?? 0) - now);
  }

  /** Counts a wrong entry; returns its count, and whether it started a lock-out. */
  failed(key: string, now: number): { count: number; lockedOut: boolean } {
    const { failures, windowMs, durationMs } = this.#rule;
    let entry = this.#counts.get(key);
    if (!entry || (now - entry.firstAt > windowMs && entry.lockedUntil <= now)) {
      this.#makeRoom(now);
      entry = { count: 0, firstAt: now, lockedUntil: 0 };
      this.#counts.delete(key);
      this.#counts.set(key, entry);
    }
    entry.count++;
    if (entry.count < failures) return { count: entry.count, lockedOut: false };
    const count = entry.count;
    entry.lockedUntil = now + durationMs;
    // After the lock-out, a fresh count (the window starts again when it ends).
    entry.count = 0;
    entry.firstAt = entry.lockedUntil;
    return { count, lockedOut: true };
  }

  get size(): number {
    return this.#counts.size;
  }

  /** Keeps the table under its cap: expired entries first, then the oldest not locked out, then the oldest. */
  #makeRoom(now: number): void {
    if (this.#counts.size < this.#max) return;
    for (const [key, entry] of this.#counts) if (entry.lockedUntil <= now && now - entry.firstAt > this.#rule.windowMs) this.#counts.delete(key);
    if (this.#counts.size < this.#max) return;
    for (const [key, entry] of this.#counts) {
      if (entry.lockedUntil <= now) {
        this.#counts.delete(key);
        return;
      }
    }
    const oldest = this.#counts.keys().next().value;
    if (oldest !== undefined) this.#counts.delete(oldest);
  }
}

/** The key an address counts under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** What a wrong entry was, for the log and the audit row. */
export interface WrongEntry {
  /** How the newcomer came (sip, ivr, web). */
  readonly way: string;
  /** The newcomer's address. */
  readonly address: string;
  /** The meeting number entered. */
  readonly number: string;
}

export class EntryLockout {
  readonly #db: Db;
  readonly #policy: EntryLockoutPolicy;
  readonly #sources: FailureTable;
  readonly #meetings: FailureTable;

  constructor(db: Db, policy: EntryLockoutPolicy = DEFAULT_ENTRY_LOCKOUT) {
    this.#db = db;
    this.#policy = policy;
    this.#sources = new FailureTable(policy.source, policy.maxEntries);
    this.#meetings = new FailureTable(policy.meeting, policy.maxEntries);
  }

  /** Seconds left of the address's lock-out (0: none). */
  sourceLockedFor(address: string, now = monotonicMs()): number {
    return Math.ceil(this.#sources.lockedFor(sourceKey(address), now) / 1000);
  }

  /** Seconds left of the meeting's PIN lock-out (0: none). */
  meetingLockedFor(number: string, now = monotonicMs()): number {
    return Math.ceil(this.#meetings.lockedFor(number, now) / 1000);
  }

  /** A meeting ID that names no meeting: counts against the address. */
  wrongId(entry: WrongEntry, now = monotonicMs()): void {
    log.info({ ...entry }, 'wrong meeting ID');
    this.#count('source', this.#sources, sourceKey(entry.address), entry, now);
  }

  /** A wrong PIN: counts against the address and against the meeting. */
  wrongPin(entry: WrongEntry, now = monotonicMs()): void {
    log.info({ ...entry }, 'wrong meeting PIN');
    this.#count('source', this.#sources, sourceKey(entry.address), entry, now);
    this.#count('meeting', this.#meetings, entry.number, entry, now);
  }

  /** Addresses and meetings remembered now (each table stays under `maxEntries`). */
  get size(): { sources: number; meetings: number } {
    return { sources: this.#sources.size, meetings: this.#meetings.size };
  }

  #count(scope: 'source' | 'meeting', table: FailureTable, key: string, entry: WrongEntry, now: number): void {
    const { count, lockedOut } = table.failed(key, now);
    if (!lockedOut) return;
    const rule = this.#policy[scope];
    const lockedForSeconds = Math.round(rule.durationMs / 1000);
    log.warn({ scope, key, ...entry, failures: count, lockedForSeconds }, scope === 'source' ? 'address locked out of meetings after wrong meeting IDs or PINs' : 'meeting PIN entry paused after wrong PINs');
    recordAudit(this.#db, {
      actor: 'system',
      source: entry.address,
      action: 'meeting.entry.lockout',
      detail: { scope, key, meeting: entry.number, way: entry.way, failures: count, lockedForSeconds },
    });
  }
}
