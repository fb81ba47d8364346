/**
 * When the SIP application is saturated, new out-of-dialog requests are refused here — 503 with
 * Retry-After, before any application sees them — instead of queueing behind the backlog until
 * terminals retransmit and time out (408). Saturated means either bound is passed:
 *  - in flight: new requests forwarded to the application and not finally answered yet (the
 *    service's `awaitingApp`; ringing INVITEs count until their final answer);
 *  - queue delay: how long the application takes to first answer a new request (REGISTER,
 *    OPTIONS… answered at once by a healthy application; an INVITE's first answer other than
 *    the 100 this service sends — the digest challenge every call starts with, a refusal, or
 *    the callee's ringing relayed — so this is its queue), as a standing delay: the smallest
 *    such delay seen over the last window (100 ms), when the window saw at least 4 answers —
 *    one slow answer at a light load (a pause of the process, a callee slow to ring) is no
 *    queue. A window with fewer answers reads 0 (nothing queued, or nothing admitted: the bound
 *    is tested again). INVITEs count so that a load of calls alone is watched too (without
 *    them it never was, and calls collapsed into retransmissions past the capacity).
 * Constant work per request: a timestamp per forwarded non-INVITE, a comparison per answer.
 *
 * A third bound is the signaling process's own: when its event loop runs late (./loop-lag.ts)
 * past `loopLagMs`, what it reads now has waited that long in the socket buffer — the process
 * itself is saturated, and the queue forms in front of it where the two bounds above cannot see
 * it. New out-of-dialog requests are then answered 503 from a partial parse (a few header
 * lines, no transaction; ../network-side.ts), cheaper than taking them on; past four times the
 * bound they are dropped unread (the terminal retransmits or tries again; an answer would only
 * add to the queue). Never a response, ACK, CANCEL, BYE, PRACK, a request inside a dialog or a
 * retransmission of a request already taken on.
 */
import type { ServerTransaction } from '../transactions/server-transaction.ts';

export interface OverloadLimits {
  /** New requests the applications may have unanswered at once (default 1000). */
  readonly inFlight?: number;
  /** Standing application answer delay past which new requests are refused, ms (default 500: T1, when terminals start retransmitting). */
  readonly queueDelayMs?: number;
  /** The signaling process's own event-loop lag past which new requests are refused unparsed, ms (default 50). */
  readonly loopLagMs?: number;
}

export type OverloadReason = 'in-flight' | 'queue-delay';

/** What to do with a new out-of-dialog request read while the loop runs late: answer 503, or drop it unread. */
export type EarlyShedding = 'refuse' | 'drop';

/** How many times the loop-lag bound the lag must be for new requests to be dropped unanswered. */
const DROP_FACTOR = 4;

const WINDOW_MS = 100;
/** Answers a window needs before its delay counts as a queue. */
const MIN_SAMPLES = 4;

export class OverloadGuard {
  readonly inFlight: number;
  readonly queueDelayMs: number;
  readonly loopLagMs: number;
  readonly #forwardedAt = new WeakMap<ServerTransaction, number>();
  #windowEnd = 0;
  #windowMin = Number.POSITIVE_INFINITY;
  #windowSamples = 0;
  #standing = 0;
  /** Refusals so far, by reason. */
  readonly refused = { inFlight: 0, queueDelay: 0, loopLag: 0, loopLagDropped: 0 };

  constructor(limits: OverloadLimits = {}) {
    this.inFlight = limits.inFlight ?? 1000;
    this.queueDelayMs = limits.queueDelayMs ?? 500;
    this.loopLagMs = limits.loopLagMs ?? 100;
  }

  /** Whether a loop lag of `lagMs` sheds new requests before parsing them (undefined: no). Not counted: see `shed`. */
  early(lagMs: number): EarlyShedding | undefined {
    if (lagMs <= this.loopLagMs) return undefined;
    return lagMs > DROP_FACTOR * this.loopLagMs ? 'drop' : 'refuse';
  }

  /** A new request was shed before parsing. */
  shed(how: EarlyShedding): void {
    if (how === 'drop') this.refused.loopLagDropped++;
    else this.refused.loopLag++;
  }

  /** A new request went to the application. */
  forwarded(transaction: ServerTransaction, now = performance.now()): void {
    this.#forwardedAt.set(transaction, now);
  }

  /** The application answered a request (its first response other than a 100, which says nothing of its queue), or took it on to proxy it. */
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
