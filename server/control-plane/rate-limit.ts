/**
 * Per-key budgets a minute (login attempts, reset mails, account mails): past one, the request
 * is refused with VCBOX_ERR_RATE_LIMITED saying how long to wait. `minuteBudget` counts every
 * request. (Wrong meeting IDs and PINs are counted by the participant sessions service,
 * server/meetings/participant-sessions/entry-lockout.ts, for every way into a meeting alike.)
 */
import { createError } from '../errors.ts';

interface Window {
  count: number;
  since: number;
}

/** One-minute counting windows per key (at most 10 000 keys are remembered). */
class MinuteWindows {
  readonly #seen = new Map<string, Window>();

  /** The key's window if it is still open. */
  open(key: string, now: number): Window | undefined {
    const entry = this.#seen.get(key);
    return entry && now - entry.since <= 60_000 ? entry : undefined;
  }

  /** Counts one for the key (in a new window when the last one has closed). */
  add(key: string, now: number): Window {
    const entry = this.open(key, now);
    if (entry) {
      entry.count++;
      return entry;
    }
    if (this.#seen.size > 10_000) this.#seen.clear();
    const fresh = { count: 1, since: now };
    this.#seen.set(key, fresh);
    return fresh;
  }
}

function refuse(entry: Window, now: number): never {
  throw createError('VCBOX_ERR_RATE_LIMITED', { seconds: Math.ceil((entry.since + 60_000 - now) / 1000) });
}

export function minuteBudget(limit: number): (key: string, now?: number) => void {
  const windows = new MinuteWindows();
  return (key, now = Date.now()) => {
    const entry = windows.add(key, now);
    if (entry.count > limit) refuse(entry, now);
  };
}
