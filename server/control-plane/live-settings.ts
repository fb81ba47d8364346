/**
 * A settings change as the running services take it, for the answer of PATCH /settings: the
 * web listeners (this process) and the signaling service (asked over its control channel to
 * apply at once) move their ports, and the answer says what happened in words — where they
 * listen now; a port the process configuration fixes for this run (the stored value waits for
 * a run without it); a port that could not be bound, in which case the stored value is put
 * back to what is in force, so the settings never claim a port nothing listens on. The media
 * process is sent the settings it follows at once too (`configure`: port ranges for new
 * calls, the video settings for pictures in progress, static NAT, remote syslog), so the answer
 * can say they are in force. Which process is asked follows from the declaration next to each
 * setting (`follows` in settings-schema.ts).
 */
import type { MediaControl } from '../../media/control/media-control-protocol.ts';
import { mediaSettingsFrom } from '../media-client/media-settings-feed.ts';
import { follows, type SettingKey, type Settings } from '../settings/settings-schema.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import type { SignalingControlClient, SignalingStatus } from '../signaling/signaling-control.ts';
import type { ListenerFailure } from '../signaling/signaling-service.ts';
import type { WebListenerState, WebListeners } from './web-listeners.ts';

export interface LiveTargets {
  readonly web?: WebListeners;
  readonly signaling?: Pick<SignalingControlClient, 'apply'>;
  readonly media?: Pick<MediaControl, 'configure'>;
}

export interface LiveOutcome {
  readonly signaling?:
    | { readonly state: 'applied'; readonly listeners: string[]; readonly drainingPorts: number[]; readonly pinned: SignalingStatus['pinned']; readonly failures: ListenerFailure[] }
    | { readonly state: 'unreachable'; readonly reason: string };
  readonly web?: WebListenerState;
  readonly media?: { readonly state: 'applied' } | { readonly state: 'unreachable'; readonly reason: string };
  /** Keys put back to the value in force because it could not be applied. */
  readonly reverted: SettingKey[];
  /** What happened, in English sentences (the console words it from the fields above). */
  readonly messages: string[];
  /** Keys whose refusal belongs by their field, with the reason. */
  readonly problems: { readonly key: SettingKey; readonly reason: string }[];
}

/** Of the settings the media process follows, those calls starting from now on take (port ranges, RTP timeout). */
const isNewCallSetting = (key: SettingKey): boolean => key.startsWith('media.') || key === 'call.rtpTimeoutSeconds';
/** …and those composed pictures in progress restart with (media/media-settings.ts runningPictureSettings). */
const isPictureSetting = (key: SettingKey): boolean => key === 'call.maxVideoResolution' || key === 'call.maxBandwidth' || key.startsWith('call.polling.');
/** …and those a presentation in progress is re-encoded with (media/meetings/content-policy.ts). */
const isContentSetting = (key: SettingKey): boolean => key === 'call.maxContentResolution' || key === 'call.maxBandwidth';

export async function applyLive(changed: readonly SettingKey[], store: SettingsStore, targets: LiveTargets, author: { actor: string; source?: string }): Promise<LiveOutcome> {
  const messages: string[] = [];
  const problems: { key: SettingKey; reason: string }[] = [];
  const revert: Partial<Record<SettingKey, unknown>> = {};
  let signaling: LiveOutcome['signaling'];
  let web: WebListenerState | undefined;
  let media: LiveOutcome['media'];
  const settings: Settings = store.getAll();

  // Who is asked is who follows the setting, as settings-schema.ts declares it.
  const mediaKeys = changed.filter((key) => follows('media', key));
  const ranges = mediaKeys.some(isNewCallSetting);
  const video = mediaKeys.some(isPictureSetting);
  const content = mediaKeys.some(isContentSetting);
  if (targets.media && mediaKeys.length > 0) {
    try {
      await targets.media.configure(mediaSettingsFrom(settings));
      media = { state: 'applied' };
      if (ranges) messages.push('The media service uses them for calls from now on; calls in progress keep their ports.');
      if (video) messages.push('Composed pictures in progress follow the new video settings now.');
      if (content) messages.push('A presentation in progress follows the new content settings now.');
    } catch (error) {
      media = { state: 'unreachable', reason: (error as Error).message };
      messages.push('The media service did not answer: the control plane sends it the stored media settings as soon as it is back.');
    }
  }

  if (targets.signaling && changed.some((key) => follows('signaling', key))) {
    try {
      const status = await targets.signaling.apply();
      signaling = { state: 'applied', listeners: status.listeners, drainingPorts: status.drainingPorts, pinned: status.pinned, failures: status.failures };
      const portsChanged = changed.includes('sip.port') || changed.includes('sip.tlsPort');
      for (const failure of status.failures) {
        const key: SettingKey = failure.transport === 'tls' ? 'sip.tlsPort' : 'sip.port';
        const inForce = failure.transport === 'tls' ? status.ports.tlsPort : status.ports.port;
        revert[key] = inForce;
        const reason = `SIP ${failure.transport.toUpperCase()} could not move to port ${failure.port} (${failure.reason}); it stays on ${inForce} and the setting is back to ${inForce}`;
        problems.push({ key, reason });
        messages.push(`${reason}.`);
      }
      for (const [key, name] of [['port', 'sip.port'], ['tlsPort', 'sip.tlsPort']] as const) {
        const by = status.pinned[key];
        if (by && changed.includes(name)) messages.push(`The ${name === 'sip.port' ? 'UDP/TCP' : 'TLS'} port stays ${status.ports[key]} for this run: ${by} fixes it; the stored ${settings[name]} applies when the signaling service runs without that.`);
      }
      if (portsChanged && status.failures.length === 0) {
        messages.push(
          `SIP listens on ${status.listeners.join(', ')} now; registered terminals stay registered${status.drainingPorts.length > 0 ? `, and calls in progress on the former UDP port ${status.drainingPorts.join(', ')} finish there` : ''}.`,
        );
      }
    } catch (error) {
      signaling = { state: 'unreachable', reason: (error as Error).message };
      messages.push('The signaling service did not answer: it applies the stored SIP settings within a second when running, or when it starts.');
    }
  }

  if (targets.web && changed.some((key) => key.startsWith('web.') && follows('control-plane', key))) {
    web = await targets.web.apply(settings);
    if (web.http.error) {
      revert['web.httpPort'] = web.http.port;
      problems.push({ key: 'web.httpPort', reason: `the console could not listen on HTTP port ${settings['web.httpPort']} (${web.http.error}); it stays on ${web.http.port}` });
    } else if (web.http.pinnedBy && changed.includes('web.httpPort')) {
      messages.push(`The HTTP port stays ${web.http.port} for this run: ${web.http.pinnedBy} fixes it; the stored ${settings['web.httpPort']} applies when the box runs without that.`);
    } else if (changed.includes('web.httpPort')) {
      messages.push(`The console now answers on HTTP port ${web.http.port}.`);
    }
    if (web.https.error && settings['web.httpsEnabled']) {
      const key: SettingKey = changed.includes('web.httpsPort') && !changed.includes('web.httpsEnabled') ? 'web.httpsPort' : 'web.httpsEnabled';
      if (web.https.port === null) revert['web.httpsEnabled'] = false;
      else revert['web.httpsPort'] = web.https.port;
      problems.push({ key, reason: `HTTPS could not listen on port ${settings['web.httpsPort']} (${web.https.error})${web.https.port === null ? '; HTTPS stays off' : `; it stays on ${web.https.port}`}` });
    } else if (web.https.port !== null && (changed.includes('web.httpsEnabled') || changed.includes('web.httpsPort'))) {
      messages.push(`The console now answers over HTTPS on port ${web.https.port}; browsers opening it over HTTP are sent there.`);
    } else if (changed.includes('web.httpsEnabled') && !settings['web.httpsEnabled']) {
      messages.push('HTTPS is off: the console answers over HTTP only.');
    }
    for (const problem of problems.filter((p) => p.key.startsWith('web.'))) messages.push(`${problem.reason}; the setting is back to the value in force.`);
  }

  const reverted = Object.keys(revert) as SettingKey[];
  if (reverted.length > 0) store.update(revert, { actor: `${author.actor} (not applied: port unavailable)`, ...(author.source ? { source: author.source } : {}) });
  return { ...(signaling ? { signaling } : {}), ...(web ? { web } : {}), ...(media ? { media } : {}), reverted, messages, problems };
}
