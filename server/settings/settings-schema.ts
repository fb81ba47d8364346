/**
 * Every stored setting of the appliance with its default from the spec (SPEC.md "Call
 * settings", "Network & services", "Logs", "Maintenance") and its rule. Per-key rules live in
 * `SETTINGS`; rules across keys (TLS port ≠ UDP/TCP port, media ranges wide enough and apart,
 * the NICs' addresses, gateways and routes: server/network/network-settings.ts, the server-log
 * quota's shares adding up to 100 %) in `crossCheck`. The console API of later issues exposes these; nothing here touches storage.
 */
import net from 'node:net';
import {
  checkNetwork,
  isDnsOrEmpty,
  isHostAddressOrEmpty,
  isInterfaceName,
  isMaskOrEmpty,
  isNicMode,
  isRouteList,
  NICS,
  type Nic,
  type NicSettings,
  ROUTES_RULE,
  type StaticRoute,
} from '../network/network-settings.ts';
import { DEFAULT_LOCAL_NETWORKS, parseNetworks } from '../core/static-nat.ts';
import { ACCESS_URL_RULE, isAccessUrlOrEmpty } from '../network/access-url.ts';
import { isMeetingNumber } from '../dial-plan/dial-plan.ts';
import { isTimeZoneOffset, TIME_ZONE_OFFSETS } from '../system/time-zones.ts';
import { CONTENT_RESOLUTIONS, EQUAL_SPLIT_LAYOUTS, ONE_PLUS_N_LAYOUTS, VIDEO_RESOLUTIONS } from '../core/call-settings.ts';

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

type Check<T> = (value: unknown) => value is T;

/**
 * The processes that follow a setting while they run: each watches it (the signaling service
 * through its SettingsWatcher, the TURN service by re-rendering its relay's configuration, the
 * control plane through the store's observer) or is sent it (the media process, which never
 * opens the database: the control plane sends it every setting it follows over the media
 * control channel, server/media-client/media-settings-feed.ts) and re-configures itself when it
 * changes. Settings read afresh at each use (a call, a message, a request) need no following
 * and name no process — except for the media process, which has no other way to read them
 * (static NAT, the layout maxima). Remote syslog, which every process that reads the database
 * runs, re-reads the `syslog.` settings itself (server/logging/remote-syslog.ts); the media
 * process follows them.
 */
export const FOLLOWERS = ['control-plane', 'signaling', 'media', 'turn'] as const;
export type Follower = (typeof FOLLOWERS)[number];

interface SettingDefinition<T> {
  readonly default: T;
  /** Type guard plus rule; `describe` says what is allowed, for the error message. */
  readonly check: Check<T>;
  readonly describe: string;
  /** Who follows it while running (test/foundation/setting-followers.test.ts checks it against the code). */
  readonly follows: readonly Follower[];
}

const isPort = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
const isBool = (value: unknown): value is boolean => typeof value === 'boolean';
const oneOf =
  <const T extends readonly (string | number)[]>(choices: T) =>
  (value: unknown): value is T[number] =>
    (choices as readonly unknown[]).includes(value);
const isRange = (value: unknown): value is PortRange => {
  if (typeof value !== 'object' || value === null) return false;
  const { min, max } = value as Record<string, unknown>;
  return isPort(min) && isPort(max) && (max as number) - (min as number) + 1 >= 1000;
};
const isText =
  (max: number) =>
  (value: unknown): value is string =>
    typeof value === 'string' && value.length <= max;
const isIntIn =
  (low: number, high: number) =>
  (value: unknown): value is number =>
    typeof value === 'number' && Number.isInteger(value) && value >= low && value <= high;

const PEM_CERTIFICATES = /^\s*(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;
const isPemCertificates = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= 65536 && (value === '' || PEM_CERTIFICATES.test(value));

function setting<T>(defaultValue: T, check: Check<T>, describe: string, follows: readonly Follower[] = []): SettingDefinition<T> {
  return { default: defaultValue, check, describe, follows };
}

export { CONTENT_RESOLUTIONS };
export const EARLY_JOIN_MINUTES = [5, 10, 15, 30, 45, 60] as const;
export const SETUP_STEPS = ['network', 'time', 'admin', 'license', 'smtp'] as const;
export type SetupStep = (typeof SETUP_STEPS)[number];
export type SetupStatus = 'pending' | 'done' | 'skipped';
export type SetupSteps = Record<SetupStep, SetupStatus>;
function isSetupSteps(value: unknown): value is SetupSteps {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return Object.keys(record).length === SETUP_STEPS.length && SETUP_STEPS.every((step) => ['pending', 'done', 'skipped'].includes(record[step] as string));
}

// A host name (letters, digits, dots, hyphens) or an IP address: written into a system file,
// so nothing else may pass.
const isHostNameOrEmpty = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= 128 && (value === '' || net.isIP(value) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(value));

/**
 * A DNS domain (the SIP domain): dot-separated labels of letters, digits and hyphens, no hyphen
 * at a label's ends, labels of at most 63 characters, at most 128 in all. The value reaches
 * coturn's configuration file (its realm line), SIP headers (digest realm, URIs) and mail
 * addresses, so nothing else may pass: no spaces, quotes, semicolons, CR or LF.
 */
export const DOMAIN_PATTERN = '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';
const DOMAIN = new RegExp(DOMAIN_PATTERN);
export const DOMAIN_RULE = 'a domain name of at most 128 characters: labels of letters, digits and hyphens separated by dots, e.g. vcbox.example.com (no spaces, quotes, semicolons or line breaks)';
export const isDomainName = (value: unknown): value is string => typeof value === 'string' && value.length <= 128 && DOMAIN.test(value);

const INTERFACE_RULE = 'a network interface name: 1-15 letters, digits, _ . - (e.g. eth0, enp1s0)';
const HOST_ADDRESS_RULE = 'an IPv4 host address (not 0.x, 127.x or multicast), or empty';
const MASK_RULE = 'a netmask such as 255.255.255.0 or a prefix length such as 24 (1-32), or empty';
const DNS_RULE = 'the IP address of a DNS server, or empty';

/** One NIC's settings [001 ch4 系统设置: 网卡 DHCP / 静态 IP, 掩码, 网关, DNS1, DNS2]. */
function nicSettings<const N extends Nic>(nic: N, defaults: { interface: string; mode: 'dhcp' | 'static'; address: string; mask: string }) {
  return {
    [`network.${nic}.interface`]: setting(defaults.interface, isInterfaceName, INTERFACE_RULE),
    [`network.${nic}.mode`]: setting<'dhcp' | 'static'>(defaults.mode, isNicMode, 'dhcp or static'),
    [`network.${nic}.address`]: setting(defaults.address, isHostAddressOrEmpty, HOST_ADDRESS_RULE),
    [`network.${nic}.mask`]: setting(defaults.mask, isMaskOrEmpty, MASK_RULE),
    [`network.${nic}.gateway`]: setting('', isHostAddressOrEmpty, `${HOST_ADDRESS_RULE}; inside the NIC's subnet`),
    [`network.${nic}.dns1`]: setting('', isDnsOrEmpty, DNS_RULE),
    [`network.${nic}.dns2`]: setting('', isDnsOrEmpty, DNS_RULE),
  } as { [K in `network.${N}.${keyof NicSettings}`]: SettingDefinition<K extends `network.${N}.mode` ? 'dhcp' | 'static' : string> };
}

export const DIGEST_CHOICES = ['MD5,SHA-256', 'SHA-256,MD5', 'SHA-256', 'MD5'] as const;
export const BANDWIDTHS = ['4M', '3M', '2M', '1.5M', '1M', '768k', '512k', '256k', '128k'] as const;

export const SETTINGS = {
  // Call settings [001 ch4 通话设置]
  'call.maxVideoResolution': setting('720P/30', oneOf(VIDEO_RESOLUTIONS), `one of ${VIDEO_RESOLUTIONS.join(', ')}`, ['media']),
  // Caps what content lines receive (media/meetings/content-policy.ts); above 1080P/5 the
  // console warns of high load (transcoding at that size and rate).
  'call.maxContentResolution': setting('1080P/5', oneOf(CONTENT_RESOLUTIONS), `one of ${CONTENT_RESOLUTIONS.join(', ')}`, ['media']),
  'call.layout.equalSplitMax': setting('4x4', oneOf(EQUAL_SPLIT_LAYOUTS), `one of ${EQUAL_SPLIT_LAYOUTS.join(', ')}`, ['media']),
  'call.layout.onePlusNMax': setting('1+7', oneOf(ONE_PLUS_N_LAYOUTS), `one of ${ONE_PLUS_N_LAYOUTS.join(', ')}`, ['media']),
  'call.polling.intervalSeconds': setting(10, isIntIn(5, 300), 'a whole number of seconds from 5 to 300', ['media']),
  // Beyond the spec: each SIP participant's picture without itself costs a composition per
  // participant, so it is offered only up to this many SIP video participants (0: off).
  'call.selfViewExclusionMax': setting(0, isIntIn(0, 9), 'a whole number from 0 (off) to 9 SIP video participants', ['media']),
  'call.polling.rule': setting('round-robin', oneOf(['round-robin', 'longest-unseen'] as const), 'round-robin or longest-unseen', ['media']),
  'call.earlyJoinMinutes': setting(10, oneOf(EARLY_JOIN_MINUTES), `one of ${EARLY_JOIN_MINUTES.join(', ')}`),
  'call.ivrLanguage': setting('zh-CN', oneOf(['zh-CN', 'en'] as const), 'zh-CN or en'),
  'call.maxBandwidth': setting('2M', oneOf(BANDWIDTHS), `one of ${BANDWIDTHS.join(', ')}`, ['media']),
  // A floor request while someone presents: takes the floor over (room systems expect it), or waits its turn.
  'call.contentFloor': setting<'take-over' | 'queue'>('take-over', oneOf(['take-over', 'queue'] as const), 'take-over or queue'),
  // Media security and admission for meeting calls (beyond the manual, expected of an MCU):
  // SRTP (SDES) used when offered / required of every caller / never; callers that are not
  // registered accounts may dial meetings (they still need the PIN); a call whose RTP stops
  // for this long is hung up.
  'call.srtp': setting('optional', oneOf(['optional', 'required', 'off'] as const), 'optional, required or off'),
  'call.guestAccess': setting(true, isBool, 'true or false'),
  'call.rtpTimeoutSeconds': setting(60, isIntIn(10, 600), 'a whole number of seconds from 10 to 600', ['media']),
  // A registered terminal dialling this number creates an instant meeting and joins it as its
  // host (the terminal's "meet now"; a conference factory in RFC 4579's terms).
  // The IVR access number: callers enter the meeting ID and PIN by DTMF.
  'call.ivrAccessNumber': setting('88888', isMeetingNumber, '5 to 12 digits'),
  'call.instantMeetingNumber': setting('99999', isMeetingNumber, '5 to 12 digits'),
  // Network & services [001 ch4 系统设置]
  'network.localDomain': setting('vcbox.local', isDomainName, DOMAIN_RULE, ['turn']),
  // Which physical interface is which port, and how each gets its address. The WAN port's
  // factory address is 192.168.88.88 [001 ch1]; the LAN asks DHCP.
  ...nicSettings('lan', { interface: 'eth0', mode: 'dhcp', address: '', mask: '' }),
  ...nicSettings('wan', { interface: 'eth1', mode: 'static', address: '192.168.88.88', mask: '255.255.255.0' }),
  'network.routes': setting<StaticRoute[]>([], isRouteList, ROUTES_RULE),
  'nat.enabled': setting(false, isBool, 'true or false', ['media', 'turn']),
  'nat.publicIp': setting('', (value: unknown): value is string => typeof value === 'string' && (value === '' || net.isIP(value) !== 0), 'an IP address (or empty)', ['media', 'turn']),
  // Beyond the spec's two fields: which caller addresses are "inside" (they keep the private
  // address); everyone else is given the public IP.
  'nat.localNetworks': setting(
    DEFAULT_LOCAL_NETWORKS,
    (value: unknown): value is string => typeof value === 'string' && value.length <= 1024 && 'networks' in parseNetworks(value),
    'a comma-separated list of IPv4 networks, e.g. 10.0.0.0/8,192.168.1.0/24',
    ['media'],
  ),
  'web.httpPort': setting(80, isPort, 'a port number 1-65535', ['control-plane']),
  'web.httpNatPort': setting(80, isPort, 'a port number 1-65535'),
  'web.httpsEnabled': setting(false, isBool, 'true or false', ['control-plane']),
  'web.httpsPort': setting(443, isPort, 'a port number 1-65535', ['control-plane']),
  // The service URLs links sent by the box point at [003 设置中心访问地址] (the password-reset
  // mail): intranet for requesters inside nat.localNetworks, extranet for the others. Empty:
  // derived from the box's own address and ports (server/network/access-url.ts).
  'web.accessUrl.intranet': setting('', isAccessUrlOrEmpty, ACCESS_URL_RULE),
  'web.accessUrl.extranet': setting('', isAccessUrlOrEmpty, ACCESS_URL_RULE),
  'ssh.enabled': setting(true, isBool, 'true or false'),
  'ssh.port': setting(22, isPort, 'a port number 1-65535'),
  'sip.port': setting(5060, isPort, 'a port number 1-65535', ['signaling']),
  'sip.tlsPort': setting(5061, isPort, 'a port number 1-65535', ['signaling']),
  // Digest challenges offered to terminals, most preferred first; answers with any other
  // algorithm are refused. MD5 alone by default: many terminals in the field read only one
  // challenge, and libre-based ones (baresip) fail when SHA-256 is offered beside MD5. SHA-256
  // is an opt-in ('SHA-256,MD5' or 'SHA-256') for terminals that implement RFC 8760.
  'sip.digestAlgorithms': setting('MD5', oneOf(DIGEST_CHOICES), `one of ${DIGEST_CHOICES.join(' | ')}`),
  'sip.floodLimitPerSecond': setting(200, isIntIn(0, 100_000), 'messages per second per address, 0 for no limit', ['signaling']),
  'sip.blockScanners': setting(true, isBool, 'true or false', ['signaling']),
  // OPTIONS to every registered terminal this often (0 = off): online users show reachability.
  'sip.qualifySeconds': setting(60, (value: unknown): value is number => value === 0 || (Number.isInteger(value) && (value as number) >= 10 && (value as number) <= 3600), '0 (off) or 10 to 3600 seconds'),
  'media.ivrPorts': setting<PortRange>({ min: 30000, max: 37999 }, isRange, 'a port range at least 1000 wide', ['media']),
  'media.turnPorts': setting<PortRange>({ min: 38000, max: 49999 }, isRange, 'a port range at least 1000 wide', ['turn']),
  'media.mcuPorts': setting<PortRange>({ min: 50000, max: 59999 }, isRange, 'a port range at least 1000 wide', ['media', 'turn']),
  // The TURN relay for browsers that cannot reach the media ports directly (server/turn/):
  // clients reach it on this UDP/TCP port; it relays from media.turnPorts.
  'turn.enabled': setting(true, isBool, 'true or false', ['turn']),
  'turn.port': setting(3478, isPort, 'a port number 1-65535', ['turn']),
  'time.mode': setting('sntp', oneOf(['sntp', 'manual'] as const), 'sntp or manual'),
  'time.sntpServer': setting('cn.pool.ntp.org', isHostNameOrEmpty, 'a host name or IP address of at most 128 characters'),
  'time.zone': setting('UTC+08:00', isTimeZoneOffset, `a time zone from the list (${TIME_ZONE_OFFSETS[0]} … ${TIME_ZONE_OFFSETS.at(-1)})`),
  'time.dst': setting('off', oneOf(['auto', 'off'] as const), 'auto or off'),
  'smtp.server': setting('', isText(128), 'a host name of at most 128 characters'),
  'smtp.port': setting(25, isPort, 'a port number 1-65535'),
  'smtp.security': setting('none', oneOf(['none', 'ssl', 'tls'] as const), 'none, ssl or tls'),
  'smtp.sender': setting('', isText(128), 'an e-mail address of at most 128 characters'),
  'smtp.user': setting('', isText(128), 'a user name of at most 128 characters'),
  // Kept as given: the box must present it to the SMTP server. Never returned by the API.
  'smtp.password': setting('', isText(128), 'a password of at most 128 characters'),
  'disk.alertAbove80': setting(true, isBool, 'true or false'),
  // Disk quotas [001 ch4 磁盘空间设置], whole GB per part of the storage: meeting records, server
  // logs (Web/SIP/MCU/TURN together), terminal logs, backups, terminal firmware. When a part is
  // full its oldest files are overwritten. The rules across parts (minimum = max(default, used),
  // sum within the free space) need the disk and live where the disk is read
  // (server/disk/disk-quota-rules.ts, checked by PATCH /settings).
  'disk.quota.recordsGB': setting(10, isIntIn(1, 100_000), 'a whole number of GB from 1 to 100000'),
  'disk.quota.serverLogsGB': setting(5, isIntIn(1, 100_000), 'a whole number of GB from 1 to 100000'),
  'disk.quota.terminalLogsGB': setting(2, isIntIn(1, 100_000), 'a whole number of GB from 1 to 100000'),
  'disk.quota.backupsGB': setting(5, isIntIn(1, 100_000), 'a whole number of GB from 1 to 100000'),
  'disk.quota.firmwareGB': setting(5, isIntIn(1, 100_000), 'a whole number of GB from 1 to 100000'),
  // The server-log quota's split between the modules [001: 服务器日志 → 详情: Web、FreeSwitch、MCU
  // 和 Turn Server 日志占比], in percent adding up to 100. The manual gives no defaults: SIP
  // (FreeSwitch's place) logs every registration and call, Web every console request, the MCU
  // only meeting events, TURN (coturn for browsers outside the LAN) little.
  'disk.serverLogs.webPercent': setting(30, isIntIn(0, 100), 'a whole percentage from 0 to 100'),
  'disk.serverLogs.sipPercent': setting(40, isIntIn(0, 100), 'a whole percentage from 0 to 100'),
  'disk.serverLogs.mcuPercent': setting(20, isIntIn(0, 100), 'a whole percentage from 0 to 100'),
  'disk.serverLogs.turnPercent': setting(10, isIntIn(0, 100), 'a whole percentage from 0 to 100'),
  // Certificates (PEM) of the certificate authorities of the LAN's own servers — mail server,
  // syslog collector — trusted for the box's outgoing TLS besides the system's public ones.
  'tls.trustedCertificates': setting('', isPemCertificates, 'empty, or PEM certificates (-----BEGIN CERTIFICATE----- …) of at most 64 KiB', ['media']),
  // Logs [001 ch4 系统日志]
  'syslog.enabled': setting(false, isBool, 'true or false', ['media']),
  'syslog.host': setting('', isText(128), 'a host name of at most 128 characters', ['media']),
  'syslog.port': setting(514, isPort, 'a port number 1-65535', ['media']),
  'syslog.protocol': setting('udp', oneOf(['udp', 'tcp', 'tls'] as const), 'udp, tcp or tls', ['media']),
  'terminalLogs.enabled': setting(false, isBool, 'true or false'),
  // First start [001 ch1]: the setup wizard's progress, and what its steps ask beyond the above.
  'setup.steps': setting<SetupSteps>(
    { network: 'pending', time: 'pending', admin: 'pending', license: 'pending', smtp: 'pending' },
    isSetupSteps,
    'a status (pending, done, skipped) for each of network, time, admin, license, smtp',
  ),
  // Set once the wizard has been completed (or quick setup started): from then on its admin
  // step asks for the current password, like any other password change.
  'setup.firstStartDone': setting(false, isBool, 'true or false'),
  'system.improvementProgramme': setting(true, isBool, 'true or false'),
  'license.pendingSerial': setting('', isText(128), 'a serial of at most 128 characters'),
  // Maintenance [001 ch4 系统维护]
  'backup.auto': setting(true, isBool, 'true or false', ['control-plane']),
  'backup.period': setting('weekly', oneOf(['daily', 'weekly', 'monthly'] as const), 'daily, weekly or monthly', ['control-plane']),
  'backup.keep': setting(3, isIntIn(1, 30), 'a whole number from 1 to 30'),
  // When the automatic backup runs, in the box's local time: `day` is the weekday for weekly
  // (1 = Monday … 7 = Sunday) and the day of the month for monthly (1-28: every month has it);
  // daily ignores it.
  'backup.day': setting(1, isIntIn(1, 28), 'a whole number from 1 to 28 (weekly: 1 = Monday … 7 = Sunday; monthly: the day of the month)', ['control-plane']),
  // The passphrase automatic backups are encrypted with (server/backup/backup-encryption.ts):
  // the schedule runs unattended, so the box must keep it — sealed with the box key like every
  // secret (server/secrets/box-key.ts), never returned by the API. Empty: no automatic backup
  // is made (the run is refused and logged) until an administrator sets one.
  'backup.passphrase': setting('', (value: unknown): value is string => typeof value === 'string' && (value === '' || (value.length >= 8 && value.length <= 256)), 'empty, or a passphrase of 8 to 256 characters'),
  'backup.time': setting('02:00', (value: unknown): value is string => typeof value === 'string' && /^([01]\d|2[0-3]):[0-5]\d$/.test(value), 'a time of day HH:MM (00:00-23:59)', ['control-plane']),
} as const;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValue<K extends SettingKey> = (typeof SETTINGS)[K]['default'] extends infer D
  ? D extends string
    ? string
    : D extends number
      ? number
      : D extends boolean
        ? boolean
        : D
  : never;
export type Settings = { [K in SettingKey]: SettingValue<K> };

/** The settings `process` follows while it runs, as declared above. */
export function followedBy(process: Follower): SettingKey[] {
  return (Object.keys(SETTINGS) as SettingKey[]).filter((key) => (SETTINGS[key] as SettingDefinition<unknown>).follows.includes(process));
}

/** Whether `process` follows `key` while it runs. */
export function follows(process: Follower, key: SettingKey): boolean {
  return (SETTINGS[key] as SettingDefinition<unknown>).follows.includes(process);
}

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, definition] of Object.entries(SETTINGS)) out[key] = structuredClone(definition.default);
  return out as Settings;
}

/** The rule a single value breaks, or undefined when it is allowed. */
export function checkSetting(key: SettingKey, value: unknown): string | undefined {
  const definition = SETTINGS[key] as SettingDefinition<unknown>;
  return definition.check(value) ? undefined : `expected ${definition.describe}, got ${JSON.stringify(value)}`;
}

/** The server-log quota's shares per module (percent), in the modules' order Web, SIP, MCU, TURN. */
export const SERVER_LOG_SHARES = ['disk.serverLogs.webPercent', 'disk.serverLogs.sipPercent', 'disk.serverLogs.mcuPercent', 'disk.serverLogs.turnPercent'] as const;

function overlaps(a: PortRange, b: PortRange): boolean {
  return a.min <= b.max && b.min <= a.max;
}

/** Rules across settings; returns [key, reason] of the first broken one. */
export function crossCheck(settings: Settings): [SettingKey, string] | undefined {
  if (settings['sip.tlsPort'] === settings['sip.port']) {
    return ['sip.tlsPort', `the TLS port must differ from the UDP/TCP port ${settings['sip.port']}`];
  }
  if (settings['web.httpsEnabled'] && settings['web.httpsPort'] === settings['web.httpPort']) {
    return ['web.httpsPort', `the HTTPS port must differ from the HTTP port ${settings['web.httpPort']}`];
  }
  const ranges = [
    ['media.ivrPorts', settings['media.ivrPorts']],
    ['media.turnPorts', settings['media.turnPorts']],
    ['media.mcuPorts', settings['media.mcuPorts']],
  ] as const;
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const [keyA, a] = ranges[i] as (typeof ranges)[number];
      const [keyB, b] = ranges[j] as (typeof ranges)[number];
      if (overlaps(a, b)) {
        return [keyB, `${b.min}-${b.max} overlaps ${keyA} ${a.min}-${a.max}; media port ranges must not overlap`];
      }
    }
  }
  const turnPort = settings['turn.port'];
  if (turnPort === settings['sip.port'] || turnPort === settings['sip.tlsPort']) {
    return ['turn.port', `the TURN port must differ from the SIP ports ${settings['sip.port']} and ${settings['sip.tlsPort']}`];
  }
  const rangeWithTurn = ranges.find(([, range]) => turnPort >= range.min && turnPort <= range.max);
  if (rangeWithTurn) {
    return ['turn.port', `${turnPort} is inside ${rangeWithTurn[0]} ${rangeWithTurn[1].min}-${rangeWithTurn[1].max}; the TURN port must be outside the media port ranges`];
  }
  if (settings['nat.enabled'] && settings['nat.publicIp'] === '') {
    return ['nat.publicIp', 'static NAT needs the public IP address callers outside the LAN reach the box at'];
  }
  if (settings['time.mode'] === 'sntp' && settings['time.sntpServer'] === '') {
    return ['time.sntpServer', 'SNTP time needs the SNTP server to ask'];
  }
  const nic = (name: Nic): NicSettings => ({
    interface: settings[`network.${name}.interface`],
    mode: settings[`network.${name}.mode`] as NicSettings['mode'],
    address: settings[`network.${name}.address`],
    mask: settings[`network.${name}.mask`],
    gateway: settings[`network.${name}.gateway`],
    dns1: settings[`network.${name}.dns1`],
    dns2: settings[`network.${name}.dns2`],
  });
  const network = checkNetwork({ lan: nic(NICS[0]), wan: nic(NICS[1]) }, settings['network.routes']);
  if (network) return network;
  const shares = SERVER_LOG_SHARES.reduce((sum, key) => sum + settings[key], 0);
  if (shares !== 100) {
    return ['disk.serverLogs.webPercent', `the Web, SIP, MCU and TURN shares of the server-log quota must add up to 100 %, not ${shares} %`];
  }
  if (settings['backup.period'] === 'weekly' && settings['backup.day'] > 7) {
    return ['backup.day', `a weekly backup needs a weekday from 1 (Monday) to 7 (Sunday), got ${settings['backup.day']}`];
  }
  return undefined;
}
