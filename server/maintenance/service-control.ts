/**
 * How a maintenance job stops and starts the box's services (control plane, signaling, media,
 * TURN) — the one thing an upgrade, a reboot on a dev machine and a restart after a factory
 * reset need from whoever keeps the services running:
 *
 *  - on an installed appliance, systemd (`SystemdControl`, run by the root unit
 *    vcbox-maintenance: systemctl stop/start vcbox.target, is-active per unit, reboot);
 *  - under the dev run command, the supervisor itself (server/supervisor/supervisor.ts
 *    implements the same interface over its children).
 *
 * A box with neither (a control plane started alone, as the tests do) has no ServiceControl:
 * nothing restarts there, and the callers say so.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getLogger } from '../core/logger.ts';

const log = getLogger('maintenance');
const run = promisify(execFile);

export interface ServiceControl {
  /** Which manager this is, for logs and answers. */
  readonly kind: 'systemd' | 'supervisor';
  /** Stops every service and resolves when they have exited; they stay stopped until started. */
  stopServices(): Promise<void>;
  /** Starts every service (resolves once they are launched, not when they are ready). */
  startServices(): Promise<void>;
  /** The services that are not running now (e.g. exited after their start). */
  notRunning(): Promise<string[]>;
  /** How often each service exited unexpectedly (and was restarted) since the last `startServices`. */
  crashes(): Promise<Record<string, number>>;
  /** Restarts the machine (appliance), or the services where the machine is not ours (dev). */
  reboot(): Promise<void>;
}

/** The appliance's units (systemd/): the target and the services it groups. */
export const SYSTEMD_TARGET = 'vcbox.target';
export const SYSTEMD_SERVICES = ['vcbox-control.service', 'vcbox-signaling.service', 'vcbox-media.service', 'vcbox-turn.service'] as const;

export class SystemdControl implements ServiceControl {
  readonly kind = 'systemd' as const;
  readonly #systemctl: string;

  /** @param systemctl the systemctl binary (tests of the command lines may give another) */
  constructor(systemctl = 'systemctl') {
    this.#systemctl = systemctl;
  }

  async #systemctlRun(...args: string[]): Promise<string> {
    log.info({ command: `systemctl ${args.join(' ')}` }, 'systemd');
    const { stdout } = await run(this.#systemctl, args, { timeout: 120_000 });
    return stdout;
  }

  async stopServices(): Promise<void> {
    await this.#systemctlRun('stop', SYSTEMD_TARGET, ...SYSTEMD_SERVICES);
  }

  async startServices(): Promise<void> {
    await this.#systemctlRun('start', SYSTEMD_TARGET);
  }

  async notRunning(): Promise<string[]> {
    const down: string[] = [];
    for (const unit of SYSTEMD_SERVICES) {
      // is-active exits non-zero for anything but "active".
      await this.#systemctlRun('is-active', '--quiet', unit).catch(() => down.push(unit));
    }
    return down;
  }

  async crashes(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const unit of SYSTEMD_SERVICES) {
      // NRestarts: automatic restarts (Restart=on-failure) since the unit was last started.
      const value = await this.#systemctlRun('show', '--property=NRestarts', '--value', unit).catch(() => '0');
      counts[unit] = Number(value.trim()) || 0;
    }
    return counts;
  }

  async reboot(): Promise<void> {
    await this.#systemctlRun('reboot');
  }
}
