/**
 * The TURN relay's configuration: what the box's settings mean for coturn (`turnserver`,
 * Debian's coturn package), rendered as its configuration file. The relay exists for browsers
 * that cannot reach the media ports directly (a firewall that lets only one UDP or TCP port
 * through, or UDP blocked altogether): the join page hands them short-lived credentials
 * (./turn-credentials.ts) and they relay their WebRTC media through it.
 *
 * Safe by default: the relay forwards only to the box's own media addresses (every other peer
 * address is denied), credentials are HMACs of a secret only the box knows (TURN REST API,
 * coturn's `use-auth-secret`), no CLI, no multicast. Relay ports come from the `media.turnPorts`
 * range (spec: 38000-49999). Nothing here starts a process (./turn-service.ts does).
 */
import net from 'node:net';
import type { PortRange, Settings } from '../settings/settings-schema.ts';
import { staticNatFrom } from '../network/static-nat.ts';

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
  /** The key credentials are made with (server/process/shared-secret.ts). */
  readonly secret: string;
  /** The only peers media may be relayed to (the box's media addresses). */
  readonly allowedPeers: readonly string[];
  /** Static NAT: the public IP relayed addresses are announced as to clients. */
  readonly externalIp?: string;
  /** coturn's working files (pid file, its user database): a folder of the box's own. */
  readonly runDir: string;
}

/** The process configuration the relay's settings are combined with. */
export interface TurnProcessConfig {
  readonly listenIp: string;
  readonly mediaAddress: string;
  /** A port pinned by the process configuration (VCBOX_TURN_PORT); else the `turn.port` setting. */
  readonly port?: number;
  readonly secret: string;
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
    secret: host.secret,
    allowedPeers: [...new Set(allowedPeers)],
    ...(nat ? { externalIp: nat.publicIp } : {}),
    runDir: host.runDir,
  };
}

/** What a browser needs to use the relay now: its port and the credential key; undefined when off. */
export interface TurnAccess {
  readonly port: number;
  readonly secret: string;
}

export function turnAccessFrom(settings: Pick<Settings, 'turn.enabled' | 'turn.port'>, secret: string, pinnedPort?: number): TurnAccess | undefined {
  return settings['turn.enabled'] ? { port: pinnedPort ?? settings['turn.port'], secret } : undefined;
}

const isLoopback = (address: string) => address.startsWith('127.') || address === '::1';

/** coturn's configuration file for these options (one `name=value` per line). */
export function renderTurnConfig(o: TurnRelayOptions): string {
  for (const address of [o.relayIp, ...o.allowedPeers, ...(o.externalIp ? [o.externalIp] : [])]) {
    if (net.isIP(address) === 0) throw new Error(`the TURN relay needs IP addresses, got "${address}"`);
  }
  const lines = [
    '# Written by vcbox from its settings (server/turn/turn-config.ts); changes here are overwritten.',
    `listening-port=${o.port}`,
    ...(o.listenIp === '0.0.0.0' ? [] : [`listening-ip=${o.listenIp}`]),
    `relay-ip=${o.relayIp}`,
    ...(o.externalIp ? [`external-ip=${o.externalIp}/${o.relayIp}`] : []),
    `min-port=${o.relayPorts.min}`,
    `max-port=${o.relayPorts.max}`,
    `realm=${o.realm}`,
    'use-auth-secret',
    `static-auth-secret=${o.secret}`,
    'fingerprint',
    // Plain UDP and TCP: browsers refuse a self-signed certificate for turns:, and the DTLS of
    // the media inside is end to end anyway.
    'no-tls',
    'no-dtls',
    'no-cli',
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
    `userdb=${o.runDir}/turndb`,
  ];
  return `${lines.join('\n')}\n`;
}
