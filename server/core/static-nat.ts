/**
 * Static NAT (spec "Network & services": enable + public IP): the address the box gives a
 * peer. A peer outside the local networks (setting `nat.localNetworks`, IPv4 CIDRs; by default
 * the private, loopback and link-local ranges) is given the public IP (`nat.publicIp`) — in
 * SIP Via/Contact and in SDP c= lines, i.e. mediasoup's announced address for its transports —
 * while peers inside keep the box's own address. Read from the settings at each use, so a
 * change applies to the next call. Shared by the signaling service and the media process.
 */
import net from 'node:net';

/** The NAT settings (the `nat.*` keys of server/settings/settings-schema.ts). */
export interface NatSettings {
  readonly 'nat.enabled': boolean;
  readonly 'nat.publicIp': string;
  readonly 'nat.localNetworks': string;
}

export const DEFAULT_LOCAL_NETWORKS = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,169.254.0.0/16';

interface Cidr {
  readonly base: number;
  readonly mask: number;
}

export interface StaticNat {
  readonly publicIp: string;
  readonly localNetworks: readonly Cidr[];
}

function ipv4ToInt(address: string): number | undefined {
  if (!net.isIPv4(address)) return undefined;
  return address.split('.').reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}

/** The networks of a comma-separated CIDR list, or the first entry that is not one. */
export function parseNetworks(text: string): { networks: Cidr[] } | { invalid: string } {
  const networks: Cidr[] = [];
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address = '', bitsText = '32'] = entry.split('/');
    const base = ipv4ToInt(address);
    const bits = Number(bitsText);
    if (base === undefined || !/^\d{1,2}$/.test(bitsText) || bits > 32) return { invalid: entry };
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    networks.push({ base: (base & mask) >>> 0, mask });
  }
  return { networks };
}

/** The NAT in force (undefined when off or without a valid public IP). */
export function staticNatFrom(settings: NatSettings): StaticNat | undefined {
  if (!settings['nat.enabled'] || !net.isIP(settings['nat.publicIp'])) return undefined;
  const parsed = parseNetworks(settings['nat.localNetworks']);
  return { publicIp: settings['nat.publicIp'], localNetworks: 'networks' in parsed ? parsed.networks : [] };
}

/**
 * The NAT in force, for a hot path (the signaling service asks at every response it relays):
 * `read` gives the three settings (plain values, no copy of the whole settings), and they are
 * parsed again only when one of them changed.
 */
export function followStaticNat(read: () => NatSettings): () => StaticNat | undefined {
  let key: string | undefined;
  let nat: StaticNat | undefined;
  return () => {
    const settings = read();
    const next = `${settings['nat.enabled']}|${settings['nat.publicIp']}|${settings['nat.localNetworks']}`;
    if (next !== key) {
      key = next;
      nat = staticNatFrom(settings);
    }
    return nat;
  };
}

/** Whether a peer address is inside the local networks (IPv6 and unparsable: treated as inside). */
export function isLocalPeer(nat: StaticNat, peer: string): boolean {
  const mapped = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
  const value = ipv4ToInt(mapped);
  if (value === undefined) return true;
  return nat.localNetworks.some((network) => ((value & network.mask) >>> 0) === network.base);
}

/** The public IP when `peer` is outside the local networks and NAT is on; otherwise undefined. */
export function natAddressFor(nat: StaticNat | undefined, peer: string | undefined): string | undefined {
  if (!nat || !peer) return undefined;
  return isLocalPeer(nat, peer) ? undefined : nat.publicIp;
}
