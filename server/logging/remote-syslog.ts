/**
 * Remote syslog as the admin configures it (settings `syslog.enabled/host/port/protocol`, and
 * `tls.trustedCertificates` for TLS), for a process that reads the stored settings itself
 * (the control plane, the signaling and TURN services): what it sends to the collector, and
 * following the settings while it runs. The link itself — the system log's lines at warn and
 * above, formatted and sent — is server/core/remote-syslog-link.ts, shared with the media
 * process (which is given the settings over its control channel instead). The control plane
 * also sends the operation log: every audit-log entry written after remote syslog was turned
 * on (noticed within `pollMs`), APP-NAME `audit`, MSGID the action, severity notice (failures
 * and lock-outs warning). The settings are re-read every `pollMs`, so a change applies
 * without a restart; messages still queued move to the new link.
 */
import { AuditFeed, type StoredAuditEntry } from '../audit/audit-log.ts';
import { RemoteSyslogLink, syslogTargetFrom } from '../core/remote-syslog-link.ts';
import type { SyslogLinkStatus } from '../core/syslog-forwarder.ts';
import { ENTERPRISE_NUMBER, FACILITY_LOCAL0, formatSyslogMessage, SEVERITY } from '../core/syslog-message.ts';
import { getLogger, type LogFile } from '../core/logger.ts';
import type { Db } from '../db/database.ts';
import type { SettingsStore } from '../settings/settings-store.ts';

const log = getLogger('syslog');

export interface RemoteSyslogOptions {
  readonly settings: SettingsStore;
  /** The spec's system log this process writes (MSGID of its lines). */
  readonly logFile: LogFile;
  /** The process name (`control-plane`, `signaling`, `turn`), in each line's structured data. */
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

const AUDIT_BATCH = 200;
const AUDIT_BATCHES_PER_POLL = 5;

export class RemoteSyslog {
  readonly #settings: SettingsStore;
  readonly #link: RemoteSyslogLink;
  readonly #audit: AuditFeed | undefined;
  readonly #pollMs: number;
  #timer: NodeJS.Timeout | undefined;
  #auditAfter = 0;
  #closed = false;

  constructor(options: RemoteSyslogOptions) {
    this.#settings = options.settings;
    this.#link = new RemoteSyslogLink({ logFile: options.logFile, processName: options.processName, ...(options.bufferLimit ? { bufferLimit: options.bufferLimit } : {}) });
    this.#audit = options.auditDb ? new AuditFeed(options.auditDb) : undefined;
    this.#pollMs = options.pollMs ?? 500;
  }

  /** Applies the current settings, taps the log and starts following settings and operation log. */
  start(): this {
    if (this.#closed || this.#timer) return this;
    this.#poll();
    this.#link.start();
    this.#timer = setInterval(() => this.#poll(), this.#pollMs);
    this.#timer.unref();
    return this;
  }

  status(): RemoteSyslogStatus {
    const { system, ...link } = this.#link.status();
    const carries = [system, ...(this.#audit ? ['operation log'] : [])];
    return { enabled: this.#link.enabled, carries, ...link };
  }

  /** Stops forwarding; what is queued is written if the collector is connected. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#link.close();
  }

  #poll(): void {
    if (this.#closed) return;
    try {
      const { turnedOn } = this.#link.setTarget(syslogTargetFrom(this.#settings.getAll()));
      // Turned on (not just moved to another collector): the operation log is sent from now on;
      // what happened while it was off stays in the local log.
      if (turnedOn && this.#audit) this.#auditAfter = this.#audit.lastId();
      this.#forwardAudit();
    } catch (error) {
      // A database that is closing or busy is no reason to stop trying next time.
      log.debug({ err: (error as Error).message }, 'remote syslog: poll failed');
    }
  }

  #forwardAudit(): void {
    if (!this.#audit || !this.#link.enabled) return;
    for (let batch = 0; batch < AUDIT_BATCHES_PER_POLL; batch++) {
      const entries = this.#audit.after(this.#auditAfter, AUDIT_BATCH);
      for (const entry of entries) {
        this.#auditAfter = entry.id;
        this.#link.send(this.#auditMessage(entry));
      }
      if (entries.length < AUDIT_BATCH) return;
    }
  }

  #auditMessage(entry: StoredAuditEntry): Buffer {
    const warning = /\.failed$|lockout|locked/.test(entry.action);
    const text = `${entry.actor || '-'} ${entry.action}${entry.source ? ` from ${entry.source}` : ''}${entry.detail ? ` ${entry.detail}` : ''}`;
    return formatSyslogMessage({
      facility: FACILITY_LOCAL0,
      severity: warning ? SEVERITY.warning : SEVERITY.notice,
      timestamp: new Date(entry.at),
      hostname: this.#link.hostname,
      appName: 'audit',
      msgId: entry.action,
      structuredData: [{ id: `audit@${ENTERPRISE_NUMBER}`, params: { id: entry.id, actor: entry.actor, source: entry.source ?? undefined } }, ...this.#link.common()],
      message: text,
    });
  }
}
