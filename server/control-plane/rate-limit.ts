/**
 * A per-key budget of requests a minute (login attempts, reset mails, account mails): past it
 * the request is refused with VCBOX_ERR_RATE_LIMITED saying how long to wait.
 */
import { createError } from '../errors.ts';

export function minuteBudget(limit: number): (key: string, now?: number) => void {
  const seen = new Map<string, { count: number; since: number }>();
  return (key, now = Date.now()) => {
    const entry = seen.get(key);
    if (!entry || now - entry.since > 60_000) {
      if (seen.size > 10_000) seen.clear();
      seen.set(key, { count: 1, since: now });
      return;
    }
    entry.count++;
    if (entry.count > limit) throw createError('VCBOX_ERR_RATE_LIMITED', { seconds: Math.ceil((entry.since + 60_000 - now) / 1000) });
  };
}
