/**
 * The TURN relay's configuration: what the box's settings mean for coturn (`turnserver`,
 * Debian's coturn package), rendered as its configuration file. The relay exists for browsers
 * that cannot reach the media ports directly (a firewall that lets only one UDP or TCP port
 * through, or UDP blocked altogether): the join page hands each browser its own credentials
 * (./turn-guest-keys.ts: written into coturn's user database when it joins, deleted when it
 * leaves) and they relay their WebRTC media through it.
 *
 * Safe by default — the relay is a way into meetings, not into the LAN nor the box:
 * - peers: only the box's media address (and the static NAT public address it is announced
 *   as); every other IPv4 and IPv6 address is denied, loopback too unless the media address is
 *   loopback itself (a test box), multicast and broadcast always;
 * - UDP relays only (`no-tcp-relay`, no RFC 6062 TCP connections): nothing of the box's TCP
 *   services (console, SSH, the signaling wire protocol) is reachable through it;
 * - ports: coturn restricts peers by address only, not by port, and its `min-port`/`max-port`
 *   are the relay's OWN ports (where its relayed sockets are bound: `media.turnPorts`), not the
 *   peers'. The peer ports are held to the media range (`media.mcuPorts`, where browsers'
 *   WebRTC transports listen) by the relay guard (./relay-guard.ts) loaded into coturn;
 * - credentials: long-term credentials per browser from the user database (`lt-cred-mech`),
 *   taken back when it leaves; at most `user-quota` allocations each; no CLI, no TLS listener.
 * Nothing here starts a process (./turn-service.ts does).
 */
import net from 'node:net';
import type { PortRange, Settings } from '../settings/settings-schema.ts';
import { staticNatFrom } from '../core/static-nat.ts';
import { type TurnGuestKeys, turnUserDb } from './turn-guest-keys.ts';

export interface TurnRelayOptions {
  /** Address the relay listens on for clients (0.0.0.0 = every IPv4 address). */
  readonly listenIp: string;
  /** Address relayed sockets are opened on: the box's media address. */
  readonly relayIp: string;
  /** Where clients reach the relay (UDP and TCP). */
  readonly port: number;
  readonly relayPorts: PortRange;
  /** The TURN realm: the box's local SIP domain. */
  readonly realm: string;
  /** The only peer ports media may be relayed to: where browsers' WebRTC transports listen. */
  readonly peerPorts: PortRange;
  /** The only peers media may be relayed to (the box's media addresses). */
  readonly allowedPeers: readonly string[];
  /** Static NAT: the public IP relayed addresses are announced as to clients. */
  readonly externalIp?: string;
  /** coturn's working files (pid file, its user database ./turn-guest-keys.ts): a folder of the box's own. */
  readonly runDir: string;
}

/** The process configuration the relay's settings are combined with. */
export interface TurnProcessConfig {
  readonly listenIp: string;
  readonly mediaAddress: string;
  /** A port pinned by the process configuration (VCBOX_TURN_PORT); else the `turn.port` setting. */
  readonly port?: number;
  readonly runDir: string;
}

/** The relay as the settings want it now, or undefined when it is turned off. */
export function turnRelayFrom(settings: Settings, host: TurnProcessConfig): TurnRelayOptions | undefined {
  if (!settings['turn.enabled']) return undefined;
  const nat = staticNatFrom(settings);
  const allowedPeers = [host.mediaAddress, ...(nat ? [nat.publicIp] : [])];
  return {
    listenIp: host.listenIp,
    relayIp: host.mediaAddress,
    port: host.port ?? settings['turn.port'],
    relayPorts: settings['media.turnPorts'],
    realm: settings['network.localDomain'],
    peerPorts: settings['media.mcuPorts'],
    allowedPeers: [...new Set(allowedPeers)],
    ...(nat ? { externalIp: nat.publicIp } : {}),
    runDir: host.runDir,
  };
}

/** What a browser needs to use the relay now: its port, its realm and where its credentials are kept; undefined when off. */
export interface TurnAccess {
  readonly port: number;
  readonly realm: string;
  readonly keys: TurnGuestKeys;
}

export function turnAccessFrom(settings: Pick<Settings, 'turn.enabled' | 'turn.port' | 'network.localDomain'>, keys: TurnGuestKeys, pinnedPort?: number): TurnAccess | undefined {
  return settings['turn.enabled'] ? { port: pinnedPort ?? settings['turn.port'], realm: settings['network.localDomain'], keys } : undefined;
}

const isLoopback = (address: string) => address.startsWith('127.') || address === '::1';

/** coturn's configuration file for these options (one `name=value` per line). */
export function renderTurnConfig(o: TurnRelayOptions): string {
  for (const address of [o.relayIp, ...o.allowedPeers, ...(o.externalIp ? [o.externalIp] : [])]) {
    if (net.isIP(address) === 0) throw new Error(`the TURN relay needs IP addresses, got "${address}"`);
  }
  const lines = [
    '# Written by vcbox from its settings (server/turn/turn-config.ts); changes here are overwritten.',
    // Not coturn's: the relay guard's range (its environment), here so a change restarts the relay.
    `# Relayed datagrams go only to peer ports ${o.peerPorts.min}-${o.peerPorts.max} (server/turn/relay-guard.ts).`,
    `listening-port=${o.port}`,
    ...(o.listenIp === '0.0.0.0' ? [] : [`listening-ip=${o.listenIp}`]),
    `relay-ip=${o.relayIp}`,
    ...(o.externalIp ? [`external-ip=${o.externalIp}/${o.relayIp}`] : []),
    `min-port=${o.relayPorts.min}`,
    `max-port=${o.relayPorts.max}`,
    `realm=${o.realm}`,
    // Per-browser credentials from the user database, withdrawn when the browser leaves.
    'lt-cred-mech',
    `userdb=${turnUserDb(o.runDir)}`,
    // A browser's two transports over UDP and TCP to the relay: four; a few more for ICE restarts.
    'user-quota=8',
    'fingerprint',
    // Plain UDP and TCP: browsers refuse a self-signed certificate for turns:, and the DTLS of
    // the media inside is end to end anyway.
    'no-tls',
    'no-dtls',
    'no-cli',
    // UDP relays only: no TCP connection from the relay to anything (RFC 6062 is refused).
    'no-tcp-relay',
    'no-multicast-peers',
    'no-software-attribute',
    // NAT behaviour discovery needs two addresses; one box has one.
    'no-rfc5780',
    // Relay only to the box itself: the relay is a way into meetings, not into the LAN.
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ...o.allowedPeers.map((peer) => `allowed-peer-ip=${peer}`),
    ...(o.allowedPeers.some(isLoopback) ? ['allow-loopback-peers'] : []),
    'stale-nonce=600',
    // Its lines go to the TURN service's log (turn/<day>.turn.log), structured, as every module's.
    'log-file=stdout',
    'simple-log',
    `pidfile=${o.runDir}/turnserver.pid`,
  ];
  return `${lines.join('\n')}\n`;
}
