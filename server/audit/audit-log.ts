/**
 * The audit log: every admin action and every security event (login, lock-out, settings
 * change) as one row of table `audit_log`. Writers call `recordAudit`; the console's
 * operation-log pages (logs issue) read the table.
 */
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
