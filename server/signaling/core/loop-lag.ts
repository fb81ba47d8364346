/**
 * How late the signaling process's own event loop runs: a timer every 10 ms notes how much
 * later than due it fired (its lag). Messages read while the loop runs late waited about that
 * long in the socket's receive buffer before anyone parsed them — the queue that forms in
 * front of the process when it is itself saturated, which the application-side bounds
 * (./overload-guard.ts: in flight, queue delay) cannot see. The standing lag is the smallest of
 * the last three ticks' lags: a saturated loop is late at every tick, while one pause (a
 * garbage collection, the machine busy elsewhere) makes one tick late and is no queue.
 * Constant work: one timer, a comparison per read.
 */

/** Tick of the timer, ms. */
const TICK_MS = 10;
/** Ticks that must all be late for the lag to stand. */
const TICKS = 3;

export class LoopLag {
  #last = performance.now();
  readonly #lags = new Array<number>(TICKS).fill(0);
  #next = 0;
  #standing = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor() {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
  }

  #tick(): void {
    const now = performance.now();
    this.#lags[this.#next] = Math.max(0, now - this.#last - TICK_MS);
    this.#next = (this.#next + 1) % TICKS;
    this.#last = now;
    this.#standing = Math.min(...this.#lags);
  }

  /** The standing lag of the loop, ms. */
  lagMs(): number {
    return this.#standing;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
