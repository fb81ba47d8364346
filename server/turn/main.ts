/**
 * Entry point of the TURN service process (systemd unit vcbox-turn, or a child of the dev
 * supervisor): reads the configuration, opens the settings and keeps the TURN relay (coturn)
 * running as they say (./turn-service.ts), with remote syslog for its log (turn/<day>.turn.log).
 */
import { dataPaths, loadConfig } from '../core/config.ts';
import { initLogging } from '../core/logger.ts';
import { RemoteSyslog } from '../logging/remote-syslog.ts';
import { openState } from '../process/open-state.ts';
import { runService } from '../core/service-lifecycle.ts';
import { TurnService } from './turn-service.ts';

await runService('turn service', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'turn', { process: 'turn' });
  const { db, settings } = openState(config);
  const syslog = new RemoteSyslog({ settings, logFile: 'turn', processName: 'turn' }).start();
  const paths = dataPaths(config);
  const turn = new TurnService({
    settings,
    process: {
      listenIp: config.media.listenIp,
      mediaAddress: config.media.address,
      ...(config.turn.port === undefined ? {} : { port: config.turn.port }),
      runDir: paths.run,
    },
  }).start();
  return {
    async close() {
      await turn.close();
      syslog.close();
      db.close();
    },
  };
});
