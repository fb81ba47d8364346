/**
 * Where each account's terminals can be reached: the bindings REGISTER creates (RFC 3261 §10),
 * at most five per account, each with its expiry, the terminal's model and software version
 * (from User-Agent), its address and transport. Expired bindings are swept every few seconds.
 * This is what call routing looks up and what the console shows as "online users"; the
 * `registered` event (every accepted REGISTER's bindings, refreshes included) is how the firmware
 * rollout sees a terminal come back with a new version. With a store (./registration-store.ts)
 * the bindings outlive the process: restored at construction, every change written behind.
 *
 * A binding's `expiresAt` and `registeredAt` are wall-clock times (what the console shows, what
 * the store keeps across restarts); whether it is still live is decided on the monotonic clock
 * (server/core/clock.ts): its deadline is taken at entry — from a REGISTER or from the store —
 * so a wall clock set forward expires no registration early, nor does one set back keep a
 * gone terminal registered. What is left of a stored one is never more than the interval it
 * was granted.
 */
import { EventEmitter } from 'node:events';
import { boundedRemainingMs, monotonicMs } from '../../core/clock.ts';
import type { RegistrationStore } from './registration-store.ts';

export const MAX_BINDINGS_PER_ACCOUNT = 5;

export interface Binding {
  readonly account: string;
  /** The Contact URI. */
  readonly contact: string;
  /** RFC 5626 instance id, when the terminal sends one (stable across address changes). */
  readonly instance: string | undefined;
  readonly callId: string;
  readonly cseq: number;
  readonly expiresAt: number;
  readonly registeredAt: number;
  readonly userAgent: string;
  readonly model: string;
  readonly version: string;
  readonly source: { readonly protocol: string; readonly address: string; readonly port: number };
}

/** Where a version may begin: an optional "v", digits, a dot and a digit. */
const VERSION_START = /v?\d+\.\d/y;
const SEPARATOR = /[\s/]/;
const BLANK = /\s/;

/**
 * "Yealink SIP-VC800 63.345.0.10" → model "Yealink SIP-VC800", version "63.345.0.10"; also
 * "Poly/7.2.1", "Room v2.1 (build 5)". The version is the first word after a run of blanks or
 * slashes that looks like one and is last, or followed only by a "(comment)". One pass over
 * the text: the regular expression this replaces was quadratic on a long run of blanks.
 */
export function parseUserAgent(userAgent: string): { model: string; version: string } {
  const text = userAgent.trim();
  const commentAtEnd = text.endsWith(')');
  let i = 0;
  while (i < text.length) {
    if (!SEPARATOR.test(text[i] as string)) {
      i++;
      continue;
    }
    const runStart = i;
    while (i < text.length && SEPARATOR.test(text[i] as string)) i++;
    VERSION_START.lastIndex = i;
    if (!VERSION_START.test(text)) continue;
    let end = i;
    while (end < text.length && !BLANK.test(text[end] as string)) end++;
    let after = end;
    while (after < text.length && BLANK.test(text[after] as string)) after++;
    if (after === text.length || (text[after] === '(' && commentAtEnd)) {
      const version = text.slice(text[i] === 'v' ? i + 1 : i, end);
      return { model: text.slice(0, runStart).trim() || text, version };
    }
    i = end;
  }
  return { model: text, version: '' };
}

export interface LocationEvents {
  online: [account: string];
  offline: [account: string];
  /** A binding added or refreshed by a REGISTER (with the User-Agent of that REGISTER). */
  registered: [binding: Binding];
  /** The account's bindings changed (added, refreshed, removed, expired). */
  changed: [account: string];
}

export class LocationService extends EventEmitter<LocationEvents> {
  readonly #bindings = new Map<string, Binding[]>();
  /** Each binding's deadline on the monotonic clock. */
  readonly #liveUntil = new WeakMap<Binding, number>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #store: RegistrationStore | undefined;
  #closed = false;

  /** `store`: where bindings are kept across restarts; the live ones it holds come back now. */
  constructor(options: { sweepIntervalMs?: number; store?: RegistrationStore } = {}) {
    super();
    this.#store = options.store;
    if (this.#store) {
      for (const binding of this.#store.load()) {
        this.#enter(binding);
        const list = this.#bindings.get(binding.account);
        if (list) list.push(binding);
        else this.#bindings.set(binding.account, [binding]);
      }
      this.#store.start((account) => this.lookup(account));
    }
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 5000);
    this.#sweeper.unref();
  }

  /** Notes a binding's deadline on the monotonic clock, from its wall-clock expiry (at most its granted interval from now). */
  #enter(binding: Binding): void {
    this.#liveUntil.set(binding, monotonicMs() + boundedRemainingMs(binding.expiresAt, Math.max(0, binding.expiresAt - binding.registeredAt)));
  }

  #live(binding: Binding, now: number): boolean {
    return (this.#liveUntil.get(binding) ?? 0) > now;
  }

  /** Seconds a binding has left (0 when it is not live). */
  secondsLeft(binding: Binding, now = monotonicMs()): number {
    return Math.max(0, Math.round(((this.#liveUntil.get(binding) ?? 0) - now) / 1000));
  }

  /** Live bindings of an account (`now`: monotonic ms). */
  lookup(account: string, now = monotonicMs()): Binding[] {
    return (this.#bindings.get(account) ?? []).filter((b) => this.#live(b, now));
  }

  /** Every account with at least one live binding. */
  online(now = monotonicMs()): { account: string; bindings: Binding[] }[] {
    const out: { account: string; bindings: Binding[] }[] = [];
    for (const account of this.#bindings.keys()) {
      const bindings = this.lookup(account, now);
      if (bindings.length > 0) out.push({ account, bindings });
    }
    return out;
  }

  /**
   * Applies one REGISTER's changes at once: `updates` add or refresh bindings (matched by
   * instance id, else by contact URI), `removals` delete contacts. Returns false, changing
   * nothing, when the account would end up with more than MAX_BINDINGS_PER_ACCOUNT.
   */
  apply(account: string, updates: Binding[], removals: string[]): boolean {
    const now = monotonicMs();
    for (const update of updates) this.#enter(update);
    const wasOnline = this.lookup(account, now).length > 0;
    let next = this.lookup(account, now).filter((b) => !removals.includes(b.contact));
    for (const update of updates) {
      next = next.filter((b) => !(b.contact === update.contact || (update.instance && b.instance === update.instance)));
      next.push(update);
    }
    if (next.length > MAX_BINDINGS_PER_ACCOUNT) return false;
    if (next.length === 0) this.#bindings.delete(account);
    else this.#bindings.set(account, next);
    this.#store?.changed(account);
    this.emit('changed', account);
    const isOnline = next.length > 0;
    if (isOnline && !wasOnline) this.emit('online', account);
    if (!isOnline && wasOnline) this.emit('offline', account);
    for (const update of updates) this.emit('registered', update);
    return true;
  }

  removeAll(account: string): void {
    this.#store?.changed(account);
    this.emit('changed', account);
    if (this.#bindings.delete(account)) this.emit('offline', account);
  }

  /** Drops the bindings past their deadline (`now`: monotonic ms). */
  sweep(now = monotonicMs()): void {
    for (const [account, bindings] of this.#bindings) {
      const live = bindings.filter((b) => this.#live(b, now));
      if (live.length === bindings.length) continue;
      this.#store?.changed(account);
      this.emit('changed', account);
      if (live.length === 0) {
        this.#bindings.delete(account);
        this.emit('offline', account);
      } else {
        this.#bindings.set(account, live);
      }
    }
  }

  /** Stops the sweeper; with a store, what is pending is written first (the bindings stay there). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#store?.close();
    this.#bindings.clear();
  }
}
