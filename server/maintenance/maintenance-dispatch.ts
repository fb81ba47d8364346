/**
 * The control plane's side of a maintenance job (upgrade, restart of the services, reboot):
 * who can do it on this box, and handing it over.
 *
 *  - an installed box whose services are systemd units (config `system.systemd`, set by the
 *    installer): the request file is written and the path unit vcbox-maintenance.path starts
 *    the root job (server/maintenance/main.ts);
 *  - under the dev run command (config `supervisor.pid`): the request file is written and the
 *    supervisor is sent SIGUSR2;
 *  - neither (a control plane started alone, as the tests do): nothing can restart the
 *    services. An upgrade is still installed, here in this process, without a restart (it runs
 *    from the services' next start); a restart or reboot is refused.
 *
 * The hand-over happens after the HTTP answer has gone out (the routes call `handOver` when the
 * reply is sent): the job may stop this very process.
 */
import type { Config } from '../core/config.ts';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { MaintenanceFiles, MaintenanceRequest } from './maintenance-files.ts';

const log = getLogger('maintenance');

export type ServiceManager = { readonly kind: 'systemd' } | { readonly kind: 'supervisor'; readonly pid: number } | { readonly kind: 'none' };

/** Who restarts this box's services, from its configuration. */
export function serviceManagerOf(config: Pick<Config, 'system' | 'supervisor'>): ServiceManager {
  if (config.system.systemd) return { kind: 'systemd' };
  if (config.supervisor) return { kind: 'supervisor', pid: config.supervisor.pid };
  return { kind: 'none' };
}

export interface DispatchOptions {
  readonly files: MaintenanceFiles;
  readonly manager: ServiceManager;
  /** Where nothing can restart the services: how an upgrade is run in this process instead. */
  readonly runHere?: (request: Extract<MaintenanceRequest, { kind: 'upgrade' }>) => Promise<unknown>;
}

export class MaintenanceDispatch {
  readonly #options: DispatchOptions;

  constructor(options: DispatchOptions) {
    this.#options = options;
  }

  get manager(): ServiceManager['kind'] {
    return this.#options.manager.kind;
  }

  /** Whether the services can be restarted here (appliance or dev supervisor). */
  get canRestart(): boolean {
    return this.#options.manager.kind !== 'none';
  }

  /** Throws VCBOX_ERR_RESTART_UNAVAILABLE where nothing can restart the services. */
  assertCanRestart(): void {
    if (!this.canRestart) throw createError('VCBOX_ERR_RESTART_UNAVAILABLE');
  }

  /** Hands `request` over to whoever does it here (see the header). Never throws: failures are logged. */
  async handOver(request: MaintenanceRequest): Promise<void> {
    const { files, manager, runHere } = this.#options;
    try {
      if (manager.kind === 'none') {
        if (request.kind === 'upgrade' && runHere) await runHere(request);
        else log.warn({ id: request.id, kind: request.kind }, 'nothing can restart the services here; the job is dropped');
        return;
      }
      await files.request(request);
      if (manager.kind === 'supervisor') process.kill(manager.pid, 'SIGUSR2');
      log.info({ id: request.id, kind: request.kind, to: manager.kind }, 'maintenance job handed over');
    } catch (error) {
      log.error({ id: request.id, kind: request.kind, err: (error as Error).message }, 'the maintenance job could not be handed over');
    }
  }
}
