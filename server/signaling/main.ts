/**
 * Entry point of the SIP signaling service process (systemd unit vcbox-signaling, or a child
 * of the dev supervisor): reads the configuration and the SIP settings, makes sure a TLS
 * certificate and the application secret exist, and starts the SIP listeners and the
 * application port.
 */
import path from 'node:path';
import { dataPaths, loadConfig } from '../config/config.ts';
import { initLogging } from '../logging/logger.ts';
import { RemoteSyslog } from '../logging/remote-syslog.ts';
import { openState } from '../process/open-state.ts';
import { runService } from '../process/service-lifecycle.ts';
import { staticNatFrom } from '../network/static-nat.ts';
import { ensureCertificate } from '../tls/self-signed-certificate.ts';
import { applicationSecret } from './application-secret.ts';
import { SignalingService } from './signaling-service.ts';

await runService('signaling service', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'sip', { process: 'signaling' });
  const { db, settings } = openState(config);
  const stored = settings.getAll();
  // The database stays open for remote syslog, which follows its settings while running.
  const syslog = new RemoteSyslog({ settings, logFile: 'sip', processName: 'signaling' }).start();
  const paths = dataPaths(config);
  const certificate = await ensureCertificate(paths.certificates);
  const service = new SignalingService({
    host: config.sip.host,
    port: config.sip.port ?? stored['sip.port'],
    tlsPort: config.sip.tlsPort ?? stored['sip.tlsPort'],
    tls: { key: certificate.key, cert: certificate.cert },
    application: { host: config.signaling.host, port: config.signaling.port, secret: applicationSecret(paths.secrets) },
    guard: { perSecond: stored['sip.floodLimitPerSecond'], blockScanners: stored['sip.blockScanners'] },
    // Terminal logs follow their setting while the service runs (the store re-reads at most every 100 ms).
    terminalLogDir: path.join(config.logDir, 'terminals'),
    terminalLogsEnabled: () => settings.get('terminalLogs.enabled'),
    nat: () => staticNatFrom(settings.getAll()),
  });
  try {
    await service.start();
  } catch (error) {
    syslog.close();
    db.close();
    throw error;
  }
  return {
    async close() {
      await service.close();
      syslog.close();
      db.close();
    },
  };
});
