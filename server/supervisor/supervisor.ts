/**
 * The dev supervisor's process keeper: starts each appliance process as a child with the
 * pinned Node, restarts one that exits unexpectedly (with a growing delay, so a process that
 * cannot start does not spin), and stops them all on request — SIGTERM, then SIGKILL after a
 * grace period. On the appliance systemd does this job (systemd/); this is its stand-in for
 * the single dev run command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { getLogger } from '../logging/logger.ts';

const log = getLogger('supervisor');

export interface ChildSpec {
  /** Short name for logs: control-plane, signaling, media. */
  readonly name: string;
  /** Script run with this Node (a .ts file; Node 22 strips the types). */
  readonly script: string;
}

interface Running {
  readonly spec: ChildSpec;
  child: ChildProcess | undefined;
  restarts: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class Supervisor {
  readonly #env: NodeJS.ProcessEnv;
  readonly #running: Running[];
  #stopping: Promise<void> | undefined;

  constructor(specs: readonly ChildSpec[], env: NodeJS.ProcessEnv) {
    this.#env = env;
    this.#running = specs.map((spec) => ({ spec, child: undefined, restarts: 0, startedAt: 0, timer: undefined }));
  }

  start(): void {
    for (const entry of this.#running) this.#launch(entry);
  }

  #launch(entry: Running): void {
    const child = spawn(process.execPath, [entry.spec.script], { env: this.#env, stdio: ['ignore', 'inherit', 'inherit'] });
    entry.child = child;
    entry.startedAt = Date.now();
    log.info({ name: entry.spec.name, pid: child.pid }, 'process started');
    child.on('exit', (code, signal) => {
      entry.child = undefined;
      if (this.#stopping) return;
      // A process that ran a while before failing starts the back-off again from the bottom.
      if (Date.now() - entry.startedAt > 60_000) entry.restarts = 0;
      const delay = Math.min(30_000, 500 * 2 ** entry.restarts);
      entry.restarts++;
      log.error({ name: entry.spec.name, code, signal, restartInMs: delay }, 'process exited unexpectedly; restarting');
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        if (!this.#stopping) this.#launch(entry);
      }, delay);
    });
  }

  /** Stops every child (idempotent); resolves when all have exited. */
  stop(graceMs = 10_000): Promise<void> {
    this.#stopping ??= Promise.all(
      this.#running.map(async (entry) => {
        if (entry.timer) clearTimeout(entry.timer);
        const child = entry.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const killer = setTimeout(() => {
          log.warn({ name: entry.spec.name, pid: child.pid }, 'process did not stop in time; killing it');
          child.kill('SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(killer);
      }),
    ).then(() => undefined);
    return this.#stopping;
  }
}
