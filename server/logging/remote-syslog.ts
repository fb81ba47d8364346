/**
 * Remote syslog as the admin configures it (settings `syslog.enabled/host/port/protocol`, and
 * `tls.trustedCertificates` for TLS): what a process of the box sends to the collector, and
 * following the settings while it runs. Every process sends its system log — pino lines at
 * warn and above (logger.ts TAP_LEVEL), APP-NAME the source module, MSGID the spec's log
 * (web, sip, mcu) — and the control plane also the operation log: every audit-log entry
 * written after remote syslog was turned on (noticed within `pollMs`), APP-NAME `audit`, MSGID
 * the action. Facility local0; severity from the log level (audit:
 * notice, failures and lock-outs warning). The settings are re-read every `pollMs`, so a
 * change applies without a restart; messages still queued move to the new link.
 * The wire format is ./syslog-message.ts, the link ./syslog-forwarder.ts.
 */
import os from 'node:os';
import { AuditFeed, type StoredAuditEntry } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { trustedCertificates } from '../tls/trusted-certificates.ts';
import { BUILD_INFO, PRODUCT_NAME } from '../version.ts';
import { getLogger, type LogFile, setLogTap, TAP_LEVEL } from '../core/logger.ts';
import { SyslogForwarder, type SyslogLinkStatus, type SyslogProtocol, type SyslogTarget } from './syslog-forwarder.ts';
import { ENTERPRISE_NUMBER, FACILITY_LOCAL0, formatSyslogMessage, SEVERITY, type SdElement, severityOfLogLevel } from './syslog-message.ts';

const log = getLogger('syslog');

export interface RemoteSyslogOptions {
  readonly settings: SettingsStore;
  /** The spec's system log this process writes (MSGID of its lines). */
  readonly logFile: LogFile;
  /** The process name (`control-plane`, `signaling`, `media`), in each line's structured data. */
  readonly processName: string;
  /** Given in the one process that forwards the operation log (the control plane). */
  readonly auditDb?: Db;
  /** Messages kept while the collector is unreachable. Default 1000. */
  readonly bufferLimit?: number;
  /** How often the settings and the operation log are looked at. Default 500 ms. */
  readonly pollMs?: number;
}

/** What the console shows about remote syslog. */
export interface RemoteSyslogStatus extends Partial<SyslogLinkStatus> {
  readonly enabled: boolean;
  /** What is sent. */
  readonly carries: readonly string[];
}

/** Pino's own fields; the rest of a line is context worth sending. */
const PINO_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'proc', 'module', 'msg', 'v']);
const AUDIT_BATCH = 200;
const AUDIT_BATCHES_PER_POLL = 5;

function targetKey(target: SyslogTarget | undefined): string {
  return JSON.stringify(target ?? null);
}

export class RemoteSyslog {
  readonly #settings: SettingsStore;
  readonly #logFile: LogFile;
  readonly #processName: string;
  readonly #audit: AuditFeed | undefined;
  readonly #bufferLimit: number;
  readonly #pollMs: number;
  readonly #hostname = os.hostname();
  #forwarder: SyslogForwarder | undefined;
  #timer: NodeJS.Timeout | undefined;
  #auditAfter = 0;
  #sequence = 0;
  #closed = false;

  constructor(options: RemoteSyslogOptions) {
    this.#settings = options.settings;
    this.#logFile = options.logFile;
    this.#processName = options.processName;
    this.#audit = options.auditDb ? new AuditFeed(options.auditDb) : undefined;
    this.#bufferLimit = options.bufferLimit ?? 1000;
    this.#pollMs = options.pollMs ?? 500;
  }

  /** Applies the current settings, taps the log and starts following settings and operation log. */
  start(): this {
    if (this.#closed || this.#timer) return this;
    this.#poll();
    setLogTap((line) => this.#forwardLogLine(line));
    this.#timer = setInterval(() => this.#poll(), this.#pollMs);
    this.#timer.unref();
    return this;
  }

  status(): RemoteSyslogStatus {
    const carries = [`system log (${this.#logFile}, ${TAP_LEVEL} and above)`, ...(this.#audit ? ['operation log'] : [])];
    return { enabled: this.#forwarder !== undefined, carries, ...this.#forwarder?.status() };
  }

  /** Stops forwarding; what is queued is written if the collector is connected. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    setLogTap(undefined);
    this.#forwarder?.close();
    this.#forwarder = undefined;
  }

  #poll(): void {
    if (this.#closed) return;
    try {
      this.#applySettings();
      this.#forwardAudit();
    } catch (error) {
      // A database that is closing or busy is no reason to stop trying next time.
      log.debug({ err: (error as Error).message }, 'remote syslog: poll failed');
    }
  }

  #wantedTarget(): SyslogTarget | undefined {
    const all = this.#settings.getAll();
    if (!all['syslog.enabled'] || !all['syslog.host']) return undefined;
    const protocol = all['syslog.protocol'] as SyslogProtocol;
    const ca = protocol === 'tls' ? trustedCertificates(all['tls.trustedCertificates']) : undefined;
    return { host: all['syslog.host'], port: all['syslog.port'], protocol, ...(ca ? { ca } : {}) };
  }

  #applySettings(): void {
    const wanted = this.#wantedTarget();
    const current = this.#forwarder?.target;
    if (targetKey(wanted) === targetKey(current)) return;
    const queued = this.#forwarder?.takeQueued() ?? [];
    this.#forwarder?.close();
    this.#forwarder = undefined;
    if (!wanted) {
      log.info({ process: this.#processName }, 'remote syslog off');
      return;
    }
    log.info({ host: wanted.host, port: wanted.port, protocol: wanted.protocol, process: this.#processName }, 'remote syslog on');
    // Turned on (not just moved to another collector): the operation log is sent from now on;
    // what happened while it was off stays in the local log.
    if (!current && this.#audit) this.#auditAfter = this.#audit.lastId();
    this.#forwarder = new SyslogForwarder(wanted, { bufferLimit: this.#bufferLimit, dropNotice: (count) => this.#dropNotice(count) });
    for (const message of queued) this.#forwarder.send(message);
  }

  #forwardAudit(): void {
    if (!this.#audit) return;
    if (!this.#forwarder) return;
    for (let batch = 0; batch < AUDIT_BATCHES_PER_POLL; batch++) {
      const entries = this.#audit.after(this.#auditAfter, AUDIT_BATCH);
      for (const entry of entries) {
        this.#auditAfter = entry.id;
        this.#forwarder.send(this.#auditMessage(entry));
      }
      if (entries.length < AUDIT_BATCH) return;
    }
  }

  #nextSequence(): number {
    // RFC 5424 7.3.1: 1 to 2147483647, then starting over at 1.
    this.#sequence = this.#sequence >= 2_147_483_647 ? 1 : this.#sequence + 1;
    return this.#sequence;
  }

  #common(): SdElement[] {
    return [
      { id: 'meta', params: { sequenceId: this.#nextSequence() } },
      { id: 'origin', params: { software: PRODUCT_NAME, swVersion: BUILD_INFO.version } },
    ];
  }

  #auditMessage(entry: StoredAuditEntry): Buffer {
    const warning = /\.failed$|lockout|locked/.test(entry.action);
    const text = `${entry.actor || '-'} ${entry.action}${entry.source ? ` from ${entry.source}` : ''}${entry.detail ? ` ${entry.detail}` : ''}`;
    return formatSyslogMessage({
      facility: FACILITY_LOCAL0,
      severity: warning ? SEVERITY.warning : SEVERITY.notice,
      timestamp: new Date(entry.at),
      hostname: this.#hostname,
      appName: 'audit',
      msgId: entry.action,
      structuredData: [{ id: `audit@${ENTERPRISE_NUMBER}`, params: { id: entry.id, actor: entry.actor, source: entry.source ?? undefined } }, ...this.#common()],
      message: text,
    });
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
        hostname: this.#hostname,
        appName: String(line.module ?? line.proc ?? this.#processName),
        procId: typeof line.pid === 'number' ? line.pid : process.pid,
        msgId: this.#logFile,
        structuredData: [{ id: `log@${ENTERPRISE_NUMBER}`, params: { process: this.#processName, level: levelName(level) } }, ...this.#common()],
        message: `${String(line.msg ?? '')}${Object.keys(context).length > 0 ? ` ${JSON.stringify(context)}` : ''}`,
      }),
    );
  }

  #dropNotice(count: number): Buffer {
    return formatSyslogMessage({
      facility: FACILITY_LOCAL0,
      severity: SEVERITY.warning,
      timestamp: new Date(),
      hostname: this.#hostname,
      appName: 'syslog',
      procId: process.pid,
      msgId: 'dropped',
      structuredData: [{ id: `dropped@${ENTERPRISE_NUMBER}`, params: { count, bufferLimit: this.#bufferLimit, process: this.#processName } }, ...this.#common()],
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
