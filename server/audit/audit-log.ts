/**
 * The audit log: every admin action and every security event (login, lock-out, settings
 * change) as one row of table `audit_log`. Writers call `recordAudit`; the console's
 * operation-log pages (logs issue) read the table; remote syslog follows it by row id
 * (`auditEntriesAfter`), which sees every process's committed entries and nothing rolled back.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.ts';

export interface AuditEntry {
  readonly actor: string;
  readonly source?: string | undefined;
  readonly action: string;
  readonly detail?: unknown;
}

export function recordAudit(db: Db, entry: AuditEntry, at = new Date()): void {
  db.prepare('INSERT INTO audit_log (at, actor, source, action, detail) VALUES (?, ?, ?, ?, ?)').run(
    at.toISOString(),
    entry.actor,
    entry.source ?? null,
    entry.action,
    entry.detail === undefined ? null : JSON.stringify(entry.detail),
  );
}

/** A row of the audit log as stored (detail still JSON text). */
export interface StoredAuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly source: string | null;
  readonly action: string;
  readonly detail: string | null;
}

/** Reads the log forwards from a row id (for followers such as remote syslog). */
export class AuditFeed {
  readonly #last: Statement<[]>;
  readonly #after: Statement<[number, number]>;

  constructor(db: Db) {
    this.#last = db.prepare<[]>('SELECT COALESCE(MAX(id), 0) FROM audit_log').pluck();
    this.#after = db.prepare<[number, number]>('SELECT id, at, actor, source, action, detail FROM audit_log WHERE id > ? ORDER BY id LIMIT ?');
  }

  /** The newest entry's id (0 when the log is empty). */
  lastId(): number {
    return this.#last.get() as number;
  }

  /** Entries after `afterId`, oldest first, at most `limit`. */
  after(afterId: number, limit: number): StoredAuditEntry[] {
    return this.#after.all(afterId, limit) as StoredAuditEntry[];
  }
}
