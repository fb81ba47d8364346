/**
 * The dashboard (spec "Dashboard & status"), refreshed every 10 s: system time, uptime,
 * version, online users, live meetings and the licence (status, ports in use of those allowed,
 * expiry), each a link to its page; the media ports by the manual's rule (in use of the MCU
 * range, calls that still fit, red when none does); CPU, memory,
 * network and disk cards — a click opens the metric's chart over the last 1, 6 or 24 hours
 * (./dashboard-chart.ts, uPlot) — and the status of each service.
 */
import { el } from './form-fields.ts';
import { api } from './api.ts';
import { lang, words } from './i18n.ts';
import { type Metric, openMetric, showChart } from './dashboard-chart.ts';

const w = words({
  en: {
    title: 'Dashboard',
    time: 'System time',
    uptime: 'Uptime',
    version: 'Version',
    onlineUsers: 'Online users',
    liveMeetings: 'Live meetings',
    license: 'Licence',
    licenseNone: 'not activated: no new accounts, meetings audio only',
    licenseLine: '{status}: {inUse} of {ports} ports in use{until}',
    licenseUntil: ', until {date} ({days} days left)',
    mediaPorts: 'Media ports',
    mediaPortsLine: '{inUse} of {range} in use: {fit} more calls fit, {contentFit} with content',
    trial: 'trial',
    active: 'active',
    expired: 'expired',
    revoked: 'revoked',
    none: 'not activated',
    cpu: 'CPU',
    memory: 'Memory',
    network: 'Network',
    disk: 'Disk',
    services: 'Services',
    service: 'Service',
    state: 'State',
    since: 'Up for',
    up: 'running',
    down: 'stopped',
    unknown: 'unknown',
    off: 'turned off',
    days: '{d} d {h} h',
    hours: '{h} h {m} min',
    minutes: '{m} min',
    'control-plane': 'Web console and API',
    signaling: 'SIP signaling',
    media: 'Media (mediasoup)',
    turn: 'TURN relay (coturn)',
  },
  'zh-CN': {
    title: '仪表盘',
    time: '系统时间',
    uptime: '运行时长',
    version: '版本',
    onlineUsers: '在线用户',
    liveMeetings: '进行中的会议',
    license: '许可证',
    licenseNone: '尚未激活：不能新建账号，会议仅音频',
    licenseLine: '{status}：已用 {inUse} / {ports} 路并发{until}',
    licenseUntil: '，有效期至 {date}（剩 {days} 天）',
    mediaPorts: '媒体端口',
    mediaPortsLine: '已用 {inUse} / {range}：还可接入 {fit} 路呼叫，带辅流 {contentFit} 路',
    trial: '试用',
    active: '有效',
    expired: '已过期',
    revoked: '已吊销',
    none: '未激活',
    cpu: 'CPU',
    memory: '内存',
    network: '网络',
    disk: '磁盘',
    services: '服务',
    service: '服务',
    state: '状态',
    since: '已运行',
    up: '运行中',
    down: '已停止',
    unknown: '未知',
    off: '已关闭',
    days: '{d} 天 {h} 小时',
    hours: '{h} 小时 {m} 分',
    minutes: '{m} 分',
    'control-plane': 'Web 控制台与 API',
    signaling: 'SIP 信令',
    media: '媒体（mediasoup）',
    turn: 'TURN 中继（coturn）',
  },
});

interface Dashboard {
  time: string;
  uptimeSeconds: number;
  version: string;
  onlineUsers: number;
  onlineDevices: number;
  liveMeetings: number;
  participants: number;
  license: { status: string; ports: number | null; portsInUse: number; validUntil: string | null; daysLeft: number | null } | null;
  /** The manual's rule: 6 ports a call, 8 with content, against the MCU range. */
  mediaPorts: { inUse: number; contentCalls: number; range: number; callsThatFit: number; contentCallsThatFit: number };
  system: {
    cpuPercent: number | null;
    memory: { usedBytes: number; totalBytes: number; percent: number } | null;
    network: { iface: string; rxBytesPerSecond: number | null; txBytesPerSecond: number | null }[];
    disk: { usedBytes: number; totalBytes: number; percent: number } | null;
  } | null;
  services: { name: 'control-plane' | 'signaling' | 'media' | 'turn'; status: 'up' | 'down' | 'off' | 'unknown'; uptimeSeconds: number | null; detail: string }[];
}

function licenseText(license: Dashboard['license']): string {
  if (!license || license.ports === null) return w('licenseNone');
  const status = (['trial', 'active', 'expired', 'revoked'] as const).find((s) => s === license.status) ?? 'none';
  const until = license.validUntil ? w('licenseUntil', { date: new Date(license.validUntil).toLocaleDateString(lang()), days: String(license.daysLeft ?? 0) }) : '';
  return w('licenseLine', { status: w(status), inUse: String(license.portsInUse), ports: String(license.ports), until });
}


function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? w('days', { d: String(d), h: String(h) }) : h > 0 ? w('hours', { h: String(h), m: String(m) }) : w('minutes', { m: String(m) });
}

const bytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`);
const rate = (n: number | null | undefined) => (n === null || n === undefined ? '—' : `${bytes(n * 8).replace('B', 'bit')}/s`);

export async function renderDashboard(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const data = await api<Dashboard>('GET', '/dashboard');
  const sys = data.system;
  const card = (label: string, value: string, metric?: Metric) => {
    const body = [el('span', { className: 'label' }, label), el('strong', {}, value)];
    if (!metric) return el('div', { className: 'card-stat' }, ...body);
    const button = el('button', { type: 'button', className: 'card-stat metric' }, ...body);
    button.dataset.metric = metric;
    button.addEventListener('click', () => {
      const anchor = root.querySelector('.cards-metrics');
      if (anchor) void showChart(metric, anchor, onError).catch(onError);
    });
    return button;
  };
  const net = sys?.network ?? [];
  const rx = net.reduce((sum, n) => sum + (n.rxBytesPerSecond ?? 0), 0);
  const tx = net.reduce((sum, n) => sum + (n.txBytesPerSecond ?? 0), 0);
  const services = el(
    'table',
    { id: 'services' },
    el('caption', {}, w('services')),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, w('service')), el('th', { scope: 'col' }, w('state')), el('th', { scope: 'col' }, w('since')))),
    el(
      'tbody',
      {},
      ...data.services.map((s) => {
        const row = el('tr', {}, el('td', {}, w(s.name)), el('td', { className: s.status === 'down' ? 'quality red' : 'quality' }, w(s.status)), el('td', {}, duration(s.uptimeSeconds)));
        row.dataset.service = s.name;
        row.dataset.status = s.status;
        return row;
      }),
    ),
  );
  const meetingsLink = el('a', { href: '#live' }, String(data.liveMeetings));
  const usersLink = el('a', { href: '#online' }, String(data.onlineUsers));
  root.replaceChildren(
    el('h1', {}, w('title')),
    el(
      'div',
      { className: 'cards' },
      card(w('time'), new Date(data.time).toLocaleString(lang())),
      card(w('uptime'), duration(data.uptimeSeconds)),
      card(w('version'), data.version),
      el('div', { className: 'card-stat' }, el('span', { className: 'label' }, w('onlineUsers')), el('strong', {}, usersLink)),
      el('div', { className: 'card-stat' }, el('span', { className: 'label' }, w('liveMeetings')), el('strong', {}, meetingsLink)),
      el('div', { className: 'card-stat', id: 'dashboard-license' }, el('span', { className: 'label' }, w('license')), el('strong', {}, el('a', { href: '#license' }, licenseText(data.license)))),
      el(
        'div',
        { className: data.mediaPorts.callsThatFit === 0 ? 'card-stat quality red' : 'card-stat', id: 'dashboard-media-ports' },
        el('span', { className: 'label' }, w('mediaPorts')),
        el('strong', {}, w('mediaPortsLine', { inUse: String(data.mediaPorts.inUse), range: String(data.mediaPorts.range), fit: String(data.mediaPorts.callsThatFit), contentFit: String(data.mediaPorts.contentCallsThatFit) })),
      ),
    ),
    el(
      'div',
      { className: 'cards cards-metrics' },
      card(w('cpu'), sys?.cpuPercent === null || sys?.cpuPercent === undefined ? '—' : `${sys.cpuPercent.toFixed(0)} %`, 'cpu'),
      card(w('memory'), sys?.memory ? `${sys.memory.percent.toFixed(0)} % (${bytes(sys.memory.usedBytes)} / ${bytes(sys.memory.totalBytes)})` : '—', 'memory'),
      card(w('network'), `↓ ${rate(rx)} ↑ ${rate(tx)}`, 'network'),
      card(w('disk'), sys?.disk ? `${sys.disk.percent.toFixed(0)} % (${bytes(sys.disk.usedBytes)} / ${bytes(sys.disk.totalBytes)})` : '—', 'disk'),
    ),
    services,
  );
  const metric = openMetric();
  const anchor = root.querySelector('.cards-metrics');
  if (metric && anchor) await showChart(metric, anchor, onError);
}
