/**
 * What the signaling service's fast registrar (./fast-registrar.ts) knows of the SIP
 * application's registrar, fed by the application over the control channel
 * (`registrar` method, server/signaling/signaling-control.ts; the feeding end is
 * server/sip-app/registrar/registrar-feed.ts): the realm, the digest algorithms and the expiry
 * bounds, the sources locked out now, and each account's current bindings. The HA1 values are
 * not here: the fast path reads them from the database at each REGISTER (a password changed a
 * moment ago counts at once). The application stays the owner of every decision; this cache
 * only lets the fast path recognise the common case (a refresh of a binding the application
 * made) — anything it does not know for sure goes to the application.
 *
 * Deny by default:
 * - Until a first feed, or when no feed came for FEED_STALE_MS (the application stopped
 *   feeding), the cache is not `live` and nothing is answered on the fast path.
 * - A REGISTER of an account sent on to the application drops that account's bindings here
 *   (`invalidate`) until the application feeds the account again with a snapshot taken after
 *   that moment (`changedAt` later than the invalidation): a snapshot written before the
 *   application saw that REGISTER cannot bring back what it changed.
 * - The refreshes answered here wait in `#reports` for the application's next feed, which
 *   takes them (the location service, online state and persistence stay the application's);
 *   at MAX_REPORTS waiting, the fast path stops answering until they are taken.
 */
import { monotonicMs } from '../../core/clock.ts';


/** A binding as the application has it (what a refresh must match). */
export interface CachedBinding {
  readonly contact: string;
  readonly instance?: string | undefined;
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
  expiresAt: number;
}

/** A refresh answered on the fast path, for the application's location service. */
export interface RefreshReport {
  readonly account: string;
  readonly contact: string;
  readonly callId: string;
  readonly cseq: number;
  readonly expiresAt: number;
  readonly registeredAt: number;
  readonly userAgent: string;
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
}

/** One feed from the application. */
export interface RegistrarFeed {
  readonly minExpires: number;
  readonly maxExpires: number;
  /** Every source locked out now, with the end of its lock-out (monotonic ms, server/core/clock.ts). */
  readonly lockouts: [string, number][];
  /** Accounts whose bindings changed (or all, at the first feed): [account, changedAt (monotonic ms), bindings (expiresAt: wall-clock ms, as the location service keeps it)]. */
  readonly accounts: [string, number, CachedBinding[]][];
  /** The application's first feed since it (re)started: the accounts not named have no binding. */
  readonly full: boolean;
}

/** What a feed is answered. */
export interface FeedAnswer {
  readonly synced: boolean;
  readonly refreshes: RefreshReport[];
}

/** Without a feed for this long the fast path stops (the application feeds every 100 ms). */
export const FEED_STALE_MS = 2000;
/** Refreshes waiting for the application at most. */
export const MAX_REPORTS = 20_000;
/** Accounts and lock-outs one feed carries at most (the control channel's line bound). */
export const MAX_FEED_ACCOUNTS = 5000;
export const MAX_FEED_LOCKOUTS = 10_000;
/** Most bindings of one account the application keeps (MAX_BINDINGS_PER_ACCOUNT). */
export const MAX_CACHED_BINDINGS = 5;

export class RegistrarCache {
  readonly #bindings = new Map<string, CachedBinding[]>();
  /** When each account was last sent to the application (its bindings dropped here). */
  readonly #invalidated = new Map<string, number>();
  #lockouts = new Map<string, number>();
  #reports: RefreshReport[] = [];
  #fedAt = Number.NEGATIVE_INFINITY;
  #synced = false;
  #minExpires = 60;
  #maxExpires = 3600;

  get minExpires(): number {
    return this.#minExpires;
  }

  get maxExpires(): number {
    return this.#maxExpires;
  }

  /** Whether the fast path may answer: fed recently, with room for reports. */
  live(now = monotonicMs()): boolean {
    return this.#synced && now - this.#fedAt < FEED_STALE_MS && this.#reports.length < MAX_REPORTS;
  }

  isLocked(address: string, now = monotonicMs()): boolean {
    return (this.#lockouts.get(address) ?? 0) > now;
  }

  /** The account's live bindings as the application last fed them (plus refreshes made here). */
  bindings(account: string, now = Date.now()): CachedBinding[] {
    return (this.#bindings.get(account) ?? []).filter((b) => b.expiresAt > now);
  }

  /** The account's REGISTER goes to the application: nothing of it is answered here until it feeds the account again. */
  invalidate(account: string, now = monotonicMs()): void {
    this.#bindings.delete(account);
    this.#invalidated.delete(account); // re-inserted: the map stays in order of invalidation
    this.#invalidated.set(account, now);
  }

  /** A refresh answered here: the cached expiry moves, the report waits for the application. */
  refreshed(binding: CachedBinding, report: RefreshReport): void {
    binding.expiresAt = report.expiresAt;
    this.#reports.push(report);
  }

  get pendingReports(): number {
    return this.#reports.length;
  }

  /**
   * Applies one feed; returns the refreshes answered here since the last one (taken), and
   * whether this side has had a full feed (false after this process restarted: the application
   * sends everything again).
   */
  feed(feed: RegistrarFeed, now = monotonicMs(), wall = Date.now()): FeedAnswer {
    this.#minExpires = feed.minExpires;
    this.#maxExpires = feed.maxExpires;
    this.#lockouts = new Map(feed.lockouts);
    if (feed.full) this.#bindings.clear();
    for (const [account, changedAt, bindings] of feed.accounts) {
      const invalidatedAt = this.#invalidated.get(account);
      if (invalidatedAt !== undefined && changedAt <= invalidatedAt) continue;
      this.#invalidated.delete(account);
      const live = bindings.filter((b) => b.expiresAt > wall);
      if (live.length === 0) this.#bindings.delete(account);
      else this.#bindings.set(account, live.map((b) => ({ ...b })));
    }
    // Invalidations older than any feed could still carry are forgotten (bounded table).
    for (const [account, at] of this.#invalidated) {
      if (now - at < FEED_STALE_MS * 30) break;
      this.#invalidated.delete(account);
    }
    this.#synced ||= feed.full;
    this.#fedAt = now;
    const refreshes = this.#reports;
    this.#reports = [];
    return { synced: this.#synced, refreshes };
  }
}
