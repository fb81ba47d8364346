/**
 * Opening the box's maintenance the same way in the control plane and in tests: system upgrade
 * (server/upgrade/system-upgrade.ts), factory reset (./factory-reset.ts) and the hand-over of
 * jobs that restart the services (./maintenance-dispatch.ts), wired from the process
 * configuration: the install root and release keys, who restarts the services, the data
 * folders a full reset empties.
 */
import type { AdminStore } from '../admin/admin-store.ts';
import type { BackupStore } from '../backup/backup-store.ts';
import { type Config, dataPaths } from '../core/config.ts';
import type { Db } from '../db/database.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { InstallRoot } from '../upgrade/release-installer.ts';
import { trustedReleaseKeys } from '../upgrade/release-keys.ts';
import { SystemUpgrade } from '../upgrade/system-upgrade.ts';
import { healthUrl, upgradeRunnerFor } from '../upgrade/upgrade-runner.ts';
import { BUILD_INFO } from '../core/version.ts';
import { FactoryReset } from './factory-reset.ts';
import { MaintenanceDispatch, serviceManagerOf } from './maintenance-dispatch.ts';
import { MaintenanceFiles } from './maintenance-files.ts';
import { markInterrupted } from './maintenance-runner.ts';

export interface Maintenance {
  readonly upgrade: SystemUpgrade;
  readonly reset: FactoryReset;
  readonly dispatch: MaintenanceDispatch;
  /** Call once before serving: an upgrade this process was running when it stopped is marked failed. */
  recover(): Promise<void>;
  close(): void;
}

/**
 * @param options.httpPort the port this control plane's HTTP listener has now (its health check
 *   for the upgrade runner); default the configuration's or the stored setting's
 */
export function openMaintenance(options: { config: Config; db: Db; settings: SettingsStore; admins: AdminStore; backups?: BackupStore; httpPort?: () => number | null | undefined }): Maintenance {
  const { config, db } = options;
  const paths = dataPaths(config);
  const files = new MaintenanceFiles(paths.maintenance);
  const manager = serviceManagerOf(config);
  const installRoot = config.upgrade.installRoot ? new InstallRoot(config.upgrade.installRoot) : undefined;
  // Where nothing restarts the services, this process installs an upgrade itself (no restart).
  const here = manager.kind === 'none' ? upgradeRunnerFor(config, undefined) : undefined;
  const dispatch = new MaintenanceDispatch({ files, manager, ...(here ? { runHere: (request) => here.run(request) } : {}) });
  const upgrade = new SystemUpgrade({
    db,
    files,
    installRoot,
    keys: trustedReleaseKeys({ testPublicKeyFile: config.upgrade.testPublicKeyFile }),
    maxUploadBytes: config.upgrade.maxUploadBytes,
    dispatch,
    running: { version: BUILD_INFO.version, build: BUILD_INFO.build, buildTime: BUILD_INFO.buildTime, commit: BUILD_INFO.commit },
    healthUrl: () => healthUrl(config, options.httpPort?.() ?? config.http.port ?? options.settings.get('web.httpPort')),
  }).start();
  const reset = new FactoryReset({
    db,
    settings: options.settings,
    admins: options.admins,
    backups: options.backups,
    paths: { logDir: config.logDir, secrets: paths.secrets, certificates: paths.certificates, dataFolders: [paths.backups, paths.prompts, paths.firmware] },
  });
  return {
    upgrade,
    reset,
    dispatch,
    async recover() {
      if (!here) return;
      await markInterrupted(files, installRoot ? () => installRoot.current() : undefined);
    },
    close: () => upgrade.close(),
  };
}
