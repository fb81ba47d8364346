/**
 * How late this process's event loop runs, for the metrics and the soak benchmark: Node's
 * event-loop-delay histogram (perf_hooks, sampled every 10 ms), read out and reset every
 * 10 s, so a scrape reports the last whole window — p50, p99 and the worst, in milliseconds —
 * whoever else scrapes in between. One monitor per process, started by its first reader.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopDelayFigures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const WINDOW_MS = 10_000;
const RESOLUTION_MS = 10;

class EventLoopDelayMonitor {
  readonly #histogram: IntervalHistogram;
  #last: EventLoopDelayFigures | undefined;

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.#histogram.enable();
    setInterval(() => {
      this.#last = this.#read();
      this.#histogram.reset();
    }, WINDOW_MS).unref();
  }

  /** The last whole window's figures (the first window: what was measured so far). */
  figures(): EventLoopDelayFigures {
    return this.#last ?? this.#read();
  }

  /**
   * The histogram counts the whole sampling interval as delay; what the loop really ran late is
   * the excess over it (0 for an idle loop), in milliseconds with one decimal.
   */
  #read(): EventLoopDelayFigures {
    if (this.#histogram.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const late = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10);
    return { p50Ms: late(this.#histogram.percentile(50)), p99Ms: late(this.#histogram.percentile(99)), maxMs: late(this.#histogram.max) };
  }
}

let monitor: EventLoopDelayMonitor | undefined;

/** This process's event-loop delay over the last 10 s window. */
export function eventLoopDelay(): EventLoopDelayFigures {
  monitor ??= new EventLoopDelayMonitor();
  return monitor.figures();
}
