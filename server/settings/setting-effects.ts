/**
 * When a changed setting takes effect, as the settings API tells the administrator (the spec's
 * "this restarts the conferencing service…" prompts): read on every call or mail (now), read
 * when a service starts (that service must restart), or stored for a part of the box that is
 * not built yet (said so, not pretended). "Now" includes settings a running service re-reads
 * within a second (remote syslog: server/logging/remote-syslog.ts). "System" settings are the
 * operating system's (network interfaces and routes, sshd, time): rendered to its files and,
 * on an installed appliance, applied (server/system/system-configurator.ts).
 */
import type { SettingKey } from './settings-schema.ts';

export type SettingEffect =
  | { readonly applies: 'now' }
  | { readonly applies: 'restart'; readonly service: 'signaling' | 'media' | 'control-plane' }
  | { readonly applies: 'stored'; readonly note: string }
  | { readonly applies: 'system'; readonly target: SystemTarget; readonly warning?: string };

/** The parts of the operating system the box configures from its settings. */
export type SystemTarget = 'network' | 'ssh' | 'time';

/** The spec's prompt for network changes ("Network & services"). */
export const NETWORK_WARNING = 'This restarts the conferencing service: calls in progress are ended.';

const RULES: [prefix: string, effect: SettingEffect][] = [
  // The layout maxima are read at every change of a composed picture.
  ['call.layout.', { applies: 'now' }],
  ['call.polling.', { applies: 'stored', note: 'applies to composed pictures that start after the change; meetings in progress keep theirs' }],
  ['call.maxContentResolution', { applies: 'stored', note: 'content sharing is not built yet' }],
  ['call.maxVideoResolution', { applies: 'stored', note: 'applies to composed pictures that start after the change; meetings in progress keep theirs' }],
  ['call.maxBandwidth', { applies: 'stored', note: 'applies to composed pictures that start after the change; meetings in progress keep theirs' }],
  ['call.rtpTimeoutSeconds', { applies: 'restart', service: 'media' }],
  ['call.', { applies: 'now' }],
  ['sip.qualifySeconds', { applies: 'now' }],
  ['sip.', { applies: 'restart', service: 'signaling' }],
  ['terminalLogs.', { applies: 'restart', service: 'signaling' }],
  // The TURN service follows these and restarts its relay by itself (server/turn/turn-service.ts).
  ['media.turnPorts', { applies: 'now' }],
  ['turn.', { applies: 'now' }],
  ['media.', { applies: 'restart', service: 'media' }],
  ['smtp.', { applies: 'now' }],
  ['tls.trustedCertificates', { applies: 'now' }],
  ['setup.', { applies: 'now' }],
  ['network.localDomain', { applies: 'now' }],
  // The box's address may change under the SIP and media services: they restart with it.
  ['network.', { applies: 'system', target: 'network', warning: NETWORK_WARNING }],
  // Read by the signaling service and the media process at every call.
  ['nat.', { applies: 'now' }],
  ['web.', { applies: 'stored', note: 'web ports and HTTPS are applied by the installer/appliance, not yet live' }],
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

/** Settings whose values are secrets: the API shows whether one is set, never the value. */
export const SECRET_SETTINGS: readonly SettingKey[] = ['smtp.password'];
