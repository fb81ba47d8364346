/**
 * The box's backups: encrypted archives `<dataDir>/backups/<name>.vcbackup` (the archive:
 * ./backup-archive.ts; its encryption with the administrator's passphrase:
 * ./backup-encryption.ts; the secret settings re-sealed for it: ./backup-secrets.ts) — and
 * `<name>.tar.gz`, the plain backups of earlier versions, still listed, downloadable and
 * restorable — made on demand (`Backup<YYYYMMDDhhmmss>` unless named) or by the scheduler
 * (`AutoBackup<YYYYMMDDhhmmss>`), listed from their own manifests (name, size, created, kind
 * manual/auto, versions), deleted one or many, and rotated (the oldest automatic ones beyond
 * `backup.keep`; manual backups are never rotated). What a backup holds: the database snapshot
 * (./database-snapshot.ts: everything but the licence, the operation log and sessions),
 * the TLS certificate (`<dataDir>/certificates`) and uploaded IVR prompts (`<dataDir>/prompts`).
 * Not: logs, `<dataDir>/secrets` (the box's own signaling secret, first-start password and the
 * box key).
 *
 * One backup or restore runs at a time (`exclusive`). Files are staged in a hidden folder
 * beside the archives and the archive is written under a temporary name and renamed, so a
 * failure or a crash never leaves a half backup in the list; `sweep` removes leftovers.
 * Every change is written to the operation log. Restoring is ./backup-restore.ts.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, stat, statfs, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { createError, VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { type BoxSealer, boxSealer, secretsDirOf } from '../secrets/box-key.ts';
import { BUILD_INFO } from '../core/version.ts';
import { type ArchiveInput, type ArchiveLimits, type BackupKind, DATABASE_ENTRY, DEFAULT_LIMITS, readArchive, writeArchive } from './backup-archive.ts';
import { checkPassphrase, BackupEncryptor, newEncryption, readEncryptedHeader } from './backup-encryption.ts';
import { sealSecretsForBackup } from './backup-secrets.ts';
import { takeSnapshot } from './database-snapshot.ts';

const log = getLogger('backup');

export const BACKUP_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const NAME = new RegExp(BACKUP_NAME_PATTERN);
/** The encrypted backups this version makes. */
export const BACKUP_SUFFIX = '.vcbackup';
/** The plain backups of earlier versions. */
export const LEGACY_SUFFIX = '.tar.gz';
const SUFFIXES = [BACKUP_SUFFIX, LEGACY_SUFFIX] as const;
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
/** Hidden staging folders inside the backups folder. */
export const STAGING_PREFIX = '.staging-';

export interface BackupInfo {
  readonly name: string;
  readonly size: number;
  readonly createdAt: string;
  /** manual, auto, or unknown when the file cannot be read (then `problem` says why). */
  readonly kind: BackupKind | 'unknown';
  readonly productVersion?: string;
  readonly schemaVersion?: number;
  readonly host?: string;
  /** Whether the file is encrypted (a restore asks for its passphrase); false: a plain backup of an earlier version. */
  readonly encrypted?: boolean;
  readonly problem?: string;
}

export interface Author {
  readonly actor: string;
  readonly source?: string | undefined;
}

export interface BackupPaths {
  /** The folder of the archives. */
  readonly backups: string;
  readonly certificates: string;
  readonly prompts: string;
  /** The secrets folder (the box key); default: `secrets` beside the database file. */
  readonly secrets?: string;
}

/** `<prefix>YYYYMMDDhhmmss` in the box's local time. */
export function timestampName(prefix: string, at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${prefix}${at.getFullYear()}${two(at.getMonth() + 1)}${two(at.getDate())}${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`;
}

function mebibytes(bytes: number): string {
  return `${Math.ceil(bytes / (1024 * 1024))} MiB`;
}

/** Throws VCBOX_ERR_BACKUP_SPACE when the file system of `dir` has less than `needed` bytes free. */
export async function ensureSpace(dir: string, needed: number, operation: string): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < needed) throw createError('VCBOX_ERR_BACKUP_SPACE', { dir, needed: mebibytes(needed), free: mebibytes(free), operation });
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

export class BackupStore {
  readonly #db: Db;
  readonly #paths: BackupPaths;
  readonly #limits: ArchiveLimits;
  readonly #box: BoxSealer;
  #busy: string | undefined;

  constructor(db: Db, paths: BackupPaths, limits: ArchiveLimits = DEFAULT_LIMITS) {
    this.#db = db;
    this.#paths = paths;
    this.#limits = limits;
    this.#box = boxSealer(paths.secrets ?? secretsDirOf(db));
  }

  /** This box's key, with which the restored secrets are sealed. */
  get boxSealer(): BoxSealer {
    return this.#box;
  }

  get paths(): BackupPaths {
    return this.#paths;
  }

  get limits(): ArchiveLimits {
    return this.#limits;
  }

  /** Runs `fn` unless another backup or restore is running (then VCBOX_ERR_BACKUP_BUSY). */
  async exclusive<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.#busy) throw createError('VCBOX_ERR_BACKUP_BUSY', { operation: this.#busy });
    this.#busy = operation;
    try {
      return await fn();
    } finally {
      this.#busy = undefined;
    }
  }

  /** A new empty staging folder inside the backups folder (same file system as the data). */
  async staging(): Promise<string> {
    await mkdir(this.#paths.backups, { recursive: true, mode: 0o700 });
    const dir = path.join(this.#paths.backups, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /** Removes staging folders and temporary archives a crash left behind. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#paths.backups);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(STAGING_PREFIX) || name.endsWith('.tmp')) {
        await rm(path.join(this.#paths.backups, name), { recursive: true, force: true });
        log.info({ name }, 'removed a leftover of an interrupted backup');
      }
    }
  }

  /** The archive of backup `name`; VCBOX_ERR_BACKUP_NOT_FOUND unless it exists. */
  async file(name: string): Promise<string> {
    if (NAME.test(name)) {
      for (const suffix of SUFFIXES) {
        const file = path.join(this.#paths.backups, `${name}${suffix}`);
        if ((await sizeOf(file)) > 0) return file;
      }
    }
    throw createError('VCBOX_ERR_BACKUP_NOT_FOUND', { name, field: 'name' });
  }

  /** Every backup, newest first, described by its manifest. */
  async list(): Promise<BackupInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.#paths.backups);
    } catch {
      return [];
    }
    const out: BackupInfo[] = [];
    for (const fileName of names) {
      const suffix = SUFFIXES.find((s) => fileName.endsWith(s));
      if (!suffix) continue;
      const name = fileName.slice(0, -suffix.length);
      if (!NAME.test(name)) continue;
      const file = path.join(this.#paths.backups, fileName);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      try {
        // An encrypted backup says what it is in its header (no passphrase needed to list it).
        const header = await readEncryptedHeader(file);
        const about = header ? header.json.about : await readArchive(file, { limits: this.#limits });
        out.push({ name, size: info.size, createdAt: about.createdAt, kind: about.kind, productVersion: about.productVersion, schemaVersion: about.schemaVersion, host: about.host, encrypted: header !== undefined });
      } catch (error) {
        const problem = error instanceof VcboxError ? String(error.params.reason) : (error as Error).message;
        out.push({ name, size: info.size, createdAt: info.mtime.toISOString(), kind: 'unknown', problem });
      }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
  }

  /** The files a backup carries besides the database, copied into `staging`. */
  async #stageFiles(staging: string): Promise<ArchiveInput[]> {
    const inputs: ArchiveInput[] = [];
    const regularFiles = async (dir: string): Promise<string[]> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isFile() && FILE_NAME.test(e.name) && !e.name.endsWith('.tmp')).map((e) => e.name).sort();
    };
    const stage = async (from: string, entryPath: string) => {
      if (inputs.length >= this.#limits.maxEntries - 1) throw createError('VCBOX_ERR_BACKUP_FAILED', { reason: `more than ${this.#limits.maxEntries} files to back up` });
      const to = path.join(staging, ...entryPath.split('/'));
      await mkdir(path.dirname(to), { recursive: true });
      await copyFile(from, to);
      inputs.push({ path: entryPath, file: to });
    };
    for (const name of await regularFiles(this.#paths.certificates)) await stage(path.join(this.#paths.certificates, name), `certificates/${name}`);
    const languages = await readdir(this.#paths.prompts, { withFileTypes: true }).catch(() => []);
    for (const language of languages.filter((e) => e.isDirectory() && FILE_NAME.test(e.name) && !e.name.startsWith('.')).map((e) => e.name).sort()) {
      const dir = path.join(this.#paths.prompts, language);
      for (const name of await regularFiles(dir)) await stage(path.join(dir, name), `prompts/${language}/${name}`);
    }
    return inputs;
  }

  /**
   * Makes a backup now, encrypted with `passphrase` (VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED unless
   * 8-256 characters). Names default to Backup<time> (manual) / AutoBackup<time> (auto).
   */
  async create(kind: BackupKind, author: Author, requestedName: string | undefined, passphrase: string): Promise<BackupInfo> {
    checkPassphrase(passphrase);
    return this.exclusive('backup', async () => {
      const createdAt = new Date();
      const name = requestedName ?? timestampName(kind === 'auto' ? 'AutoBackup' : 'Backup', createdAt);
      if (!NAME.test(name)) throw createError('VCBOX_ERR_VALIDATION', { field: 'name', reason: 'use 1-64 letters, digits, - or _ (starting with a letter or digit)' });
      const target = path.join(this.#paths.backups, `${name}${BACKUP_SUFFIX}`);
      for (const suffix of SUFFIXES) {
        if ((await sizeOf(path.join(this.#paths.backups, `${name}${suffix}`))) > 0) throw createError('VCBOX_ERR_BACKUP_EXISTS', { name, field: 'name' });
      }
      const encryption = await newEncryption(passphrase);
      const staging = await this.staging();
      try {
        const database = this.#db.name;
        await ensureSpace(this.#paths.backups, 2 * ((await sizeOf(database)) + (await sizeOf(`${database}-wal`))), 'backup');
        const snapshot = path.join(staging, ...DATABASE_ENTRY.split('/'));
        await mkdir(path.dirname(snapshot), { recursive: true });
        let lost: string[] = [];
        const schemaVersion = await takeSnapshot(this.#db, snapshot, { inCopy: (copy) => (lost = sealSecretsForBackup(copy, this.#box, encryption.keys.secrets)) });
        if (lost.length > 0) log.warn({ name, settings: lost }, 'secret settings that cannot be unsealed with this box key are left out of the backup');
        const inputs = [{ path: DATABASE_ENTRY, file: snapshot }, ...(await this.#stageFiles(staging))];
        const about = { productVersion: BUILD_INFO.version, schemaVersion, createdAt: createdAt.toISOString(), name, kind, host: os.hostname() };
        const manifest = await writeArchive(target, about, inputs, { transform: new BackupEncryptor(encryption.keys, encryption.header(about)) });
        const size = await sizeOf(target);
        recordAudit(this.#db, { ...author, action: 'backup.create', detail: { name, kind, size, files: manifest.entries.length } });
        log.info({ name, kind, size, files: manifest.entries.length }, 'backup made');
        return { name, size, createdAt: manifest.createdAt, kind, productVersion: manifest.productVersion, schemaVersion, host: manifest.host, encrypted: true };
      } catch (error) {
        recordAudit(this.#db, { ...author, action: 'backup.create.failed', detail: { name, kind, reason: (error as Error).message } });
        log.error({ name, err: (error as Error).message }, 'backup failed');
        if (error instanceof VcboxError) throw error;
        throw createError('VCBOX_ERR_BACKUP_FAILED', { reason: (error as Error).message }, error);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
  }

  /** Deletes backups by name; answers which were deleted and which did not exist. */
  async delete(names: readonly string[], author: Author): Promise<{ deleted: string[]; notFound: string[]; files: string[] }> {
    const deleted: string[] = [];
    const notFound: string[] = [];
    const files: string[] = [];
    for (const name of new Set(names)) {
      try {
        const file = await this.file(name);
        await unlink(file);
        deleted.push(name);
        files.push(path.basename(file));
      } catch {
        notFound.push(name);
      }
    }
    if (deleted.length > 0) recordAudit(this.#db, { ...author, action: 'backup.delete', detail: { names: deleted } });
    return { deleted, notFound, files };
  }

  /** Keeps the newest `keep` automatic backups and deletes the older ones. */
  async rotate(keep: number): Promise<string[]> {
    const auto = (await this.list()).filter((backup) => backup.kind === 'auto');
    const old = auto.slice(keep).map((backup) => backup.name);
    if (old.length === 0) return [];
    const { deleted } = await this.delete(old, { actor: 'system' });
    log.info({ deleted, keep }, 'old automatic backups removed');
    return deleted;
  }
}
