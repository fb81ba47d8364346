/**
 * The systemd-networkd files of the two NICs (10-vcbox-lan.network, 10-vcbox-wan.network)
 * from the network settings: which interface, DHCP or the static address/gateway/DNS, and the
 * static routes that leave through that NIC. Pure text; writing is ./system-files.ts. The
 * settings were checked before (server/network/network-settings.ts), so nothing is validated
 * here.
 */
import { NICS, type Nic, prefixOf, type StaticRoute } from '../network/network-settings.ts';
import type { Settings } from '../settings/settings-schema.ts';
import { OWNED_FILES, type RenderedFile } from './system-files.ts';

const FILES: Record<Nic, RenderedFile['file']> = { lan: OWNED_FILES.lanNetwork, wan: OWNED_FILES.wanNetwork };

function renderNic(settings: Settings, nic: Nic): string {
  const other: Nic = nic === 'lan' ? 'wan' : 'lan';
  const setting = (field: 'interface' | 'mode' | 'address' | 'mask' | 'gateway' | 'dns1' | 'dns2', of: Nic = nic) => settings[`network.${of}.${field}`];
  const lines = [
    `# ${nic.toUpperCase()} port of the vcbox appliance, written from its settings (network.${nic}.*, network.routes).`,
    '# Change it in the console: vcbox rewrites this file on every change.',
    '[Match]',
    `Name=${setting('interface')}`,
    '',
    '[Network]',
  ];
  if (setting('mode') === 'static') {
    lines.push(`Address=${setting('address')}/${prefixOf(setting('mask'))}`);
    if (setting('gateway') !== '') lines.push(`Gateway=${setting('gateway')}`);
    for (const dns of [setting('dns1'), setting('dns2')]) if (dns !== '') lines.push(`DNS=${dns}`);
  } else {
    lines.push('DHCP=ipv4');
    // At most one default gateway: the other NIC's static one wins over what DHCP offers.
    if (setting('mode', other) === 'static' && setting('gateway', other) !== '') lines.push('', '[DHCPv4]', 'UseGateway=no');
  }
  for (const route of settings['network.routes'].filter((r: StaticRoute) => r.nic === nic)) {
    lines.push('', '[Route]', `Destination=${route.destination}/${prefixOf(route.mask)}`, `Gateway=${route.gateway}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderNetworkd(settings: Settings): RenderedFile[] {
  return NICS.map((nic) => ({ file: FILES[nic], content: renderNic(settings, nic) }));
}
