/**
 * The "system information" page (#system; issue #7 "Status: system info per NIC"), refreshed
 * every 10 s: host name, operating system, kernel, CPU, memory, uptime, and one panel per
 * network interface — LAN or WAN port as the settings name it, state, MAC, addresses with
 * prefix, default gateway, speed, MTU, traffic now and since boot — with, for the LAN and WAN
 * ports, what the settings configure beside what the interface really has (they differ until
 * the network settings are applied, or under DHCP). The settings themselves are changed on the
 * settings page, linked from here.
 */
import { api } from './api.ts';
import { el } from './form-fields.ts';
import { lang, words } from './i18n.ts';
import { settingsLink } from './settings.ts';

const w = words({
  en: {
    title: 'System information',
    hostTitle: 'This box',
    hostname: 'Host name',
    os: 'Operating system',
    kernel: 'Kernel',
    cpu: 'CPU',
    cpuLine: '{model} ({cores} cores)',
    memory: 'Memory',
    uptime: 'Up for',
    nicsTitle: 'Network interfaces ({count})',
    noNics: 'No network interface besides loopback.',
    lan: 'LAN port',
    wan: 'WAN port',
    other: 'not used by the settings',
    state: 'State',
    state_up: 'up',
    state_down: 'down',
    state_unknown: 'unknown',
    mac: 'MAC address',
    ipv4: 'IPv4',
    ipv6: 'IPv6',
    gateway: 'Default gateway',
    speed: 'Link speed',
    mtu: 'MTU',
    traffic: 'Traffic now',
    total: 'Since boot',
    totalLine: '↓ {rx} ↑ {tx}',
    configured: 'Configured',
    dhcp: 'DHCP',
    staticLine: 'static {address}/{mask}',
    gatewayLine: 'gateway {gateway}',
    dnsLine: 'DNS {dns}',
    none: '—',
    settingsLink: 'Change the network settings',
    days: '{d} d {h} h',
    hours: '{h} h {m} min',
    minutes: '{m} min',
    mbps: '{speed} Mbit/s',
  },
  'zh-CN': {
    title: '系统信息',
    hostTitle: '本设备',
    hostname: '主机名',
    os: '操作系统',
    kernel: '内核',
    cpu: 'CPU',
    cpuLine: '{model}（{cores} 核）',
    memory: '内存',
    uptime: '已运行',
    nicsTitle: '网络接口（{count} 个）',
    noNics: '除环回接口外没有网络接口。',
    lan: 'LAN 口',
    wan: 'WAN 口',
    other: '未在设置中使用',
    state: '状态',
    state_up: '已连接',
    state_down: '未连接',
    state_unknown: '未知',
    mac: 'MAC 地址',
    ipv4: 'IPv4',
    ipv6: 'IPv6',
    gateway: '默认网关',
    speed: '链路速率',
    mtu: 'MTU',
    traffic: '当前流量',
    total: '开机以来',
    totalLine: '↓ {rx} ↑ {tx}',
    configured: '设置值',
    dhcp: 'DHCP',
    staticLine: '静态 {address}/{mask}',
    gatewayLine: '网关 {gateway}',
    dnsLine: 'DNS {dns}',
    none: '—',
    settingsLink: '修改网络设置',
    days: '{d} 天 {h} 小时',
    hours: '{h} 小时 {m} 分',
    minutes: '{m} 分',
    mbps: '{speed} Mbit/s',
  },
});

interface Nic {
  name: string;
  role: 'lan' | 'wan' | null;
  state: string;
  mac: string | null;
  mtu: number | null;
  speedMbps: number | null;
  ipv4: { address: string; prefix: number }[];
  ipv6: { address: string; prefix: number }[];
  gateway: string | null;
  rxBytes: number | null;
  txBytes: number | null;
  rxBytesPerSecond: number | null;
  txBytesPerSecond: number | null;
  configured: { mode: string; address: string; mask: string; gateway: string; dns1: string; dns2: string } | null;
}
interface SystemInfo {
  hostname: string;
  os: string;
  kernel: string;
  arch: string;
  cpu: { model: string; cores: number };
  memoryBytes: number;
  uptimeSeconds: number;
  nics: Nic[];
}

const bytes = (n: number | null) => {
  if (n === null) return w('none');
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
};
const rate = (n: number | null) => (n === null ? w('none') : `${bytes(n)}/s`);

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? w('days', { d: String(d), h: String(h) }) : h > 0 ? w('hours', { h: String(h), m: String(m) }) : w('minutes', { m: String(m) });
}

/** A two-column list of facts, each `dd` marked with its key for tests and styles. */
function facts(id: string, rows: [string, string, string | Node][]): HTMLDListElement {
  const list = el('dl', { className: 'facts', id });
  for (const [key, label, value] of rows) {
    const detail = el('dd', {}, value);
    detail.dataset.fact = key;
    list.append(el('dt', {}, label), detail);
  }
  return list;
}

function configuredInWords(configured: NonNullable<Nic['configured']>): string {
  const parts = [configured.mode === 'dhcp' ? w('dhcp') : w('staticLine', { address: configured.address || w('none'), mask: configured.mask || w('none') })];
  if (configured.mode !== 'dhcp' && configured.gateway) parts.push(w('gatewayLine', { gateway: configured.gateway }));
  const dns = [configured.dns1, configured.dns2].filter(Boolean).join(', ');
  if (dns) parts.push(w('dnsLine', { dns }));
  return parts.join(lang() === 'zh-CN' ? '，' : ', ');
}

function nicPanel(nic: Nic): HTMLElement {
  const state = (['up', 'down'] as const).find((s) => s === nic.state) ?? 'unknown';
  const addresses = (list: Nic['ipv4']) => (list.length > 0 ? list.map((a) => `${a.address}/${a.prefix}`).join(', ') : w('none'));
  const rows: [string, string, string | Node][] = [
    ['state', w('state'), el('span', { className: `nic-state ${state}` }, w(`state_${state}`))],
    ['ipv4', w('ipv4'), addresses(nic.ipv4)],
    ['ipv6', w('ipv6'), addresses(nic.ipv6)],
    ['gateway', w('gateway'), nic.gateway ?? w('none')],
    ['mac', w('mac'), nic.mac ?? w('none')],
    ['speed', w('speed'), nic.speedMbps === null ? w('none') : w('mbps', { speed: String(nic.speedMbps) })],
    ['mtu', w('mtu'), nic.mtu === null ? w('none') : String(nic.mtu)],
    ['traffic', w('traffic'), w('totalLine', { rx: rate(nic.rxBytesPerSecond), tx: rate(nic.txBytesPerSecond) })],
    ['total', w('total'), w('totalLine', { rx: bytes(nic.rxBytes), tx: bytes(nic.txBytes) })],
  ];
  if (nic.configured) rows.push(['configured', w('configured'), configuredInWords(nic.configured)]);
  const panel = el(
    'section',
    { className: 'panel nic' },
    el('h3', {}, nic.name, el('span', { className: 'badge' }, nic.role ? w(nic.role) : w('other'))),
    facts(`nic-${nic.name}`, rows),
  );
  panel.dataset.nic = nic.name;
  return panel;
}

export async function renderSystemInfo(root: HTMLElement): Promise<void> {
  const info = await api<SystemInfo>('GET', '/system-info');
  const host = el(
    'section',
    { className: 'panel', id: 'system-host' },
    el('h2', {}, w('hostTitle')),
    facts('system-facts', [
      ['hostname', w('hostname'), info.hostname],
      ['os', w('os'), info.os],
      ['kernel', w('kernel'), `${info.kernel} (${info.arch})`],
      ['cpu', w('cpu'), w('cpuLine', { model: info.cpu.model, cores: String(info.cpu.cores) })],
      ['memory', w('memory'), bytes(info.memoryBytes)],
      ['uptime', w('uptime'), duration(info.uptimeSeconds)],
    ]),
  );
  root.replaceChildren(
    el('h1', {}, w('title')),
    host,
    el('h2', { id: 'nics-title' }, w('nicsTitle', { count: String(info.nics.length) })),
    info.nics.length > 0 ? el('div', { className: 'nics' }, ...info.nics.map(nicPanel)) : el('p', { className: 'empty' }, w('noNics')),
    el('p', {}, settingsLink('network', w('settingsLink'), 'system-settings-link')),
  );
}
