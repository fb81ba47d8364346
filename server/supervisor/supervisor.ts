/**
 * The dev supervisor's process keeper: starts each appliance process as a child with the
 * pinned Node, restarts one that exits unexpectedly (with a growing delay, so a process that
 * cannot start does not spin), and stops them all on request — SIGTERM, then SIGKILL after a
 * grace period. On the appliance systemd does this job (systemd/); this is its stand-in for
 * the single dev run command. It is also the ServiceControl of maintenance jobs on a dev
 * machine (server/maintenance/service-control.ts): the services stopped and held stopped (an
 * upgrade swaps the software and the database meanwhile), started again, the ones not running
 * listed; "reboot" restarts the services, the machine is not the box's to reboot.
 *
 * Stopping them all is a stop of the whole appliance, said as such before anyone is signalled
 * (../process/stop-intent.ts), and done in order: the children marked `stopsFirst` (the control
 * plane) first — it then ends every call with a BYE while the signaling service can still send
 * them — and the others once it has exited. Each child runs in a process group of its own, with
 * what it starts (the mediasoup workers, the compositor, coturn): Ctrl-C on the run command, which
 * the terminal sends to its foreground process group, reaches this process only, and no worker
 * dies under a meeting before the control plane has ended its calls. A child whose supervisor is
 * gone (killed) stops by itself (server/core/service-lifecycle.ts). A child's own exit, even an
 * orderly one (SIGTERM to the control plane's pid), is a restart of that child alone: it is
 * started again, and the control plane leaves its calls to its successor.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { getLogger } from '../core/logger.ts';
import type { ServiceControl } from '../maintenance/service-control.ts';
import type { StopIntent } from '../process/stop-intent.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('supervisor');

export interface ChildSpec {
  /** Short name for logs: control-plane, signaling, media. */
  readonly name: string;
  /** Script run with this Node (a .ts file; Node 22 strips the types). */
  readonly script: string;
  /** Stopped (and waited for) before the others when they all stop: the control plane. */
  readonly stopsFirst?: boolean;
}

interface Running {
  readonly spec: ChildSpec;
  child: ChildProcess | undefined;
  restarts: number;
  /** Unexpected exits since the last `startServices` (a release that cannot start shows here). */
  crashes: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class Supervisor implements ServiceControl {
  readonly kind = 'supervisor' as const;
  readonly #env: NodeJS.ProcessEnv;
  readonly #running: Running[];
  #stopping: Promise<void> | undefined;
  /** Children stopped on purpose (a maintenance job): not restarted until `start`. */
  #held = false;
  readonly #intent: StopIntent | undefined;

  /** `intent`: where the supervisor says that the whole appliance stops (absent: it does not say). */
  constructor(specs: readonly ChildSpec[], env: NodeJS.ProcessEnv, intent?: StopIntent) {
    this.#env = env;
    this.#intent = intent;
    this.#running = specs.map((spec) => ({ spec, child: undefined, restarts: 0, crashes: 0, startedAt: 0, timer: undefined }));
  }

  start(): void {
    this.#intent?.clear();
    for (const entry of this.#running) this.#launch(entry);
  }

  #launch(entry: Running): void {
    // detached: a process group of its own (see the header), not a daemon — it is still waited for.
    const child = spawn(process.execPath, [entry.spec.script], { env: this.#env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    entry.child = child;
    entry.startedAt = monotonicMs();
    log.info({ name: entry.spec.name, pid: child.pid }, 'process started');
    child.on('exit', (code, signal) => {
      entry.child = undefined;
      if (this.#stopping || this.#held) return;
      entry.crashes++;
      // A process that ran a while before failing starts the back-off again from the bottom.
      if (monotonicMs() - entry.startedAt > 60_000) entry.restarts = 0;
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
    this.#stopping ??= this.#stopChildren(graceMs);
    return this.#stopping;
  }

  /** Maintenance: stops every child and keeps them stopped until `start`. */
  async stopServices(graceMs = 10_000): Promise<void> {
    this.#held = true;
    await this.#stopChildren(graceMs);
  }

  /** Maintenance: starts every child that is not running (after `stopServices`). */
  async startServices(): Promise<void> {
    if (this.#stopping) return;
    this.#held = false;
    this.#intent?.clear();
    for (const entry of this.#running) {
      entry.crashes = 0;
      if (entry.child || entry.timer) continue;
      entry.restarts = 0;
      this.#launch(entry);
    }
  }

  /** The children not running now (exited and waiting for their restart, or held). */
  async notRunning(): Promise<string[]> {
    return this.#running.filter((entry) => !entry.child || entry.child.exitCode !== null).map((entry) => entry.spec.name);
  }

  async crashes(): Promise<Record<string, number>> {
    return Object.fromEntries(this.#running.map((entry) => [entry.spec.name, entry.crashes]));
  }

  /** On a dev machine a reboot is a restart of the services. */
  async reboot(): Promise<void> {
    await this.stopServices();
    await this.startServices();
  }

  /** The whole appliance stops: said first, then the children marked `stopsFirst`, then the rest. */
  async #stopChildren(graceMs: number): Promise<void> {
    try {
      this.#intent?.declare('supervisor');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not say that the appliance is stopping: the control plane will leave its calls to a successor');
    }
    await this.#stopEach(this.#running.filter((entry) => entry.spec.stopsFirst), graceMs);
    await this.#stopEach(this.#running.filter((entry) => !entry.spec.stopsFirst), graceMs);
  }

  #stopEach(entries: readonly Running[], graceMs: number): Promise<void> {
    return Promise.all(
      entries.map(async (entry) => {
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = undefined;
        const child = entry.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const killer = setTimeout(() => {
          log.warn({ name: entry.spec.name, pid: child.pid }, 'process did not stop in time; killing it');
          // Its whole group: what it started goes with it.
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, graceMs);
        await exited;
        clearTimeout(killer);
      }),
    ).then(() => undefined);
  }
}
