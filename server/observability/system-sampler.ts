/**
 * The dashboard's system samples (spec "Dashboard & status": CPU, memory, network, disk, each
 * a line chart over time): every `intervalMs` (10 s) one sample read with systeminformation —
 * CPU %, memory in use (without buffers/cache, what `free` calls used) and total, receive and
 * transmit bytes/s per network interface (loopback left out), the data directory's filesystem
 * (used/total from statfs) and block-device operations/s for the whole machine — kept in a
 * ring buffer of `capacity` samples (8 640: 24 hours at 10 s, one tier, about 3 MB); older
 * samples are overwritten. `series()` cuts a metric's chart out of it, averaged down to a
 * bounded number of points. What does not live here: the services' health
 * (./service-health.ts) and the HTTP routes (control-plane/routes/dashboard.ts).
 *
 * Cost measured on the dev machine: ~5 ms of CPU per sample (about 0.05 % of a core at 10 s).
 */
import { statfs } from 'node:fs/promises';
import si from 'systeminformation';
import { getLogger } from '../core/logger.ts';
import { RingBuffer } from './ring-buffer.ts';

const log = getLogger('system-sampler');

export interface NetworkSample {
  readonly iface: string;
  readonly rxBytesPerSecond: number | null;
  readonly txBytesPerSecond: number | null;
}

export interface SystemSample {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly cpuPercent: number | null;
  readonly memory: { readonly usedBytes: number; readonly totalBytes: number } | null;
  readonly network: readonly NetworkSample[];
  readonly disk: {
    readonly path: string;
    readonly usedBytes: number;
    readonly totalBytes: number;
    readonly readsPerSecond: number | null;
    readonly writesPerSecond: number | null;
  } | null;
}

export const METRICS = ['cpu', 'memory', 'network', 'disk'] as const;
export type Metric = (typeof METRICS)[number];

/** One chart point: the time and the metric's values (averaged over the samples it stands for). */
export type SeriesPoint = { at: string } & Record<string, number | null | string>;

export interface SystemSamplerOptions {
  /** Whose filesystem the disk figures describe (the box's data directory). */
  readonly dataDir: string;
  /** Time between samples (10 s; tests use less). */
  readonly intervalMs?: number;
  /** Samples kept (8 640 = 24 h at 10 s). */
  readonly capacity?: number;
}

export class SystemSampler {
  readonly intervalMs: number;
  readonly #dataDir: string;
  readonly #samples: RingBuffer<SystemSample>;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  #lastCostMs: number | null = null;
  /** Failing reads are logged once each until they work again, not every 10 s. */
  readonly #failing = new Set<string>();

  constructor(options: SystemSamplerOptions) {
    this.#dataDir = options.dataDir;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.#samples = new RingBuffer(options.capacity ?? 8640);
  }

  get capacity(): number {
    return this.#samples.capacity;
  }

  get size(): number {
    return this.#samples.size;
  }

  /** Wall time the last sample took to read, in ms. */
  get lastCostMs(): number | null {
    return this.#lastCostMs;
  }

  latest(): SystemSample | undefined {
    return this.#samples.latest();
  }

  /**
   * Starts sampling. The rates (CPU %, bytes/s, operations/s) are differences between two
   * reads, so a first read now sets the baseline and the first sample follows within a second.
   */
  start(): this {
    if (this.#started || this.#closed) return this;
    this.#started = true;
    void this.#read().then(() => this.#schedule(Math.min(this.intervalMs, 1000)));
    return this;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const begun = performance.now();
      void this.#read().then((sample) => {
        if (this.#closed) return;
        this.#lastCostMs = Math.round((performance.now() - begun) * 10) / 10;
        this.#samples.push(sample);
        // The next sample is timed from this one's end: a slow read never overlaps the next.
        this.#schedule(this.intervalMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #read(): Promise<SystemSample> {
    const at = Date.now();
    const [load, mem, net, fsStat, io] = await Promise.all([
      this.#attempt('cpu', () => si.currentLoad()),
      this.#attempt('memory', () => si.mem()),
      this.#attempt('network', () => si.networkStats('*')),
      this.#attempt('disk', () => statfs(this.#dataDir)),
      this.#attempt('disk-io', () => si.disksIO()),
    ]);
    return {
      at,
      cpuPercent: load ? round(load.currentLoad, 1) : null,
      memory: mem ? { usedBytes: mem.active, totalBytes: mem.total } : null,
      network: (net ?? [])
        .filter((n) => n.iface !== 'lo')
        .map((n) => ({ iface: n.iface, rxBytesPerSecond: rate(n.rx_sec), txBytesPerSecond: rate(n.tx_sec) })),
      disk: fsStat
        ? {
            path: this.#dataDir,
            totalBytes: fsStat.blocks * fsStat.bsize,
            // What `df` shows as used: all blocks but the free ones (root's reserve counts as used by nobody, so it is left out of both).
            usedBytes: (fsStat.blocks - fsStat.bfree) * fsStat.bsize,
            readsPerSecond: io ? rate(io.rIO_sec) : null,
            writesPerSecond: io ? rate(io.wIO_sec) : null,
          }
        : null,
    };
  }

  async #attempt<T>(what: string, read: () => Promise<T>): Promise<T | null> {
    try {
      const value = await read();
      this.#failing.delete(what);
      return value;
    } catch (error) {
      if (!this.#failing.has(what)) log.warn({ what, err: (error as Error).message }, 'system sample: could not read');
      this.#failing.add(what);
      return null;
    }
  }

  /** Network interfaces seen in the newest sample. */
  interfaces(): string[] {
    return (this.latest()?.network ?? []).map((n) => n.iface);
  }

  /**
   * The last `minutes` of one metric, oldest first, averaged into at most `maxPoints` points
   * (consecutive samples share a point). Network: one interface, or all of them summed.
   */
  series(metric: Metric, minutes: number, options: { maxPoints?: number; iface?: string } = {}): SeriesPoint[] {
    const since = Date.now() - minutes * 60_000;
    const samples = this.#samples.newestWhile((s) => s.at >= since);
    const maxPoints = Math.max(1, options.maxPoints ?? 360);
    const perPoint = Math.ceil(samples.length / maxPoints);
    const points: SeriesPoint[] = [];
    for (let i = 0; i < samples.length; i += perPoint) {
      const group = samples.slice(i, i + perPoint);
      const values = group.map((s) => valuesOf(metric, s, options.iface));
      const point: SeriesPoint = { at: new Date((group.at(-1) as SystemSample).at).toISOString() };
      for (const key of Object.keys(values[0] ?? {})) point[key] = average(values.map((v) => v[key] ?? null), key.endsWith('Percent') || key === 'percent' ? 1 : 0);
      points.push(point);
    }
    return points;
  }

  /** Stops sampling; the samples taken stay readable. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function valuesOf(metric: Metric, s: SystemSample, iface: string | undefined): Record<string, number | null> {
  switch (metric) {
    case 'cpu':
      return { percent: s.cpuPercent };
    case 'memory':
      return s.memory ? { usedBytes: s.memory.usedBytes, totalBytes: s.memory.totalBytes, percent: (100 * s.memory.usedBytes) / s.memory.totalBytes } : { usedBytes: null, totalBytes: null, percent: null };
    case 'network': {
      const nics = s.network.filter((n) => iface === undefined || n.iface === iface);
      const sum = (key: 'rxBytesPerSecond' | 'txBytesPerSecond') => (nics.some((n) => n[key] !== null) ? nics.reduce((total, n) => total + (n[key] ?? 0), 0) : null);
      return { rxBytesPerSecond: sum('rxBytesPerSecond'), txBytesPerSecond: sum('txBytesPerSecond') };
    }
    case 'disk':
      return s.disk
        ? { usedBytes: s.disk.usedBytes, totalBytes: s.disk.totalBytes, percent: (100 * s.disk.usedBytes) / s.disk.totalBytes, readsPerSecond: s.disk.readsPerSecond, writesPerSecond: s.disk.writesPerSecond }
        : { usedBytes: null, totalBytes: null, percent: null, readsPerSecond: null, writesPerSecond: null };
  }
}

/** systeminformation answers a rate it cannot compute yet as null or a negative number. */
function rate(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? round(value, 1) : null;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function average(values: (number | null)[], digits: number): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? round(known.reduce((a, b) => a + b, 0) / known.length, digits) : null;
}
