/**
 * Per-key budgets a minute (login attempts, reset mails, account mails, join-page look-ups):
 * past one, the request is refused with VCBOX_ERR_RATE_LIMITED saying how long to wait.
 * `minuteBudget` counts every request. (Wrong meeting IDs and PINs are counted by the
 * participant sessions service, server/meetings/participant-sessions/entry-lockout.ts, for
 * every way into a meeting alike.)
 *
 * Keys are usually the caller's address; an IPv6 address counts as its /64 (one host on a LAN
 * picks any address of its /64 at will). The table of windows is bounded, and a flood of new
 * addresses cannot empty it: when it is full, windows that have closed are dropped, and a key
 * that still finds no room is counted in one shared overflow window. A window, once opened, runs
 * its full minute whatever other addresses do.
 */
import net from 'node:net';
import { createError } from '../core/errors.ts';
import { monotonicMs } from '../core/clock.ts';

interface Window {
  count: number;
  since: number;
}

const WINDOW_MS = 60_000;
/** Keys remembered at most (each a few dozen bytes). */
export const MAX_KEYS = 10_000;
/** Where keys beyond MAX_KEYS are counted together. */
const OVERFLOW_KEY = '(overflow)';

/** The key a caller's address is counted under: IPv4 as is, IPv6 by its /64 prefix. */
export function addressKey(address: string): string {
  const mapped = address.toLowerCase().startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (!net.isIPv6(mapped)) return mapped;
  const [head = '', tail = ''] = mapped.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = mapped.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** One-minute counting windows per key, at most MAX_KEYS of them (plus the overflow window). */
class MinuteWindows {
  readonly #seen = new Map<string, Window>();
  #lastSweep = 0;

  /** The key's window if it is still open. */
  open(key: string, now: number): Window | undefined {
    const slot = this.#seen.has(key) || this.#seen.size < MAX_KEYS ? key : OVERFLOW_KEY;
    const entry = this.#seen.get(slot);
    return entry && now - entry.since <= WINDOW_MS ? entry : undefined;
  }

  /** Counts one for the key (in a new window when the last one has closed). */
  add(key: string, now: number): Window {
    let slot = key;
    if (!this.#seen.has(key) && this.#seen.size >= MAX_KEYS) {
      this.#sweep(now);
      if (this.#seen.size >= MAX_KEYS) slot = OVERFLOW_KEY;
    }
    const entry = this.#seen.get(slot);
    if (entry && now - entry.since <= WINDOW_MS) {
      entry.count++;
      return entry;
    }
    const fresh = { count: 1, since: now };
    this.#seen.delete(slot); // re-inserted last: the map stays in the order windows opened
    this.#seen.set(slot, fresh);
    return fresh;
  }

  /** Drops closed windows (the oldest come first in the map); at most once a second. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 1000) return;
    this.#lastSweep = now;
    for (const [key, entry] of this.#seen) {
      if (now - entry.since <= WINDOW_MS) {
        if (key !== OVERFLOW_KEY) break;
        continue;
      }
      this.#seen.delete(key);
    }
  }
}

function refuse(entry: Window, now: number): never {
  throw createError('VCBOX_ERR_RATE_LIMITED', { seconds: Math.max(1, Math.ceil((entry.since + WINDOW_MS - now) / 1000)) });
}

export function minuteBudget(limit: number): (key: string, now?: number) => void {
  const windows = new MinuteWindows();
  return (key, now = monotonicMs()) => {
    const entry = windows.add(addressKey(key), now);
    if (entry.count > limit) refuse(entry, now);
  };
}
