/**
 * Entry point of the media process (systemd unit vcbox-media, or a child of the dev
 * supervisor): starts the mediasoup worker pool and the media service (meetings' routers and
 * audio mixers), and serves the media control channel the control plane drives. It follows
 * its settings while it runs (within half a second of a change): the MCU and IVR port ranges
 * and the RTP timeout for what starts from then on, the video settings (max resolution,
 * bandwidth, polling) for composed pictures in progress too.
 */
import { dataPaths, loadConfig } from '../server/core/config.ts';
import { getLogger, initLogging } from '../server/core/logger.ts';
import { RemoteSyslog } from '../server/logging/remote-syslog.ts';
import { openState } from '../server/process/open-state.ts';
import { runService } from '../server/core/service-lifecycle.ts';
import { SettingsWatcher } from '../server/settings/settings-watcher.ts';
import { MediaControlServer } from './control/media-control-server.ts';
import { setPromptOverrideDir } from './ivr/ivr-session.ts';
import { staticNatFrom } from '../server/core/static-nat.ts';
import { videoPolicyFrom } from './mcu/video-policy.ts';
import { MediaService } from './media-service.ts';
import { WorkerPool } from './worker-pool/worker-pool.ts';

const log = getLogger('media');

/** Settings the composed pictures in progress follow. */
const VIDEO_POLICY = /^call\.(maxVideoResolution|maxBandwidth|polling\.)/;

await runService('media', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'mcu', { process: 'media' });
  const { db, settings } = openState(config);
  const syslog = new RemoteSyslog({ settings, logFile: 'mcu', processName: 'media' }).start();
  setPromptOverrideDir(dataPaths(config).prompts);
  const pool = new WorkerPool({ size: config.media.workers });
  await pool.start();
  const network = (portRange: { min: number; max: number }) => ({ listenIp: config.media.listenIp, announcedAddress: config.media.address, portRange });
  const watcher = new SettingsWatcher(settings);
  const service = new MediaService({
    pool,
    network: network(settings.get('media.mcuPorts')),
    rtpTimeoutMs: settings.get('call.rtpTimeoutSeconds') * 1000,
    ivrPorts: settings.get('media.ivrPorts'),
    videoPolicy: () => videoPolicyFrom(settings.getAll()),
    nat: () => staticNatFrom(settings.getAll()),
    followSettings: () => watcher.check(),
  });
  watcher.on('changed', (keys, all) => {
    if (keys.some((key) => key === 'media.mcuPorts' || key === 'media.ivrPorts' || key === 'call.rtpTimeoutSeconds')) {
      service.configure({ network: network(all['media.mcuPorts']), ivrPorts: all['media.ivrPorts'], rtpTimeoutMs: all['call.rtpTimeoutSeconds'] * 1000 });
      log.info({ mcuPorts: all['media.mcuPorts'], ivrPorts: all['media.ivrPorts'], rtpTimeoutSeconds: all['call.rtpTimeoutSeconds'] }, 'media settings changed: new calls use them');
    }
    if (keys.some((key) => VIDEO_POLICY.test(key))) service.videoPolicyChanged();
  });
  watcher.start();
  const control = new MediaControlServer(service, dataPaths(config).mediaSocket);
  await control.listen();
  return {
    close() {
      watcher.close();
      control.close();
      service.close();
      pool.close();
      syslog.close();
      db.close();
    },
  };
});
