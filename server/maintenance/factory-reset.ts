/**
 * Factory reset (spec "Maintenance" [001 ch4 重启/恢复出厂设置]), two kinds:
 *
 *  - `settings`: "only the configuration of the system settings": every setting back to its
 *    default (the licence's `license.*` kept), and what the manual says is not kept — the
 *    meeting history (meeting_records, concurrency_daily), the call records (call_records) and
 *    the logs (the operation log audit_log, the log files). Kept: accounts, rooms, VMRs,
 *    meetings, administrators and their sessions, backups, uploaded IVR prompts, the
 *    certificate.
 *  - `all`: everything but the licence — every table emptied except the license* tables and the
 *    migration history, the backups, uploaded prompts and the other data folders emptied, the
 *    log files emptied, a new certificate made. The box is then as at its first start: a new
 *    `admin` with a new first password in `<dataDir>/secrets/initial-admin-password`, the setup
 *    wizard pending, every console session ended.
 *
 * The licence always stays: the license* tables, `license.*` settings and the identity folder
 * (box id and trial marker: the 14-day trial stays used — server/license/box-identity.ts). So
 * do the box's signaling secret and the migration history (not data). The rows go in one SQLite
 * transaction on the open connection (the other processes see all or nothing), which also
 * writes the reset itself as the first entry of the emptied operation log — who reset the box,
 * when, which kind, how many rows went — so the new log starts by saying why it is short.
 * Files go after the commit. The logs are cleaned as the disk page's "clean now" cleans them:
 * the files processes are writing emptied (they write on into them), all others deleted.
 * A backup or restore cannot run at the same time (they share the backup store's lock).
 *
 * Afterwards the settings are reloaded (live ones re-applied); the services must restart for the
 * rest of the defaults (ports, certificate) to apply — the route asks for it where it can.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AdminStore } from '../admin/admin-store.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { BackupStore } from '../backup/backup-store.ts';
import type { Db } from '../db/database.ts';
import { addRemovals, type Removal } from '../disk/folder-files.ts';
import { LOG_MODULES, SystemLogFiles } from '../logs/system-log-files.ts';
import { TerminalLogFiles } from '../logs/terminal-log-files.ts';
import { getLogger } from '../core/logger.ts';
import type { SettingKey, Settings } from '../settings/settings-schema.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { ensureCertificate } from '../tls/self-signed-certificate.ts';
import type { Author } from './maintenance-files.ts';

const log = getLogger('maintenance');

export type ResetScope = 'settings' | 'all';

/** Tables a settings reset empties (the history and the logs the manual says are not kept). */
const HISTORY_TABLES = ['meeting_records', 'concurrency_daily', 'call_records', 'audit_log'] as const;
/** Tables no reset touches: the licence and the migration history. */
const isKeptTable = (name: string) => name.startsWith('license') || name === 'schema_migrations';
/** Settings no reset touches: the licence's. */
const KEPT_SETTING_PREFIXES = ['license.'] as const;

export interface FactoryResetPaths {
  readonly logDir: string;
  readonly secrets: string;
  readonly certificates: string;
  /** Data folders a full reset empties: backups, uploaded prompts, and those of later parts (firmware, recordings…). */
  readonly dataFolders: readonly string[];
}

export interface ResetResult {
  readonly scope: ResetScope;
  /** Rows removed per table. */
  readonly removed: Readonly<Record<string, number>>;
  /** Rows left per table that a settings reset keeps (accounts, rooms, …). */
  readonly kept: Readonly<Record<string, number>>;
  readonly settingsChanged: SettingKey[];
  readonly logFiles: { readonly truncated: number; readonly removed: number };
  /** Full reset: the data folders emptied, the new first-password file, a new certificate. */
  readonly foldersEmptied: readonly string[];
  readonly initialPasswordFile?: string;
}

export interface FactoryResetOptions {
  readonly db: Db;
  readonly settings: SettingsStore;
  readonly admins: AdminStore;
  readonly paths: FactoryResetPaths;
  /** The backup store, whose lock keeps a backup or restore from running meanwhile. */
  readonly backups?: BackupStore | undefined;
}

function ordinaryTables(db: Db): string[] {
  return (db.prepare('PRAGMA main.table_list').all() as { name: string; type: string }[])
    .filter((row) => row.type === 'table' && !row.name.startsWith('sqlite_'))
    .map((row) => row.name)
    .sort();
}

const count = (db: Db, table: string) => (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;

export class FactoryReset {
  readonly #options: FactoryResetOptions;

  constructor(options: FactoryResetOptions) {
    this.#options = options;
  }

  async reset(scope: ResetScope, author: Author): Promise<ResetResult> {
    const run = () => this.#reset(scope, author);
    return this.#options.backups ? this.#options.backups.exclusive('factory reset', run) : run();
  }

  async #reset(scope: ResetScope, author: Author): Promise<ResetResult> {
    const { db, settings, paths } = this.#options;
    const tables = ordinaryTables(db);
    const emptied = scope === 'all' ? tables.filter((name) => !isKeptTable(name) && name !== 'settings') : HISTORY_TABLES.filter((name) => tables.includes(name));
    const before: Settings = settings.getAll();
    const removed: Record<string, number> = {};
    const kept: Record<string, number> = {};
    db.transaction(() => {
      // Checked at commit: tables are emptied in name order, children not necessarily first.
      db.pragma('defer_foreign_keys = ON');
      removed.settings = settings.forgetStored(KEPT_SETTING_PREFIXES);
      for (const table of emptied) removed[table] = db.prepare(`DELETE FROM "${table}"`).run().changes;
      // Ids start again from 1, as on a new box — but the operation log's go on: remote syslog
      // follows it by id (server/audit/audit-log.ts) and would skip entries numbered again.
      const renumbered = emptied.filter((name) => name !== 'audit_log').map((name) => `'${name}'`);
      if (renumbered.length > 0 && db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get()) {
        db.prepare(`DELETE FROM sqlite_sequence WHERE name IN (${renumbered.join(', ')})`).run();
      }
      if (scope === 'all' && tables.includes('accounts')) db.exec("INSERT INTO accounts_fts(accounts_fts) VALUES ('rebuild')");
      for (const table of tables) if (!emptied.includes(table) && !isKeptTable(table) && table !== 'settings') kept[table] = count(db, table);
      recordAudit(db, { ...author, action: 'system.factory-reset', detail: { scope, removed } });
    }).immediate();
    const settingsChanged = settings.reload(before);
    log.warn({ scope, removed, by: author.actor }, 'factory reset: data removed');

    const logFiles = await this.#clearLogs();
    const foldersEmptied: string[] = [];
    let initialPasswordFile: string | undefined;
    if (scope === 'all') {
      for (const folder of paths.dataFolders) {
        await rm(folder, { recursive: true, force: true });
        await mkdir(folder, { recursive: true, mode: 0o700 });
        foldersEmptied.push(folder);
      }
      await rm(paths.certificates, { recursive: true, force: true });
      await ensureCertificate(paths.certificates);
      initialPasswordFile = path.join(paths.secrets, 'initial-admin-password');
      await rm(initialPasswordFile, { force: true });
      await this.#options.admins.ensureInitialAdmin(paths.secrets);
    }
    return { scope, removed, kept, settingsChanged, logFiles, foldersEmptied, ...(initialPasswordFile ? { initialPasswordFile } : {}) };
  }

  /**
   * Empties the logs the way the disk page's "clean now" does (server/logs/): every system log
   * module's files deleted but the ones processes are writing, which are emptied; the terminal
   * logs deleted.
   */
  async #clearLogs(): Promise<{ truncated: number; removed: number }> {
    const dir = this.#options.paths.logDir;
    const system = new SystemLogFiles(dir);
    const removals: Removal[] = [];
    for (const module of LOG_MODULES) removals.push(await system.clean(module));
    removals.push(await new TerminalLogFiles(path.join(dir, 'terminals')).clean());
    const all = addRemovals(...removals);
    return { truncated: all.truncated.length, removed: all.deleted.length };
  }
}
