/**
 * The rules of the network settings (spec "Network & services": dual NIC LAN/WAN, DHCP or
 * static IP, mask, gateway, DNS1, DNS2; static routes: destination, mask, gateway, NIC): the
 * per-value checks the settings schema uses, and the rules across values that `crossCheck`
 * calls (a static NIC needs address and mask, the gateway inside its subnet, the two NICs'
 * subnets apart, at most one default gateway, a route's gateway reachable on its NIC). IPv4
 * only, as the spec's fields are. Nothing here renders or applies anything: that is
 * server/system/networkd-render.ts and server/system/system-configurator.ts.
 */
import net from 'node:net';

export const NICS = ['lan', 'wan'] as const;
export type Nic = (typeof NICS)[number];

/** One static route as stored in the setting `network.routes`. */
export interface StaticRoute {
  readonly destination: string;
  readonly mask: string;
  readonly gateway: string;
  readonly nic: Nic;
}

export const MAX_ROUTES = 64;

/** The NIC settings one NIC's rendering and checks read. */
export interface NicSettings {
  readonly interface: string;
  readonly mode: 'dhcp' | 'static';
  readonly address: string;
  readonly mask: string;
  readonly gateway: string;
  readonly dns1: string;
  readonly dns2: string;
}

export function ipv4ToInt(address: string): number | undefined {
  if (!net.isIPv4(address)) return undefined;
  return address.split('.').reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

function maskOfPrefix(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * The prefix length of a mask written as a dotted netmask (255.255.255.0, contiguous ones) or
 * as a prefix length (24 or /24), 1-32; undefined when it is neither.
 */
export function prefixOf(mask: string): number | undefined {
  const prefixText = /^\/?(\d{1,2})$/.exec(mask)?.[1];
  if (prefixText !== undefined) {
    const prefix = Number(prefixText);
    return prefix >= 1 && prefix <= 32 ? prefix : undefined;
  }
  const value = ipv4ToInt(mask);
  if (value === undefined) return undefined;
  for (let prefix = 1; prefix <= 32; prefix++) if (maskOfPrefix(prefix) === value) return prefix;
  return undefined;
}

/** A host address a NIC, gateway or DNS server may have: not 0.0.0.0/8, loopback, multicast or reserved. */
export function isUnicastIpv4(address: string): boolean {
  const value = ipv4ToInt(address);
  if (value === undefined) return false;
  const first = value >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** The value checks of the settings schema. */
export const isInterfaceName = (value: unknown): value is string =>
  // Linux: at most 15 bytes (IFNAMSIZ - 1), no slash, colon or white space; not . or ..
  typeof value === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(value);
export const isNicMode = (value: unknown): value is 'dhcp' | 'static' => value === 'dhcp' || value === 'static';
export const isHostAddressOrEmpty = (value: unknown): value is string => typeof value === 'string' && (value === '' || isUnicastIpv4(value));
export const isMaskOrEmpty = (value: unknown): value is string => typeof value === 'string' && (value === '' || prefixOf(value) !== undefined);
export const isDnsOrEmpty = (value: unknown): value is string =>
  typeof value === 'string' && (value === '' || isUnicastIpv4(value) || (net.isIPv6(value) && value !== '::' && value !== '::1'));

function isRoute(value: unknown): value is StaticRoute {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const route = value as Record<string, unknown>;
  if (Object.keys(route).some((key) => !['destination', 'mask', 'gateway', 'nic'].includes(key))) return false;
  return (
    typeof route.destination === 'string' &&
    ipv4ToInt(route.destination) !== undefined &&
    typeof route.mask === 'string' &&
    prefixOf(route.mask) !== undefined &&
    typeof route.gateway === 'string' &&
    isUnicastIpv4(route.gateway) &&
    (NICS as readonly unknown[]).includes(route.nic)
  );
}

export const isRouteList = (value: unknown): value is StaticRoute[] => Array.isArray(value) && value.length <= MAX_ROUTES && value.every(isRoute);

export const ROUTES_RULE = `a list of at most ${MAX_ROUTES} routes {destination, mask, gateway, nic}: destination an IPv4 network, mask a netmask or prefix length 1-32, gateway an IPv4 address, nic lan or wan`;

/** A subnet as base and prefix. */
export interface Subnet {
  readonly base: number;
  readonly prefix: number;
}

export function subnetOf(address: string, mask: string): Subnet | undefined {
  const value = ipv4ToInt(address);
  const prefix = prefixOf(mask);
  if (value === undefined || prefix === undefined) return undefined;
  return { base: (value & maskOfPrefix(prefix)) >>> 0, prefix };
}

export function subnetText(subnet: Subnet): string {
  return `${intToIpv4(subnet.base)}/${subnet.prefix}`;
}

function contains(subnet: Subnet, address: string): boolean {
  const value = ipv4ToInt(address);
  return value !== undefined && ((value & maskOfPrefix(subnet.prefix)) >>> 0) === subnet.base;
}

function overlaps(a: Subnet, b: Subnet): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return ((a.base & maskOfPrefix(prefix)) >>> 0) === ((b.base & maskOfPrefix(prefix)) >>> 0);
}

/** The network and broadcast addresses of a subnet, which no host may use (/31 and /32 have none). */
function isNetworkOrBroadcast(subnet: Subnet, address: string): boolean {
  if (subnet.prefix >= 31) return false;
  const value = ipv4ToInt(address);
  const broadcast = (subnet.base | ~maskOfPrefix(subnet.prefix)) >>> 0;
  return value === subnet.base || value === broadcast;
}

type NetworkKey = `network.${Nic}.${'interface' | 'mode' | 'address' | 'mask' | 'gateway'}` | 'network.routes';

const NIC_NAME: Record<Nic, string> = { lan: 'LAN', wan: 'WAN' };

/**
 * The rules across the network settings; [key, reason] of the first broken one.
 *
 * - LAN and WAN name different interfaces.
 * - A static NIC has an address and a mask; the address is neither the subnet's network nor
 *   its broadcast address; its gateway (optional) lies inside the subnet and is not the NIC's
 *   own address.
 * - With both NICs static, their subnets do not overlap.
 * - At most one default gateway: two static gateways are refused (reach further networks
 *   through the other NIC with static routes). A DHCP NIC next to a static gateway ignores
 *   its DHCP server's gateway (rendered UseGateway=no); with both on DHCP the DHCP servers
 *   decide.
 * - Routes: destination is the network address of destination/mask (the mask is 1-32: the
 *   default route is a NIC's gateway, not a static route), no two routes to the same network,
 *   and on a static NIC the route's gateway lies inside that NIC's subnet.
 */
export function checkNetwork(nics: Record<Nic, NicSettings>, routes: readonly StaticRoute[]): [NetworkKey, string] | undefined {
  if (nics.lan.interface === nics.wan.interface) {
    return ['network.wan.interface', `LAN and WAN must be different interfaces; both are ${nics.wan.interface}`];
  }
  const subnets: Partial<Record<Nic, Subnet>> = {};
  for (const nic of NICS) {
    const settings = nics[nic];
    if (settings.mode !== 'static') continue;
    if (settings.address === '') return [`network.${nic}.address`, `a static ${NIC_NAME[nic]} needs an IP address`];
    if (settings.mask === '') return [`network.${nic}.mask`, `a static ${NIC_NAME[nic]} needs a mask`];
    const subnet = subnetOf(settings.address, settings.mask);
    if (!subnet) return [`network.${nic}.address`, `${settings.address}/${settings.mask} is not an IPv4 address and mask`];
    if (isNetworkOrBroadcast(subnet, settings.address)) {
      return [`network.${nic}.address`, `${settings.address} is the network or broadcast address of ${subnetText(subnet)}`];
    }
    if (settings.gateway !== '') {
      if (!contains(subnet, settings.gateway) || isNetworkOrBroadcast(subnet, settings.gateway)) {
        return [`network.${nic}.gateway`, `the gateway ${settings.gateway} is not a host of the ${NIC_NAME[nic]} subnet ${subnetText(subnet)}`];
      }
      if (settings.gateway === settings.address) return [`network.${nic}.gateway`, `the gateway must not be the ${NIC_NAME[nic]}'s own address ${settings.address}`];
    }
    subnets[nic] = subnet;
  }
  if (subnets.lan && subnets.wan && overlaps(subnets.lan, subnets.wan)) {
    return ['network.wan.address', `the WAN subnet ${subnetText(subnets.wan)} overlaps the LAN subnet ${subnetText(subnets.lan)}; the two NICs must be on different networks`];
  }
  if (nics.lan.mode === 'static' && nics.wan.mode === 'static' && nics.lan.gateway !== '' && nics.wan.gateway !== '') {
    return [
      'network.wan.gateway',
      `only one NIC may have the default gateway (the LAN has ${nics.lan.gateway}); leave the other empty and reach its further networks with static routes`,
    ];
  }
  const seen = new Set<string>();
  for (const [index, route] of routes.entries()) {
    const name = `route ${index + 1} (${route.destination}/${route.mask} via ${route.gateway})`;
    const subnet = subnetOf(route.destination, route.mask) as Subnet;
    if (subnet.base !== ipv4ToInt(route.destination)) {
      return ['network.routes', `${name}: the destination must be a network address, e.g. ${subnetText(subnet)}`];
    }
    const text = subnetText(subnet);
    if (seen.has(text)) return ['network.routes', `${name}: there is already a route to ${text}`];
    seen.add(text);
    const nicSubnet = subnets[route.nic];
    if (nicSubnet && (!contains(nicSubnet, route.gateway) || route.gateway === nics[route.nic].address)) {
      return ['network.routes', `${name}: the gateway is not a host of the ${NIC_NAME[route.nic]} subnet ${subnetText(nicSubnet)}`];
    }
  }
  return undefined;
}
