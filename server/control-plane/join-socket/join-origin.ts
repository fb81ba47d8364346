/**
 * Whose page may open the browser join WebSocket (`/join/ws`): the box's own join page only.
 * A browser always sends `Origin` on a WebSocket handshake and a page cannot change it, so a
 * page from another site (or another service on the box's own address) is refused
 * (VCBOX_ERR_JOIN_ORIGIN) before the socket opens: it cannot use a visitor's browser to drive
 * joins, floods or the media service from inside the LAN.
 *
 * The box's own origins: http or https, a host that is one of the box's addresses (the address
 * the connection arrived at, the addresses of its interfaces, the LAN/WAN addresses in the
 * settings, the static NAT public address) or its names (host name, local domain, the names
 * its web certificate is issued for — how a box reached by a DNS name is known), and a port
 * the box's web server answers on (the port the connection arrived at, the HTTP, HTTPS and
 * HTTP NAT mapping ports in the settings; a default port when the origin has none).
 *
 * A handshake without `Origin` is not from a browser page (test terminals, scripts); it is let
 * through: whoever can send it can also send any Origin, so refusing it would protect nothing,
 * and it is held to the same per-address limits (./join-limits.ts) as everyone.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import type { Settings } from '../../settings/settings-schema.ts';
import { certificateFiles } from '../../tls/self-signed-certificate.ts';

type OriginSettings = Pick<Settings, 'network.lan.address' | 'network.wan.address' | 'nat.enabled' | 'nat.publicIp' | 'network.localDomain' | 'web.httpPort' | 'web.httpsPort' | 'web.httpNatPort'>;

/** Where the handshake arrived (the box's side of the TCP connection). */
export interface ArrivedAt {
  readonly address: string | undefined;
  readonly port: number | undefined;
}

const bare = (host: string) => host.replace(/^\[|\]$/g, '').replace(/^::ffff:(?=\d+\.)/, '').toLowerCase();

/** The DNS names and addresses the box's web certificate (in `dir`) is issued for; re-read when the file changes. */
export function certificateNames(dir: string): () => readonly string[] {
  const { certFile } = certificateFiles(dir);
  let seen = '';
  let names: readonly string[] = [];
  return () => {
    try {
      const stat = statSync(certFile);
      const stamp = `${stat.mtimeMs}:${stat.size}`;
      if (stamp !== seen) {
        seen = stamp;
        const altNames = new X509Certificate(readFileSync(certFile)).subjectAltName ?? '';
        names = altNames
          .split(', ')
          .map((entry) => entry.replace(/^(DNS|IP Address):/, ''))
          .filter((name) => name && !name.includes('*'));
      }
    } catch {
      names = [];
    }
    return names;
  };
}

function ownHosts(settings: OriginSettings, arrived: ArrivedAt, names: readonly string[]): Set<string> {
  const hosts = new Set<string>();
  const add = (host: string | undefined) => {
    if (host) hosts.add(bare(host));
  };
  add(arrived.address);
  for (const addresses of Object.values(os.networkInterfaces())) for (const address of addresses ?? []) add(address.address);
  add(settings['network.lan.address']);
  add(settings['network.wan.address']);
  if (settings['nat.enabled']) add(settings['nat.publicIp']);
  add(os.hostname());
  add(settings['network.localDomain']);
  add(`${os.hostname()}.${settings['network.localDomain']}`);
  for (const name of names) add(name);
  return hosts;
}

/** Whether `origin` (the handshake's Origin header) is one of the box's own pages. */
export function isOwnOrigin(origin: string, settings: OriginSettings, arrived: ArrivedAt, names: readonly string[] = []): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const ports = new Set([arrived.port, settings['web.httpPort'], settings['web.httpsPort'], settings['web.httpNatPort']]);
  return ports.has(port) && ownHosts(settings, arrived, names).has(bare(url.hostname));
}
