/**
 * The box's system information as the status page shows it (issue #7 "Status: system info per
 * NIC"): host name, operating system, kernel, CPU, memory, uptime, and per network interface
 * (loopback left out) its state, MAC, MTU, link speed, IPv4/IPv6 addresses with their prefix,
 * the default gateway through it and the bytes it moved since boot — read from the kernel
 * (`/sys/class/net`, `/proc/net/route`) and Node's `os`, no child process, a few milliseconds.
 * What does not live here: the configured network settings (server/settings), the rates over
 * time (./system-sampler.ts) and the HTTP route (control-plane/routes/system-info.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NicAddress {
  readonly address: string;
  readonly prefix: number;
}

export interface NicInfo {
  readonly name: string;
  /** The kernel's operstate: up, down, dormant, lowerlayerdown, unknown… */
  readonly state: string;
  readonly mac: string | null;
  readonly mtu: number | null;
  /** Link speed in Mbit/s, null where the driver does not say (virtual links, no carrier). */
  readonly speedMbps: number | null;
  readonly ipv4: readonly NicAddress[];
  readonly ipv6: readonly NicAddress[];
  /** The IPv4 default gateway reached through this interface, if any. */
  readonly gateway: string | null;
  readonly rxBytes: number | null;
  readonly txBytes: number | null;
}

export interface SystemInfo {
  readonly hostname: string;
  /** The distribution's PRETTY_NAME (/etc/os-release), else the platform. */
  readonly os: string;
  readonly kernel: string;
  readonly arch: string;
  readonly cpu: { readonly model: string; readonly cores: number };
  readonly memoryBytes: number;
  readonly uptimeSeconds: number;
  readonly nics: readonly NicInfo[];
}

/** Where the kernel's files are (a test may point them at a copy). */
export interface SystemInfoSources {
  readonly sysNet: string;
  readonly procRoute: string;
  readonly osRelease: string;
}

const HOST: SystemInfoSources = { sysNet: '/sys/class/net', procRoute: '/proc/net/route', osRelease: '/etc/os-release' };
const LOOPBACK_TYPE = '772'; // ARPHRD_LOOPBACK

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null; // the driver lacks it, or reading it fails (speed on a link without carrier: EINVAL)
  }
}

function readNumber(file: string): number | null {
  const text = readText(file);
  const value = text === null ? Number.NaN : Number(text);
  return Number.isFinite(value) ? value : null;
}

/** The IPv4 default gateway per interface, from the kernel's routing table (little-endian hex). */
export function defaultGateways(routeTable: string): Map<string, string> {
  const gateways = new Map<string, string>();
  for (const line of routeTable.split('\n').slice(1)) {
    const [iface, destination, gateway, , , , , mask] = line.trim().split(/\s+/);
    if (!iface || destination !== '00000000' || mask !== '00000000' || !gateway || gateway === '00000000' || gateways.has(iface)) continue;
    const bytes = gateway.match(/../g)?.map((pair) => Number.parseInt(pair, 16)) ?? [];
    gateways.set(iface, bytes.reverse().join('.'));
  }
  return gateways;
}

function osName(osRelease: string | null): string {
  const pretty = osRelease ? /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] : undefined;
  return pretty || `${os.type()} ${os.release()}`;
}

export function readSystemInfo(sources: SystemInfoSources = HOST): SystemInfo {
  const addresses = os.networkInterfaces();
  const gateways = defaultGateways(readText(sources.procRoute) ?? '');
  let names: string[];
  try {
    names = readdirSync(sources.sysNet);
  } catch {
    names = Object.keys(addresses); // no sysfs (a container without it): what Node sees
  }
  const nics = names
    .filter((name) => name !== 'lo' && readText(path.join(sources.sysNet, name, 'type')) !== LOOPBACK_TYPE)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name): NicInfo => {
      const dir = path.join(sources.sysNet, name);
      const own = addresses[name] ?? [];
      const speed = readNumber(path.join(dir, 'speed'));
      const mac = readText(path.join(dir, 'address')) ?? own[0]?.mac ?? null;
      return {
        name,
        state: readText(path.join(dir, 'operstate')) ?? 'unknown',
        mac: mac && mac !== '00:00:00:00:00:00' ? mac : null,
        mtu: readNumber(path.join(dir, 'mtu')),
        speedMbps: speed !== null && speed > 0 ? speed : null,
        ipv4: own.filter((a) => a.family === 'IPv4').map((a) => ({ address: a.address, prefix: Number(a.cidr?.split('/')[1] ?? 32) })),
        ipv6: own.filter((a) => a.family === 'IPv6').map((a) => ({ address: a.address, prefix: Number(a.cidr?.split('/')[1] ?? 128) })),
        gateway: gateways.get(name) ?? null,
        rxBytes: readNumber(path.join(dir, 'statistics', 'rx_bytes')),
        txBytes: readNumber(path.join(dir, 'statistics', 'tx_bytes')),
      };
    });
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: osName(readText(sources.osRelease)),
    kernel: os.release(),
    arch: os.arch(),
    cpu: { model: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length },
    memoryBytes: os.totalmem(),
    uptimeSeconds: Math.round(os.uptime()),
    nics,
  };
}
