/**
 * The operating system's settings from an administrator's view, over the real settings API:
 * NICs (DHCP or static), static routes, SSH and time are validated with the key and the rule
 * (nothing rendered when refused), rendered to systemd-networkd / sshd / timesyncd files under
 * a temporary system root with exactly the expected content, and never applied there (only an
 * installed appliance applies: root / and the appliance flag). Without a root nothing is
 * written anywhere. No command touching this machine's network, sshd or time is ever run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { defaultSettings } from '../../server/settings/settings-schema.ts';
import { applyCommands, appliesToSystem, SystemConfigurator } from '../../server/system/system-configurator.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'vcbox-system-root-'));
const commandsRun: string[] = [];
const recordCommand = async (command: string, args: readonly string[]) => {
  commandsRun.push([command, ...args].join(' '));
};

async function consoleWith(system: SystemConfigurator): Promise<{ admin: ConsoleClient; state: ReturnType<typeof openState> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-system-data-'));
  const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
  await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
  const base = await startConsoleApi(t, { state, system });
  const admin = new ConsoleClient(base);
  await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
  return { admin, state };
}

// Rendered under a temporary root; the appliance flag is even on, yet the root is not /.
const { admin, state } = await consoleWith(new SystemConfigurator({ root, appliance: true, run: recordCommand }));
const file = (system: string) => readFileSync(path.join(root, system), 'utf8');
const LAN = '/etc/systemd/network/10-vcbox-lan.network';
const WAN = '/etc/systemd/network/10-vcbox-wan.network';
const SSHD = '/etc/ssh/sshd_config.d/vcbox.conf';
const TIMESYNCD = '/etc/systemd/timesyncd.conf.d/vcbox.conf';
const ZONE = '/etc/vcbox/timezone';

/** Every file under the root, as system paths. */
function filesUnderRoot(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(`/${path.relative(root, full)}`);
    }
  };
  walk(root);
  return out.sort();
}

t.test('the network settings are shown with their rules and the spec warning', async (t) => {
  const { body } = await admin.call('GET', '/api/v1/settings');
  t.match(body['network.lan.mode'], { value: 'dhcp', rule: 'dhcp or static', effect: { applies: 'system', target: 'network', warning: /restarts the conferencing service/ } });
  t.match(body['network.wan.address'], { value: '192.168.88.88' }, 'the WAN port has the factory address');
  t.match(body['network.lan.interface'], { value: 'eth0', rule: /interface name/ });
  t.match(body['network.routes'], { value: [], rule: /at most 64 routes/ });
  t.match(body['ssh.port'], { value: 22, effect: { applies: 'system', target: 'ssh' } });
  t.match(body['network.localDomain'], { effect: { applies: 'now' } }, 'the local domain is not a system file');
});

t.test('a static LAN with gateway, DNS and a route is rendered; the DHCP WAN ignores its DHCP gateway', async (t) => {
  const answer = await admin.call('PATCH', '/api/v1/settings', {
    'network.lan.interface': 'enp1s0',
    'network.lan.mode': 'static',
    'network.lan.address': '10.20.0.5',
    'network.lan.mask': '255.255.255.0',
    'network.lan.gateway': '10.20.0.1',
    'network.lan.dns1': '10.20.0.2',
    'network.lan.dns2': '1.1.1.1',
    'network.wan.mode': 'dhcp',
    'network.routes': [{ destination: '172.16.0.0', mask: '255.240.0.0', gateway: '10.20.0.254', nic: 'lan' }],
  });
  t.equal(answer.status, 200);
  t.match(answer.body, {
    storedOnly: [],
    system: {
      targets: ['network'],
      root,
      applied: false,
      commands: [],
      warning: 'This restarts the conferencing service: calls in progress are ended.',
      files: [
        { file: LAN, path: path.join(root, LAN), changed: true },
        { file: WAN, path: path.join(root, WAN), changed: true },
      ],
    },
    message: /Saved\. Written under .*; not applied: only an installed appliance/,
  });
  t.equal(
    file(LAN),
    [
      '# LAN port of the vcbox appliance, written from its settings (network.lan.*, network.routes).',
      '# Change it in the console: vcbox rewrites this file on every change.',
      '[Match]',
      'Name=enp1s0',
      '',
      '[Network]',
      'Address=10.20.0.5/24',
      'Gateway=10.20.0.1',
      'DNS=10.20.0.2',
      'DNS=1.1.1.1',
      '',
      '[Route]',
      'Destination=172.16.0.0/12',
      'Gateway=10.20.0.254',
      '',
    ].join('\n'),
  );
  t.equal(
    file(WAN),
    [
      '# WAN port of the vcbox appliance, written from its settings (network.wan.*, network.routes).',
      '# Change it in the console: vcbox rewrites this file on every change.',
      '[Match]',
      'Name=eth1',
      '',
      '[Network]',
      'DHCP=ipv4',
      '',
      '[DHCPv4]',
      'UseGateway=no',
      '',
    ].join('\n'),
  );
  t.same(filesUnderRoot(), [LAN, WAN], 'only the network files; no temporary file left');
  t.same(commandsRun, [], 'nothing applied outside an installed appliance');
});

t.test('routes are added, edited and deleted with the list; back to DHCP rewrites the file', async (t) => {
  await admin.call('PATCH', '/api/v1/settings', {
    'network.wan.mode': 'static',
    'network.wan.address': '203.0.113.10',
    'network.wan.mask': '/28',
    'network.lan.gateway': '',
    'network.wan.gateway': '203.0.113.1',
    'network.routes': [
      { destination: '172.16.0.0', mask: '12', gateway: '10.20.0.254', nic: 'lan' },
      { destination: '198.51.100.0', mask: '255.255.255.0', gateway: '203.0.113.2', nic: 'wan' },
    ],
  });
  t.match(file(LAN), /\[Network\]\nAddress=10\.20\.0\.5\/24\nDNS=10\.20\.0\.2\nDNS=1\.1\.1\.1\n\n\[Route\]\nDestination=172\.16\.0\.0\/12\nGateway=10\.20\.0\.254\n$/, 'the LAN lost its gateway, kept its route');
  t.match(file(WAN), /\[Network\]\nAddress=203\.0\.113\.10\/28\nGateway=203\.0\.113\.1\n\n\[Route\]\nDestination=198\.51\.100\.0\/24\nGateway=203\.0\.113\.2\n$/);

  const deleted = await admin.call('PATCH', '/api/v1/settings', { 'network.routes': [{ destination: '198.51.100.0', mask: '24', gateway: '203.0.113.3', nic: 'wan' }] });
  t.match(deleted.body.system.files, [{ file: LAN, changed: true }, { file: WAN, changed: true }]);
  t.notMatch(file(LAN), /\[Route\]/, 'the deleted LAN route is gone');
  t.match(file(WAN), /Gateway=203\.0\.113\.3\n$/, 'the edited route has its new gateway');

  const dhcp = await admin.call('PATCH', '/api/v1/settings', { 'network.lan.mode': 'dhcp' });
  t.equal(dhcp.status, 200);
  t.match(dhcp.body.system.files, [{ file: LAN, changed: true }, { file: WAN, changed: false }]);
  t.equal(
    file(LAN),
    [
      '# LAN port of the vcbox appliance, written from its settings (network.lan.*, network.routes).',
      '# Change it in the console: vcbox rewrites this file on every change.',
      '[Match]',
      'Name=enp1s0',
      '',
      '[Network]',
      'DHCP=ipv4',
      '',
      '[DHCPv4]',
      'UseGateway=no',
      '',
    ].join('\n'),
    'a LAN back on DHCP: no static address, gateway or DNS left',
  );
  t.equal(state.settings.get('network.lan.address'), '10.20.0.5', 'the static address stays stored for a switch back');
});

t.test('invalid network settings are refused with the key and the rule, and nothing is rendered', async (t) => {
  const before = { settings: state.settings.getAll(), lan: file(LAN), wan: file(WAN) };
  const refused = async (changes: Record<string, unknown>, key: string, rule: RegExp, what: string) => {
    const { status, body } = await admin.call('PATCH', '/api/v1/settings', changes);
    t.equal(status, 400, what);
    t.match(body, { code: 'VCBOX_ERR_SETTING_INVALID', key, message: rule }, what);
  };
  await refused({ 'network.lan.address': '10.20.0.300' }, 'network.lan.address', /IPv4 host address/, 'an address that is not one');
  await refused({ 'network.lan.address': '127.0.0.5' }, 'network.lan.address', /IPv4 host address/, 'a loopback address');
  await refused({ 'network.lan.mask': '255.0.255.0' }, 'network.lan.mask', /netmask such as 255\.255\.255\.0/, 'a mask with holes');
  await refused({ 'network.lan.mask': '33' }, 'network.lan.mask', /prefix length/, 'a prefix over 32');
  await refused({ 'network.lan.interface': 'eth0; reboot' }, 'network.lan.interface', /interface name/, 'an interface name with a space');
  await refused({ 'network.lan.interface': 'a-very-long-name0' }, 'network.lan.interface', /1-15/, 'an interface name over 15 characters');
  await refused({ 'network.lan.interface': 'eth1' }, 'network.wan.interface', /different interfaces/, 'LAN and WAN on one interface');
  await refused({ 'network.lan.mode': 'static', 'network.lan.mask': '' }, 'network.lan.mask', /needs a mask/, 'static without a mask');
  await refused({ 'network.lan.mode': 'static', 'network.lan.address': '' }, 'network.lan.address', /needs an IP address/, 'static without an address');
  await refused({ 'network.lan.mode': 'static', 'network.lan.gateway': '10.30.0.1' }, 'network.lan.gateway', /not a host of the LAN subnet 10\.20\.0\.0\/24/, 'a gateway outside the subnet');
  await refused({ 'network.lan.mode': 'static', 'network.lan.gateway': '10.20.0.255' }, 'network.lan.gateway', /not a host of the LAN subnet/, 'the broadcast address as gateway');
  await refused({ 'network.lan.mode': 'static', 'network.lan.address': '10.20.0.0' }, 'network.lan.address', /network or broadcast address/, 'the network address as the NIC address');
  await refused({ 'network.lan.mode': 'static', 'network.lan.gateway': '10.20.0.1' }, 'network.wan.gateway', /only one NIC may have the default gateway/, 'two default gateways');
  await refused(
    { 'network.lan.mode': 'static', 'network.lan.address': '203.0.113.5', 'network.lan.mask': '255.255.255.0' },
    'network.wan.address',
    /overlaps the LAN subnet 203\.0\.113\.0\/24/,
    'overlapping subnets',
  );
  await refused({ 'network.lan.dns1': 'dns.example.com' }, 'network.lan.dns1', /IP address of a DNS server/, 'a DNS server by name');
  await refused({ 'network.routes': [{ destination: '10.9.0.0', mask: '255.255.0.0', gateway: '203.0.113.2' }] }, 'network.routes', /nic lan or wan/, 'a route without its NIC');
  await refused({ 'network.routes': [{ destination: '10.9.0.1', mask: '16', gateway: '203.0.113.2', nic: 'wan' }] }, 'network.routes', /must be a network address, e\.g\. 10\.9\.0\.0\/16/, 'a route to a host address with a /16');
  await refused({ 'network.routes': [{ destination: '10.9.0.0', mask: '16', gateway: '192.0.2.1', nic: 'wan' }] }, 'network.routes', /route 1 .*not a host of the WAN subnet 203\.0\.113\.0\/28/, 'a route gateway outside its NIC subnet');
  await refused(
    {
      'network.routes': [
        { destination: '10.9.0.0', mask: '16', gateway: '203.0.113.2', nic: 'wan' },
        { destination: '10.9.0.0', mask: '255.255.0.0', gateway: '203.0.113.3', nic: 'wan' },
      ],
    },
    'network.routes',
    /route 2 .*already a route to 10\.9\.0\.0\/16/,
    'two routes to one network',
  );
  await refused({ 'network.routes': [{ destination: '0.0.0.0', mask: '0', gateway: '203.0.113.2', nic: 'wan' }] }, 'network.routes', /mask a netmask or prefix length 1-32/, 'a default route as a static route');
  await refused({ 'ssh.port': 0 }, 'ssh.port', /port number 1-65535/, 'SSH port 0');
  await refused({ 'time.sntpServer': 'ntp.example.com\nFallbackNTP=evil' }, 'time.sntpServer', /host name or IP address/, 'an SNTP server with a line break');
  await refused({ 'time.mode': 'sntp', 'time.sntpServer': '' }, 'time.sntpServer', /needs the SNTP server/, 'SNTP without a server');
  await refused({ 'time.zone': 'UTC+14:00' }, 'time.zone', /from the list \(UTC-11:00 … UTC\+13:00\)/, 'a zone not in the list');
  t.same(state.settings.getAll(), before.settings, 'nothing was stored');
  t.equal(file(LAN), before.lan, 'the LAN file is unchanged');
  t.equal(file(WAN), before.wan, 'the WAN file is unchanged');
  t.notOk(existsSync(path.join(root, SSHD)), 'no sshd file was rendered by the refused SSH change');
  t.notOk(existsSync(path.join(root, TIMESYNCD)), 'no time file was rendered by the refused time changes');
});

t.test('SSH port and off are rendered as the sshd drop-in', async (t) => {
  const port = await admin.call('PATCH', '/api/v1/settings', { 'ssh.port': 2222 });
  t.match(port.body, { system: { targets: ['ssh'], applied: false, files: [{ file: SSHD, changed: true }] } });
  t.notOk('warning' in port.body.system, 'no conferencing restart for SSH');
  t.equal(
    file(SSHD),
    '# SSH of the vcbox appliance, written from its settings (ssh.enabled, ssh.port).\n# Change it in the console: vcbox rewrites this file on every change.\nPort 2222\n',
  );
  await admin.call('PATCH', '/api/v1/settings', { 'ssh.enabled': false });
  t.equal(
    file(SSHD),
    '# SSH of the vcbox appliance, written from its settings (ssh.enabled, ssh.port).\n# Change it in the console: vcbox rewrites this file on every change.\nPort 2222\n' +
      '# SSH is off: reachable from the box itself only (the appliance also stops the ssh service).\nListenAddress 127.0.0.1\n',
  );
  await admin.call('PATCH', '/api/v1/settings', { 'ssh.enabled': true });
  t.notMatch(file(SSHD), /ListenAddress/, 'on again: listening on every address');
});

t.test('time: SNTP server and zone rendered; manual time has no server', async (t) => {
  const sntp = await admin.call('PATCH', '/api/v1/settings', { 'time.sntpServer': 'ntp.example.com', 'time.zone': 'UTC+01:00', 'time.dst': 'auto' });
  t.match(sntp.body.system, { targets: ['time'], applied: false, files: [{ file: TIMESYNCD }, { file: ZONE }] });
  t.equal(
    file(TIMESYNCD),
    '# Time of the vcbox appliance, written from its settings (time.mode, time.sntpServer).\n# Change it in the console: vcbox rewrites this file on every change.\n[Time]\nNTP=ntp.example.com\n',
  );
  t.equal(file(ZONE), 'Europe/Berlin\n', 'UTC+01:00 with summer time: the region zone');
  await admin.call('PATCH', '/api/v1/settings', { 'time.zone': 'UTC+08:00', 'time.dst': 'off' });
  t.equal(file(ZONE), 'Etc/GMT-8\n', 'UTC+08:00 without summer time: a constant offset (POSIX sign)');
  await admin.call('PATCH', '/api/v1/settings', { 'time.zone': 'UTC+05:30' });
  t.equal(file(ZONE), 'Asia/Kolkata\n', 'a half-hour offset has no Etc zone');
  await admin.call('PATCH', '/api/v1/settings', { 'time.mode': 'manual' });
  t.match(file(TIMESYNCD), /\[Time\]\n# Manual time: no SNTP server \(the appliance turns NTP off\)\.\nNTP=\n$/);
  t.same(commandsRun, [], 'still nothing applied');
});

t.test('the setup wizard time step renders the time files too', async (t) => {
  const { status } = await admin.call('PUT', '/api/v1/setup/time', { mode: 'sntp', sntpServer: '192.0.2.123', zone: 'UTC-05:00', dst: 'off' });
  t.equal(status, 200);
  t.match(file(TIMESYNCD), /NTP=192\.0\.2\.123\n$/);
  t.equal(file(ZONE), 'Etc/GMT+5\n');
});

t.test('other settings render nothing', async (t) => {
  const before = filesUnderRoot().map((f) => [f, file(f)]);
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'off', 'network.localDomain': 'box.example.com' });
  t.equal(answer.body.message, 'Saved.');
  t.notOk('system' in answer.body);
  t.same(filesUnderRoot().map((f) => [f, file(f)]), before);
});

t.test('without a system root nothing is written anywhere', async (t) => {
  const { admin: plain } = await consoleWith(new SystemConfigurator({ appliance: true, run: recordCommand }));
  const before = filesUnderRoot().map((f) => [f, file(f)]);
  const etcBefore = existsSync('/etc/systemd/network/10-vcbox-lan.network');
  const answer = await plain.call('PATCH', '/api/v1/settings', { 'network.lan.mode': 'static', 'network.lan.address': '10.1.2.3', 'network.lan.mask': '24', 'ssh.port': 2200 });
  t.equal(answer.status, 200);
  t.match(answer.body.system, { targets: ['network', 'ssh'], root: null, files: [], applied: false, commands: [], note: /no system root configured \(VCBOX_SYSTEM_ROOT\)/ });
  t.same(filesUnderRoot().map((f) => [f, file(f)]), before, 'the other box\'s root is untouched');
  t.equal(existsSync('/etc/systemd/network/10-vcbox-lan.network'), etcBefore, 'nothing in /etc');
  t.same(commandsRun, []);
});

t.test('a system root that cannot be written: saved, the file not written, and the answer says so', async (t) => {
  const notAFolder = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-system-bad-')), 'file');
  writeFileSync(notAFolder, 'not a folder');
  const { admin: broken, state: brokenState } = await consoleWith(new SystemConfigurator({ root: notAFolder, appliance: false }));
  const { status, body } = await broken.call('PATCH', '/api/v1/settings', { 'ssh.port': 2022 });
  t.equal(status, 500);
  t.match(body, { code: 'VCBOX_ERR_SYSTEM_RENDER', file: path.join(notAFolder, SSHD), message: /settings were saved, but the system file .* could not be written/ });
  t.equal(brokenState.settings.get('ssh.port'), 2022, 'the setting is stored; saving again renders it');
  t.equal(readFileSync(notAFolder, 'utf8'), 'not a folder');
});

t.test('applied only on an installed appliance: root / and the appliance flag', async (t) => {
  t.equal(appliesToSystem('/', true), true);
  t.equal(appliesToSystem('/', false), false, 'root / without the appliance flag');
  t.equal(appliesToSystem(root, true), false, 'a staging root with the flag');
  t.equal(appliesToSystem(undefined, true), false, 'no root');
  const settings = defaultSettings();
  t.same(applyCommands('network', settings), [
    ['networkctl', 'reload'],
    ['systemctl', 'restart', 'vcbox-signaling.service', 'vcbox-media.service'],
  ]);
  t.same(applyCommands('ssh', { ...settings, 'ssh.enabled': false }), [['systemctl', 'disable', '--now', 'ssh.service']]);
  t.same(applyCommands('time', settings), [
    ['timedatectl', 'set-timezone', 'Etc/GMT-8'],
    ['timedatectl', 'set-ntp', 'true'],
    ['systemctl', 'restart', 'systemd-timesyncd.service'],
  ]);
});

t.test('process configuration: system root and appliance flag', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-system-config-'));
  t.same(loadConfig({ VCBOX_DATA_DIR: dataDir }).system, { appliance: false, systemd: false }, 'by default: no root, not an appliance, no systemd');
  t.same(loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_SYSTEM_ROOT: root, VCBOX_APPLIANCE: '1' }).system, { root, appliance: true, systemd: false });
  t.throws(() => loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_SYSTEM_ROOT: 'relative/root' }), { code: 'VCBOX_ERR_CONFIG_VALUE' });
  t.throws(() => loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_APPLIANCE: 'yes' }), { code: 'VCBOX_ERR_CONFIG_VALUE' });
});
