/**
 * The box's two clocks, which are never mixed (#18, "clock jump"):
 *
 * - **Monotonic time** (`monotonicMs()`): every duration, timer, time-out and expiry of a running
 *   box — registrations, session and RTP time-outs, lock-outs, orphan dialogs, transactions,
 *   rate limits, caches. It is Linux's CLOCK_MONOTONIC: it never jumps when the wall clock is
 *   set (an NTP step, an administrator, a box whose battery-less clock starts in 1970), counts
 *   from boot, and is the same in every process of one boot — so a deadline one process wrote
 *   (the dialog snapshot) means the same to the next process, until a reboot. Node's timers
 *   (setTimeout/setInterval) run on it already.
 * - **Wall-clock time** (`Date.now()`, `new Date()`): only what people read and what has to mean
 *   the same after a reboot — call and meeting records (start, answer, end), logs and their daily
 *   files, the operation log, scheduled meetings' windows, backups' and certificates' dates, and
 *   the deadlines kept in the database across restarts (console login lock-outs, password-reset
 *   links), which `boundedRemainingMs` keeps from growing when the clock goes back.
 *
 * docs/operations.md ("Clock jumps") lists which is which.
 */
import { readFileSync } from 'node:fs';

/** Milliseconds on the monotonic clock (CLOCK_MONOTONIC: since boot, shared by the processes of a boot). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

let boot: string | undefined;

/** This boot's id (Linux's random boot_id), so that a monotonic time written down is only read back in the same boot. */
export function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = 'unknown';
    }
  }
  return boot;
}

/**
 * What is left of a wall-clock deadline kept in the database (`untilMs`), never more than
 * `longestMs` — the most it can have been given when it was set: when the clock went back after
 * it was written, the deadline would otherwise stretch by the jump (a 3-minute lock-out becoming
 * hours). A forward jump ends it early; that is the lesser harm, and a restart-proof deadline
 * cannot tell a jump from time passed while the box was off.
 */
export function boundedRemainingMs(untilMs: number, longestMs: number, now = Date.now()): number {
  return Math.min(Math.max(0, untilMs - now), longestMs);
}
