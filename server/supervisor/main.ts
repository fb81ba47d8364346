/**
 * The one dev run command's process (`scripts/run.sh` ends here): prepares the data directory
 * (database migrated, TLS certificate and application secret generated on first start), then runs the control plane,
 * the signaling service, the media process and the TURN service as children until Ctrl-C (SIGINT) or SIGTERM,
 * when it stops them all and exits 0.
 */
import path from 'node:path';
import { PROJECT_ROOT, dataPaths, loadConfig } from '../config/config.ts';
import { getLogger, initLogging } from '../logging/logger.ts';
import { openState } from '../process/open-state.ts';
import { runService } from '../process/service-lifecycle.ts';
import { applicationSecret } from '../signaling/application-secret.ts';
import { ensureCertificate } from '../tls/self-signed-certificate.ts';
import { Supervisor } from './supervisor.ts';

await runService(
  'vcbox',
  async () => {
    const config = loadConfig(process.env);
    initLogging(config, 'web', { process: 'supervisor' });
    const { db, settings } = openState(config);
    const stored = settings.getAll();
    db.close();
    await ensureCertificate(dataPaths(config).certificates);
    applicationSecret(dataPaths(config).secrets);

    const supervisor = new Supervisor(
      [
        { name: 'control-plane', script: path.join(PROJECT_ROOT, 'server/control-plane/main.ts') },
        { name: 'signaling', script: path.join(PROJECT_ROOT, 'server/signaling/main.ts') },
        { name: 'media', script: path.join(PROJECT_ROOT, 'media/main.ts') },
        { name: 'turn', script: path.join(PROJECT_ROOT, 'server/turn/main.ts') },
      ],
      process.env,
    );
    supervisor.start();
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    getLogger('supervisor').info(
      {
        console: `http://${host}:${config.http.port}/`,
        sip: { udpTcp: config.sip.port ?? stored['sip.port'], tls: config.sip.tlsPort ?? stored['sip.tlsPort'] },
        turn: stored['turn.enabled'] ? (config.turn.port ?? stored['turn.port']) : 'off',
        dataDir: config.dataDir,
      },
      'vcbox running; Ctrl-C stops it',
    );
    return { close: () => supervisor.stop() };
  },
  20_000,
);
