/**
 * The stop intent: whether an orderly stop of the control plane is a stop of the whole
 * appliance or a restart of the control plane alone (#18). The two end calls differently:
 *
 *  - the whole appliance stops (Ctrl-C on the run command, `systemctl stop vcbox.target`, a
 *    shutdown, an upgrade or a "restart the services" job, which stop the media process too):
 *    nothing will carry the calls on, so the control plane ends every call cleanly — BYE, call
 *    record closed — while the signaling service is still up to send the BYEs;
 *  - the control plane alone stops (`systemctl restart vcbox-control`, a SIGTERM to its pid):
 *    the media process and the signaling service outlive it, so it leaves its meeting calls as a
 *    kill -9 would — media flowing, dialogs kept by the signaling service as orphans, records
 *    open — for the next control plane to take over.
 *
 * The control plane cannot see which by itself at the moment its SIGTERM arrives: the other
 * processes get theirs at about the same time or a moment later, in no order it can rely on,
 * and a guess by waiting would be a race. So whoever stops the whole appliance says so first,
 * with a file in the run folder (`<dataDir>/run/appliance-stopping`): the dev supervisor
 * (server/supervisor/supervisor.ts) writes it, then stops the control plane and only then the
 * rest; on an installed box the unit vcbox-stop-intent.service (ordered after the control plane,
 * so systemd stops it first when the target stops) writes it in its ExecStop. Without the file
 * an orderly stop is a restart of the control plane alone: the fail-safe side, since calls then
 * go on, and orphans nothing takes over end after their time limit with a BYE. The file is
 * removed when the services start again. Nothing else is in it; its content is for people.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class StopIntent {
  readonly #file: string;

  /** `file`: dataPaths(config).applianceStopping. */
  constructor(file: string) {
    this.#file = file;
  }

  /** Says that the whole appliance is stopping now (before any process is told to stop). */
  declare(by: string): void {
    mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    writeFileSync(this.#file, `the whole appliance is stopping (${by}, pid ${process.pid})\n`, { mode: 0o600 });
  }

  /** The services start again: an orderly stop from now on is a control-plane restart unless said otherwise. */
  clear(): void {
    rmSync(this.#file, { force: true });
  }

  /** Whether the whole appliance is stopping (read when the control plane's stop signal comes). */
  wholeAppliance(): boolean {
    try {
      return statSync(this.#file).isFile();
    } catch {
      return false;
    }
  }
}
