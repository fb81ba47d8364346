/**
 * The backup archive: one gzip-compressed ustar archive (./tar-format.ts) — encrypted as a
 * whole with the administrator's passphrase (./backup-encryption.ts) — holding, in this order,
 *
 *   manifest.json         what the backup is: format, product version, database schema version,
 *                         created-at, name, kind, and per entry its path, size and SHA-256
 *   manifest.hmac         HMAC-SHA-256 of manifest.json's exact bytes (hex)
 *   database/vcbox.sqlite the database snapshot
 *   certificates/…        the box's TLS certificate and key
 *   prompts/<lang>/…      IVR prompt recordings an administrator uploaded
 *
 * Integrity and format, and why not a per-box key: a restore must accept a backup made by this
 * box or by another vcbox (a replaced appliance gets the old one's backup), so the HMAC key is
 * product-wide and fixed in the code (`BACKUP_SIGNING_KEY`), not a secret of the box — a key
 * kept in the data directory would die with the box whose backup we need. The HMAC therefore
 * says "written by vcbox's backup code and not changed since": a flipped byte anywhere is caught
 * (in the manifest by the HMAC, in an entry by its SHA-256 from the signed manifest, in the
 * compressed stream by gzip's CRC, which is read to the end), and a foreign file (any other
 * .tar.gz, a text file) has no manifest signed with the key. It is not an authenticity proof
 * against someone who has vcbox's code: restore is an administrator's action, and an
 * administrator can change everything a backup holds anyway.
 *
 * Bounds, checked while reading so that nothing is inflated or written beyond them: the archive
 * size (the upload limit), the manifest (≤ 1 MiB, first entry, or the file is refused after its
 * first 512 bytes), the number of entries, the total size the manifest declares, and every
 * entry's size against the manifest (an entry that grows past its declared size is refused at
 * that byte). Paths come from a fixed pattern only (no `..`, no absolute paths, no links).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import type { Transform } from 'node:stream';
import { createError } from '../core/errors.ts';
import { decodeHeader, extractEntry, hashFile, openTarGz, readEntryBytes, TarFormatError, writeTarGz } from './tar-format.ts';

export const ARCHIVE_FORMAT = 'vcbox-backup';
export const ARCHIVE_FORMAT_VERSION = 1;
const MANIFEST_ENTRY = 'manifest.json';
const SIGNATURE_ENTRY = 'manifest.hmac';
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_TRAILING_BYTES = 1024 * 1024;
/** The database snapshot's path inside the archive. */
export const DATABASE_ENTRY = 'database/vcbox.sqlite';

/**
 * Product-wide HMAC key of backup format 1: the same in every vcbox, so that every vcbox accepts
 * every genuine backup (see the header: integrity and format, not secrecy).
 */
export const BACKUP_SIGNING_KEY = Buffer.from('9d3c6a51f0e84b27a6c1d05e7f38b2946e1a0c5d83f7b4e29a6d15c0e8f37b42', 'hex');

const SEGMENT = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}';
const ENTRY_PATH = new RegExp(`^(database/vcbox\\.sqlite|certificates/${SEGMENT}|prompts/${SEGMENT}/${SEGMENT})$`);

export type BackupKind = 'manual' | 'auto';

export interface ManifestEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BackupManifest {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly formatVersion: typeof ARCHIVE_FORMAT_VERSION;
  readonly product: 'vcbox';
  readonly productVersion: string;
  /** `PRAGMA user_version` of the snapshot: what a restore migrates forward from. */
  readonly schemaVersion: number;
  readonly createdAt: string;
  readonly name: string;
  readonly kind: BackupKind;
  /** The host name of the box that made it (shown, not checked). */
  readonly host: string;
  readonly entries: readonly ManifestEntry[];
}

export interface ArchiveLimits {
  /** Most entries besides the manifest and its signature. */
  readonly maxEntries: number;
  /** Most bytes the entries may hold together, decompressed. */
  readonly maxContentBytes: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = { maxEntries: 10_000, maxContentBytes: 8 * 1024 ** 3 };

/** A file to put into an archive: its path there and where it is now (a staged copy). */
export interface ArchiveInput {
  readonly path: string;
  readonly file: string;
}

function invalid(reason: string, cause?: unknown) {
  return createError('VCBOX_ERR_BACKUP_INVALID', { reason, field: 'file' }, cause);
}

export function signManifest(manifestBytes: Buffer): string {
  return createHmac('sha256', BACKUP_SIGNING_KEY).update(manifestBytes).digest('hex');
}

/**
 * Writes the archive to `target` atomically (a temporary name, fsync, rename): the manifest is
 * completed with each input's size and SHA-256. Inputs must not change while this runs (they
 * are the caller's staged copies). Returns the manifest written.
 */
export async function writeArchive(
  target: string,
  about: Omit<BackupManifest, 'entries' | 'format' | 'formatVersion' | 'product'>,
  inputs: readonly ArchiveInput[],
  options: { transform?: Transform } = {},
): Promise<BackupManifest> {
  const entries: ManifestEntry[] = [];
  for (const input of inputs) {
    if (!ENTRY_PATH.test(input.path)) throw new TarFormatError(`entry path "${input.path}" is not one a backup may hold`);
    entries.push({ path: input.path, ...(await hashFile(input.file)) });
  }
  const manifest: BackupManifest = { format: ARCHIVE_FORMAT, formatVersion: ARCHIVE_FORMAT_VERSION, product: 'vcbox', ...about, entries };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  const signature = Buffer.from(`${signManifest(manifestBytes)}\n`, 'ascii');
  await writeTarGz(
    target,
    [
      { name: MANIFEST_ENTRY, size: manifestBytes.length, bytes: manifestBytes },
      { name: SIGNATURE_ENTRY, size: signature.length, bytes: signature },
      ...inputs.map((input, index) => ({ name: input.path, size: (entries[index] as ManifestEntry).size, file: input.file })),
    ],
    new Date(about.createdAt),
    options.transform ? { transform: options.transform } : {},
  );
  return manifest;
}

function checkManifest(value: unknown, limits: ArchiveLimits): BackupManifest {
  if (typeof value !== 'object' || value === null) throw invalid('its manifest is not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== ARCHIVE_FORMAT || m.product !== 'vcbox') throw invalid('its manifest is not a vcbox backup manifest');
  if (m.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw invalid(`it uses backup format ${String(m.formatVersion)} (made by vcbox ${String(m.productVersion)}); this box reads format ${ARCHIVE_FORMAT_VERSION} — upgrade this box first`);
  }
  if (typeof m.productVersion !== 'string' || typeof m.createdAt !== 'string' || typeof m.name !== 'string' || typeof m.host !== 'string') {
    throw invalid('its manifest lacks the product version, creation time, name or host');
  }
  if (!Number.isInteger(m.schemaVersion) || (m.schemaVersion as number) < 0) throw invalid('its manifest has no valid schema version');
  if (m.kind !== 'manual' && m.kind !== 'auto') throw invalid('its manifest has no valid kind');
  if (!Array.isArray(m.entries)) throw invalid('its manifest lists no entries');
  if (m.entries.length > limits.maxEntries) throw invalid(`it holds ${m.entries.length} files, more than the ${limits.maxEntries} allowed`);
  const seen = new Set<string>();
  let total = 0;
  for (const entry of m.entries as unknown[]) {
    const e = entry as Record<string, unknown>;
    if (typeof e?.path !== 'string' || !ENTRY_PATH.test(e.path) || seen.has(e.path)) throw invalid(`its manifest names an entry that a backup may not hold (${JSON.stringify(e?.path)})`);
    if (!Number.isInteger(e.size) || (e.size as number) < 0) throw invalid(`its manifest gives no valid size for ${e.path}`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) throw invalid(`its manifest gives no valid SHA-256 for ${e.path}`);
    seen.add(e.path);
    total += e.size as number;
  }
  if (!seen.has(DATABASE_ENTRY)) throw invalid('it holds no database snapshot');
  if (total > limits.maxContentBytes) {
    throw invalid(`it would unpack to ${total} bytes, more than the ${limits.maxContentBytes} allowed`);
  }
  return value as BackupManifest;
}

function zlibReason(error: NodeJS.ErrnoException, consumed: number): string {
  if (consumed === 0 && error.code === 'Z_DATA_ERROR') return 'it is not gzip-compressed (a vcbox backup is a .tar.gz file)';
  if (error.code === 'Z_BUF_ERROR') return 'it ends too early (the file is truncated: download or copy it again)';
  return `its compressed data is damaged (${error.message})`;
}

/**
 * Opens an archive (`file`, or the bytes `source` gives: an encrypted backup's decrypted stream)
 * and checks the manifest's signature. With `extractTo`, also unpacks every
 * entry there (the folder must exist and be empty), checking each against the manifest, and
 * reads the compressed stream to its end (gzip CRC). Without, stops after the manifest (the
 * list of backups reads this much only). Throws VCBOX_ERR_BACKUP_INVALID saying what is wrong.
 */
export async function readArchive(file: string, options: { extractTo?: string; limits?: ArchiveLimits; source?: () => AsyncIterable<Buffer> } = {}): Promise<BackupManifest> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const { reader, close } = openTarGz(options.source ?? file);
  try {
    const first = decodeHeader(await reader.read(512));
    if (!first) throw invalid('the archive is empty');
    if (first.name !== MANIFEST_ENTRY) throw invalid(`it has no vcbox backup manifest (its first entry is "${first.name.slice(0, 100)}")`);
    if (first.size > MAX_MANIFEST_BYTES) throw invalid('its manifest is larger than 1 MiB');
    const manifestBytes = await readEntryBytes(reader, first);
    const second = decodeHeader(await reader.read(512));
    if (!second || second.name !== SIGNATURE_ENTRY || second.size > 256) throw invalid('its manifest carries no signature');
    const signature = (await readEntryBytes(reader, second)).toString('ascii').trim();
    const expected = Buffer.from(signManifest(manifestBytes), 'ascii');
    const given = Buffer.from(signature, 'ascii');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw invalid('its manifest signature does not match (the file was changed after it was made, or it is not from a vcbox)');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(manifestBytes.toString('utf8'));
    } catch (error) {
      throw invalid('its manifest is not JSON', error);
    }
    const manifest = checkManifest(parsed, limits);
    if (!options.extractTo) return manifest;

    for (const entry of manifest.entries) {
      const header = decodeHeader(await reader.read(512));
      if (!header) throw invalid(`it ends before ${entry.path} (the file is truncated)`);
      if (header.name !== entry.path) throw invalid(`it holds "${header.name}" where the manifest lists ${entry.path}`);
      if (header.size !== entry.size) throw invalid(`${entry.path} is ${header.size} bytes, the manifest says ${entry.size}`);
      const sha256 = await extractEntry(reader, entry.size, path.join(options.extractTo, ...entry.path.split('/')));
      if (sha256 !== entry.sha256) throw invalid(`${entry.path} does not match its checksum (the file was changed or damaged)`);
    }
    if (decodeHeader(await reader.read(512)) !== undefined) throw invalid('it holds entries the manifest does not list');
    await reader.drainZeros(MAX_TRAILING_BYTES);
    return manifest;
  } catch (error) {
    if (error instanceof TarFormatError) throw invalid(error.message, error);
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw invalid(zlibReason(error as NodeJS.ErrnoException, reader.consumed), error);
    throw error;
  } finally {
    close();
  }
}
