/**
 * The pool of mediasoup workers (one C++ process each, one per core by default). It starts
 * them, hands out the least-loaded one for a new meeting (router), and replaces a worker that
 * dies; re-attaching the dead worker's meetings is the meetings layer's job, told through the
 * `workerreplaced` event. `close()` is idempotent and closes every worker.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';

const log = getLogger('worker-pool');

export interface WorkerPoolOptions {
  /** How many workers; 0 = one per CPU core. */
  readonly size: number;
  readonly logLevel?: types.WorkerLogLevel;
  /** Wait this long before replacing a worker that died, so a crash loop cannot spin. */
  readonly respawnDelayMs?: number;
}

export interface WorkerPoolEvents {
  workerdied: [index: number, pid: number, error: Error];
  workerreplaced: [index: number, worker: types.Worker];
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #workers: (types.Worker | undefined)[] = [];
  /** Routers placed on each worker, the load measure. */
  readonly #load = new Map<types.Worker, number>();
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
  }

  get size(): number {
    return this.#options.size > 0 ? this.#options.size : Math.max(1, os.availableParallelism());
  }

  get workers(): readonly types.Worker[] {
    return this.#workers.filter((w): w is types.Worker => w !== undefined);
  }

  async start(): Promise<void> {
    for (let index = 0; index < this.size; index++) this.#workers[index] = await this.#spawn(index);
    log.info({ workers: this.workers.map((w) => w.pid), version: mediasoup.version }, 'media workers up');
  }

  async #spawn(index: number): Promise<types.Worker> {
    let worker: types.Worker;
    try {
      worker = await mediasoup.createWorker({ logLevel: this.#options.logLevel ?? 'warn', appData: { index } });
    } catch (error) {
      throw createError('VCBOX_ERR_MEDIA_WORKER', { reason: (error as Error).message }, error);
    }
    this.#load.set(worker, 0);
    worker.observer.on('newrouter', (router) => {
      this.#load.set(worker, (this.#load.get(worker) ?? 0) + 1);
      router.observer.once('close', () => this.#load.set(worker, Math.max(0, (this.#load.get(worker) ?? 1) - 1)));
    });
    worker.on('died', (error) => this.#onDied(index, worker, error));
    return worker;
  }

  #onDied(index: number, worker: types.Worker, error: Error): void {
    this.#load.delete(worker);
    this.#workers[index] = undefined;
    log.error({ index, pid: worker.pid, err: error.message }, 'media worker died');
    this.emit('workerdied', index, worker.pid, error);
    if (this.#closed) return;
    setTimeout(() => {
      if (this.#closed) return;
      this.#spawn(index).then(
        (replacement) => {
          if (this.#closed) {
            replacement.close();
            return;
          }
          this.#workers[index] = replacement;
          log.info({ index, pid: replacement.pid }, 'media worker replaced');
          this.emit('workerreplaced', index, replacement);
        },
        (spawnError: unknown) => log.error({ index, err: spawnError }, 'could not replace media worker'),
      );
    }, this.#options.respawnDelayMs ?? 500).unref();
  }

  /** Routers (meetings and their spread parts) placed on a worker now. */
  routersOn(worker: types.Worker): number {
    return this.#load.get(worker) ?? 0;
  }

  /** The live worker with the fewest routers. */
  leastLoaded(): types.Worker {
    let best: types.Worker | undefined;
    for (const worker of this.workers) {
      if (!best || (this.#load.get(worker) ?? 0) < (this.#load.get(best) ?? 0)) best = worker;
    }
    if (!best) throw createError('VCBOX_ERR_MEDIA_WORKER', { reason: 'no media worker is running' });
    return best;
  }

  /**
   * The least-loaded live worker, waiting up to `timeoutMs` for a replacement when every
   * worker is dead (a meeting being rebuilt after its worker died).
   */
  async acquire(timeoutMs = 10_000): Promise<types.Worker> {
    if (this.workers.length > 0 || this.#closed) return this.leastLoaded();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.once('workerreplaced', done);
    });
    return this.leastLoaded();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.workers) worker.close();
    this.#workers.length = 0;
    this.#load.clear();
  }
}
