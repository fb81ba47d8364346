/**
 * The settings the media process follows, and what it takes from them. The control plane
 * sends them over the media control channel (`configure`, media/control/media-control-protocol.ts)
 * when it connects and whenever one of them changes — the media process never opens the
 * database. They are the settings declared `follows: ['media']` in
 * server/settings/settings-schema.ts (`MediaSettings` here names them and their types; the
 * control channel refuses a `configure` with one missing, extra or of the wrong type). From
 * them: the MCU port range, the IVR port range and the RTP timeout for what starts from then on;
 * the video policy (pictures in progress restart with its size, bandwidth and polling; the
 * layout maxima and the self-view limit apply at each change of a picture); the content policy
 * (a presentation in progress is re-encoded with its cap and bitrate); static NAT for each
 * new leg; the remote syslog collector. Until the first `configure` the media process uses the
 * settings' defaults (`DEFAULT_MEDIA_SETTINGS`; no call reaches it before the control plane,
 * which sends `configure` first thing on connecting). test/foundation/setting-followers.test.ts
 * checks that what is derived here depends on exactly the declared settings.
 */
import type { VideoCallSettings } from '../server/core/call-settings.ts';
import { type SyslogSettings, syslogTargetFrom } from '../server/core/remote-syslog-link.ts';
import { DEFAULT_LOCAL_NETWORKS, type NatSettings, type StaticNat, staticNatFrom } from '../server/core/static-nat.ts';
import type { SyslogTarget } from '../server/core/syslog-forwarder.ts';
import type { MediaNetwork } from './meetings/meeting-media.ts';
import { type VideoPolicy, videoPolicyFrom } from './mcu/video-policy.ts';
import { type ContentPolicy, contentPolicyFrom } from './meetings/content-policy.ts';

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

/** The media service's configuration (MediaService.reconfigure) from the settings and the host's addresses. */
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

/** Every setting the media process follows (as the control plane sends them in `configure`). */
export interface MediaSettings extends MediaRangeSettings, VideoCallSettings, NatSettings, SyslogSettings {}

/** The settings' defaults (server/settings/settings-schema.ts; the setting-followers test checks they agree). */
export const DEFAULT_MEDIA_SETTINGS: MediaSettings = {
  'media.mcuPorts': { min: 50000, max: 59999 },
  'media.ivrPorts': { min: 30000, max: 37999 },
  'call.rtpTimeoutSeconds': 60,
  'call.maxVideoResolution': '720P/30',
  'call.maxBandwidth': '2M',
  'call.maxContentResolution': '1080P/5',
  'call.layout.equalSplitMax': '4x4',
  'call.layout.onePlusNMax': '1+7',
  'call.polling.intervalSeconds': 10,
  'call.polling.rule': 'round-robin',
  'call.selfViewExclusionMax': 0,
  'nat.enabled': false,
  'nat.publicIp': '',
  'nat.localNetworks': DEFAULT_LOCAL_NETWORKS,
  'syslog.enabled': false,
  'syslog.host': '',
  'syslog.port': 514,
  'syslog.protocol': 'udp',
  'tls.trustedCertificates': '',
};

/** Everything the media process derives from its settings. */
export interface MediaFollowing {
  readonly configuration: MediaConfiguration;
  readonly videoPolicy: VideoPolicy;
  /** What content lines receive at most (max content resolution, the call's bandwidth beside the video). */
  readonly contentPolicy: ContentPolicy;
  readonly nat: StaticNat | undefined;
  readonly syslog: SyslogTarget | undefined;
}

export function mediaFollowingFrom(settings: MediaSettings, host: { readonly listenIp: string; readonly address: string }): MediaFollowing {
  return {
    configuration: mediaConfigurationFrom(settings, host),
    videoPolicy: videoPolicyFrom(settings),
    contentPolicy: contentPolicyFrom(settings),
    nat: staticNatFrom(settings),
    syslog: syslogTargetFrom(settings),
  };
}
