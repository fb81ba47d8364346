/**
 * The box's service address for links it sends out (seed 003 "设置中心访问地址": an intranet and
 * an extranet service URL, the one matching where the requester is) — today the password-reset
 * mail's link. Never built from the request's Host header (a forged Host would send the reset
 * token to the forger): from the settings `web.accessUrl.intranet` / `web.accessUrl.extranet`,
 * or, while one is empty, from what the box itself knows: the address and port the request's
 * connection reached the box at (intranet), the static NAT's public IP and mapped web port
 * (extranet). A requester outside `nat.localNetworks` is given the extranet URL.
 */
import net from 'node:net';
import { isLocalPeer, parseNetworks } from '../core/static-nat.ts';
import type { Settings } from '../settings/settings-schema.ts';

export const ACCESS_URL_RULE = 'an http:// or https:// URL with a host (and optionally a port and a path) of at most 256 characters, without user, query or #fragment — or empty to derive it from the box\'s address';

/** Whether a setting value is an acceptable service URL (empty: derived). */
export function isAccessUrlOrEmpty(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 256) return false;
  if (value === '') return true;
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/i.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

/** Where the requesting connection came from and arrived at (socket facts, not headers). */
export interface Connection {
  readonly peer: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly encrypted: boolean;
}

type AccessSettings = Pick<Settings, 'web.accessUrl.intranet' | 'web.accessUrl.extranet' | 'nat.enabled' | 'nat.publicIp' | 'nat.localNetworks' | 'web.httpsEnabled' | 'web.httpNatPort'>;

function hostPart(address: string): string {
  const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  return net.isIPv6(plain) ? `[${plain}]` : plain;
}

function origin(scheme: 'http' | 'https', host: string, port: number | undefined): string {
  const standard = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443) || port === undefined;
  return `${scheme}://${hostPart(host)}${standard ? '' : `:${port}`}`;
}

/** Whether the requester is outside the box's local networks (`nat.localNetworks`). */
export function isOutside(settings: AccessSettings, peer: string | undefined): boolean {
  if (!peer) return false;
  const parsed = parseNetworks(settings['nat.localNetworks']);
  if (!('networks' in parsed)) return false;
  return !isLocalPeer({ publicIp: settings['nat.publicIp'], localNetworks: parsed.networks }, peer);
}

/** The service URL (no trailing slash) to put in a link sent to this requester. */
export function accessUrlFor(settings: AccessSettings, connection: Connection): string {
  const intranet = settings['web.accessUrl.intranet'] || origin(connection.encrypted ? 'https' : 'http', connection.localAddress ?? '127.0.0.1', connection.localPort);
  let url = intranet;
  if (isOutside(settings, connection.peer)) {
    const nat = settings['nat.enabled'] && net.isIP(settings['nat.publicIp']) !== 0;
    url = settings['web.accessUrl.extranet'] || (nat ? origin(settings['web.httpsEnabled'] ? 'https' : 'http', settings['nat.publicIp'], settings['web.httpNatPort']) : intranet);
  }
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}
