/**
 * Entry point of the appliance's maintenance job (systemd unit vcbox-maintenance.service, run as
 * root when vcbox-maintenance.path sees `<dataDir>/maintenance/request.json`): takes the job the
 * control plane handed over — upgrade, restart of the services, reboot — and does it with
 * systemd (./service-control.ts), then exits. Root, because it replaces the software under
 * /opt/vcbox, stops and starts vcbox.target and reboots; the control plane, which runs as the
 * vcbox user, can do none of that and only writes the request. On a dev machine the supervisor
 * runs the same jobs itself (server/supervisor/main.ts).
 *
 * Everything the vcbox user can write is hostile here (./maintenance-files.ts,
 * ./untrusted-folder.ts, server/upgrade/upgrade-runner.ts), and the job logs to the journal
 * only (stdout under systemd): never to a file in the vcbox user's log folder.
 */
import { dataPaths, loadConfig } from '../core/config.ts';
import { getLogger, initJournalLogging } from '../core/logger.ts';
import { InstallRoot } from '../upgrade/release-installer.ts';
import { upgradeRunnerFor } from '../upgrade/upgrade-runner.ts';
import { MaintenanceFiles } from './maintenance-files.ts';
import { MaintenanceRunner } from './maintenance-runner.ts';
import { SystemdControl } from './service-control.ts';

const log = getLogger('maintenance');
const config = loadConfig(process.env);
initJournalLogging(config, 'maintenance');
try {
  const services = new SystemdControl();
  const root = config.upgrade.installRoot ? new InstallRoot(config.upgrade.installRoot) : undefined;
  const runner = new MaintenanceRunner({
    files: new MaintenanceFiles(dataPaths(config).maintenance),
    services,
    upgrades: upgradeRunnerFor(config, services),
    ...(root ? { currentRelease: () => root.current() } : {}),
  });
  await runner.recover();
  const failure = await runner.runPending();
  if (failure) process.stderr.write(`vcbox maintenance: ${failure.message}\n`);
  process.exit(failure ? 1 : 0);
} catch (error) {
  log.fatal({ err: (error as Error).message }, 'maintenance job failed');
  process.stderr.write(`vcbox maintenance: ${(error as Error).message}\n`);
  process.exit(1);
}
