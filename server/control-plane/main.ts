/**
 * Entry point of the control plane process (systemd unit vcbox-control, or a child of the dev
 * supervisor): opens the database (migrating it), serves the API and the console — over HTTP,
 * and HTTPS when it is on, on the ports the settings name, moved live when they change
 * (./web-listeners.ts) — and runs the SIP application, which connects to the signaling
 * service's application port (retrying until the signaling service is up).
 *
 * Its orderly stop (SIGTERM) ends the calls only when the whole appliance stops; when it stops
 * alone (a restart of this process) it leaves the meeting calls to its successor, as a kill -9
 * would (../process/stop-intent.ts says why the stopper tells the two apart, and how).
 */
import type { EventEmitter } from 'node:events';
import type { MediaServiceEvents } from '../../media/media-service.ts';
import { AdminStore } from '../admin/admin-store.ts';
import { BackupRestorer } from '../backup/backup-restore.ts';
import { BackupScheduler } from '../backup/backup-scheduler.ts';
import { BackupStore } from '../backup/backup-store.ts';
import { dataPaths, loadConfig } from '../core/config.ts';
import { DiskKeeper } from '../disk/disk-keeper.ts';
import { DiskParts } from '../disk/disk-parts.ts';
import { FirmwareRollout } from '../firmware/firmware-rollout.ts';
import { FirmwareStore } from '../firmware/firmware-store.ts';
import { LicenseWarning } from '../license/license-warning.ts';
import { openMaintenance } from '../maintenance/open-maintenance.ts';
import { openLicense } from '../license/open-license.ts';
import { getLogger, initLogging } from '../core/logger.ts';
import { Mailer } from '../mail/mailer.ts';
import { RemoteSyslog } from '../logging/remote-syslog.ts';
import { openState } from '../process/open-state.ts';
import { StopIntent } from '../process/stop-intent.ts';
import { runService } from '../core/service-lifecycle.ts';
import { applicationSecret } from '../signaling/application-secret.ts';
import { MediaClient } from '../media-client/media-client.ts';
import { MediaSettingsFeed } from '../media-client/media-settings-feed.ts';
import { ServiceHealth } from '../observability/service-health.ts';
import { turnAccessFrom } from '../turn/turn-config.ts';
import { TurnGuestKeys, turnUserDb } from '../turn/turn-guest-keys.ts';
import { SystemSampler } from '../observability/system-sampler.ts';
import { follows } from '../settings/settings-schema.ts';
import { SipApplication } from '../sip-app/sip-application.ts';
import { SystemConfigurator } from '../system/system-configurator.ts';
import { SignalingControlClient } from '../signaling/signaling-control.ts';
import { buildApp } from './app.ts';
import { WebListeners } from './web-listeners.ts';

const log = getLogger('control-plane');
/** The end reason of a call record a killed or crashed control plane left open. */
const LEFT_OPEN_REASON = 'the control plane restarted (killed or crashed) and did not see the call end; ended when it came back';

await runService('control plane', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'web', { process: 'control-plane' });
  const state = openState(config);
  // The control plane also sends the operation log (the audit log of every process).
  const syslog = new RemoteSyslog({ settings: state.settings, logFile: 'web', processName: 'control-plane', auditDb: state.db }).start();
  await new AdminStore(state.db).ensureInitialAdmin(dataPaths(config).secrets);
  const paths = dataPaths(config);
  const backupStore = new BackupStore(state.db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
  const restorer = new BackupRestorer({ db: state.db, settings: state.settings, store: backupStore, maxUploadBytes: config.backup.maxUploadBytes });
  // Before anything serves: undo a restore a crash interrupted, sweep staging leftovers.
  await restorer.recover();
  const scheduler = new BackupScheduler(state.settings, backupStore).start();
  // The upgrade's health check asks this process's HTTP listener (made below) on its live port.
  let httpPort = (): number | null | undefined => undefined;
  const maintenance = openMaintenance({ config, db: state.db, settings: state.settings, admins: new AdminStore(state.db), backups: backupStore, httpPort: () => httpPort() });
  await maintenance.recover();
  const license = openLicense({ db: state.db, identityDir: config.license.identityDir, testPublicKeyFile: config.license.testPublicKeyFile });
  const licenseWarning = new LicenseWarning({ db: state.db, store: license.store, admins: new AdminStore(state.db), mailer: new Mailer(state.settings) }).start();
  // Calls a killed or crashed predecessor was in: the SIP application takes over those whose
  // media leg and dialog are still up (server/sip-app/meetings/call-takeover.ts) once it
  // connects; the records of the rest are ended then, saying so, not left open.
  const signalingControl = new SignalingControlClient(paths.signalingSocket);
  const media = new MediaClient(dataPaths(config).mediaSocket);
  // The media process reads no database: it is sent its settings at each connection and change.
  const mediaSettings = new MediaSettingsFeed(media, state.settings).start();
  void media.start();
  // BFCP over TLS presents the box's certificate and follows its file, as SIP over TLS does.
  const sip = new SipApplication({
    media,
    bfcp: { host: config.bfcp.host, tcpPort: config.bfcp.port, udpPort: config.bfcp.port, tlsPort: config.bfcp.tlsPort, certificates: paths.certificates },
    signaling: { host: config.signaling.host, port: config.signaling.port, secret: applicationSecret(dataPaths(config).secrets) },
    db: state.db,
    settings: state.settings,
    license: license.policy,
    signalingControl,
    registrarFeed: signalingControl,
    leftOpenReason: LEFT_OPEN_REASON,
  });
  // Terminal firmware: leftovers of an upload a crash interrupted go first.
  const firmwareStore = new FirmwareStore(state.db, { dir: paths.firmware, settings: state.settings, maxUploadBytes: config.firmware.maxUploadBytes });
  firmwareStore.sweep();
  const rollout = new FirmwareRollout({ db: state.db, store: firmwareStore, location: sip.location, checkSync: (binding) => sip.checkSync(binding) });
  // Quotas (oldest files overwritten) and the 80 % alert mail, checked every minute.
  const diskParts = new DiskParts({ dataDir: config.dataDir, logDir: config.logDir, backups: backupStore, firmware: firmwareStore });
  const diskKeeper = new DiskKeeper({ db: state.db, settings: state.settings, parts: diskParts, admins: new AdminStore(state.db), mailer: new Mailer(state.settings) }).start();
  // The dashboard's system figures: one sample every 10 s, the last 24 hours kept in memory.
  const sampler = new SystemSampler({ dataDir: config.dataDir }).start();
  // The TURN relay runs in its own process (server/turn/main.ts); this one hands browsers its
  // credentials and asks it for STUN on the dashboard.
  // Each browser's credentials go into the relay's user database and out when it leaves.
  const turnKeys = new TurnGuestKeys(turnUserDb(paths.run));
  const turn = () => turnAccessFrom(state.settings.getAll(), turnKeys, config.turn.port);
  const turnProbeHost = config.media.listenIp === '0.0.0.0' ? '127.0.0.1' : config.media.listenIp;
  const turnProbe = () => {
    const access = turn();
    return access ? { host: turnProbeHost, port: access.port } : undefined;
  };
  const health = new ServiceHealth({ signaling: () => sip.connectedSince, media, turn: turnProbe });
  const web = new WebListeners({
    host: config.http.host,
    ...(config.http.port === undefined ? {} : { pinnedHttpPort: config.http.port, pinnedBy: 'VCBOX_HTTP_PORT (http.port in the configuration file)' }),
    certificates: paths.certificates,
  });
  httpPort = () => web.state().http.port;
  const app = await buildApp({
    web,
    signaling: signalingControl,
    certificates: paths.certificates,
    state,
    sampler,
    health,
    live: sip.live,
    media: media.media,
    // The client re-emits the media service's events (plus its own connect/disconnect).
    mediaEvents: media as unknown as EventEmitter<MediaServiceEvents>,
    sessions: sip.sessions,
    turn,
    turnProbe,
    dialOut: (number, account) => sip.dialOut(number, account),
    floors: () => sip.floors,
    promptDir: dataPaths(config).prompts,
    backups: { store: backupStore, restorer, scheduler },
    maintenance,
    firmware: { store: firmwareStore, rollout, lockout: sip.lockout },
    disk: { parts: diskParts, keeper: diskKeeper },
    license,
    syslog,
    system: new SystemConfigurator({ root: config.system.root, appliance: config.system.appliance }),
    online: () => sip.location.online(),
    reachability: (account, contact) => sip.qualifier.status(account, contact),
    devices: (account) => {
      const binding = sip.location.lookup(account).at(-1);
      return binding ? { model: binding.model, version: binding.version } : undefined;
    },
  });
  try {
    await app.ready();
    web.attach(app);
    await web.apply(state.settings.getAll());
  } catch (error) {
    sampler.close();
    maintenance.close();
    licenseWarning.close();
    diskKeeper.close();
    scheduler.close();
    rollout.close();
    await sip.close();
    mediaSettings.close();
    media.close();
    await web.close();
    syslog.close();
    turnKeys.close();
    state.db.close();
    throw error;
  }
  // Changes the settings API does not make itself (a restore, the setup wizard) move the listeners too.
  state.settings.observer.on('changed', (keys) => {
    if (keys.some((key) => key.startsWith('web.') && follows('control-plane', key))) void web.apply(state.settings.getAll()).catch((error: Error) => log.error({ err: error.message }, 'could not apply the web settings'));
  });
  sip.start(60_000).catch((error: Error) => log.error({ err: error.message }, 'SIP application not connected yet; still retrying'));
  const intent = new StopIntent(paths.applianceStopping);
  return {
    async close() {
      // Read now, when the stop comes: the stopper of the whole appliance said so before it.
      const handOver = !intent.wholeAppliance();
      log.info(
        { handOver },
        handOver
          ? 'the control plane alone stops: its meeting calls are left to the next control plane'
          : 'the whole appliance stops: every call is ended (BYE)',
      );
      sampler.close();
      maintenance.close();
      licenseWarning.close();
      diskKeeper.close();
      scheduler.close();
      rollout.close();
      await sip.close({ handOver });
      mediaSettings.close();
      media.close();
      // The app first: it closes the WebSockets, which the listeners do not track.
      await app.close();
      await web.close();
      syslog.close();
      turnKeys.close();
      signalingControl.close();
      state.db.close();
    },
  };
});
