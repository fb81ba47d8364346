/**
 * Entry point of the media process (systemd unit vcbox-media, or a child of the dev
 * supervisor): starts the mediasoup worker pool and the media service (meetings' routers and
 * audio mixers), and serves the media control channel the control plane drives. It never opens
 * the database: the settings it follows come over the control channel (`configure`, sent by
 * the control plane when it connects — again after each of its restarts — and when one of them
 * changes; ./media-settings.ts: which settings, and what is taken from them). Until the first
 * `configure`, the settings' defaults. A change applies on arrival: the MCU and IVR port ranges
 * and the RTP timeout for what starts from then on, the video settings (max resolution,
 * bandwidth, polling) for composed pictures in progress too, the content cap for presentations
 * in progress, static NAT for new legs, the
 * remote syslog collector at once.
 */
import { dataPaths, loadConfig } from '../server/core/config.ts';
import { getLogger, initLogging } from '../server/core/logger.ts';
import { RemoteSyslogLink } from '../server/core/remote-syslog-link.ts';
import { runService } from '../server/core/service-lifecycle.ts';
import { MediaControlServer } from './control/media-control-server.ts';
import { setPromptOverrideDir } from './ivr/ivr-session.ts';
import { MediaService } from './media-service.ts';
import { DEFAULT_MEDIA_SETTINGS, type MediaSettings, mediaFollowingFrom, runningPictureSettings } from './media-settings.ts';
import { WorkerPool } from './worker-pool/worker-pool.ts';

const log = getLogger('media');

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

await runService('media', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'mcu', { process: 'media' });
  const syslog = new RemoteSyslogLink({ logFile: 'mcu', processName: 'media' }).start();
  setPromptOverrideDir(dataPaths(config).prompts);
  const pool = new WorkerPool({ size: config.media.workers });
  await pool.start();
  let settings: MediaSettings = DEFAULT_MEDIA_SETTINGS;
  let following = mediaFollowingFrom(settings, config.media);
  const follow = (next: MediaSettings): void => {
    const changed = (Object.keys(next) as (keyof MediaSettings)[]).filter((key) => !same(next[key], settings[key]));
    const was = following;
    settings = next;
    following = mediaFollowingFrom(next, config.media);
    if (changed.length > 0) log.info({ changed }, 'settings from the control plane');
    if (!same(following.configuration, was.configuration)) {
      service.reconfigure(following.configuration);
      log.info({ mcuPorts: next['media.mcuPorts'], ivrPorts: next['media.ivrPorts'], rtpTimeoutSeconds: next['call.rtpTimeoutSeconds'] }, 'media settings changed: new calls use them');
    }
    if (!same(runningPictureSettings(following.videoPolicy), runningPictureSettings(was.videoPolicy))) service.videoPolicyChanged();
    if (!same(following.contentPolicy, was.contentPolicy)) service.contentPolicyChanged();
    syslog.setTarget(following.syslog);
  };
  const service = new MediaService({
    pool,
    ...following.configuration,
    videoPolicy: () => following.videoPolicy,
    contentPolicy: () => following.contentPolicy,
    nat: () => following.nat,
    followSettings: follow,
  });
  const control = new MediaControlServer(service, dataPaths(config).mediaSocket);
  await control.listen();
  return {
    close() {
      control.close();
      service.close();
      pool.close();
      syslog.close();
    },
  };
});
