/**
 * The one dev run command's process (`scripts/run.sh` ends here): prepares the data directory
 * (database migrated, TLS certificate and application secret generated on first start), then runs the control plane,
 * the signaling service, the media process and the TURN service as children until Ctrl-C (SIGINT) or SIGTERM,
 * when it stops them all — the control plane first, having said that the whole appliance stops, so
 * it ends the calls with BYE (./supervisor.ts) — and exits 0.
 *
 * With an install root configured (`upgrade.installRoot`: a box installed as releases, see
 * server/upgrade/release-installer.ts) the children are started from `<root>/current/…`, as the
 * systemd units do, so that a restart runs whatever release `current` points to. The children
 * learn the supervisor's pid (VCBOX_SUPERVISOR_PID): the control plane hands maintenance jobs
 * over (`<dataDir>/maintenance/`) and sends SIGUSR2; the supervisor then does them
 * (server/maintenance/maintenance-runner.ts) — an upgrade, a restart of the services, or a
 * "reboot", which on a dev machine is a restart of the services.
 */
import path from 'node:path';
import { PROJECT_ROOT, dataPaths, loadConfig } from '../core/config.ts';
import { getLogger, initLogging } from '../core/logger.ts';
import { MaintenanceFiles } from '../maintenance/maintenance-files.ts';
import { MaintenanceRunner } from '../maintenance/maintenance-runner.ts';
import { openState } from '../process/open-state.ts';
import { StopIntent } from '../process/stop-intent.ts';
import { runService } from '../core/service-lifecycle.ts';
import { applicationSecret } from '../signaling/application-secret.ts';
import { followLocalDomain } from '../tls/box-certificate.ts';
import { InstallRoot } from '../upgrade/release-installer.ts';
import { upgradeRunnerFor } from '../upgrade/upgrade-runner.ts';
import { Supervisor } from './supervisor.ts';

await runService(
  'vcbox',
  async () => {
    const config = loadConfig(process.env);
    initLogging(config, 'web', { process: 'supervisor' });
    const { db, settings } = openState(config);
    const stored = settings.getAll();
    db.close();
    await followLocalDomain(dataPaths(config).certificates, String(stored['network.localDomain']));
    applicationSecret(dataPaths(config).secrets);

    const installRoot = config.upgrade.installRoot ? new InstallRoot(config.upgrade.installRoot) : undefined;
    const code = installRoot ? installRoot.currentLink : PROJECT_ROOT;
    const supervisor = new Supervisor(
      [
        // The control plane stops first when they all stop (it ends the calls through the signaling service).
        { name: 'control-plane', script: path.join(code, 'server/control-plane/main.ts'), stopsFirst: true },
        { name: 'signaling', script: path.join(code, 'server/signaling/main.ts') },
        { name: 'media', script: path.join(code, 'media/main.ts') },
        { name: 'turn', script: path.join(code, 'server/turn/main.ts') },
      ],
      { ...process.env, VCBOX_SUPERVISOR_PID: String(process.pid) },
      new StopIntent(dataPaths(config).applianceStopping),
    );
    const maintenance = new MaintenanceRunner({
      files: new MaintenanceFiles(dataPaths(config).maintenance),
      services: supervisor,
      upgrades: upgradeRunnerFor(config, supervisor),
      ...(installRoot ? { currentRelease: () => installRoot.current() } : {}),
    });
    await maintenance.recover();
    supervisor.start();
    const onRequest = () => void maintenance.runPending();
    process.on('SIGUSR2', onRequest);
    // A job handed over while no supervisor listened (it was restarting) is done now.
    onRequest();
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    getLogger('supervisor').info(
      {
        console: `http://${host}:${config.http.port ?? stored['web.httpPort']}/`,
        sip: { udpTcp: config.sip.port ?? stored['sip.port'], tls: config.sip.tlsPort ?? stored['sip.tlsPort'] },
        turn: stored['turn.enabled'] ? (config.turn.port ?? stored['turn.port']) : 'off',
        dataDir: config.dataDir,
        ...(installRoot ? { release: await installRoot.current() } : {}),
      },
      'vcbox running; Ctrl-C stops it',
    );
    return {
      close: () => {
        process.off('SIGUSR2', onRequest);
        return supervisor.stop();
      },
    };
  },
  // The control plane's stop (10 s at most), then the others' (10 s at most).
  30_000,
);
