/**
 * The database side of backup and restore.
 *
 * Snapshot: better-sqlite3's online `backup()` (SQLite's backup API: a consistent copy of the
 * committed state while the box keeps writing — never a file copy of a live WAL database), then,
 * in the copy only, what a backup does not carry is emptied (see BOX_LOCAL below), the copy is
 * made a single self-contained file (rollback journal) and VACUUMed so removed rows leave no
 * bytes behind.
 *
 * Restore, in two steps so that a failure changes nothing:
 *  1. `prepareRestoredDatabase` works on the unpacked copy in a staging folder: integrity check,
 *     schema version as the manifest says, refused when newer than this software, migrated
 *     forward with the same migrations as the box (./../db/migrations.ts), its settings checked
 *     and its secrets re-sealed for this box (./backup-secrets.ts), foreign keys checked.
 *  2. `replaceContents` swaps the data under the box's open connection in ONE SQLite write
 *     transaction: ATTACH the prepared copy, delete and re-insert every table's rows, commit.
 *     The database file is never replaced or closed, so the long-lived better-sqlite3 handle and
 *     its prepared statements stay valid, and the other processes (signaling, media: their own
 *     connections) see either the old or the new data, never a mix — WAL readers keep their
 *     snapshot until they start a new read. A failure anywhere rolls the transaction back.
 *     Tables are compared column by column first (after migration they must match exactly).
 *
 * BOX_LOCAL: kept by the box, neither carried nor restored — the operation log (audit_log:
 * logs are not part of a backup, and it is append-only), the migration history, console
 * sessions and password-reset links (a restore must not revive old sessions), the licence
 * (tables named license*, settings license.*), the terminal firmware (tables named firmware*:
 * they describe files in `<dataDir>/firmware`, which a backup does not carry — restored rows would
 * point at files this box may not have), the disk alert state (disk_alerts: this box's
 * disks) and the SIP registrations (sip_registrations: which terminals are online now). On restore every console session ends except
 * the restoring administrator's own, when the restored data has that administrator (same id
 * and name); everyone else logs in with the restored credentials.
 */
import Database from 'better-sqlite3';
import { type AuditEntry, recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { MIGRATIONS, migrate, SCHEMA_VERSION, schemaVersion } from '../db/migrations.ts';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { BUILD_INFO } from '../core/version.ts';

const log = getLogger('backup');

const BOX_LOCAL_TABLES = new Set(['audit_log', 'schema_migrations', 'admin_sessions', 'password_resets', 'disk_alerts', 'sip_registrations']);
const isBoxLocalTable = (name: string) => BOX_LOCAL_TABLES.has(name) || name.startsWith('license') || name.startsWith('firmware');
/** Settings rows kept by the box (SQL condition on column `key`). */
const BOX_LOCAL_SETTINGS = "key LIKE 'license.%'";

/** Ordinary tables of a schema (no sqlite_ internals, virtual tables or their shadow tables). */
function tables(db: Db, schema: 'main' | 'restored'): string[] {
  const rows = db.prepare(`PRAGMA ${schema}.table_list`).all() as { name: string; type: string }[];
  return rows
    .filter((row) => row.type === 'table' && !row.name.startsWith('sqlite_'))
    .map((row) => row.name)
    .sort();
}

function columns(db: Db, schema: 'main' | 'restored', table: string): string[] {
  return (db.prepare(`PRAGMA ${schema}.table_info("${table}")`).all() as { name: string }[]).map((row) => row.name);
}

/** Tables whose rows a backup carries and a restore replaces. */
function carriedTables(db: Db, schema: 'main' | 'restored'): string[] {
  return tables(db, schema).filter((name) => !isBoxLocalTable(name));
}

/** Writes a consistent snapshot of `db` to `target` (a new file) without what the box keeps to itself. Returns its schema version. */
export async function takeSnapshot(db: Db, target: string, options: { inCopy?: (copy: Db) => void } = {}): Promise<number> {
  await db.backup(target);
  const copy = new Database(target);
  try {
    copy.pragma('journal_mode = DELETE');
    for (const row of copy.prepare('PRAGMA main.table_list').all() as { name: string; type: string }[]) {
      if (row.type === 'table' && isBoxLocalTable(row.name) && row.name !== 'schema_migrations') copy.prepare(`DELETE FROM "${row.name}"`).run();
    }
    copy.prepare(`DELETE FROM settings WHERE ${BOX_LOCAL_SETTINGS}`).run();
    // The caller's change of the copy (secrets re-sealed for the backup: ./backup-secrets.ts),
    // before VACUUM so that the values it replaced leave no bytes behind.
    options.inCopy?.(copy);
    copy.exec('VACUUM');
    return schemaVersion(copy);
  } finally {
    copy.close();
  }
}

function notUsable(reason: string, cause?: unknown) {
  return createError('VCBOX_ERR_BACKUP_INVALID', { reason, field: 'file' }, cause);
}

/**
 * Checks and migrates the unpacked snapshot in place (staging folder). Throws
 * VCBOX_ERR_BACKUP_INVALID / _TOO_NEW / VCBOX_ERR_DB_MIGRATION; returns the versions applied.
 */
export interface PrepareOptions {
  /** Seals a secret in clear with the box key (migrations of a backup of an older version). */
  readonly sealSecret: (key: string, plaintext: string) => string;
  /** Run on the migrated copy before its foreign keys are checked (settings checked, secrets re-sealed: ./backup-secrets.ts). */
  readonly inCopy?: (copy: Db) => void;
}

export function prepareRestoredDatabase(file: string, expected: { schemaVersion: number; productVersion: string }, options: PrepareOptions): number[] {
  let copy: Db;
  try {
    copy = new Database(file, { fileMustExist: true });
  } catch (error) {
    throw notUsable(`its database snapshot cannot be opened (${(error as Error).message})`, error);
  }
  try {
    let problems: string[];
    try {
      copy.pragma('journal_mode = DELETE');
      problems = (copy.pragma('integrity_check') as { integrity_check: string }[]).map((row) => row.integrity_check);
    } catch (error) {
      throw notUsable(`its database snapshot is not an SQLite database (${(error as Error).message})`, error);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') throw notUsable(`its database snapshot is damaged (${problems.slice(0, 3).join('; ')})`);
    const version = schemaVersion(copy);
    if (version !== expected.schemaVersion) throw notUsable(`its database has schema version ${version}, the manifest says ${expected.schemaVersion}`);
    if (version > SCHEMA_VERSION) {
      throw createError('VCBOX_ERR_BACKUP_TOO_NEW', { productVersion: expected.productVersion, found: version, supported: SCHEMA_VERSION, version: BUILD_INFO.version, field: 'file' });
    }
    const migrated = migrate(copy, MIGRATIONS, { sealSecret: options.sealSecret });
    options.inCopy?.(copy);
    copy.pragma('foreign_keys = ON');
    const broken = copy.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) throw notUsable(`its database has ${broken.length} rows that refer to missing rows`);
    if (migrated.length > 0) log.info({ from: version, to: SCHEMA_VERSION, migrated }, 'restored snapshot migrated forward');
    return migrated;
  } finally {
    copy.close();
  }
}

export interface ReplaceOptions {
  /** The restoring administrator's session (SHA-256 of the cookie) with the admin's id and name: kept when the restored data has that admin. */
  readonly keepSession?: { readonly tokenHash: string; readonly adminId: number; readonly username: string };
  /** Written in the same transaction: the restore is in the operation log exactly when it happened. */
  readonly audit: AuditEntry;
}

/** Replaces the carried tables' rows of `db` by those of the prepared snapshot `file`, in one transaction. */
export function replaceContents(db: Db, file: string, options: ReplaceOptions): { tables: number; rows: number; sessionKept: boolean } {
  db.prepare("ATTACH DATABASE ? AS restored").run(file);
  try {
    const live = carriedTables(db, 'main');
    const incoming = carriedTables(db, 'restored');
    if (live.join(',') !== incoming.join(',')) {
      throw notUsable(`its tables (${incoming.join(', ')}) differ from this box's after migration (${live.join(', ')})`);
    }
    const columnLists = new Map<string, string>();
    for (const table of live) {
      const mine = columns(db, 'main', table);
      const theirs = columns(db, 'restored', table);
      if (mine.join(',') !== theirs.join(',')) throw notUsable(`its table ${table} has columns (${theirs.join(', ')}), this box has (${mine.join(', ')})`);
      columnLists.set(table, mine.map((name) => `"${name}"`).join(', '));
    }
    const hasSequence = (schema: string) => db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE name = 'sqlite_sequence'`).get() !== undefined;
    let rows = 0;
    let sessionKept = false;
    db.transaction(() => {
      // Checked at commit: rows go in table by table, parents not necessarily first.
      db.pragma('defer_foreign_keys = ON');
      const session = options.keepSession ? db.prepare('SELECT * FROM main.admin_sessions WHERE token_hash = ?').get(options.keepSession.tokenHash) : undefined;
      for (const table of live) db.prepare(`DELETE FROM main."${table}"${table === 'settings' ? ` WHERE NOT (${BOX_LOCAL_SETTINGS})` : ''}`).run();
      for (const table of live) {
        if (table === 'settings') continue;
        const list = columnLists.get(table) as string;
        rows += db.prepare(`INSERT INTO main."${table}" (${list}) SELECT ${list} FROM restored."${table}"`).run().changes;
      }
      rows += db.prepare(`INSERT INTO main.settings SELECT * FROM restored.settings WHERE NOT (${BOX_LOCAL_SETTINGS})`).run().changes;
      // The restored data's next ids, not whatever the deleted rows had reached.
      if (hasSequence('main') && hasSequence('restored')) {
        const names = live.map((name) => `'${name}'`).join(', ');
        db.prepare(`DELETE FROM main.sqlite_sequence WHERE name IN (${names})`).run();
        db.prepare(`INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM restored.sqlite_sequence WHERE name IN (${names})`).run();
      }
      db.prepare('DELETE FROM main.admin_sessions').run();
      db.prepare('DELETE FROM main.password_resets').run();
      if (session && options.keepSession) {
        const same = db.prepare('SELECT 1 FROM main.admins WHERE id = ? AND username = ?').get(options.keepSession.adminId, options.keepSession.username);
        if (same) {
          const row = session as Record<string, unknown>;
          const names = Object.keys(row);
          db.prepare(`INSERT INTO main.admin_sessions (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).run(...names.map((name) => row[name]));
          sessionKept = true;
        }
      }
      recordAudit(db, options.audit);
    }).immediate();
    return { tables: live.length, rows, sessionKept };
  } finally {
    db.exec('DETACH DATABASE restored');
  }
}
