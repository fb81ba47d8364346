/**
 * One process's link to the remote syslog collector, whoever tells it where that is: the
 * process's system log — pino lines at warn and above (logger.ts TAP_LEVEL), APP-NAME the
 * source module, MSGID the spec's log (web, sip, mcu) — formatted (./syslog-message.ts) and
 * sent over ./syslog-forwarder.ts to the target it is given (`setTarget`; messages still
 * queued move to a new target). Shared by every process: the ones that read the settings
 * themselves (server/logging/remote-syslog.ts, which also sends the control plane's operation
 * log through `send`) and the media process, which is given the settings over its control
 * channel (media/main.ts). `syslogTargetFrom` is the one reading of the settings
 * `syslog.enabled/host/port/protocol` and `tls.trustedCertificates`.
 */
import os from 'node:os';
import { getLogger, type LogFile, setLogTap, TAP_LEVEL } from './logger.ts';
import { SyslogForwarder, type SyslogLinkStatus, type SyslogProtocol, type SyslogTarget } from './syslog-forwarder.ts';
import { ENTERPRISE_NUMBER, FACILITY_LOCAL0, formatSyslogMessage, SEVERITY, type SdElement, severityOfLogLevel } from './syslog-message.ts';
import { trustedCertificates } from './trusted-certificates.ts';
import { BUILD_INFO, PRODUCT_NAME } from './version.ts';

const log = getLogger('syslog');

/** The settings remote syslog is made of (the stored settings are one). */
export interface SyslogSettings {
  readonly 'syslog.enabled': boolean;
  readonly 'syslog.host': string;
  readonly 'syslog.port': number;
  readonly 'syslog.protocol': string;
  readonly 'tls.trustedCertificates': string;
}

/** Where the settings say to send (undefined: remote syslog off). */
export function syslogTargetFrom(settings: SyslogSettings): SyslogTarget | undefined {
  if (!settings['syslog.enabled'] || !settings['syslog.host']) return undefined;
  const protocol = settings['syslog.protocol'] as SyslogProtocol;
  const ca = protocol === 'tls' ? trustedCertificates(settings['tls.trustedCertificates']) : undefined;
  return { host: settings['syslog.host'], port: settings['syslog.port'], protocol, ...(ca ? { ca } : {}) };
}

export interface RemoteSyslogLinkOptions {
  /** The spec's system log this process writes (MSGID of its lines). */
  readonly logFile: LogFile;
  /** The process name (`control-plane`, `signaling`, `media`), in each line's structured data. */
  readonly processName: string;
  /** Messages kept while the collector is unreachable. Default 1000. */
  readonly bufferLimit?: number;
}

/** Pino's own fields; the rest of a line is context worth sending. */
const PINO_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'proc', 'module', 'msg', 'v']);

function targetKey(target: SyslogTarget | undefined): string {
  return JSON.stringify(target ?? null);
}

export class RemoteSyslogLink {
  readonly #logFile: LogFile;
  readonly #processName: string;
  readonly #bufferLimit: number;
  readonly hostname = os.hostname();
  #forwarder: SyslogForwarder | undefined;
  #tapped = false;
  #sequence = 0;
  #closed = false;

  constructor(options: RemoteSyslogLinkOptions) {
    this.#logFile = options.logFile;
    this.#processName = options.processName;
    this.#bufferLimit = options.bufferLimit ?? 1000;
  }

  /** Taps the process's log (lines go nowhere until a target is set). */
  start(): this {
    if (this.#closed || this.#tapped) return this;
    this.#tapped = true;
    setLogTap((line) => this.#forwardLogLine(line));
    return this;
  }

  /** The collector in use, if any. */
  get target(): SyslogTarget | undefined {
    return this.#forwarder?.target;
  }

  /**
   * Sends to `target` from now on (undefined: remote syslog off). Returns whether it was
   * turned on by this (off before, on now). The same target again changes nothing.
   */
  setTarget(target: SyslogTarget | undefined): { turnedOn: boolean } {
    const current = this.#forwarder?.target;
    if (this.#closed || targetKey(target) === targetKey(current)) return { turnedOn: false };
    const queued = this.#forwarder?.takeQueued() ?? [];
    this.#forwarder?.close();
    this.#forwarder = undefined;
    if (!target) {
      log.info({ process: this.#processName }, 'remote syslog off');
      return { turnedOn: false };
    }
    log.info({ host: target.host, port: target.port, protocol: target.protocol, process: this.#processName }, 'remote syslog on');
    this.#forwarder = new SyslogForwarder(target, { bufferLimit: this.#bufferLimit, dropNotice: (count) => this.#dropNotice(count) });
    for (const message of queued) this.#forwarder.send(message);
    return { turnedOn: current === undefined };
  }

  /** Sends one formatted message (nothing when remote syslog is off); false when off. */
  send(message: Buffer): boolean {
    if (!this.#forwarder) return false;
    this.#forwarder.send(message);
    return true;
  }

  get enabled(): boolean {
    return this.#forwarder !== undefined;
  }

  status(): Partial<SyslogLinkStatus> & { readonly system: string } {
    return { system: `system log (${this.#logFile}, ${TAP_LEVEL} and above)`, ...this.#forwarder?.status() };
  }

  /** The structured data every message carries: a sequence number and the software. */
  common(): SdElement[] {
    // RFC 5424 7.3.1: 1 to 2147483647, then starting over at 1.
    this.#sequence = this.#sequence >= 2_147_483_647 ? 1 : this.#sequence + 1;
    return [
      { id: 'meta', params: { sequenceId: this.#sequence } },
      { id: 'origin', params: { software: PRODUCT_NAME, swVersion: BUILD_INFO.version } },
    ];
  }

  /** Stops forwarding; what is queued is written if the collector is connected. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tapped) setLogTap(undefined);
    this.#forwarder?.close();
    this.#forwarder = undefined;
  }

  #forwardLogLine(line: Readonly<Record<string, unknown>>): void {
    const forwarder = this.#forwarder;
    // The link's own troubles are about the link: sending them over it would go round in circles.
    if (!forwarder || line.module === 'syslog') return;
    const level = typeof line.level === 'number' ? line.level : 40;
    const context: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(line)) {
      if (PINO_FIELDS.has(key)) continue;
      if (key === 'err' && value && typeof value === 'object') {
        const { type, message, code } = value as Record<string, unknown>;
        context.err = { type, message, code }; // the stack stays in the local log
      } else {
        context[key] = value;
      }
    }
    const time = typeof line.time === 'number' || typeof line.time === 'string' ? new Date(line.time) : new Date();
    forwarder.send(
      formatSyslogMessage({
        facility: FACILITY_LOCAL0,
        severity: severityOfLogLevel(level),
        timestamp: time,
        hostname: this.hostname,
        appName: String(line.module ?? line.proc ?? this.#processName),
        procId: typeof line.pid === 'number' ? line.pid : process.pid,
        msgId: this.#logFile,
        structuredData: [{ id: `log@${ENTERPRISE_NUMBER}`, params: { process: this.#processName, level: levelName(level) } }, ...this.common()],
        message: `${String(line.msg ?? '')}${Object.keys(context).length > 0 ? ` ${JSON.stringify(context)}` : ''}`,
      }),
    );
  }

  #dropNotice(count: number): Buffer {
    return formatSyslogMessage({
      facility: FACILITY_LOCAL0,
      severity: SEVERITY.warning,
      timestamp: new Date(),
      hostname: this.hostname,
      appName: 'syslog',
      procId: process.pid,
      msgId: 'dropped',
      structuredData: [{ id: `dropped@${ENTERPRISE_NUMBER}`, params: { count, bufferLimit: this.#bufferLimit, process: this.#processName } }, ...this.common()],
      message: `${count} messages were dropped while the collector could not be reached (the box keeps the newest ${this.#bufferLimit})`,
    });
  }
}

function levelName(level: number): string {
  if (level >= 60) return 'fatal';
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  return level >= 20 ? 'debug' : 'trace';
}
