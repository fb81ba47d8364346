/**
 * The encrypted backup file (`<name>.vcbackup`): the backup archive (./backup-archive.ts, a
 * .tar.gz) encrypted with a key derived from a passphrase the administrator chooses, in a
 * stream of authenticated chunks, so that a backup read by anyone without the passphrase —
 * an operator, whoever finds the file on a share — gives away nothing of the database (SIP HA1
 * values, administrator password hashes), the TLS private key or the sealed secrets.
 *
 *   magic        8 bytes  "VCBOXBAK"
 *   length       u32 BE   of the header JSON (at most 64 KiB)
 *   header       JSON     { format, version, kdf: { name: scrypt, N, r, p, salt }, cipher,
 *                           chunkBytes, about: { name, createdAt, kind, productVersion,
 *                           schemaVersion, host } }  — in clear: the list of backups shows it
 *                           without the passphrase; nothing secret is in it
 *   check        32 bytes HMAC-SHA-256(check key, magic | length | header)
 *   frames       each: flag u8 (0 more, 1 last) | length u32 BE (≤ chunkBytes) |
 *                AES-256-GCM ciphertext | 16-byte tag
 *
 * Keys: scrypt(passphrase, a random 16-byte salt per file; N 2^15, r 8, p 1: ~32 MiB and a
 * fraction of a second, per file, which makes guessing costly) gives a master key; HKDF-SHA-256
 * turns it into three keys for three purposes: the stream key, the check key and the key the
 * secret settings inside the backup are sealed with (./database-snapshot.ts). A fresh salt
 * makes every file's keys new, so the nonce of frame i can simply be i (4 zero bytes, u64 BE).
 *
 * What the reader guarantees: a wrong passphrase is told apart from a damaged file by the check
 * (VCBOX_ERR_BACKUP_PASSPHRASE before any frame is read); every frame's tag covers the
 * header's hash, its index, its flag and its length as additional data, so a changed byte, frames
 * swapped, dropped or copied from another backup, or a file cut after any frame (no last frame)
 * are refused (VCBOX_ERR_BACKUP_INVALID); bytes after the last frame are refused too. Plain
 * text is handed on only after its frame's tag was verified.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { createError } from '../core/errors.ts';
import type { BackupKind } from './backup-archive.ts';
import { ChunkReader, TarFormatError } from './tar-format.ts';

export const ENCRYPTED_MAGIC = Buffer.from('VCBOXBAK', 'ascii');
const FORMAT = 'vcbox-backup-encrypted';
const VERSION = 1;
const MAX_HEADER_BYTES = 64 * 1024;
const CHECK_BYTES = 32;
const TAG_BYTES = 16;
const CHUNK_BYTES = 64 * 1024;
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
/** Bounds on what a header may ask of scrypt (a crafted file must not make the box spend gigabytes). */
const MAX_SCRYPT_COST = { N: 2 ** 17, r: 16, p: 4 } as const;
export const MIN_PASSPHRASE = 8;
export const MAX_PASSPHRASE = 256;

/** What the list shows of a backup without its passphrase. */
export interface BackupAbout {
  readonly name: string;
  readonly createdAt: string;
  readonly kind: BackupKind;
  readonly productVersion: string;
  readonly schemaVersion: number;
  readonly host: string;
}

interface HeaderJson {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
  readonly cipher: 'aes-256-gcm';
  readonly chunkBytes: number;
  readonly about: BackupAbout;
}

/** The keys of one backup file. */
export interface BackupKeys {
  readonly stream: Buffer;
  readonly check: Buffer;
  /** Seals the secret settings inside this backup's database. */
  readonly secrets: Buffer;
}

/** A header as read from a file. */
export interface EncryptedHeader {
  readonly json: HeaderJson;
  /** magic | length | header JSON, as in the file. */
  readonly bytes: Buffer;
  readonly check: Buffer;
}

function invalid(reason: string, cause?: unknown) {
  return createError('VCBOX_ERR_BACKUP_INVALID', { reason, field: 'file' }, cause);
}

/** Throws VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED unless `passphrase` is one a backup may use. */
export function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw createError('VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', { reason: 'give the passphrase (field passphrase)', field: 'passphrase' });
  if (passphrase.length < MIN_PASSPHRASE || passphrase.length > MAX_PASSPHRASE) {
    throw createError('VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', { reason: `use ${MIN_PASSPHRASE} to ${MAX_PASSPHRASE} characters`, field: 'passphrase' });
  }
  return passphrase;
}

async function deriveKeys(passphrase: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<BackupKeys> {
  const master = await new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r + 16 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key))),
  );
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', master, salt, info, 32));
  return { stream: sub('vcbox backup stream'), check: sub('vcbox backup check'), secrets: sub('vcbox backup secrets') };
}

function frameAad(headerHash: Buffer, index: bigint, last: boolean, length: number): Buffer {
  const aad = Buffer.alloc(32 + 8 + 1 + 4);
  headerHash.copy(aad, 0);
  aad.writeBigUInt64BE(index, 32);
  aad[40] = last ? 1 : 0;
  aad.writeUInt32BE(length, 41);
  return aad;
}

function nonce(index: bigint): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(index, 4);
  return iv;
}

/** A new backup file's keys (a fresh salt) and, once what the backup is is known, its header. */
export async function newEncryption(passphrase: string): Promise<{ keys: BackupKeys; header: (about: BackupAbout) => Buffer }> {
  const salt = randomBytes(16);
  const keys = await deriveKeys(passphrase, salt, SCRYPT);
  return { keys, header: (about) => encodeHeader(keys, salt, about) };
}

function encodeHeader(keys: BackupKeys, salt: Buffer, about: BackupAbout): Buffer {
  const json: HeaderJson = { format: FORMAT, version: VERSION, kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') }, cipher: 'aes-256-gcm', chunkBytes: CHUNK_BYTES, about };
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const bytes = Buffer.concat([ENCRYPTED_MAGIC, length, body]);
  const check = createHmac('sha256', keys.check).update(bytes).digest();
  return Buffer.concat([bytes, check]);
}

/**
 * The encrypting stream: takes the archive's bytes, gives the header then the frames. `header`
 * and `keys` come from `newEncryption`.
 */
export class BackupEncryptor extends Transform {
  readonly #key: Buffer;
  readonly #headerHash: Buffer;
  #index = 0n;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(keys: BackupKeys, header: Buffer) {
    super();
    this.#key = keys.stream;
    this.#headerHash = createHash('sha256').update(header).digest();
    this.push(header);
  }

  #frame(plain: Buffer, last: boolean): Buffer {
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce(this.#index));
    cipher.setAAD(frameAad(this.#headerHash, this.#index, last, plain.length));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    this.#index += 1n;
    const head = Buffer.alloc(5);
    head[0] = last ? 1 : 0;
    head.writeUInt32BE(plain.length, 1);
    return Buffer.concat([head, body, cipher.getAuthTag()]);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    // Keep at least one byte back: the last frame is written by _flush, never empty unless the input was.
    while (this.#pendingBytes > CHUNK_BYTES) {
      const all = Buffer.concat(this.#pending);
      this.push(this.#frame(all.subarray(0, CHUNK_BYTES), false));
      const rest = all.subarray(CHUNK_BYTES);
      this.#pending = [rest];
      this.#pendingBytes = rest.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.push(this.#frame(Buffer.concat(this.#pending), true));
    this.#pending = [];
    done();
  }
}

function parseHeader(body: Buffer): HeaderJson {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw invalid('its encryption header is not JSON', error);
  }
  if (json.format !== FORMAT) throw invalid('its encryption header is not a vcbox backup header');
  if (json.version !== VERSION) throw invalid(`it uses encryption version ${String(json.version)}; this box reads version ${VERSION} — upgrade this box first`);
  const kdf = json.kdf as Record<string, unknown> | undefined;
  const cost = (name: 'N' | 'r' | 'p') => Number.isInteger(kdf?.[name]) && (kdf?.[name] as number) >= 1 && (kdf?.[name] as number) <= MAX_SCRYPT_COST[name];
  if (kdf?.name !== 'scrypt' || !cost('N') || !cost('r') || !cost('p') || typeof kdf.salt !== 'string' || Buffer.from(kdf.salt, 'base64').length !== 16) {
    throw invalid('its encryption header names no key derivation this box accepts');
  }
  if (json.cipher !== 'aes-256-gcm' || json.chunkBytes !== CHUNK_BYTES) throw invalid('its encryption header names a cipher or chunk size this box does not use');
  const about = json.about as Record<string, unknown> | undefined;
  if (
    typeof about?.name !== 'string' ||
    typeof about.createdAt !== 'string' ||
    (about.kind !== 'manual' && about.kind !== 'auto') ||
    typeof about.productVersion !== 'string' ||
    !Number.isInteger(about.schemaVersion) ||
    typeof about.host !== 'string'
  ) {
    throw invalid('its encryption header does not say what the backup is');
  }
  return json as unknown as HeaderJson;
}

/**
 * The header of an encrypted backup file, or undefined when the file does not start with the
 * magic (a backup of the plain format of earlier versions, or not a backup at all).
 */
export async function readEncryptedHeader(file: string): Promise<EncryptedHeader | undefined> {
  const handle = await open(file, 'r');
  try {
    const start = Buffer.alloc(12);
    const { bytesRead } = await handle.read(start, 0, 12, 0);
    if (bytesRead < 8 || !start.subarray(0, 8).equals(ENCRYPTED_MAGIC)) return undefined;
    if (bytesRead < 12) throw invalid('it ends inside its encryption header (the file is truncated)');
    const length = start.readUInt32BE(8);
    if (length > MAX_HEADER_BYTES) throw invalid('its encryption header is larger than 64 KiB');
    const rest = Buffer.alloc(length + CHECK_BYTES);
    const read = await handle.read(rest, 0, rest.length, 12);
    if (read.bytesRead < rest.length) throw invalid('it ends inside its encryption header (the file is truncated)');
    const body = rest.subarray(0, length);
    return { json: parseHeader(body), bytes: Buffer.concat([start, body]), check: rest.subarray(length) };
  } finally {
    await handle.close();
  }
}

/** The keys of an encrypted file for `passphrase`; VCBOX_ERR_BACKUP_PASSPHRASE when they do not open it. */
export async function openWithPassphrase(header: EncryptedHeader, passphrase: string): Promise<BackupKeys> {
  const { kdf } = header.json;
  const keys = await deriveKeys(passphrase, Buffer.from(kdf.salt, 'base64'), { N: kdf.N, r: kdf.r, p: kdf.p });
  const expected = createHmac('sha256', keys.check).update(header.bytes).digest();
  if (!timingSafeEqual(expected, header.check)) throw createError('VCBOX_ERR_BACKUP_PASSPHRASE', { field: 'passphrase' });
  return keys;
}

/**
 * The archive's bytes of an encrypted file, frame by frame, each verified before it is given.
 * Throws VCBOX_ERR_BACKUP_INVALID for a changed, reordered, truncated or extended file.
 */
export async function* decryptFile(file: string, header: EncryptedHeader, keys: BackupKeys): AsyncGenerator<Buffer> {
  const input = createReadStream(file, { start: header.bytes.length + CHECK_BYTES });
  const reader = new ChunkReader(input);
  const headerHash = createHash('sha256').update(Buffer.concat([header.bytes, header.check])).digest();
  try {
    for (let index = 0n; ; index += 1n) {
      let head: Buffer;
      let body: Buffer;
      try {
        head = await reader.read(5);
        const length = head.readUInt32BE(1);
        if (head[0] !== 0 && head[0] !== 1) throw invalid(`its frame ${index} has no valid flag (the file was changed or damaged)`);
        if (length > header.json.chunkBytes) throw invalid(`its frame ${index} is longer than a frame may be (the file was changed or damaged)`);
        body = await reader.read(length + TAG_BYTES);
      } catch (error) {
        if (error instanceof TarFormatError) throw invalid('it ends too early (the file is truncated: download or copy it again)', error);
        throw error;
      }
      const last = head[0] === 1;
      const length = body.length - TAG_BYTES;
      const decipher = createDecipheriv('aes-256-gcm', keys.stream, nonce(index));
      decipher.setAAD(frameAad(headerHash, index, last, length));
      decipher.setAuthTag(body.subarray(length));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(body.subarray(0, length)), decipher.final()]);
      } catch (error) {
        throw invalid(`its frame ${index} does not authenticate (the file was changed, damaged or put together from pieces)`, error);
      }
      yield plain;
      if (last) break;
    }
    try {
      await reader.drainZeros(0);
    } catch (error) {
      throw invalid('data follows its last frame (the file was changed)', error);
    }
  } finally {
    input.destroy();
  }
}
