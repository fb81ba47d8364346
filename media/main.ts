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
import { mediaConfigurationFrom, runningPictureSettings } from './media-settings.ts';
import { WorkerPool } from './worker-pool/worker-pool.ts';

const log = getLogger('media');

await runService('media', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'mcu', { process: 'media' });
  const { db, settings } = openState(config);
  const syslog = new RemoteSyslog({ settings, logFile: 'mcu', processName: 'media' }).start();
  setPromptOverrideDir(dataPaths(config).prompts);
  const pool = new WorkerPool({ size: config.media.workers });
  await pool.start();
  // It follows the settings declared `follows: ['media']` (./media-settings.ts: what it takes from them).
  const watcher = new SettingsWatcher(settings, { follows: 'media' });
  let configured = mediaConfigurationFrom(settings.getAll(), config.media);
  let pictures = JSON.stringify(runningPictureSettings(videoPolicyFrom(settings.getAll())));
  const service = new MediaService({
    pool,
    ...configured,
    videoPolicy: () => videoPolicyFrom(settings.getAll()),
    nat: () => staticNatFrom(settings.getAll()),
    followSettings: () => watcher.check(),
  });
  watcher.on('changed', (_keys, all) => {
    const next = mediaConfigurationFrom(all, config.media);
    if (JSON.stringify(next) !== JSON.stringify(configured)) {
      configured = next;
      service.configure(next);
      log.info({ mcuPorts: all['media.mcuPorts'], ivrPorts: all['media.ivrPorts'], rtpTimeoutSeconds: all['call.rtpTimeoutSeconds'] }, 'media settings changed: new calls use them');
    }
    const nextPictures = JSON.stringify(runningPictureSettings(videoPolicyFrom(all)));
    if (nextPictures !== pictures) {
      pictures = nextPictures;
      service.videoPolicyChanged();
    }
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
