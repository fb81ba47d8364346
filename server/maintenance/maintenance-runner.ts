/**
 * Takes the maintenance job the control plane handed over (./maintenance-files.ts) and does it,
 * one at a time, in the process that owns the services: the dev supervisor (told by SIGUSR2),
 * or the appliance's root unit vcbox-maintenance (./main.ts, started by the path unit when a
 * request appears). Jobs: `upgrade` (server/upgrade/upgrade-runner.ts), `restart` (stop and
 * start the services: a factory reset's new settings take effect), `reboot` (the machine on an
 * appliance, the services on a dev machine: see ServiceControl.reboot).
 *
 * `recover` is for the start of such a process: an upgrade whose status says it was still
 * running cannot be — the process that ran it is gone — so it is marked failed, with the step it
 * had reached, for the control plane to show and log.
 */
import { VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { UPGRADE_STEPS, type UpgradeRunner } from '../upgrade/upgrade-runner.ts';
import { isFinal, type MaintenanceFiles, type UpgradeStatus } from './maintenance-files.ts';
import type { ServiceControl } from './service-control.ts';

const log = getLogger('maintenance');

export interface MaintenanceRunnerOptions {
  readonly files: MaintenanceFiles;
  readonly services: ServiceControl;
  /** Upgrades (absent where no install root is configured: upgrade requests are dropped, logged). */
  readonly upgrades?: UpgradeRunner | undefined;
  /** Where the current release's link points, for an interrupted upgrade's message. */
  readonly currentRelease?: () => Promise<string | undefined>;
}

export class MaintenanceRunner {
  readonly #options: MaintenanceRunnerOptions;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: MaintenanceRunnerOptions) {
    this.#options = options;
  }

  /**
   * Takes and does the waiting job, after any job already running; resolves when it is done,
   * with what stopped it (a refused request, a failure: logged already), or undefined.
   */
  runPending(): Promise<Error | undefined> {
    const run = this.#queue.then(() => this.#runOne()).then(
      () => undefined,
      (error: Error) => {
        if (error instanceof VcboxError && error.code === 'VCBOX_ERR_MAINTENANCE_REFUSED') log.error({ code: error.code, reason: error.params.reason }, error.message);
        else log.error({ err: error.message }, 'maintenance job failed');
        return error;
      },
    );
    this.#queue = run.then(() => undefined);
    return run;
  }

  async #runOne(): Promise<void> {
    const { files, services, upgrades } = this.#options;
    const request = await files.take();
    if (!request) return;
    log.info({ id: request.id, kind: request.kind, by: request.by.actor }, 'maintenance job taken');
    switch (request.kind) {
      case 'upgrade':
        if (upgrades) await upgrades.run(request);
        else log.error({ id: request.id }, 'an upgrade was requested, but the configuration names no install root (upgrade.installRoot)');
        return;
      case 'restart':
        await services.stopServices();
        await services.startServices();
        return;
      case 'reboot':
        await services.reboot();
        return;
    }
  }

  /** Marks an upgrade that was running when its process stopped as failed (see the header). */
  recover(): Promise<UpgradeStatus | undefined> {
    return markInterrupted(this.#options.files, this.#options.currentRelease);
  }
}

/**
 * For the start of the process that runs upgrades: an upgrade whose status says it is still
 * running was interrupted (its process is gone); it is marked failed with the step it reached.
 */
export async function markInterrupted(files: MaintenanceFiles, currentRelease?: () => Promise<string | undefined>): Promise<UpgradeStatus | undefined> {
  const status = await files.status();
  if (!status || isFinal(status.state)) return undefined;
  const running = (await currentRelease?.()) ?? 'an unknown release';
  const step = status.steps.at(-1)?.step ?? 'unpacking';
  const failed: UpgradeStatus = {
    ...status,
    state: 'failed',
    updatedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    outcome: {
      code: 'VCBOX_ERR_UPGRADE_FAILED',
      params: {
        version: status.to.version || '?',
        step: `${step} (interrupted: the process running the upgrade stopped)`,
        stepZh: `${UPGRADE_STEPS[step as keyof typeof UPGRADE_STEPS] ?? step}（中断：执行升级的进程已停止）`,
        reason: 'the upgrade did not finish',
        running,
      },
    },
  };
  await files.writeStatus(failed);
  log.warn({ id: status.id, step, running }, 'an interrupted upgrade was marked failed');
  return failed;
}
