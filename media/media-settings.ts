/**
 * What the running media process takes from the settings it follows (declared next to each
 * setting in server/settings/settings-schema.ts: `follows: ['media']`): the MCU port range,
 * the IVR port range and the RTP timeout for what starts from then on, and the video settings
 * composed pictures in progress restart with (picture size, bandwidth, polling). The layout
 * maxima and the self-view limit are read at each change of a picture and need no following.
 * media/main.ts re-configures the service when one of these values changes;
 * test/foundation/setting-followers.test.ts checks they depend on exactly the declared settings.
 */
import type { MediaNetwork } from './meetings/meeting-media.ts';
import type { VideoPolicy } from './mcu/video-policy.ts';

interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** The settings the media service's configuration is made of (the stored settings are one). */
export interface MediaRangeSettings {
  readonly 'media.mcuPorts': PortRange;
  readonly 'media.ivrPorts': PortRange;
  readonly 'call.rtpTimeoutSeconds': number;
}

export interface MediaConfiguration {
  readonly network: MediaNetwork;
  readonly ivrPorts: PortRange;
  readonly rtpTimeoutMs: number;
}

/** The media service's configuration (MediaService.configure) from the settings and the host's addresses. */
export function mediaConfigurationFrom(settings: MediaRangeSettings, host: { readonly listenIp: string; readonly address: string }): MediaConfiguration {
  return {
    network: { listenIp: host.listenIp, announcedAddress: host.address, portRange: settings['media.mcuPorts'] },
    ivrPorts: settings['media.ivrPorts'],
    rtpTimeoutMs: settings['call.rtpTimeoutSeconds'] * 1000,
  };
}

/** The part of the video policy that composed pictures in progress restart with when it changes. */
export function runningPictureSettings(policy: VideoPolicy): Pick<VideoPolicy, 'canvas' | 'kbps' | 'polling'> {
  return { canvas: policy.canvas, kbps: policy.kbps, polling: policy.polling };
}
