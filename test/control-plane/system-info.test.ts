/**
 * GET /api/v1/system-info from an administrator's and an operator's side, over real HTTP: the
 * host's network interfaces as `ip` (iproute2) reports them — names, states, MACs, MTUs,
 * addresses with prefixes, the default gateway — and the kernel as `uname -r` reports it; a
 * network interface the test creates (a veth pair, root only) appears with the MTU and address
 * it was given, and once the settings name it as the WAN port it carries that role and the
 * configured WAN address. Without a session: 401.
 */
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

interface IpAddress {
  ifname: string;
  operstate: string;
  mtu: number;
  address?: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}
const ipAddresses = (): IpAddress[] => JSON.parse(execFileSync('ip', ['-j', 'address', 'show'], { encoding: 'utf8' }));
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
await admins.create({ username: 'watcher', password: 'Watch2026', role: 'operator' });
const base = await startConsoleApi(t, { state });

// A link of the test's own (both ends of a veth pair in this namespace): needs root.
const tag = `vsi${(process.pid % 100_000).toString(36)}`;
let ownLink = false;
try {
  ip('link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`);
  t.teardown(() => {
    try {
      ip('link', 'del', `${tag}a`);
    } catch {}
  });
  ip('link', 'set', `${tag}a`, 'mtu', '1400');
  ip('addr', 'add', '10.254.71.1/24', 'dev', `${tag}a`);
  ip('link', 'set', `${tag}a`, 'up');
  ip('link', 'set', `${tag}b`, 'up');
  ownLink = true;
} catch {
  // not root: the host's own interfaces are still compared
}

t.test('the network interfaces are the ones the kernel reports', async (t) => {
  const admin = new ConsoleClient(base);
  await admin.login('chief', 'Chief2026');
  const before = ipAddresses();
  const { status, body } = await admin.call('GET', '/api/v1/system-info');
  const after = ipAddresses();
  t.equal(status, 200);
  t.equal(body.kernel, execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), 'the kernel as uname says');
  t.ok(body.cpu.cores >= 1 && body.memoryBytes > 0 && body.uptimeSeconds > 0, 'CPU, memory and uptime');
  t.notOk(body.nics.some((n: { name: string }) => n.name === 'lo'), 'loopback is left out');
  // Other tests on this machine add and remove links: compare those that did not change meanwhile.
  const stable = before.filter((link) => link.ifname !== 'lo' && JSON.stringify(after.find((a) => a.ifname === link.ifname)) === JSON.stringify(link));
  t.ok(stable.length > 0, `interfaces to compare: ${stable.map((l) => l.ifname).join(', ')}`);
  for (const link of stable) {
    const nic = body.nics.find((n: { name: string }) => n.name === link.ifname);
    t.ok(nic, `${link.ifname} is listed`);
    if (!nic) continue;
    t.equal(nic.state, link.operstate.toLowerCase(), `${link.ifname}: state ${nic.state}`);
    t.equal(nic.mtu, link.mtu, `${link.ifname}: MTU`);
    if (link.address && link.address !== '00:00:00:00:00:00') t.equal(nic.mac, link.address, `${link.ifname}: MAC`);
    const v4 = link.addr_info.filter((a) => a.family === 'inet').map((a) => ({ address: a.local, prefix: a.prefixlen }));
    t.same(nic.ipv4, v4, `${link.ifname}: IPv4 addresses with prefixes`);
    const v6 = link.addr_info.filter((a) => a.family === 'inet6').map((a) => a.local);
    t.same(nic.ipv6.map((a: { address: string }) => a.address).sort(), v6.sort(), `${link.ifname}: IPv6 addresses`);
  }
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'default'], { encoding: 'utf8' })) as { dev: string; gateway?: string }[];
  for (const route of routes.filter((r) => r.gateway)) {
    const nic = body.nics.find((n: { name: string }) => n.name === route.dev);
    if (nic) t.equal(nic.gateway, route.gateway, `the default gateway through ${route.dev}`);
  }
});

t.test("a link the test made, and the WAN role the settings give it", { skip: ownLink ? false : 'creating a network interface needs root' }, async (t) => {
  const operator = new ConsoleClient(base);
  await operator.login('watcher', 'Watch2026');
  const find = async () => (await operator.call('GET', '/api/v1/system-info')).body.nics.find((n: { name: string }) => n.name === `${tag}a`);
  t.match(await find(), { state: 'up', mtu: 1400, ipv4: [{ address: '10.254.71.1', prefix: 24 }], role: null, configured: null }, 'listed as made, for an operator too');
  state.settings.update({ 'network.wan.interface': `${tag}a` }, { actor: 'test' });
  t.match(await find(), { role: 'wan', configured: { mode: 'static', address: '192.168.88.88', mask: '255.255.255.0' } }, 'the WAN port, with its configured address beside the real one');
  t.equal((await new ConsoleClient(base).call('GET', '/api/v1/system-info')).status, 401, 'no session: 401');
});
