/**
 * The relay guard (./native/relay-guard.c, built by scripts/build-relay-guard.sh): where its
 * library is and the environment that loads it into coturn with the port ranges it enforces.
 * coturn restricts peers by address only; loaded into it, the guard drops every datagram a
 * relayed socket would send to a port outside the media range, so a guest's allocation reaches
 * the box's WebRTC transports and nothing else listening on the media address.
 */
import path from 'node:path';
import type { TurnRelayOptions } from './turn-config.ts';

/** The built library (absent until set-up has built it). */
export const RELAY_GUARD_LIBRARY = path.join(import.meta.dirname, 'native', 'build', 'relay-guard.so');

/** The environment coturn runs with so the guard holds it to these options' ranges. */
export function relayGuardEnvironment(options: Pick<TurnRelayOptions, 'port' | 'relayPorts' | 'peerPorts'>, library = RELAY_GUARD_LIBRARY): Record<string, string> {
  return {
    LD_PRELOAD: library,
    VCBOX_RELAY_GUARD_RELAY_PORTS: `${options.relayPorts.min}-${options.relayPorts.max}`,
    VCBOX_RELAY_GUARD_PEER_PORTS: `${options.peerPorts.min}-${options.peerPorts.max}`,
    VCBOX_RELAY_GUARD_LISTEN_PORT: String(options.port),
  };
}
