/**
 * When the SIP application is saturated, new out-of-dialog requests are refused here — 503 with
 * Retry-After, before any application sees them — instead of queueing behind the backlog until
 * terminals retransmit and time out (408). Saturated means either bound is passed:
 *  - in flight: new requests forwarded to the application and not finally answered yet (the
 *    service's `awaitingApp`; ringing INVITEs count until their final answer);
 *  - queue delay: how long the application takes to answer a non-INVITE request (REGISTER,
 *    OPTIONS… — answered at once by a healthy application, so this is its queue), as a standing
 *    delay: the smallest such delay seen over the last window (100 ms), when the window saw at
 *    least 4 answers — one slow answer at a light load (a pause of the process) is no queue. A
 *    window with fewer answers reads 0 (nothing queued, or nothing admitted: the bound is
 *    tested again).
 * Constant work per request: a timestamp per forwarded non-INVITE, a comparison per answer.
 */
import type { ServerTransaction } from '../transactions/server-transaction.ts';

export interface OverloadLimits {
  /** New requests the applications may have unanswered at once (default 1000). */
  readonly inFlight?: number;
  /** Standing application answer delay past which new requests are refused, ms (default 500: T1, when terminals start retransmitting). */
  readonly queueDelayMs?: number;
}

export type OverloadReason = 'in-flight' | 'queue-delay';

const WINDOW_MS = 100;
/** Answers a window needs before its delay counts as a queue. */
const MIN_SAMPLES = 4;

export class OverloadGuard {
  readonly inFlight: number;
  readonly queueDelayMs: number;
  readonly #forwardedAt = new WeakMap<ServerTransaction, number>();
  #windowEnd = 0;
  #windowMin = Number.POSITIVE_INFINITY;
  #windowSamples = 0;
  #standing = 0;
  /** Refusals so far, by reason. */
  readonly refused = { inFlight: 0, queueDelay: 0 };

  constructor(limits: OverloadLimits = {}) {
    this.inFlight = limits.inFlight ?? 1000;
    this.queueDelayMs = limits.queueDelayMs ?? 500;
  }

  /** A new request went to the application. */
  forwarded(transaction: ServerTransaction, now = performance.now()): void {
    if (!transaction.isInvite) this.#forwardedAt.set(transaction, now);
  }

  /** The application answered a request (first response other than our own 100). */
  answered(transaction: ServerTransaction, now = performance.now()): void {
    const at = this.#forwardedAt.get(transaction);
    if (at === undefined) return;
    this.#forwardedAt.delete(transaction);
    const delay = now - at;
    if (delay < this.#windowMin) this.#windowMin = delay;
    this.#windowSamples++;
  }

  /** The standing application delay of the last full window, ms. */
  standingDelayMs(now = performance.now()): number {
    if (now >= this.#windowEnd) {
      // A window that saw (almost) no answer says nothing queued: 0.
      this.#standing = this.#windowEnd === 0 || this.#windowSamples < MIN_SAMPLES ? 0 : this.#windowMin;
      this.#windowMin = Number.POSITIVE_INFINITY;
      this.#windowSamples = 0;
      this.#windowEnd = now + WINDOW_MS;
    }
    return this.#standing;
  }

  /** Why a new out-of-dialog request must be refused now (counted), or undefined to admit it. */
  refusal(awaiting: number, now = performance.now()): OverloadReason | undefined {
    if (awaiting >= this.inFlight) {
      this.refused.inFlight++;
      return 'in-flight';
    }
    if (this.standingDelayMs(now) > this.queueDelayMs) {
      this.refused.queueDelay++;
      return 'queue-delay';
    }
    return undefined;
  }
}
