/**
 * What the running signaling service takes from the settings it follows (settings-schema.ts
 * declares them: `follows: ['signaling']`): its UDP/TCP and TLS ports (a port the process
 * configuration fixes wins for this run) and its flood guard. server/signaling/main.ts
 * re-configures the service whenever this changes; test/foundation/setting-followers.test.ts
 * checks that it depends on exactly the declared settings.
 */
import type { Settings } from '../settings/settings-schema.ts';
import type { SignalingReconfiguration } from './signaling-service.ts';

export function signalingSettingsFrom(settings: Settings, fixed: { readonly port?: number | undefined; readonly tlsPort?: number | undefined } = {}): SignalingReconfiguration {
  return {
    port: fixed.port ?? settings['sip.port'],
    tlsPort: fixed.tlsPort ?? settings['sip.tlsPort'],
    guard: { perSecond: settings['sip.floodLimitPerSecond'], blockScanners: settings['sip.blockScanners'] },
  };
}
