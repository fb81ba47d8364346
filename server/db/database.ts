/**
 * Opens the appliance's one SQLite database (better-sqlite3) the way every process must:
 * WAL journal (readers never block the writer, a killed writer leaves a consistent file),
 * foreign keys on, a busy timeout so the control plane and the signaling service can share it.
 * Schema changes live in ./migrations.ts; this file knows nothing about tables.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export interface OpenOptions {
  /** Open without write access (a process that only reads settings). */
  readonly readonly?: boolean;
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (!options.readonly) mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL survives any crash of the process (only an OS crash may lose the last
    // commits, never consistency); FULL would fsync every commit for nothing more here.
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('foreign_keys = ON');
  return db;
}
