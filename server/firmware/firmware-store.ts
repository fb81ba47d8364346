/**
 * The terminal firmware files (spec "Maintenance"; manual 001 ch4 设备升级): per terminal model,
 * `.rom` files uploaded by an administrator, the newest upload of a model being its "latest"
 * (another one can be made the latest again, to go back); a file that is not the latest can be
 * replaced or deleted, the latest cannot. Rows in table `firmware` (migration 12), files in
 * `<dataDir>/firmware/<id>.rom`.
 *
 * Uploads are streamed to a temporary file in the same folder (never held in memory), bounded by
 * the upload limit (process configuration) and by what is left of the firmware disk quota (the
 * `disk.quota.firmwareGB` setting, all files together, uploads in progress counted); the row and
 * the rename to `<id>.rom` happen in one transaction, so a refused or failed upload leaves no
 * row and no file. A full quota refuses the upload rather than overwriting the oldest file as the
 * other parts of the disk do: an old file may be what some terminals still need, and the latest
 * of a model must never vanish. Every change is written to the operation log.
 *
 * Not here: telling terminals to upgrade and following their progress (./firmware-rollout.ts),
 * serving the files to terminals (server/control-plane/routes/provisioning.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type AuditEntry, recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { createError, VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { discardUpload, receiveUpload } from '../uploads/receive-upload.ts';

const log = getLogger('firmware');

export const FIRMWARE_EXTENSION = '.rom';
/** One GB of the quota setting (whole GB, as the disk settings give them). */
export const GIGABYTE = 1024 ** 3;
const UPLOAD_PREFIX = '.upload-';
const VERSION = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

export type Author = Pick<AuditEntry, 'actor' | 'source'>;

export interface FirmwareInfo {
  readonly id: number;
  /** The terminal model as the administrator gave it (matched against what terminals report). */
  readonly model: string;
  readonly version: string;
  readonly fileName: string;
  readonly size: number;
  readonly sha256: string;
  readonly latest: boolean;
  readonly uploadedAt: string;
  readonly uploadedBy: string;
  readonly replacedAt: string | null;
  /** True when the file is not on disk (removed by hand): it cannot be served. */
  readonly missing: boolean;
}

export interface FirmwareUpload {
  readonly model: string;
  /** The uploaded file's name: it must end in .rom. */
  readonly fileName: string;
  /** The software version inside; read from the file name (…63.345.0.20.rom) when not given. */
  readonly version?: string | undefined;
}

export interface FirmwareStoreOptions {
  /** The folder of the files (`<dataDir>/firmware`). */
  readonly dir: string;
  readonly settings: SettingsStore;
  /** The largest single upload, bytes. */
  readonly maxUploadBytes: number;
  /** Bytes per GB of `disk.quota.firmwareGB` (GIGABYTE; a test may count in smaller units). */
  readonly gigabyte?: number;
}

interface Row {
  id: number;
  model: string;
  model_key: string;
  version: string;
  file_name: string;
  size: number;
  sha256: string;
  latest: number;
  uploaded_at: string;
  uploaded_by: string;
  replaced_at: string | null;
}

/** How terminals and files are matched on a model: case and spacing do not count. */
export function modelKey(model: string): string {
  return model.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The version in a firmware file name: the last dotted number ("VC800-63.345.0.20.rom" → "63.345.0.20"). */
export function versionFromFileName(fileName: string): string | undefined {
  const stem = fileName.replace(/\.rom$/i, '');
  return stem.match(/(?<![\d.])\d+(?:\.\d+)+/g)?.at(-1); // starts only where a number starts (linear)
}

/** "12.3 MB": sizes in errors and the log. */
export function sizeInWords(bytes: number): string {
  if (bytes >= GIGABYTE) return `${(bytes / GIGABYTE).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.ceil(bytes / 1024)} KB`;
}

export class FirmwareStore {
  readonly #db: Db;
  readonly #dir: string;
  readonly #settings: SettingsStore;
  readonly #maxUploadBytes: number;
  readonly #gigabyte: number;
  /** Bytes received so far by uploads in progress (they count against the quota). */
  readonly #receiving = new Map<string, number>();

  constructor(db: Db, options: FirmwareStoreOptions) {
    this.#db = db;
    this.#dir = options.dir;
    this.#settings = options.settings;
    this.#maxUploadBytes = options.maxUploadBytes;
    this.#gigabyte = options.gigabyte ?? GIGABYTE;
  }

  get maxUploadBytes(): number {
    return this.#maxUploadBytes;
  }

  /** The firmware quota in bytes (the disk setting). */
  quotaBytes(): number {
    return this.#settings.get('disk.quota.firmwareGB') * this.#gigabyte;
  }

  /** Bytes the stored files take. */
  usedBytes(): number {
    return this.#db.prepare('SELECT COALESCE(SUM(size), 0) FROM firmware').pluck().get() as number;
  }

  /** Every file, by model, the latest first and then newest first. */
  list(): FirmwareInfo[] {
    const rows = this.#db.prepare('SELECT * FROM firmware ORDER BY model_key, latest DESC, uploaded_at DESC, id DESC').all() as Row[];
    return rows.map((row) => this.#info(row));
  }

  get(id: number): FirmwareInfo {
    const row = this.#row(id);
    return this.#info(row);
  }

  /** The latest file of a model, if any. */
  latest(model: string): FirmwareInfo | undefined {
    const row = this.#db.prepare('SELECT * FROM firmware WHERE model_key = ? AND latest = 1').get(modelKey(model)) as Row | undefined;
    return row ? this.#info(row) : undefined;
  }

  /** The path of a file to serve; VCBOX_ERR_FIRMWARE_NOT_FOUND unless the row and the file exist. */
  file(id: number): { info: FirmwareInfo; path: string } {
    const info = this.get(id);
    if (info.missing) throw createError('VCBOX_ERR_FIRMWARE_NOT_FOUND', { id });
    return { info, path: this.#path(id) };
  }

  /** Stores an uploaded file as the latest of its model. */
  async upload(body: Readable, declaredLength: number | undefined, input: FirmwareUpload, author: Author): Promise<FirmwareInfo> {
    let checked: { model: string; fileName: string; version: string };
    try {
      checked = this.#check(input, undefined);
      this.#checkSpace(declaredLength, 0);
    } catch (error) {
      await discardUpload(body);
      this.#refused('firmware.upload.refused', input, error, author);
      throw error;
    }
    const { temp, size, sha256 } = await this.#receive(body, 0, input, author, 'firmware.upload.refused');
    try {
      const info = this.#db.transaction(() => {
        // Another upload may have finished meanwhile: the same version, or the quota's last bytes.
        this.#check(checked, undefined);
        this.#checkQuotaAtCommit(size, 0);
        const key = modelKey(checked.model);
        this.#db.prepare('UPDATE firmware SET latest = 0 WHERE model_key = ? AND latest = 1').run(key);
        const id = Number(
          this.#db
            .prepare('INSERT INTO firmware (model, model_key, version, file_name, size, sha256, latest, uploaded_at, uploaded_by) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)')
            .run(checked.model, key, checked.version, checked.fileName, size, sha256, new Date().toISOString(), author.actor).lastInsertRowid,
        );
        renameSync(temp, this.#path(id));
        return this.get(id);
      })();
      recordAudit(this.#db, { ...author, action: 'firmware.upload', detail: { id: info.id, model: info.model, version: info.version, fileName: info.fileName, size, sha256 } });
      log.info({ id: info.id, model: info.model, version: info.version, size }, 'firmware uploaded; it is the latest of its model');
      return info;
    } catch (error) {
      rmSync(temp, { force: true });
      this.#refused('firmware.upload.refused', input, error, author);
      throw this.#failure(error);
    }
  }

  /** Replaces the file of a firmware that is not the latest (its terminals' progress is dropped: it was about the old file). */
  async replace(id: number, body: Readable, declaredLength: number | undefined, input: Omit<FirmwareUpload, 'model'>, author: Author): Promise<FirmwareInfo> {
    let checked: { model: string; fileName: string; version: string };
    let old: FirmwareInfo;
    try {
      old = this.get(id);
      if (old.latest) throw createError('VCBOX_ERR_FIRMWARE_LATEST_REPLACE', { id, model: old.model, fileName: old.fileName });
      checked = this.#check({ ...input, model: old.model }, id);
      this.#checkSpace(declaredLength, old.size);
    } catch (error) {
      await discardUpload(body);
      this.#refused('firmware.replace.refused', { ...input, id }, error, author);
      throw error;
    }
    const { temp, size, sha256 } = await this.#receive(body, old.size, { ...input, id }, author, 'firmware.replace.refused');
    try {
      const info = this.#db.transaction(() => {
        const now = this.get(id);
        if (now.latest) throw createError('VCBOX_ERR_FIRMWARE_LATEST_REPLACE', { id, model: now.model, fileName: now.fileName });
        this.#check(checked, id);
        this.#checkQuotaAtCommit(size, now.size);
        this.#db
          .prepare('UPDATE firmware SET version = ?, file_name = ?, size = ?, sha256 = ?, replaced_at = ?, uploaded_by = ? WHERE id = ?')
          .run(checked.version, checked.fileName, size, sha256, new Date().toISOString(), author.actor, id);
        this.#db.prepare('DELETE FROM firmware_progress WHERE firmware_id = ?').run(id);
        renameSync(temp, this.#path(id));
        return this.get(id);
      })();
      recordAudit(this.#db, {
        ...author,
        action: 'firmware.replace',
        detail: { id, model: info.model, from: { version: old.version, fileName: old.fileName }, version: info.version, fileName: info.fileName, size, sha256 },
      });
      log.info({ id, model: info.model, version: info.version, size }, 'firmware file replaced');
      return info;
    } catch (error) {
      rmSync(temp, { force: true });
      this.#refused('firmware.replace.refused', { ...input, id }, error, author);
      throw this.#failure(error);
    }
  }

  /** Deletes a firmware that is not the latest of its model (and its terminals' progress). */
  delete(id: number, author: Author): FirmwareInfo {
    const info = this.#db.transaction(() => {
      const found = this.get(id);
      if (found.latest) throw createError('VCBOX_ERR_FIRMWARE_LATEST_DELETE', { id, model: found.model, fileName: found.fileName });
      this.#db.prepare('DELETE FROM firmware WHERE id = ?').run(id);
      return found;
    })();
    rmSync(this.#path(id), { force: true });
    recordAudit(this.#db, { ...author, action: 'firmware.delete', detail: { id, model: info.model, version: info.version, fileName: info.fileName } });
    log.info({ id, model: info.model, version: info.version }, 'firmware deleted');
    return info;
  }

  /** Makes a file the latest of its model (the manual's "set as latest": e.g. to go back a version). */
  makeLatest(id: number, author: Author): FirmwareInfo {
    const { info, previous } = this.#db.transaction(() => {
      const found = this.get(id);
      const before = this.latest(found.model);
      this.#db.prepare('UPDATE firmware SET latest = 0 WHERE model_key = ? AND latest = 1').run(modelKey(found.model));
      this.#db.prepare('UPDATE firmware SET latest = 1 WHERE id = ?').run(id);
      return { info: this.get(id), previous: before };
    })();
    recordAudit(this.#db, { ...author, action: 'firmware.latest', detail: { id, model: info.model, version: info.version, previous: previous ? { id: previous.id, version: previous.version } : null } });
    return info;
  }

  /** Removes what a crash left behind: temporary uploads and files without a row. */
  sweep(): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return;
    }
    const ids = new Set((this.#db.prepare('SELECT id FROM firmware').pluck().all() as number[]).map(String));
    for (const name of names) {
      const id = /^(\d+)\.rom$/.exec(name)?.[1];
      if (name.startsWith(UPLOAD_PREFIX) || (id !== undefined && !ids.has(id))) {
        rmSync(path.join(this.#dir, name), { force: true });
        log.info({ name }, 'removed a leftover firmware file');
      }
    }
  }

  #path(id: number): string {
    return path.join(this.#dir, `${id}${FIRMWARE_EXTENSION}`);
  }

  #row(id: number): Row {
    const row = this.#db.prepare('SELECT * FROM firmware WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw createError('VCBOX_ERR_FIRMWARE_NOT_FOUND', { id, field: 'id' });
    return row;
  }

  #info(row: Row): FirmwareInfo {
    let missing = false;
    try {
      missing = !statSync(this.#path(row.id)).isFile();
    } catch {
      missing = true;
    }
    return {
      id: row.id,
      model: row.model,
      version: row.version,
      fileName: row.file_name,
      size: row.size,
      sha256: row.sha256,
      latest: row.latest === 1,
      uploadedAt: row.uploaded_at,
      uploadedBy: row.uploaded_by,
      replacedAt: row.replaced_at,
      missing,
    };
  }

  /** The upload's model, file name and version, checked; `self` is the firmware being replaced. */
  #check(input: FirmwareUpload, self: number | undefined): { model: string; fileName: string; version: string } {
    const typed = input.model.trim().replace(/\s+/g, ' ');
    // A model already on the box keeps its first spelling: one model, one name in the list.
    const model = (this.#db.prepare('SELECT model FROM firmware WHERE model_key = ? ORDER BY id LIMIT 1').pluck().get(modelKey(typed)) as string | undefined) ?? typed;
    if (model.length === 0 || model.length > 128 || /\p{Cc}/u.test(model)) {
      throw createError('VCBOX_ERR_VALIDATION', { field: 'model', reason: 'must be the terminal model as the terminals report it (1 to 128 characters), e.g. Yealink SIP-VC800' });
    }
    const fileName = path.basename(input.fileName.replaceAll('\\', '/')).trim();
    if (!fileName.toLowerCase().endsWith(FIRMWARE_EXTENSION) || fileName.length <= FIRMWARE_EXTENSION.length) {
      throw createError('VCBOX_ERR_FIRMWARE_FILE', { field: 'file', reason: `its name "${fileName.slice(0, 80)}" does not end in .rom`, reasonZh: `文件名“${fileName.slice(0, 80)}”不以 .rom 结尾` });
    }
    if (fileName.length > 255 || /\p{Cc}/u.test(fileName)) {
      throw createError('VCBOX_ERR_FIRMWARE_FILE', { field: 'file', reason: 'its name is longer than 255 characters or holds control characters', reasonZh: '文件名超过 255 个字符或含有控制字符' });
    }
    const given = input.version?.trim();
    const version = given || versionFromFileName(fileName);
    if (!version) {
      throw createError('VCBOX_ERR_FIRMWARE_VERSION', { field: 'version', reason: `it cannot be read from the file name ${fileName}`, reasonZh: `无法从文件名 ${fileName} 中读出版本` });
    }
    if (!VERSION.test(version)) {
      throw createError('VCBOX_ERR_FIRMWARE_VERSION', {
        field: 'version',
        reason: `"${version.slice(0, 80)}" is not a version (letters, digits and . _ + -, at most 64)`,
        reasonZh: `“${version.slice(0, 80)}”不是有效的版本号（字母、数字及 . _ + -，最多 64 个字符）`,
      });
    }
    const same = this.#db.prepare('SELECT id, file_name FROM firmware WHERE model_key = ? AND version = ?').get(modelKey(model), version) as { id: number; file_name: string } | undefined;
    if (same && same.id !== self) throw createError('VCBOX_ERR_FIRMWARE_EXISTS', { field: 'version', model, version, fileName: same.file_name, id: same.id });
    return { model, fileName, version };
  }

  /** Bytes an upload may have: the upload limit, and what the quota leaves (`freed`: the size of a file being replaced). */
  #room(freed: number, own?: string): number {
    let receiving = 0;
    for (const [key, bytes] of this.#receiving) if (key !== own) receiving += bytes;
    return Math.min(this.#maxUploadBytes, this.quotaBytes() - this.usedBytes() - receiving + freed);
  }

  /** `streamed`: the size is only what arrived before the bound was passed (no Content-Length). */
  #tooLarge(received: number, freed: number, own?: string, streamed = false): VcboxError {
    if (received > this.#maxUploadBytes) return createError('VCBOX_ERR_FIRMWARE_TOO_LARGE', { field: 'file', limit: sizeInWords(this.#maxUploadBytes) });
    let receiving = 0;
    for (const [key, bytes] of this.#receiving) if (key !== own) receiving += bytes;
    return createError('VCBOX_ERR_FIRMWARE_QUOTA', {
      field: 'file',
      size: `${streamed ? '≥ ' : ''}${sizeInWords(received)}`,
      quota: sizeInWords(this.quotaBytes()),
      used: sizeInWords(this.usedBytes() + receiving - freed),
    });
  }

  #checkQuotaAtCommit(size: number, freed: number): void {
    if (this.usedBytes() - freed + size > this.quotaBytes()) {
      throw createError('VCBOX_ERR_FIRMWARE_QUOTA', { field: 'file', size: sizeInWords(size), quota: sizeInWords(this.quotaBytes()), used: sizeInWords(this.usedBytes() - freed) });
    }
  }

  #checkSpace(declaredLength: number | undefined, freed: number): void {
    if (declaredLength !== undefined && declaredLength > this.#room(freed)) throw this.#tooLarge(declaredLength, freed);
    if (declaredLength === 0) throw createError('VCBOX_ERR_FIRMWARE_FILE', { field: 'file', reason: 'the file is empty', reasonZh: '文件为空' });
  }

  /** Streams the body to a temporary file, bounded; on any failure the temporary file is gone. */
  async #receive(body: Readable, freed: number, input: object, author: Author, refusal: string): Promise<{ temp: string; size: number; sha256: string }> {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const key = randomBytes(6).toString('hex');
    const temp = path.join(this.#dir, `${UPLOAD_PREFIX}${key}.tmp`);
    const hash = createHash('sha256');
    this.#receiving.set(key, 0);
    try {
      const size = await receiveUpload(body, temp, {
        limit: this.#room(freed, key),
        tooLarge: (received) => this.#tooLarge(received, freed, key, true),
        onChunk: (chunk) => {
          hash.update(chunk);
          this.#receiving.set(key, (this.#receiving.get(key) ?? 0) + chunk.length);
        },
      });
      if (size === 0) throw createError('VCBOX_ERR_FIRMWARE_FILE', { field: 'file', reason: 'the file is empty', reasonZh: '文件为空' });
      return { temp, size, sha256: hash.digest('hex') };
    } catch (error) {
      rmSync(temp, { force: true });
      this.#refused(refusal, input, error, author);
      throw this.#failure(error);
    } finally {
      this.#receiving.delete(key);
    }
  }

  #refused(action: string, input: object, error: unknown, author: Author): void {
    const reason = error instanceof VcboxError ? { code: error.code, reason: error.message } : { reason: (error as Error).message };
    recordAudit(this.#db, { ...author, action, detail: { ...input, ...reason } });
    log.warn({ ...input, ...reason }, 'firmware upload refused; nothing stored');
  }

  #failure(error: unknown): VcboxError {
    return error instanceof VcboxError ? error : createError('VCBOX_ERR_FIRMWARE_FAILED', { reason: (error as Error).message }, error);
  }
}
