/**
 * Entry point of the media process (systemd unit vcbox-media, or a child of the dev
 * supervisor): starts the mediasoup worker pool and the media service (meetings' routers and
 * audio mixers), and serves the media control channel the control plane drives.
 */
import { dataPaths, loadConfig } from '../server/config/config.ts';
import { initLogging } from '../server/logging/logger.ts';
import { RemoteSyslog } from '../server/logging/remote-syslog.ts';
import { openState } from '../server/process/open-state.ts';
import { runService } from '../server/process/service-lifecycle.ts';
import { MediaControlServer } from './control/media-control-server.ts';
import { setPromptOverrideDir } from './ivr/ivr-session.ts';
import { staticNatFrom } from '../server/network/static-nat.ts';
import { videoPolicyFrom } from './mcu/video-policy.ts';
import { MediaService } from './media-service.ts';
import { WorkerPool } from './worker-pool/worker-pool.ts';

await runService('media', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'mcu', { process: 'media' });
  const { db, settings } = openState(config);
  const syslog = new RemoteSyslog({ settings, logFile: 'mcu', processName: 'media' }).start();
  setPromptOverrideDir(dataPaths(config).prompts);
  const pool = new WorkerPool({ size: config.media.workers });
  await pool.start();
  const service = new MediaService({
    pool,
    network: { listenIp: config.media.listenIp, announcedAddress: config.media.address, portRange: settings.get('media.mcuPorts') },
    rtpTimeoutMs: settings.get('call.rtpTimeoutSeconds') * 1000,
    ivrPorts: settings.get('media.ivrPorts'),
    videoPolicy: () => videoPolicyFrom(settings.getAll()),
    nat: () => staticNatFrom(settings.getAll()),
  });
  const control = new MediaControlServer(service, dataPaths(config).mediaSocket);
  await control.listen();
  return {
    close() {
      control.close();
      service.close();
      pool.close();
      syslog.close();
      db.close();
    },
  };
});
