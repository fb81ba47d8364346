/**
 * The "online users" page (spec "Dashboard & status"): every account with a registered
 * terminal — name, account, and per device its model, software version, address, transport
 * and status (registered / reachable / unreachable, from the qualify OPTIONS) — searchable by
 * name or account. Refreshed every 10 s.
 */
import { el } from './form-fields.ts';
import { api } from './api.ts';
import { t } from './i18n.ts';

interface Device {
  model: string;
  version: string;
  address: string;
  transport: string;
  status: 'registered' | 'reachable' | 'unreachable';
}
interface OnlineUser {
  account: string;
  name: string;
  devices: Device[];
}

let search = '';
const STATUS = { registered: 'deviceRegistered', reachable: 'deviceReachable', unreachable: 'deviceUnreachable' } as const;


export async function renderOnlineUsers(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const users = await api<OnlineUser[]>('GET', `/online-users${search ? `?q=${encodeURIComponent(search)}` : ''}`);
  const box = el('input', { id: 'online-search', type: 'search', value: search, placeholder: t('searchOnline') });
  box.setAttribute('aria-label', t('searchOnline'));
  box.addEventListener('change', () => {
    search = box.value.trim();
    void renderOnlineUsers(root, onError).catch(onError);
  });
  const rows = users.flatMap((user) =>
    user.devices.map((device, i) => {
      const row = el(
        'tr',
        {},
        el('td', {}, i === 0 ? user.name : ''),
        el('td', {}, i === 0 ? user.account : ''),
        el('td', {}, device.model || '—'),
        el('td', {}, device.version || '—'),
        el('td', {}, device.address),
        el('td', {}, device.transport.toUpperCase()),
        el('td', { className: device.status === 'unreachable' ? 'quality red' : 'quality' }, t(STATUS[device.status])),
      );
      row.dataset.account = user.account;
      return row;
    }),
  );
  const table = el(
    'table',
    { id: 'online-table' },
    el('caption', {}, t('onlineTotal', { users: String(users.length), devices: String(rows.length) })),
    el('thead', {}, el('tr', {}, ...(['name', 'accountNumber', 'model', 'version', 'address', 'transport', 'status'] as const).map((k) => el('th', { scope: 'col' }, t(k))))),
    el('tbody', {}, ...rows),
  );
  root.replaceChildren(el('h1', {}, t('onlineTitle')), el('div', { className: 'toolbar' }, box), table);
}
