/**
 * When a changed setting takes effect, as the settings API tells the administrator (the spec's
 * "this restarts the conferencing service…" prompts): read on every call or mail (now), read
 * when a service starts (that service must restart), or stored for a part of the box that is
 * not built yet (said so, not pretended). "Now" includes settings a running service re-reads
 * within a second (remote syslog: server/logging/remote-syslog.ts; the signaling service's
 * ports and limits: server/signaling/main.ts; the media process's port ranges and video
 * policy, sent by the control plane: media/main.ts; the web listeners: server/control-plane/web-listeners.ts), with a
 * `scope` where "now" does not mean "for everything in progress". "System" settings are the
 * operating system's (network interfaces and routes, sshd, time): rendered to its files and,
 * on an installed appliance, applied (server/system/system-configurator.ts).
 */
import type { SettingKey } from './settings-schema.ts';

/**
 * What "now" reaches when it is not everything at once:
 * - `listeners`: the service moves its listener at once; connections and calls in progress stay.
 * - `new-calls`: calls that start from now on; calls in progress keep what they have.
 * - `running-pictures`: composed pictures in progress restart with it (their video pauses briefly).
 * - `running-content`: a presentation in progress is re-encoded with it (its receivers' content pauses briefly).
 */
export type NowScope = 'listeners' | 'new-calls' | 'running-pictures' | 'running-content';

export const SCOPE_NOTES: Record<NowScope, string> = {
  listeners: 'the listener moves at once; connections and calls in progress stay',
  'new-calls': 'applies to calls that start from now on; calls in progress keep theirs',
  'running-pictures': 'composed pictures in progress restart with it (their video pauses for a moment)',
  'running-content': 'a presentation in progress is re-encoded with it (its content pauses for a moment)',
};

export type SettingEffect =
  | { readonly applies: 'now'; readonly scope?: NowScope; readonly note?: string }
  | { readonly applies: 'restart'; readonly service: 'signaling' | 'media' | 'control-plane' }
  | { readonly applies: 'stored'; readonly note: string }
  | { readonly applies: 'system'; readonly target: SystemTarget; readonly warning?: string };

/** The parts of the operating system the box configures from its settings. */
export type SystemTarget = 'network' | 'ssh' | 'time';

/** The spec's prompt for network changes ("Network & services"). */
export const NETWORK_WARNING = 'This restarts the conferencing service: calls in progress are ended.';

const now = (scope: NowScope): SettingEffect => ({ applies: 'now', scope, note: SCOPE_NOTES[scope] });

const RULES: [prefix: string, effect: SettingEffect][] = [
  // The layout maxima are read at every change of a composed picture; polling by running pollers.
  ['call.layout.', { applies: 'now' }],
  ['call.polling.', { applies: 'now' }],
  ['call.maxContentResolution', now('running-content')],
  ['call.maxVideoResolution', now('running-pictures')],
  ['call.maxBandwidth', now('running-pictures')],
  // Checked against every leg at each RTP check.
  ['call.rtpTimeoutSeconds', { applies: 'now' }],
  ['call.', { applies: 'now' }],
  ['sip.port', now('listeners')],
  ['sip.tlsPort', now('listeners')],
  // Read at every challenge the SIP application sends (server/sip-app/sip-application.ts).
  ['sip.', { applies: 'now' }],
  // The signaling service reads it at every REGISTER/SUBSCRIBE.
  ['terminalLogs.', { applies: 'now' }],
  // The TURN service follows these and restarts its relay by itself (server/turn/turn-service.ts).
  ['media.turnPorts', { applies: 'now' }],
  ['turn.', { applies: 'now' }],
  ['media.', now('new-calls')],
  ['smtp.', { applies: 'now' }],
  ['tls.trustedCertificates', { applies: 'now' }],
  ['setup.', { applies: 'now' }],
  ['network.localDomain', { applies: 'now' }],
  // The box's address may change under the SIP and media services: they restart with it.
  ['network.', { applies: 'system', target: 'network', warning: NETWORK_WARNING }],
  // Read by the signaling service and the media process at every call.
  ['nat.', { applies: 'now' }],
  // Where callers outside the static NAT are sent (HTTPS redirect); read at every request.
  ['web.httpNatPort', { applies: 'now' }],
  // Read whenever the box sends a link (the password-reset mail).
  ['web.accessUrl.', { applies: 'now' }],
  ['web.', now('listeners')],
  ['ssh.', { applies: 'system', target: 'ssh' }],
  ['time.', { applies: 'system', target: 'time' }],
  ['syslog.', { applies: 'now' }],
  // The control plane's backup scheduler re-reads these as soon as they change.
  ['backup.', { applies: 'now' }],
  ['license.', { applies: 'stored', note: 'the serial typed in the setup wizard is only kept; a licence is activated by POST /license/activate' }],
  ['system.', { applies: 'now' }],
];

export function settingEffect(key: SettingKey): SettingEffect {
  for (const [prefix, effect] of RULES) if (key === prefix || key.startsWith(prefix)) return effect;
  return { applies: 'now' };
}

/**
 * Settings whose values are secrets the box must present (to the SMTP server; to itself for the
 * unattended backups): the API shows whether one is set, never the value, and the settings
 * store keeps them sealed with the box key (./settings-store.ts).
 */
export const SECRET_SETTINGS: readonly SettingKey[] = ['smtp.password', 'backup.passphrase'];
