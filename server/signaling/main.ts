/**
 * Entry point of the SIP signaling service process (systemd unit vcbox-signaling, or a child
 * of the dev supervisor): reads the configuration and the SIP settings, makes sure a TLS
 * certificate and the application secret exist, and starts the SIP listeners and the
 * application port. While it runs it follows its settings (ports, flood limit, scanner
 * blocking, terminal logs; read within half a second of a change, or at once when the control
 * plane asks over the control channel) and the certificate file (an imported certificate is
 * used for TLS handshakes from then on). A port in the process configuration
 * (VCBOX_SIP_PORT / VCBOX_SIP_TLS_PORT, sip.port / sip.tlsPort in the JSON file) overrides
 * the stored setting for this run; the control channel says so.
 */
import path from 'node:path';
import { dataPaths, loadConfig } from '../core/config.ts';
import { getLogger, initLogging } from '../core/logger.ts';
import { RemoteSyslog } from '../logging/remote-syslog.ts';
import { followStaticNat } from '../core/static-nat.ts';
import { openState } from '../process/open-state.ts';
import { runService } from '../core/service-lifecycle.ts';
import type { Settings } from '../settings/settings-schema.ts';
import { SettingsWatcher } from '../settings/settings-watcher.ts';
import { certificateStamp, ensureCertificate } from '../tls/self-signed-certificate.ts';
import { applicationSecret } from './application-secret.ts';
import { AccountStore } from '../accounts/account-store.ts';
import { type DigestAlgorithm, nonceKey } from '../sip-app/registrar/digest-auth.ts';
import { FastRegistrar } from './registrar/fast-registrar.ts';
import { RegistrarCache, type RegistrarFeed } from './registrar/registrar-cache.ts';
import { type PinnedPorts, SignalingControlServer, type SignalingStatus } from './signaling-control.ts';
import { signalingSettingsFrom } from './signaling-settings.ts';
import { type ListenerFailure, type SignalingReconfiguration, SignalingService } from './signaling-service.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('signaling');

await runService('signaling service', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'sip', { process: 'signaling' });
  const { db, settings } = openState(config);
  // It follows the settings declared `follows: ['signaling']` (the rest it reads per message, or not at all).
  const watcher = new SettingsWatcher(settings, { follows: 'signaling' });
  // The database stays open for remote syslog and the settings watcher, which follow the settings.
  const syslog = new RemoteSyslog({ settings, logFile: 'sip', processName: 'signaling' }).start();
  const paths = dataPaths(config);
  const certificate = await ensureCertificate(paths.certificates);
  const pinned: PinnedPorts = {
    ...(config.sip.port === undefined ? {} : { port: 'VCBOX_SIP_PORT (sip.port in the configuration file)' }),
    ...(config.sip.tlsPort === undefined ? {} : { tlsPort: 'VCBOX_SIP_TLS_PORT (sip.tlsPort in the configuration file)' }),
  };
  const wanted = (all: Settings): SignalingReconfiguration => signalingSettingsFrom(all, config.sip);
  const first = wanted(watcher.current);
  const secret = applicationSecret(paths.secrets);
  // The registrar's hot path (./registrar/fast-registrar.ts): fed by the SIP application over the
  // control channel; the HA1 values read from the database at each REGISTER. Off with
  // VCBOX_SIP_FAST_REGISTRAR=off (every REGISTER then goes to the application, as a C++
  // drachtio-server would do), or =challenge (only the 401s answered here).
  const accounts = new AccountStore(db);
  const fastRegistrar =
    process.env.VCBOX_SIP_FAST_REGISTRAR === 'off'
      ? undefined
      : new FastRegistrar({ cache: new RegistrarCache(), nonceKey: nonceKey(secret),
          realm: () => settings.get('network.localDomain'),
          algorithms: () => settings.get('sip.digestAlgorithms').split(',') as DigestAlgorithm[],
          credentials: (account, realm) => accounts.ha1(account, realm),
          refreshes: process.env.VCBOX_SIP_FAST_REGISTRAR !== 'challenge',
        });
  const service = new SignalingService({
    host: config.sip.host,
    port: first.port,
    tlsPort: first.tlsPort,
    tls: { key: certificate.key, cert: certificate.cert },
    application: { host: config.signaling.host, port: config.signaling.port, secret },
    ...(fastRegistrar ? { fastRegistrar } : {}),
    guard: first.guard,
    // Terminal logs follow their setting at every REGISTER/SUBSCRIBE (the store re-reads at most every 100 ms).
    terminalLogDir: path.join(config.logDir, 'terminals'),
    terminalLogsEnabled: () => settings.get('terminalLogs.enabled'),
    // Read at every relayed response: three plain values from the cached settings (getAll() copies them all).
    nat: followStaticNat(() => ({
      'nat.enabled': settings.get('nat.enabled'),
      'nat.publicIp': settings.get('nat.publicIp'),
      'nat.localNetworks': settings.get('nat.localNetworks'),
    })),
    overloadLimit: config.sip.overload.inFlight,
    overloadQueueDelayMs: config.sip.overload.queueDelayMs,
    overloadLoopLagMs: config.sip.overload.loopLagMs,
    // A restart finds its calls again (kept as orphans until the SIP application takes them over).
    dialogSnapshotFile: path.join(paths.run, 'signaling-dialogs.json'),
  });
  try {
    await service.start();
  } catch (error) {
    watcher.close();
    syslog.close();
    db.close();
    throw error;
  }

  // The certificate file's identity (server/tls): an import or a restore replaces the file.
  const certStamp = () => certificateStamp(paths.certificates);
  let certificateSeen = certStamp();
  let failures: ListenerFailure[] = [];
  let applying: Promise<unknown> = Promise.resolve();
  const startedAt = monotonicMs();
  const status = (): SignalingStatus => {
    const all = watcher.current;
    return {
      pid: process.pid,
      uptimeSeconds: Math.round((monotonicMs() - startedAt) / 1000),
      listeners: service.listeners(),
      ports: service.ports,
      stored: { port: all['sip.port'], tlsPort: all['sip.tlsPort'] },
      pinned,
      failures,
      drainingPorts: service.drainingPorts,
      stats: service.stats(),
    };
  };
  // One apply at a time, in order: the watcher and the control channel may ask together.
  const apply = (): Promise<SignalingStatus> => {
    const next = applying.then(async () => {
      watcher.check();
      const stamp = certStamp();
      let tls: SignalingReconfiguration['tls'];
      if (stamp !== certificateSeen) {
        certificateSeen = stamp;
        const fresh = await ensureCertificate(paths.certificates);
        tls = { key: fresh.key, cert: fresh.cert };
        log.info('TLS certificate changed: new handshakes use it');
      }
      failures = await service.reconfigure({ ...wanted(watcher.current), ...(tls ? { tls } : {}) });
      return status();
    });
    applying = next.catch((error: unknown) => log.error({ err: error }, 'could not apply the settings'));
    return next;
  };
  watcher.on('changed', () => void apply().catch(() => {}));
  watcher.start();
  // Restores and imports replace the certificate file; look at it now and then.
  const certificateTimer = setInterval(() => {
    if (certStamp() !== certificateSeen) void apply().catch(() => {});
  }, 2000);
  certificateTimer.unref();
  const control = new SignalingControlServer(
    { status, apply, orphans: () => service.orphans(), adopt: (ids) => service.adopt(ids), release: (id, reason) => service.release(id, reason),
      ...(fastRegistrar ? { registrar: (feed: RegistrarFeed) => fastRegistrar.cache.feed(feed) } : {}),
    },
    paths.signalingSocket,
  );
  try {
    await control.listen();
  } catch (error) {
    log.error({ err: error }, 'signaling control channel could not listen; the service runs without it');
  }
  return {
    async close() {
      clearInterval(certificateTimer);
      control.close();
      watcher.close();
      await service.close();
      syslog.close();
      db.close();
    },
  };
});
