/**
 * The "settings" page: every setting the API lists (GET /settings: value, rule, effect), grouped
 * as the spec groups them — call settings; network & services (local domain, the LAN and WAN
 * NICs, static routes, static NAT, web, SSH, SIP, media port ranges); time; SMTP with "send
 * test mail"; logs (remote syslog with its link status, terminal logs); automatic backups; disk;
 * trusted certificates. The disk group also shows the storage path and each part's use with
 * "clean now" (./disk-usage.ts). Each field has the control its rule asks for (a select for an
 * enumeration, a number, text, a toggle, a port range, the route list) and its rule as help.
 * Each group saves on its own, PATCHing only the keys that changed; a change that restarts a
 * service or rewrites the network asks first, with the spec's "this restarts the conferencing
 * service" and the service the API names, and a port change says who must follow it (terminals,
 * this console); the answer is said in words (applied now, where the SIP and web listeners are
 * now or why one could not move — by its field —, a port the process configuration fixes,
 * restart needed for which service, only stored and why, which system files were written).
 * When the console's own HTTP port moved, the page offers the new address instead of reloading
 * from the old one. A refusal is shown by the field the server names. Secrets are shown as
 * "(set)" and sent only when typed. The box's certificate and the metrics token have their own
 * panels (./settings-certificate.ts, ./settings-metrics.ts). Not here: the wizard's progress,
 * the licence serial (their own pages).
 */
import { el } from './form-fields.ts';
import { ApiError, api } from './api.ts';
import { lang, words } from './i18n.ts';
import { certificatePanel } from './settings-certificate.ts';
import { metricsTokenPanel } from './settings-metrics.ts';
import { diskUsage } from './disk-usage.ts';

type Effect =
  | { applies: 'now'; scope?: string; note?: string }
  | { applies: 'restart'; service: string }
  | { applies: 'stored'; note: string }
  | { applies: 'system'; target: string; warning?: string };
interface SettingView {
  value: unknown;
  rule: string;
  effect: Effect;
}
interface SaveAnswer {
  changed: string[];
  appliedNow: string[];
  restartRequired: string[];
  storedOnly: string[];
  system?: { targets: string[]; root: string | null; files: { file: string; path: string; changed: boolean }[]; applied: boolean; commands: string[]; note: string; warning?: string };
  live?: LiveAnswer;
}
/** What the running services did with a change (control-plane/live-settings.ts). */
interface LiveAnswer {
  media?: { state: 'applied' } | { state: 'unreachable'; reason: string };
  signaling?:
    | { state: 'applied'; listeners: string[]; drainingPorts: number[]; pinned: { port?: string; tlsPort?: string }; failures: { transport: string; port: number; reason: string }[] }
    | { state: 'unreachable'; reason: string };
  web?: {
    http: { port: number | null; stored: number; pinnedBy?: string; error?: string };
    https: { enabled: boolean; port: number | null; stored: number; error?: string };
  };
  reverted: string[];
  problems: { key: string; reason: string }[];
}
interface TestMailAnswer {
  server: string;
  security: string;
  to: string;
}
interface SyslogStatus {
  enabled: boolean;
  carries: string[];
  target?: string;
  state?: string;
  queued?: number;
  sent?: number;
  dropped?: number;
  lastError?: string;
}
interface Route {
  destination: string;
  mask: string;
  gateway: string;
  nic: string;
}

const w = words({
  en: {
    title: 'Settings',
    contents: 'Groups of settings',
    save: 'Save',
    nothingChanged: 'Nothing changed in this group.',
    saved: 'Saved.',
    appliedNow: 'Applied now: {keys}.',
    restartNeeded: 'Takes effect when the {service} restarts (calls in progress on it are ended then): {keys}.',
    storedOnly: 'Only stored, {note}: {key}.',
    systemNoRoot: 'No system file was written: this box has no system root configured (VCBOX_SYSTEM_ROOT).',
    systemWritten: 'Written to the system files: {files}.',
    systemUnchanged: '(unchanged)',
    systemApplied: 'Applied to the running system: {commands}.',
    systemAppliedNothing: 'The system files already said this; nothing to apply.',
    systemNotApplied: 'Not applied: only an installed appliance applies system files.',
    confirmIntro: 'Save these changes?',
    confirmRestart: 'This restarts the conferencing service: {keys} take effect when the {service} restarts, and calls in progress on it are ended.',
    confirmSystem: '{warning} ({keys})',
    networkWarning: 'This restarts the conferencing service: calls in progress are ended.',
    refusedHere: 'Not saved: the server refused a value (shown by its field).',
    effectNow: 'Applies at once.',
    scope_listeners: 'Applies at once: the listener moves; connections and calls in progress stay.',
    'scope_new-calls': 'Applies at once to calls that start from then on; calls in progress keep theirs.',
    'scope_running-pictures': 'Applies at once: composed pictures in progress restart with it (their video pauses for a moment).',
    'scope_running-content': 'Applies at once: a presentation in progress is re-encoded with it (its content pauses for a moment).',
    sipListening: 'SIP listens on {listeners} now; registered terminals stay registered.',
    sipDraining: 'Calls in progress on the former UDP port {ports} finish there.',
    sipMoveFailed: 'SIP {transport} could not move to port {port} ({reason}): it stays on {inForce}, and so does the setting.',
    portPinned: '{setting} stays {inForce} for this run: {by} fixes it; the stored {stored} applies when the box runs without that.',
    signalingUnreachable: 'The signaling service did not answer: it applies the stored SIP settings within a second when it runs, or when it starts.',
    httpMoved: 'The console now answers on HTTP port {port}.',
    httpMoveFailed: 'The console could not listen on HTTP port {port} ({reason}): it stays on {inForce}, and so does the setting.',
    httpsOn: 'The console now answers over HTTPS on port {port}; browsers opening it over HTTP are sent there.',
    httpsOff: 'HTTPS is off: the console answers over HTTP only.',
    httpsFailed: 'HTTPS could not listen on port {port} ({reason}); the setting is back to what is in force.',
    consoleMoved: 'This console moved: continue at',
    mediaNewCalls: 'The media service uses it for calls from now on; calls in progress keep their ports.',
    mediaPictures: 'Composed pictures in progress follow the new video settings now.',
    mediaContent: 'A presentation in progress follows the new content settings now.',
    mediaUnreachable: 'The media service did not answer: it applies the stored media settings within a second when it runs, or when it starts.',
    notApplied: 'Not applied: the port could not be used, so the setting is back to the one in force (see the answer below).',
    consoleHttps: 'Continue over HTTPS at',
    confirmSipPorts: 'Terminals must use the new SIP port from now on: {keys}. Registered terminals stay registered and calls in progress go on.',
    confirmWebPorts: 'The console moves: {keys}. You continue at the new address (the page offers it).',
    effectRestart: 'Takes effect when the {service} restarts.',
    effectStored: 'Only stored: {note}.',
    effectSystem: 'Written to the system files ({target}).',
    effectSystemWarning: 'Written to the system files ({target}); this restarts the conferencing service.',
    on: 'On',
    secretSet: '(set)',
    secretHint: 'Leave empty to keep the password that is set.',
    from: 'from',
    to: 'to',
    service_signaling: 'SIP signaling service',
    service_media: 'media service',
    'service_control-plane': 'web console and API service',
    target_network: 'network',
    target_ssh: 'SSH',
    target_time: 'time',
    // Groups and their parts.
    group_call: 'Call settings',
    group_network: 'Network & services',
    group_time: 'Time',
    group_smtp: 'SMTP (outgoing mail)',
    group_logs: 'Logs',
    group_backup: 'Automatic backup',
    group_disk: 'Disk',
    group_certificates: 'Certificates',
    part_domain: 'Local domain',
    part_lan: 'LAN port',
    part_wan: 'WAN port',
    part_routes: 'Static routes',
    part_nat: 'Static NAT',
    part_web: 'Web',
    part_ssh: 'SSH',
    part_sip: 'SIP',
    part_media: 'Media port ranges',
    part_syslog: 'Remote syslog',
    part_terminalLogs: 'Terminal logs',
    part_quotas: 'Quotas (whole GB)',
    part_serverLogShares: 'Server logs: share of each module (%)',
    part_alert: 'Alert',
    confirmDisk: 'Change the disk settings?',
    // Routes.
    routeDestination: 'Destination',
    routeMask: 'Mask',
    routeGateway: 'Gateway',
    routeNic: 'Port',
    routeAdd: 'Add route',
    routeDelete: 'Delete',
    routeNone: 'No static route.',
    routeRow: 'Route {n}',
    // SMTP test mail.
    testTo: 'Send a test mail to',
    testSend: 'Send test mail',
    testSending: 'Sending…',
    testSent: 'The SMTP server {server} ({security}) accepted the test mail to {to}; check that it arrives.',
    testUsesForm: 'The test uses the values in the form above, saved or not.',
    // Remote syslog status.
    syslogStatus: 'Link now',
    syslogRefresh: 'Refresh',
    syslogOff: 'Not forwarding: remote syslog is off, or has no collector set.',
    syslogLink: '{target}: {state}; {queued} waiting, {sent} sent, {dropped} dropped.',
    syslogLastError: 'Last error: {error}',
    syslogCarries: 'Carries: {what}',
    state_connected: 'connected',
    state_connecting: 'connecting',
    state_waiting: 'waiting for the collector (buffering)',
    state_closed: 'closed',
    backupsLink: 'See the backups',
  },
  'zh-CN': {
    title: '系统设置',
    contents: '设置分组',
    save: '保存',
    nothingChanged: '本组没有修改。',
    saved: '已保存。',
    appliedNow: '已立即生效：{keys}。',
    restartNeeded: '{service}重启后生效（届时其上进行中的通话将结束）：{keys}。',
    storedOnly: '仅保存（{note}）：{key}。',
    systemNoRoot: '未写入系统文件：本设备未配置系统根目录（VCBOX_SYSTEM_ROOT）。',
    systemWritten: '已写入系统文件：{files}。',
    systemUnchanged: '（未变）',
    systemApplied: '已应用到运行中的系统：{commands}。',
    systemAppliedNothing: '系统文件内容未变，无需应用。',
    systemNotApplied: '未应用：只有已安装的设备才会应用系统文件。',
    confirmIntro: '保存这些修改？',
    confirmRestart: '此操作将重启会议服务：{keys} 在{service}重启后生效，其上进行中的通话将结束。',
    confirmSystem: '{warning}（{keys}）',
    networkWarning: '此操作将重启会议服务：进行中的通话将结束。',
    refusedHere: '未保存：服务器拒绝了某个值（见该字段旁的说明）。',
    effectNow: '立即生效。',
    scope_listeners: '立即生效：监听端口随即更换；已有的连接和进行中的通话不受影响。',
    'scope_new-calls': '立即生效，用于此后开始的通话；进行中的通话保持原样。',
    'scope_running-pictures': '立即生效：进行中的合成画面将按新设置重新启动（视频会短暂停顿）。',
    'scope_running-content': '立即生效：进行中的演示将按新设置重新编码（辅流会短暂停顿）。',
    sipListening: 'SIP 现在监听 {listeners}；已注册的终端保持注册。',
    sipDraining: '在原 UDP 端口 {ports} 上进行中的通话将在该端口上继续直至结束。',
    sipMoveFailed: 'SIP {transport} 无法改用端口 {port}（{reason}）：仍使用 {inForce}，设置也已恢复。',
    portPinned: '{setting} 本次运行保持为 {inForce}：由 {by} 固定；已保存的 {stored} 将在不固定该端口运行时生效。',
    signalingUnreachable: '信令服务未响应：它运行时会在一秒内应用已保存的 SIP 设置，否则在启动时应用。',
    httpMoved: '控制台现在使用 HTTP 端口 {port}。',
    httpMoveFailed: '控制台无法监听 HTTP 端口 {port}（{reason}）：仍使用 {inForce}，设置也已恢复。',
    httpsOn: '控制台现在通过 HTTPS 端口 {port} 提供服务；通过 HTTP 打开的浏览器将被转到该地址。',
    httpsOff: 'HTTPS 已关闭：控制台仅通过 HTTP 提供服务。',
    httpsFailed: 'HTTPS 无法监听端口 {port}（{reason}）；设置已恢复为当前生效的值。',
    consoleMoved: '控制台地址已更改，请在以下地址继续：',
    mediaNewCalls: '媒体服务此后的通话将使用新设置；进行中的通话保持原端口。',
    mediaPictures: '进行中的合成画面已按新的视频设置调整。',
    mediaContent: '进行中的演示已按新的辅流设置调整。',
    mediaUnreachable: '媒体服务未响应：它运行时会在一秒内应用已保存的媒体设置，否则在启动时应用。',
    notApplied: '未生效：该端口无法使用，设置已恢复为当前生效的值（详见下方结果）。',
    consoleHttps: '通过 HTTPS 继续：',
    confirmSipPorts: '今后终端必须使用新的 SIP 端口：{keys}。已注册的终端保持注册，进行中的通话继续。',
    confirmWebPorts: '控制台地址将更改：{keys}。请在新地址继续（页面会给出链接）。',
    effectRestart: '{service}重启后生效。',
    effectStored: '仅保存：{note}。',
    effectSystem: '写入系统文件（{target}）。',
    effectSystemWarning: '写入系统文件（{target}）；此操作将重启会议服务。',
    on: '开启',
    secretSet: '（已设置）',
    secretHint: '留空则保留已设置的密码。',
    from: '从',
    to: '到',
    service_signaling: 'SIP 信令服务',
    service_media: '媒体服务',
    'service_control-plane': 'Web 控制台与 API 服务',
    target_network: '网络',
    target_ssh: 'SSH',
    target_time: '时间',
    group_call: '通话设置',
    group_network: '网络与服务',
    group_time: '时间',
    group_smtp: 'SMTP（发送邮件）',
    group_logs: '日志',
    group_backup: '自动备份',
    group_disk: '磁盘',
    group_certificates: '证书',
    part_domain: '本地域',
    part_lan: 'LAN 口',
    part_wan: 'WAN 口',
    part_routes: '静态路由',
    part_nat: '静态 NAT',
    part_web: 'Web',
    part_ssh: 'SSH',
    part_sip: 'SIP',
    part_media: '媒体端口范围',
    part_syslog: '远程 Syslog',
    part_terminalLogs: '终端日志',
    part_quotas: '磁盘空间配额（整数，GB）',
    part_serverLogShares: '服务器日志：各模块占比（%）',
    part_alert: '告警',
    confirmDisk: '确定修改磁盘设置？',
    routeDestination: '目的网络',
    routeMask: '掩码',
    routeGateway: '网关',
    routeNic: '网口',
    routeAdd: '添加路由',
    routeDelete: '删除',
    routeNone: '没有静态路由。',
    routeRow: '路由 {n}',
    testTo: '测试邮件收件人',
    testSend: '发送测试邮件',
    testSending: '正在发送…',
    testSent: 'SMTP 服务器 {server}（{security}）已接受发往 {to} 的测试邮件，请确认是否收到。',
    testUsesForm: '测试使用上方表单中的值（无论是否已保存）。',
    syslogStatus: '当前连接',
    syslogRefresh: '刷新',
    syslogOff: '未转发：远程 Syslog 未开启，或未设置接收服务器。',
    syslogLink: '{target}：{state}；等待 {queued} 条，已发送 {sent} 条，丢弃 {dropped} 条。',
    syslogLastError: '最近的错误：{error}',
    syslogCarries: '转发内容：{what}',
    state_connected: '已连接',
    state_connecting: '正在连接',
    state_waiting: '等待接收服务器（缓存中）',
    state_closed: '已关闭',
    backupsLink: '查看备份',
  },
});

/** Each setting's name on the page. */
const label = words({
  en: {
    'call.maxVideoResolution': 'Max video resolution',
    'call.maxContentResolution': 'Max content (second stream) resolution',
    'call.layout.equalSplitMax': 'Equal split: max panes',
    'call.layout.onePlusNMax': '1+N: max small panes',
    'call.polling.intervalSeconds': 'Polling interval (seconds)',
    'call.polling.rule': 'Polling rule',
    'call.selfViewExclusionMax': 'Picture without oneself: up to this many SIP video participants',
    'call.earlyJoinMinutes': 'Early join for scheduled meetings (minutes)',
    'call.ivrLanguage': 'IVR prompt language',
    'call.maxBandwidth': 'Max per-call bandwidth',
    'call.contentFloor': 'A second presenter while someone presents',
    'call.srtp': 'Media encryption (SRTP)',
    'call.guestAccess': 'Callers without an account may dial meetings',
    'call.rtpTimeoutSeconds': 'Hang up a call without media after (seconds)',
    'call.ivrAccessNumber': 'IVR access number',
    'call.instantMeetingNumber': 'Instant meeting number',
    'network.localDomain': 'Local domain',
    'network.lan.interface': 'Interface',
    'network.lan.mode': 'Address',
    'network.lan.address': 'IP address',
    'network.lan.mask': 'Mask',
    'network.lan.gateway': 'Gateway',
    'network.lan.dns1': 'DNS 1',
    'network.lan.dns2': 'DNS 2',
    'network.wan.interface': 'Interface',
    'network.wan.mode': 'Address',
    'network.wan.address': 'IP address',
    'network.wan.mask': 'Mask',
    'network.wan.gateway': 'Gateway',
    'network.wan.dns1': 'DNS 1',
    'network.wan.dns2': 'DNS 2',
    'network.routes': 'Static routes',
    'nat.enabled': 'Static NAT',
    'nat.publicIp': 'Public IP address',
    'nat.localNetworks': 'Networks inside the LAN',
    'web.httpPort': 'HTTP port',
    'web.httpNatPort': 'HTTP NAT mapping port',
    'web.httpsEnabled': 'HTTPS',
    'web.httpsPort': 'HTTPS port',
    'web.accessUrl.intranet': 'Intranet service URL (links in mails)',
    'web.accessUrl.extranet': 'Extranet service URL (links in mails)',
    'ssh.enabled': 'SSH',
    'ssh.port': 'SSH port',
    'sip.port': 'SIP UDP/TCP port',
    'sip.tlsPort': 'SIP TLS port',
    'sip.digestAlgorithms': 'Digest algorithms offered (first preferred)',
    'sip.floodLimitPerSecond': 'Flood limit (messages per second per address)',
    'sip.blockScanners': 'Block SIP scanners',
    'sip.qualifySeconds': 'Check registered terminals every (seconds)',
    'media.ivrPorts': 'IVR ports',
    'media.turnPorts': 'TURN ports',
    'turn.enabled': 'TURN relay for browsers',
    'turn.port': 'TURN port (UDP and TCP)',
    'media.mcuPorts': 'MCU ports',
    'time.mode': 'Time source',
    'time.sntpServer': 'SNTP server',
    'time.zone': 'Time zone',
    'time.dst': 'Summer time',
    'smtp.server': 'SMTP server',
    'smtp.port': 'Port',
    'smtp.security': 'Secure connection',
    'smtp.sender': 'Sender address',
    'smtp.user': 'User name',
    'smtp.password': 'Password',
    'syslog.enabled': 'Remote syslog',
    'syslog.host': 'Collector host',
    'syslog.port': 'Port',
    'syslog.protocol': 'Protocol',
    'terminalLogs.enabled': 'Terminal logs (costs bandwidth)',
    'backup.auto': 'Automatic backup',
    'backup.period': 'Period',
    'backup.day': 'Day',
    'backup.time': 'Time of day',
    'backup.keep': 'Backups kept',
    'disk.alertAbove80': 'Alert mail when disk usage is above 80 %',
    'disk.quota.recordsGB': 'Meeting records (GB)',
    'disk.quota.serverLogsGB': 'Server logs (GB)',
    'disk.quota.terminalLogsGB': 'Terminal logs (GB)',
    'disk.quota.backupsGB': 'Backups (GB)',
    'disk.quota.firmwareGB': 'Terminal firmware (GB)',
    'disk.serverLogs.webPercent': "Web logs' share (%)",
    'disk.serverLogs.sipPercent': "SIP logs' share (%)",
    'disk.serverLogs.mcuPercent': "MCU logs' share (%)",
    'disk.serverLogs.turnPercent': "TURN logs' share (%)",
    'tls.trustedCertificates': 'Certificate authorities of the LAN\'s servers (PEM)',
  },
  'zh-CN': {
    'call.maxVideoResolution': '最大视频分辨率',
    'call.maxContentResolution': '最大辅流（内容）分辨率',
    'call.layout.equalSplitMax': '等分画面最大分屏',
    'call.layout.onePlusNMax': '1+N 画面最多小画面',
    'call.polling.intervalSeconds': '轮询间隔（秒）',
    'call.polling.rule': '轮询规则',
    'call.selfViewExclusionMax': '不含自己的画面：最多 SIP 视频参会者数',
    'call.earlyJoinMinutes': '预约会议提前入会（分钟）',
    'call.ivrLanguage': 'IVR 提示音语言',
    'call.maxBandwidth': '单路呼叫最大带宽',
    'call.contentFloor': '有人正在演示时再请求演示',
    'call.srtp': '媒体加密（SRTP）',
    'call.guestAccess': '允许无账号的呼叫方拨入会议',
    'call.rtpTimeoutSeconds': '无媒体多久后挂断（秒）',
    'call.ivrAccessNumber': 'IVR 接入号',
    'call.instantMeetingNumber': '即时会议号',
    'network.localDomain': '本地域',
    'network.lan.interface': '网卡',
    'network.lan.mode': '地址方式',
    'network.lan.address': 'IP 地址',
    'network.lan.mask': '子网掩码',
    'network.lan.gateway': '网关',
    'network.lan.dns1': 'DNS 1',
    'network.lan.dns2': 'DNS 2',
    'network.wan.interface': '网卡',
    'network.wan.mode': '地址方式',
    'network.wan.address': 'IP 地址',
    'network.wan.mask': '子网掩码',
    'network.wan.gateway': '网关',
    'network.wan.dns1': 'DNS 1',
    'network.wan.dns2': 'DNS 2',
    'network.routes': '静态路由',
    'nat.enabled': '静态 NAT',
    'nat.publicIp': '公网 IP 地址',
    'nat.localNetworks': '局域网内的网段',
    'web.httpPort': 'HTTP 端口',
    'web.httpNatPort': 'HTTP NAT 映射端口',
    'web.httpsEnabled': 'HTTPS',
    'web.httpsPort': 'HTTPS 端口',
    'web.accessUrl.intranet': '企业内网服务 URL（邮件中的链接）',
    'web.accessUrl.extranet': '企业外网服务 URL（邮件中的链接）',
    'ssh.enabled': 'SSH',
    'ssh.port': 'SSH 端口',
    'sip.port': 'SIP UDP/TCP 端口',
    'sip.tlsPort': 'SIP TLS 端口',
    'sip.digestAlgorithms': '提供的摘要认证算法（首选在前）',
    'sip.floodLimitPerSecond': '防洪限制（每地址每秒消息数）',
    'sip.blockScanners': '拦截 SIP 扫描器',
    'sip.qualifySeconds': '检测已注册终端的间隔（秒）',
    'media.ivrPorts': 'IVR 端口',
    'media.turnPorts': 'TURN 端口',
    'turn.enabled': '浏览器 TURN 中继',
    'turn.port': 'TURN 端口（UDP 和 TCP）',
    'media.mcuPorts': 'MCU 端口',
    'time.mode': '时间来源',
    'time.sntpServer': 'SNTP 服务器',
    'time.zone': '时区',
    'time.dst': '夏令时',
    'smtp.server': 'SMTP 服务器',
    'smtp.port': '端口',
    'smtp.security': '安全连接',
    'smtp.sender': '发件人地址',
    'smtp.user': '用户名',
    'smtp.password': '密码',
    'syslog.enabled': '远程 Syslog',
    'syslog.host': '接收服务器',
    'syslog.port': '端口',
    'syslog.protocol': '协议',
    'terminalLogs.enabled': '终端日志（占用带宽）',
    'backup.auto': '自动备份',
    'backup.period': '周期',
    'backup.day': '日期',
    'backup.time': '时间',
    'backup.keep': '保留份数',
    'disk.alertAbove80': '磁盘使用超过 80% 时发送告警邮件',
    'disk.quota.recordsGB': '会议记录（GB）',
    'disk.quota.serverLogsGB': '服务器日志（GB）',
    'disk.quota.terminalLogsGB': '终端日志（GB）',
    'disk.quota.backupsGB': '备份空间（GB）',
    'disk.quota.firmwareGB': '设备固件（GB）',
    'disk.serverLogs.webPercent': 'Web 日志占比（%）',
    'disk.serverLogs.sipPercent': 'SIP 日志占比（%）',
    'disk.serverLogs.mcuPercent': 'MCU 日志占比（%）',
    'disk.serverLogs.turnPercent': 'TURN 日志占比（%）',
    'tls.trustedCertificates': '局域网服务器的证书颁发机构（PEM）',
  },
});

/** Names of enumerated values that are not self-explanatory. */
const choice = words({
  en: {
    'zh-CN': 'Chinese',
    en: 'English',
    'round-robin': 'in turn',
    'longest-unseen': 'longest unseen first',
    optional: 'when the caller offers it',
    required: 'required of every caller',
    off: 'off',
    auto: 'automatic',
    dhcp: 'DHCP',
    static: 'static IP',
    sntp: 'SNTP',
    manual: 'manual',
    none: 'none',
    ssl: 'SSL',
    tls: 'TLS',
    'smtp.ssl': 'SSL (usually port 465)',
    'smtp.tls': 'TLS (STARTTLS, port 25 or 587)',
    udp: 'UDP',
    tcp: 'TCP',
    daily: 'daily',
    weekly: 'weekly',
    monthly: 'monthly',
    lan: 'LAN',
    wan: 'WAN',
    'take-over': 'takes over the presentation',
    queue: 'waits until it ends',
  },
  'zh-CN': {
    'zh-CN': '中文',
    en: '英文',
    'round-robin': '依次轮询',
    'longest-unseen': '最久未显示者优先',
    optional: '呼叫方提供时使用',
    required: '要求所有呼叫方使用',
    off: '关闭',
    auto: '自动',
    dhcp: 'DHCP',
    static: '静态 IP',
    sntp: 'SNTP',
    manual: '手动',
    none: '无',
    ssl: 'SSL',
    tls: 'TLS',
    'smtp.ssl': 'SSL（通常为 465 端口）',
    'smtp.tls': 'TLS（STARTTLS，25 或 587 端口）',
    udp: 'UDP',
    tcp: 'TCP',
    daily: '每天',
    weekly: '每周',
    monthly: '每月',
    lan: 'LAN',
    wan: 'WAN',
    'take-over': '接替当前演示',
    queue: '等待当前演示结束',
  },
});

type SettingName = Parameters<typeof label>[0];
type GroupId = 'call' | 'network' | 'time' | 'smtp' | 'logs' | 'backup' | 'disk' | 'certificates';
type PartId = 'domain' | 'lan' | 'wan' | 'routes' | 'nat' | 'web' | 'ssh' | 'sip' | 'media' | 'syslog' | 'terminalLogs' | 'quotas' | 'serverLogShares' | 'alert';

/** The page's layout: groups (one Save each), their parts, the settings in each. */
const GROUPS: { id: GroupId; parts: { id?: PartId; keys: SettingName[] }[] }[] = [
  {
    id: 'call',
    parts: [
      {
        keys: [
          'call.maxVideoResolution',
          'call.maxContentResolution',
          'call.maxBandwidth',
          'call.layout.equalSplitMax',
          'call.layout.onePlusNMax',
          'call.polling.intervalSeconds',
          'call.polling.rule',
          'call.selfViewExclusionMax',
          'call.earlyJoinMinutes',
          'call.ivrLanguage',
          'call.ivrAccessNumber',
          'call.instantMeetingNumber',
          'call.contentFloor',
          'call.srtp',
          'call.guestAccess',
          'call.rtpTimeoutSeconds',
        ],
      },
    ],
  },
  {
    id: 'network',
    parts: [
      { id: 'domain', keys: ['network.localDomain'] },
      { id: 'lan', keys: ['network.lan.interface', 'network.lan.mode', 'network.lan.address', 'network.lan.mask', 'network.lan.gateway', 'network.lan.dns1', 'network.lan.dns2'] },
      { id: 'wan', keys: ['network.wan.interface', 'network.wan.mode', 'network.wan.address', 'network.wan.mask', 'network.wan.gateway', 'network.wan.dns1', 'network.wan.dns2'] },
      { id: 'routes', keys: ['network.routes'] },
      { id: 'nat', keys: ['nat.enabled', 'nat.publicIp', 'nat.localNetworks'] },
      { id: 'web', keys: ['web.httpPort', 'web.httpNatPort', 'web.httpsEnabled', 'web.httpsPort', 'web.accessUrl.intranet', 'web.accessUrl.extranet'] },
      { id: 'ssh', keys: ['ssh.enabled', 'ssh.port'] },
      { id: 'sip', keys: ['sip.port', 'sip.tlsPort', 'sip.digestAlgorithms', 'sip.floodLimitPerSecond', 'sip.blockScanners', 'sip.qualifySeconds'] },
      { id: 'media', keys: ['media.ivrPorts', 'media.turnPorts', 'media.mcuPorts', 'turn.enabled', 'turn.port'] },
    ],
  },
  { id: 'time', parts: [{ keys: ['time.mode', 'time.sntpServer', 'time.zone', 'time.dst'] }] },
  { id: 'smtp', parts: [{ keys: ['smtp.server', 'smtp.port', 'smtp.security', 'smtp.sender', 'smtp.user', 'smtp.password'] }] },
  {
    id: 'logs',
    parts: [
      { id: 'syslog', keys: ['syslog.enabled', 'syslog.host', 'syslog.port', 'syslog.protocol'] },
      { id: 'terminalLogs', keys: ['terminalLogs.enabled'] },
    ],
  },
  { id: 'backup', parts: [{ keys: ['backup.auto', 'backup.period', 'backup.day', 'backup.time', 'backup.keep'] }] },
  {
    id: 'disk',
    parts: [
      { id: 'quotas', keys: ['disk.quota.recordsGB', 'disk.quota.serverLogsGB', 'disk.quota.terminalLogsGB', 'disk.quota.backupsGB', 'disk.quota.firmwareGB'] },
      { id: 'serverLogShares', keys: ['disk.serverLogs.webPercent', 'disk.serverLogs.sipPercent', 'disk.serverLogs.mcuPercent', 'disk.serverLogs.turnPercent'] },
      { id: 'alert', keys: ['disk.alertAbove80'] },
    ],
  },
  { id: 'certificates', parts: [{ keys: ['tls.trustedCertificates'] }] },
];

/** Choices the rule text does not list (it names the list's two ends only). */
const CHOICES: Partial<Record<SettingName, readonly string[]>> = {
  // [001 appendix A], as server/system/time-zones.ts has it.
  'time.zone': [
    'UTC-11:00', 'UTC-10:00', 'UTC-09:00', 'UTC-08:00', 'UTC-07:00', 'UTC-06:00', 'UTC-05:00', 'UTC-04:30', 'UTC-04:00', 'UTC-03:30', 'UTC-03:00', 'UTC-02:00', 'UTC-01:00',
    'UTC+00:00', 'UTC+01:00', 'UTC+02:00', 'UTC+03:00', 'UTC+03:30', 'UTC+04:00', 'UTC+04:30', 'UTC+05:00', 'UTC+05:30', 'UTC+05:45', 'UTC+06:00', 'UTC+06:30', 'UTC+07:00',
    'UTC+08:00', 'UTC+09:00', 'UTC+09:30', 'UTC+10:00', 'UTC+11:00', 'UTC+12:00', 'UTC+13:00',
  ],
};
const SECRETS: readonly SettingName[] = ['smtp.password'];
const TEXTAREAS: readonly SettingName[] = ['tls.trustedCertificates'];

/** The values of an enumeration, read from its rule ("one of A, B, C" or "a, b or c"), or undefined. */
function choicesOf(key: SettingName, rule: string, value: unknown): (string | number)[] | undefined {
  const listed = CHOICES[key];
  if (listed) return [...listed];
  let list: string[] | undefined;
  const oneOf = /^one of (.+)$/.exec(rule)?.[1];
  if (oneOf) list = oneOf.includes(' | ') ? oneOf.split(' | ') : oneOf.split(', ');
  else if (typeof value === 'string' && /^[\w.+-]+(, [\w.+-]+)* or [\w.+-]+$/.test(rule)) list = rule.split(/, | or /);
  if (!list) return undefined;
  return typeof value === 'number' ? list.map(Number) : list;
}

/** The rule in the chosen language: the API's words, or for the common shapes their Chinese. */
function ruleInWords(rule: string): string {
  if (lang() === 'en') return rule;
  const nouns: Record<string, string> = { 'host name': '主机名', 'e-mail address': '邮箱地址', 'user name': '用户名', password: '密码', domain: '域名' };
  const shapes: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^a port number 1-65535$/, () => '端口号 1-65535'],
    [/^one of (.+)$/, (m) => `可选：${m[1]}`],
    [/^a whole number of seconds from (\d+) to (\d+)$/, (m) => `${m[1]} 到 ${m[2]} 之间的整数（秒）`],
    [/^a whole number from (\d+) to (\d+)$/, (m) => `${m[1]} 到 ${m[2]} 之间的整数`],
    [/^a whole number of GB from (\d+) to (\d+)$/, (m) => `${m[1]} 到 ${m[2]} 之间的整数（GB）`],
    [/^a whole percentage from (\d+) to (\d+)$/, (m) => `${m[1]} 到 ${m[2]} 之间的整数（%）`],
    [/^a port range at least (\d+) wide$/, (m) => `端口范围，至少 ${m[1]} 个端口`],
    [/^(\d+) to (\d+) digits$/, (m) => `${m[1]} 到 ${m[2]} 位数字`],
    [/^an? ([\w -]+) of at most (\d+) characters$/, (m) => `${nouns[m[1] ?? ''] ?? m[1]}，最多 ${m[2]} 个字符`],
    [/^[\w.+-]+(, [\w.+-]+)* or [\w.+-]+$/, (m) => `可选：${m[0].split(/, | or /).join('、')}`],
  ];
  for (const [shape, say] of shapes) {
    const m = shape.exec(rule);
    if (m) return say(m);
  }
  return rule;
}

function serviceName(service: string): string {
  return service === 'signaling' || service === 'media' || service === 'control-plane' ? w(`service_${service}`) : service;
}
function targetName(target: string): string {
  return target === 'network' || target === 'ssh' || target === 'time' ? w(`target_${target}`) : target;
}
/** The spec's network warning in the chosen language (the API's own words in English). */
function warningInWords(warning: string): string {
  return lang() === 'en' || !/restarts the conferencing service/.test(warning) ? warning : w('networkWarning');
}
function effectInWords(effect: Effect): string {
  switch (effect.applies) {
    case 'now':
      return effect.scope === 'listeners' || effect.scope === 'new-calls' || effect.scope === 'running-pictures' || effect.scope === 'running-content' ? w(`scope_${effect.scope}`) : w('effectNow');
    case 'restart':
      return w('effectRestart', { service: serviceName(effect.service) });
    case 'stored':
      return w('effectStored', { note: effect.note });
    case 'system':
      return effect.warning ? w('effectSystemWarning', { target: targetName(effect.target) }) : w('effectSystem', { target: targetName(effect.target) });
  }
}


const idOf = (key: string) => `setting-${key.replace(/\./g, '-')}`;
const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A field on the page: how to read what the admin set, and where its refusal goes. */
interface Field {
  readonly key: SettingName;
  /** The value to send; undefined: nothing to send (a secret left as it is). */
  read(): unknown;
  readonly row: HTMLElement;
  readonly error: HTMLElement;
  focus(): void;
}

function numberOrText(input: HTMLInputElement): number | string {
  const text = input.value.trim();
  return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
}

function routeEditor(key: SettingName, routes: Route[], describedBy: string): { node: HTMLElement; read: () => Route[]; focus: () => void } {
  const body = el('tbody');
  const empty = el('p', { className: 'muted' }, w('routeNone'));
  const addRow = (route: Route) => {
    const n = String(body.rows.length + 1);
    const cell = (name: keyof Route, text: string) => {
      const input = el('input', { value: text, className: `route-${name}`, size: 15 });
      input.setAttribute('aria-label', `${w('routeRow', { n })}: ${w(name === 'destination' ? 'routeDestination' : name === 'mask' ? 'routeMask' : 'routeGateway')}`);
      return el('td', {}, input);
    };
    const nic = el('select', { className: 'route-nic' }, ...['lan', 'wan'].map((v) => el('option', { value: v, selected: v === route.nic }, choice(v as 'lan' | 'wan'))));
    nic.setAttribute('aria-label', `${w('routeRow', { n })}: ${w('routeNic')}`);
    const remove = el('button', { type: 'button', className: 'danger' }, w('routeDelete'));
    remove.setAttribute('aria-label', `${w('routeRow', { n })}: ${w('routeDelete')}`);
    const row = el('tr', {}, cell('destination', route.destination), cell('mask', route.mask), cell('gateway', route.gateway), el('td', {}, nic), el('td', {}, remove));
    remove.addEventListener('click', () => {
      row.remove();
      empty.hidden = body.rows.length > 0;
    });
    body.append(row);
    empty.hidden = true;
  };
  for (const route of routes) addRow(route);
  empty.hidden = routes.length > 0;
  const add = el('button', { type: 'button', className: 'route-add' }, w('routeAdd'));
  add.addEventListener('click', () => {
    addRow({ destination: '', mask: '', gateway: '', nic: 'lan' });
    (body.rows[body.rows.length - 1]?.querySelector('input') as HTMLInputElement | null)?.focus();
  });
  const table = el(
    'table',
    { className: 'routes' },
    el('caption', {}, label(key)),
    el('thead', {}, el('tr', {}, ...(['routeDestination', 'routeMask', 'routeGateway', 'routeNic'] as const).map((k) => el('th', { scope: 'col' }, w(k))), el('th', {}))),
    body,
  );
  table.setAttribute('aria-describedby', describedBy);
  const node = el('div', { id: idOf(key), className: 'route-editor' }, table, empty, add);
  const read = () =>
    [...body.rows].map((row) => ({
      destination: (row.querySelector('.route-destination') as HTMLInputElement).value.trim(),
      mask: (row.querySelector('.route-mask') as HTMLInputElement).value.trim(),
      gateway: (row.querySelector('.route-gateway') as HTMLInputElement).value.trim(),
      nic: (row.querySelector('.route-nic') as HTMLSelectElement).value,
    }));
  return { node, read, focus: () => add.focus() };
}

/** One setting's row: its label, the control its rule asks for, the rule and effect as help, its error. */
function fieldFor(key: SettingName, setting: SettingView): Field {
  const id = idOf(key);
  const help = el('p', { className: 'help', id: `${id}-help` }, `${ruleInWords(setting.rule)} · ${effectInWords(setting.effect)}`);
  const error = el('p', { className: 'field-error', id: `${id}-error` });
  error.setAttribute('role', 'alert');
  const describedBy = `${id}-help ${id}-error`;
  const value = setting.value;
  const described = <E extends HTMLElement>(node: E): E => {
    node.setAttribute('aria-describedby', describedBy);
    return node;
  };
  const row = (control: Node, labelNode: Node) => el('div', { className: 'setting' }, labelNode, el('div', { className: 'control' }, control, help, error));

  if (key === 'network.routes' && Array.isArray(value)) {
    const editor = routeEditor(key, value as Route[], describedBy);
    return { key, read: editor.read, row: row(editor.node, el('span', { className: 'setting-label' }, label(key))), error, focus: editor.focus };
  }
  if (typeof value === 'object' && value !== null && 'min' in value && 'max' in value) {
    const range = value as { min: number; max: number };
    const min = described(el('input', { id: `${id}-min`, type: 'number', min: '1', max: '65535', value: String(range.min), className: 'port' }));
    const max = described(el('input', { id: `${id}-max`, type: 'number', min: '1', max: '65535', value: String(range.max), className: 'port' }));
    min.setAttribute('aria-label', `${label(key)}: ${w('from')}`);
    max.setAttribute('aria-label', `${label(key)}: ${w('to')}`);
    const group = el('div', { id, className: 'range' }, min, ' – ', max);
    group.setAttribute('role', 'group');
    group.setAttribute('aria-labelledby', `${id}-label`);
    return { key, read: () => ({ min: numberOrText(min), max: numberOrText(max) }), row: row(group, el('span', { className: 'setting-label', id: `${id}-label` }, label(key))), error, focus: () => min.focus() };
  }
  const labelNode = el('label', { htmlFor: id, className: 'setting-label' }, label(key));
  if (typeof value === 'boolean') {
    const box = described(el('input', { id, type: 'checkbox', checked: value }));
    box.setAttribute('role', 'switch');
    // "true or false" says nothing a switch does not: only when it takes effect.
    help.textContent = effectInWords(setting.effect);
    const on = el('span', {}, w('on'));
    on.setAttribute('aria-hidden', 'true');
    return { key, read: () => box.checked, row: row(el('span', { className: 'toggle' }, box, ' ', on), labelNode), error, focus: () => box.focus() };
  }
  const choices = choicesOf(key, setting.rule, value);
  if (choices) {
    const options = choices.some((c) => sameValue(c, value)) ? choices : [value as string | number, ...choices];
    const select = described(el('select', { id }, ...options.map((c) => el('option', { value: String(c), selected: sameValue(c, value) }, choiceName(String(c), key)))));
    return { key, read: () => (typeof value === 'number' ? Number(select.value) : select.value), row: row(select, labelNode), error, focus: () => select.focus() };
  }
  if (TEXTAREAS.includes(key)) {
    const area = described(el('textarea', { id, value: String(value ?? ''), rows: 4, spellcheck: false }));
    return { key, read: () => area.value, row: row(area, labelNode), error, focus: () => area.focus() };
  }
  if (SECRETS.includes(key)) {
    const isSet = value !== '' && value !== undefined;
    const input = described(el('input', { id, type: 'password', autocomplete: 'new-password', maxLength: 128, placeholder: isSet ? w('secretSet') : '' }));
    if (isSet) help.append(' ', w('secretHint'));
    // Sent only when typed: "(set)" stays as it is.
    return { key, read: () => (input.value === '' ? undefined : input.value), row: row(input, labelNode), error, focus: () => input.focus() };
  }
  const input = described(el('input', { id, value: String(value ?? '') }));
  if (typeof value === 'number') {
    input.type = 'number';
    input.inputMode = 'numeric';
    return { key, read: () => numberOrText(input), row: row(input, labelNode), error, focus: () => input.focus() };
  }
  return { key, read: () => input.value.trim(), row: row(input, labelNode), error, focus: () => input.focus() };
}

/** An enumerated value in words: the SMTP security choices with their usual ports, the rest by name or as they are. */
function choiceName(value: string, key?: SettingName): string {
  type Named = Parameters<typeof choice>[0];
  const named = (name: string): name is Named => ['zh-CN', 'en', 'round-robin', 'longest-unseen', 'optional', 'required', 'off', 'auto', 'dhcp', 'static', 'sntp', 'manual', 'none', 'ssl', 'tls', 'smtp.ssl', 'smtp.tls', 'udp', 'tcp', 'daily', 'weekly', 'monthly', 'lan', 'wan', 'take-over', 'queue'].includes(name);
  const specific = `${key}.${value}`.replace(/^smtp\.security\./, 'smtp.');
  if (key === 'smtp.security' && named(specific)) return choice(specific);
  return named(value) ? choice(value) : value;
}

/** What the API answered to a save, in words. */
function answerInWords(answer: SaveAnswer, effects: Record<string, Effect>, sent: Record<string, unknown>): string[] {
  const names = (keys: string[]) => keys.map((k) => (k in effects ? label(k as SettingName) : k)).join(', ');
  const lines = [w('saved')];
  if (answer.appliedNow.length > 0) lines.push(w('appliedNow', { keys: names(answer.appliedNow) }));
  for (const service of answer.restartRequired) {
    const keys = answer.changed.filter((k) => {
      const e = effects[k];
      return e?.applies === 'restart' && e.service === service;
    });
    lines.push(w('restartNeeded', { service: serviceName(service), keys: names(keys) }));
  }
  for (const key of answer.storedOnly) {
    const effect = effects[key];
    lines.push(w('storedOnly', { key: names([key]), note: effect?.applies === 'stored' ? effect.note : '' }));
  }
  const system = answer.system;
  if (system) {
    if (system.root === null) lines.push(w('systemNoRoot'));
    else {
      lines.push(w('systemWritten', { files: system.files.map((f) => `${f.path}${f.changed ? '' : ` ${w('systemUnchanged')}`}`).join(', ') }));
      if (!system.applied) lines.push(w('systemNotApplied'));
      else if (system.commands.length > 0) lines.push(w('systemApplied', { commands: system.commands.join('; ') }));
      else lines.push(w('systemAppliedNothing'));
    }
    if (system.warning && system.applied && system.commands.length > 0) lines.push(warningInWords(system.warning));
  }
  if (answer.live) lines.push(...liveInWords(answer.live, answer.changed, sent));
  return lines;
}

/** What the signaling service and the web listeners did with the change, in words. */
function liveInWords(live: LiveAnswer, changed: string[], sent: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const signaling = live.signaling;
  if (signaling?.state === 'unreachable') lines.push(w('signalingUnreachable'));
  if (signaling?.state === 'applied') {
    const bound = (transport: string) => Number(signaling.listeners.find((l) => l.startsWith(`${transport}/`))?.split(':').pop() ?? 0);
    for (const failure of signaling.failures) {
      const inForce = String(bound(failure.transport === 'tls' ? 'tls' : 'udp'));
      lines.push(w('sipMoveFailed', { transport: failure.transport.toUpperCase(), port: String(failure.port), reason: failure.reason, inForce }));
    }
    for (const [pin, key, transport] of [['port', 'sip.port', 'udp'], ['tlsPort', 'sip.tlsPort', 'tls']] as const) {
      const by = signaling.pinned[pin];
      if (by && changed.includes(key)) lines.push(w('portPinned', { setting: label(key), inForce: String(bound(transport)), by, stored: String(sent[key]) }));
    }
    if ((changed.includes('sip.port') || changed.includes('sip.tlsPort')) && signaling.failures.length === 0) {
      lines.push(w('sipListening', { listeners: signaling.listeners.join(', ') }));
      if (signaling.drainingPorts.length > 0) lines.push(w('sipDraining', { ports: signaling.drainingPorts.join(', ') }));
    }
  }
  if (live.media?.state === 'applied') {
    if (changed.some((key) => key === 'media.mcuPorts' || key === 'media.ivrPorts' || key === 'call.rtpTimeoutSeconds')) lines.push(w('mediaNewCalls'));
    if (changed.some((key) => /^call\.(maxVideoResolution|maxBandwidth|polling\.)/.test(key))) lines.push(w('mediaPictures'));
    if (changed.some((key) => key === 'call.maxContentResolution' || key === 'call.maxBandwidth')) lines.push(w('mediaContent'));
  }
  if (live.media?.state === 'unreachable') lines.push(w('mediaUnreachable'));
  const web = live.web;
  if (web) {
    if (web.http.error) lines.push(w('httpMoveFailed', { port: String(web.http.stored), reason: web.http.error, inForce: String(web.http.port) }));
    else if (web.http.pinnedBy && changed.includes('web.httpPort')) lines.push(w('portPinned', { setting: label('web.httpPort'), inForce: String(web.http.port), by: web.http.pinnedBy, stored: String(web.http.stored) }));
    else if (changed.includes('web.httpPort')) lines.push(w('httpMoved', { port: String(web.http.port) }));
    if (web.https.error && web.https.enabled) lines.push(w('httpsFailed', { port: String(web.https.stored), reason: web.https.error }));
    else if (web.https.port !== null && (changed.includes('web.httpsEnabled') || changed.includes('web.httpsPort'))) lines.push(w('httpsOn', { port: String(web.https.port) }));
    else if (changed.includes('web.httpsEnabled') && !web.https.enabled) lines.push(w('httpsOff'));
  }
  return lines;
}

/** Where this console is now when the change moved the listener it was loaded from (undefined: it did not). */
function consoleMovedTo(live: LiveAnswer | undefined): string | undefined {
  const web = live?.web;
  if (!web) return undefined;
  const here = window.location;
  const port = here.port || (here.protocol === 'https:' ? '443' : '80');
  if (here.protocol === 'http:' && web.http.port !== null && String(web.http.port) !== port) return `http://${here.hostname}:${web.http.port}/#settings`;
  if (here.protocol === 'https:' && web.https.port === null && web.http.port !== null) return `http://${here.hostname}:${web.http.port}/#settings`;
  if (here.protocol === 'https:' && web.https.port !== null && String(web.https.port) !== port) return `https://${here.hostname}:${web.https.port}/#settings`;
  return undefined;
}

/** The question asked before saving changes that restart a service or rewrite the network; undefined: no need to ask. */
function confirmation(changed: SettingName[], effects: Record<string, Effect>): string | undefined {
  const lines: string[] = [];
  const restarts = new Map<string, SettingName[]>();
  const warnings = new Map<string, SettingName[]>();
  for (const key of changed) {
    const effect = effects[key];
    if (effect?.applies === 'restart') restarts.set(effect.service, [...(restarts.get(effect.service) ?? []), key]);
    if (effect?.applies === 'system' && effect.warning) warnings.set(effect.warning, [...(warnings.get(effect.warning) ?? []), key]);
  }
  for (const [warning, keys] of warnings) lines.push(w('confirmSystem', { warning: warningInWords(warning), keys: keys.map((k) => label(k)).join(', ') }));
  // Ports move at once: whoever reaches the box there must follow.
  const sipPorts = changed.filter((key) => key === 'sip.port' || key === 'sip.tlsPort');
  const webPorts = changed.filter((key) => key === 'web.httpPort' || key === 'web.httpsPort' || key === 'web.httpsEnabled');
  if (sipPorts.length > 0) lines.push(w('confirmSipPorts', { keys: sipPorts.map((k) => label(k)).join(', ') }));
  if (webPorts.length > 0) lines.push(w('confirmWebPorts', { keys: webPorts.map((k) => label(k)).join(', ') }));
  for (const [service, keys] of restarts) lines.push(w('confirmRestart', { service: serviceName(service), keys: keys.map((k) => label(k)).join(', ') }));
  return lines.length > 0 ? [...lines, '', w('confirmIntro')].join('\n') : undefined;
}

/** A group's outcome kept across the re-render that follows a save. */
let lastOutcome: { group: GroupId; lines: string[]; problems?: { key: string; reason: string }[] } | undefined;
/** A group to bring into view at the next render (the backups page links to its schedule). */
let focusGroup: GroupId | undefined;

/** A link that opens the settings page at one group (e.g. the automatic backup schedule). */
export function settingsLink(group: GroupId, text: string, id?: string): HTMLAnchorElement {
  const link = el('a', { href: '#settings' }, text);
  if (id) link.id = id;
  link.addEventListener('click', () => {
    focusGroup = group;
  });
  return link;
}

function showError(field: Field, message: string): void {
  field.error.textContent = message;
  field.row.classList.add('invalid');
  for (const control of field.row.querySelectorAll('input, select, textarea')) control.setAttribute('aria-invalid', 'true');
}
function clearError(field: Field): void {
  field.error.textContent = '';
  field.row.classList.remove('invalid');
  for (const control of field.row.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/** "Send test mail" with the SMTP fields as they are in the form, and its outcome in words. */
function smtpTest(fields: Field[], onError: (error: unknown) => void): HTMLElement {
  const to = el('input', { id: 'smtp-test-to', type: 'email', maxLength: 128, autocomplete: 'email' });
  const toError = el('p', { className: 'field-error', id: 'smtp-test-to-error' });
  toError.setAttribute('role', 'alert');
  to.setAttribute('aria-describedby', 'smtp-test-note smtp-test-to-error');
  const send = el('button', { type: 'button', id: 'smtp-test' }, w('testSend'));
  const outcome = el('p', { id: 'smtp-test-outcome', className: 'outcome' });
  outcome.setAttribute('aria-live', 'polite');
  const fieldNames = { server: 'smtp.server', port: 'smtp.port', security: 'smtp.security', sender: 'smtp.sender', user: 'smtp.user', password: 'smtp.password' } as const;
  send.addEventListener('click', () => {
    const body: Record<string, unknown> = { to: to.value.trim() };
    for (const [name, key] of Object.entries(fieldNames)) {
      const value = fields.find((f) => f.key === key)?.read();
      if (value !== undefined) body[name] = value;
    }
    for (const f of fields) clearError(f);
    toError.textContent = '';
    to.removeAttribute('aria-invalid');
    outcome.className = 'outcome';
    outcome.textContent = w('testSending');
    send.disabled = true;
    void api<TestMailAnswer>('POST', '/settings/smtp/test', body)
      .then((answer) => {
        outcome.classList.add('ok');
        outcome.textContent = w('testSent', { server: answer.server, security: choiceName(answer.security, 'smtp.security'), to: answer.to });
      })
      .catch((error: unknown) => {
        if (!(error instanceof ApiError) || error.status === 401 || error.status === 0) {
          outcome.textContent = '';
          onError(error);
          return;
        }
        outcome.classList.add('failed');
        outcome.textContent = error.message;
        if (error.field === 'to') {
          toError.textContent = error.message;
          to.setAttribute('aria-invalid', 'true');
          return;
        }
        const key = error.field === undefined ? undefined : fieldNames[error.field as keyof typeof fieldNames];
        const field = fields.find((f) => f.key === key);
        if (field) showError(field, error.message);
      })
      .finally(() => {
        send.disabled = false;
      });
  });
  return el(
    'div',
    { className: 'smtp-test inline-form' },
    el('label', { htmlFor: 'smtp-test-to' }, w('testTo')),
    to,
    send,
    toError,
    el('p', { className: 'help', id: 'smtp-test-note' }, w('testUsesForm')),
    outcome,
  );
}

/** Remote syslog's link as it is now (GET /settings/syslog/status), refreshed on demand. */
function syslogStatus(onError: (error: unknown) => void): HTMLElement {
  const text = el('p', { id: 'syslog-status', className: 'muted' });
  text.setAttribute('aria-live', 'polite');
  const load = () =>
    api<SyslogStatus>('GET', '/settings/syslog/status')
      .then((status) => {
        const lines: (Node | string)[] = [];
        if (!status.enabled || !status.target) lines.push(w('syslogOff'));
        else {
          const state = status.state === 'connected' || status.state === 'connecting' || status.state === 'waiting' || status.state === 'closed' ? w(`state_${status.state}`) : (status.state ?? '');
          lines.push(w('syslogLink', { target: status.target, state, queued: String(status.queued ?? 0), sent: String(status.sent ?? 0), dropped: String(status.dropped ?? 0) }));
          if (status.lastError) lines.push(el('br'), w('syslogLastError', { error: status.lastError }));
          if (status.carries.length > 0) lines.push(el('br'), w('syslogCarries', { what: status.carries.join(', ') }));
        }
        text.replaceChildren(...lines);
      })
      .catch(onError);
  const refresh = el('button', { type: 'button', id: 'syslog-refresh' }, w('syslogRefresh'));
  refresh.addEventListener('click', () => void load());
  void load();
  return el('div', { className: 'syslog-status' }, el('h3', {}, w('syslogStatus')), text, refresh);
}

export async function renderSettings(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const all = await api<Record<string, SettingView>>('GET', '/settings');
  const effects = Object.fromEntries(Object.entries(all).map(([key, s]) => [key, s.effect]));
  const again = () => renderSettings(root, onError).catch(onError);
  const sections = GROUPS.map((group) => {
    const fields: Field[] = [];
    const parts = group.parts.map((part) => {
      const rows = part.keys.flatMap((key) => {
        const setting = all[key];
        if (!setting) return [];
        const field = fieldFor(key, setting);
        fields.push(field);
        return [field.row];
      });
      if (!part.id) return el('div', { className: 'settings-grid' }, ...rows);
      return el('fieldset', { className: 'settings-part' }, el('legend', {}, w(`part_${part.id}`)), el('div', { className: 'settings-grid' }, ...rows));
    });
    const outcome = el('div', { className: 'outcome', id: `settings-${group.id}-outcome` });
    outcome.setAttribute('aria-live', 'polite');
    if (lastOutcome?.group === group.id) {
      outcome.replaceChildren(...lastOutcome.lines.map((line) => el('p', {}, line)));
      const problems = lastOutcome.problems ?? [];
      outcome.classList.add(problems.length > 0 ? 'failed' : 'ok');
      // A value the running service could not take was put back: say so by its field too.
      for (const problem of problems) {
        const field = fields.find((f) => f.key === problem.key);
        if (field) showError(field, w('notApplied'));
      }
    }
    const saveButton = el('button', { type: 'submit', id: `settings-${group.id}-save` }, w('save'));
    const form = el('form', { className: 'panel settings-group', id: `settings-${group.id}`, noValidate: true });
    form.setAttribute('aria-labelledby', `settings-${group.id}-title`);
    const extras: HTMLElement[] = [];
    if (group.id === 'smtp') extras.push(smtpTest(fields, onError));
    if (group.id === 'logs') extras.push(syslogStatus(onError));
    // Panels with their own buttons come after the group's Save (they do not save with it).
    const panels: HTMLElement[] = [];
    if (group.id === 'logs') panels.push(metricsTokenPanel(onError));
    if (group.id === 'certificates') panels.push(certificatePanel(onError));
    if (group.id === 'backup') extras.push(el('p', {}, el('a', { href: '#backups' }, w('backupsLink'))));
    if (group.id === 'disk') extras.push(diskUsage(onError));
    form.append(el('h2', { id: `settings-${group.id}-title`, tabIndex: -1 }, w(`group_${group.id}`)), ...parts, ...extras, el('div', { className: 'toolbar' }, saveButton), outcome, ...panels);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      for (const f of fields) clearError(f);
      outcome.className = 'outcome';
      outcome.replaceChildren();
      const changes: Record<string, unknown> = {};
      for (const f of fields) {
        const value = f.read();
        if (value !== undefined && !sameValue(value, all[f.key]?.value)) changes[f.key] = value;
      }
      const changed = Object.keys(changes) as SettingName[];
      if (changed.length === 0) {
        outcome.replaceChildren(el('p', {}, w('nothingChanged')));
        return;
      }
      // The manual asks before disk settings change ("确定修改磁盘设置？").
      const question = confirmation(changed, effects) ?? (group.id === 'disk' ? w('confirmDisk') : undefined);
      if (question !== undefined && !window.confirm(question)) return;
      saveButton.disabled = true;
      void api<SaveAnswer>('PATCH', '/settings', changes)
        .then((answer) => {
          const lines = answerInWords(answer, effects, changes);
          const moved = consoleMovedTo(answer.live);
          if (moved) {
            // The listener this page came from is gone: offer the new address, do not reload from the old one.
            saveButton.disabled = false;
            const link = el('a', { href: moved, id: 'settings-console-moved' }, moved);
            outcome.classList.add('ok');
            outcome.replaceChildren(...lines.map((line) => el('p', {}, line)), el('p', {}, w('consoleMoved'), ' ', link));
            link.focus();
            return;
          }
          lastOutcome = { group: group.id, lines, problems: answer.live?.problems ?? [] };
          focusGroup = group.id;
          return again();
        })
        .catch((error: unknown) => {
          saveButton.disabled = false;
          if (!(error instanceof ApiError) || error.status === 401 || error.status === 0) {
            onError(error);
            return;
          }
          const field = fields.find((f) => f.key === error.field);
          outcome.classList.add('failed');
          if (field) {
            showError(field, error.message);
            outcome.replaceChildren(el('p', {}, w('refusedHere')));
            field.focus();
          } else outcome.replaceChildren(el('p', {}, error.message));
        });
    });
    return form;
  });
  // The page is long: a list of its groups, each bringing its group into view.
  const contents = el('nav', { className: 'toolbar settings-contents' });
  contents.setAttribute('aria-label', w('contents'));
  for (const group of GROUPS) {
    const jump = el('button', { type: 'button', className: 'link' }, w(`group_${group.id}`));
    jump.addEventListener('click', () => {
      const heading = root.querySelector<HTMLElement>(`#settings-${group.id}-title`);
      heading?.scrollIntoView({ block: 'start' });
      heading?.focus({ preventScroll: true });
    });
    contents.append(jump);
  }
  root.replaceChildren(el('h1', {}, w('title')), contents, ...sections);
  lastOutcome = undefined;
  if (focusGroup) {
    const heading = root.querySelector<HTMLElement>(`#settings-${focusGroup}-title`);
    focusGroup = undefined;
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus({ preventScroll: true });
  }
}
