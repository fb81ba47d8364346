/**
 * Feeds the signaling service's fast registrar (server/signaling/registrar/) from the SIP
 * application, which stays the owner of registrar policy and of the location service: every
 * 100 ms (and at once when a source is locked out) one `registrar` call over the signaling
 * control channel carries the expiry bounds, every source
 * locked out now, and the bindings of the accounts that changed since the last call (all of
 * them at the first call, and again whenever the signaling service says it has no full picture
 * — its restart); its answer is the refreshes the fast path answered meanwhile, which are
 * applied to the location service here (online state, persistence, the console and the
 * firmware rollout see them as any REGISTER).
 *
 * Why the lock-outs are pushed as a set, at once: a source locked out must not get a 200 from
 * the fast path; the set is small (bounded by AuthLockout), its freshness is what matters, and a
 * feed missing for 2 s stops the fast path altogether (the signaling side then sends every
 * REGISTER here, where the lock-out is checked first). Challenges the fast path would give
 * such a source in that short window are useless to it: this application refuses every request
 * from a locked-out source before looking at its credentials. The HA1 values are not fed: the
 * signaling service reads them from the database at each REGISTER.
 */
import { monotonicMs } from '../../core/clock.ts';
import { getLogger } from '../../core/logger.ts';
import type { RefreshReport, RegistrarFeed as Feed, CachedBinding } from '../../signaling/registrar/registrar-cache.ts';
import { MAX_FEED_ACCOUNTS } from '../../signaling/registrar/registrar-cache.ts';
import type { SignalingControlClient } from '../../signaling/signaling-control.ts';
import type { AuthLockout } from './auth-lockout.ts';
import { type Binding, type LocationService, parseUserAgent } from './location-service.ts';

const log = getLogger('registrar-feed');

const FEED_INTERVAL_MS = 100;
/** After a failed feed (the signaling service down, or running without its fast registrar), the next one waits this long. */
const RETRY_AFTER_MS = 2000;

export interface RegistrarFeedOptions {
  readonly signaling: Pick<SignalingControlClient, 'registrar'>;
  readonly location: LocationService;
  readonly lockout: AuthLockout;
  readonly minExpires: number;
  readonly maxExpires: number;
}

export class RegistrarFeed {
  readonly #o: RegistrarFeedOptions;
  /** Accounts whose bindings the signaling side has to be sent again. */
  readonly #dirty = new Set<string>();
  #full = true;
  #inFlight = false;
  #again = false;
  #applying = false;
  #timer: NodeJS.Timeout | undefined;
  #lastError = Number.NEGATIVE_INFINITY;
  #pausedUntil = 0;

  constructor(options: RegistrarFeedOptions) {
    this.#o = options;
    options.location.on('changed', (account) => {
      if (!this.#applying) this.#dirty.add(account);
    });
    options.lockout.onLocked(() => this.feedNow());
  }

  start(): this {
    this.#timer ??= setInterval(() => this.feedNow(), FEED_INTERVAL_MS);
    this.#timer.unref();
    return this;
  }

  /** The application handled a REGISTER of this account: the signaling side gets its bindings again. */
  handled(account: string): void {
    this.#dirty.add(account);
  }

  /** One feed now (or right after the one under way). */
  feedNow(): void {
    if (!this.#timer || monotonicMs() < this.#pausedUntil) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    this.#inFlight = true;
    const { feed, sent } = this.#build();
    this.#o.signaling.registrar(feed).then(
      (answer) => {
        this.#inFlight = false;
        // Not synced: the signaling service restarted since; everything goes again.
        this.#full = !answer.synced;
        this.#apply(answer.refreshes);
        if (this.#again) {
          this.#again = false;
          this.feedNow();
        }
      },
      (error: unknown) => {
        this.#inFlight = false;
        this.#again = false;
        // Sent again in full once the signaling service answers (it may have restarted).
        this.#full = true;
        for (const account of sent) this.#dirty.add(account);
        const now = monotonicMs();
        this.#pausedUntil = now + RETRY_AFTER_MS;
        if (now - this.#lastError > 60_000) {
          this.#lastError = now;
          log.warn({ err: (error as Error).message }, 'could not feed the fast registrar; REGISTERs go to the application until it answers');
        }
      },
    );
  }

  #build(): { feed: Feed; sent: string[] } {
    // Monotonic (server/core/clock.ts): the location service's liveness, change stamps and lock-outs.
    const now = monotonicMs();
    const full = this.#full;
    if (full) for (const { account } of this.#o.location.online(now)) this.#dirty.add(account);
    const sent: string[] = [];
    const accounts: Feed['accounts'] = [];
    for (const account of this.#dirty) {
      if (sent.length >= MAX_FEED_ACCOUNTS) break;
      sent.push(account);
      accounts.push([account, now, this.#o.location.lookup(account, now).map(cached)]);
    }
    for (const account of sent) this.#dirty.delete(account);
    const feed: Feed = {
      minExpires: this.#o.minExpires,
      maxExpires: this.#o.maxExpires,
      lockouts: this.#o.lockout.lockedOut(now),
      accounts,
      full,
    };
    return { feed, sent };
  }

  /** The refreshes the fast path answered: into the location service, as a REGISTER's would be. */
  #apply(reports: RefreshReport[]): void {
    this.#applying = true;
    try {
      for (const report of reports) {
        const previous = this.#o.location.lookup(report.account).find((b) => b.contact === report.contact);
        const { model, version } = parseUserAgent(report.userAgent);
        const binding: Binding = {
          account: report.account,
          contact: report.contact,
          instance: previous?.instance,
          callId: report.callId,
          cseq: report.cseq,
          expiresAt: report.expiresAt,
          registeredAt: report.registeredAt,
          userAgent: report.userAgent,
          model,
          version,
          source: { protocol: report.protocol, address: report.address, port: report.port },
        };
        // A right password from this source, as when the registrar accepts one.
        this.#o.lockout.succeeded(report.address);
        if (!this.#o.location.apply(report.account, [binding], [])) {
          // The account changed meanwhile (another device took the last place): sent again.
          this.#dirty.add(report.account);
          log.warn({ account: report.account, source: report.address }, 'a refresh answered by the signaling service no longer fits the device limit');
        }
      }
    } finally {
      this.#applying = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function cached(binding: Binding): CachedBinding {
  return {
    contact: binding.contact,
    ...(binding.instance === undefined ? {} : { instance: binding.instance }),
    protocol: binding.source.protocol,
    address: binding.source.address,
    port: binding.source.port,
    expiresAt: binding.expiresAt,
  };
}
