/**
 * The small part of POSIX ustar that backups and release packages need, written and read by our
 * own code (no dependency): regular files only, names of at most 255 bytes (ustar's 155-byte
 * prefix + 100-byte name, split at a `/`), sizes in octal (< 8 GiB), each header's checksum
 * verified. Anything else a tar may hold — directories, links, devices,
 * pax/GNU extension headers, base-256 sizes — is refused by the reader, so an archive made by
 * another tool cannot smuggle a symlink or a path outside the staging folder. `tar tzf` and
 * `tar xzf` read what the writer makes. Also here: writing such an archive as a .tar.gz file
 * atomically (`writeTarGz`) and unpacking one entry with its checksum (`extractEntry`), which
 * both archive kinds do the same way. What an archive means (manifest, signature, limits) lives
 * in ./backup-archive.ts (backups) and server/upgrade/release-package.ts (release packages).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

export const BLOCK = 512;
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export interface TarHeader {
  readonly name: string;
  readonly size: number;
}

/** Thrown for bytes that are not the ustar this module writes; the message says what is wrong. */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** Splits a path into ustar's prefix and name fields (at a `/`), or throws when it cannot fit. */
function splitName(name: string): { prefix: Buffer; name: Buffer } {
  const whole = Buffer.from(name, 'utf8');
  if (whole.length === 0) throw new TarFormatError('an entry name must not be empty');
  if (whole.length <= 100) return { prefix: Buffer.alloc(0), name: whole };
  // The last `/` that leaves at most 100 bytes after it and at most 155 before it.
  for (let at = whole.length - 101; at < whole.length; at++) {
    if (at < 1 || whole[at] !== 0x2f) continue;
    if (at <= 155) return { prefix: whole.subarray(0, at), name: whole.subarray(at + 1) };
  }
  throw new TarFormatError(`entry name "${name}" does not fit a ustar header (at most 255 bytes, split at a "/")`);
}

/** A 512-byte ustar header of a regular file (owner 0, the given mode — 0600 unless said — and modification time). */
export function encodeHeader(name: string, size: number, mtime: Date, mode = 0o600): Buffer {
  const parts = splitName(name);
  if (!Number.isInteger(size) || size < 0 || size > MAX_OCTAL_SIZE) throw new TarFormatError(`entry "${name}" size ${size} out of range`);
  const block = Buffer.alloc(BLOCK);
  parts.name.copy(block, 0);
  parts.prefix.copy(block, 345);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, Math.floor(mtime.getTime() / 1000));
  block.write('        ', 148, 8, 'ascii'); // checksum field counts as spaces while summing
  block.write('0', 156, 1, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.write('root', 265, 32, 'ascii');
  block.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** Zero bytes that bring an entry of `size` bytes to a whole number of blocks. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function readOctal(block: Buffer, offset: number, length: number, field: string): number {
  const text = block.toString('ascii', offset, offset + length).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]{1,11}$/.test(text)) throw new TarFormatError(`the ${field} field of a tar header is not octal`);
  return Number.parseInt(text, 8);
}

function cString(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + length ? offset + length : end);
}

/**
 * Decodes one header block: undefined for a zero block (end of archive), the entry otherwise.
 * Throws TarFormatError for anything but a checksummed ustar regular file.
 */
export function decodeHeader(block: Buffer): TarHeader | undefined {
  if (block.length !== BLOCK) throw new TarFormatError('a tar header is cut short');
  if (block.every((byte) => byte === 0)) return undefined;
  const magic = block.toString('ascii', 257, 263);
  if (magic !== 'ustar\0' && magic !== 'ustar ') throw new TarFormatError('no ustar header where one was expected');
  const stored = readOctal(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  if (sum !== stored) throw new TarFormatError('a tar header checksum does not match');
  const type = String.fromCharCode(block[156] as number);
  if (type !== '0' && type !== '\0') throw new TarFormatError(`entry type "${type}" (only regular files are allowed)`);
  const prefix = cString(block, 345, 155);
  const name = cString(block, 0, 100);
  return { name: prefix === '' ? name : `${prefix}/${name}`, size: readOctal(block, 124, 12, 'size') };
}

/**
 * Reads exact byte counts from a stream of chunks (the gunzip output), pulling no more than it
 * must: the caller decides how much of the stream is ever inflated.
 */
export class ChunkReader {
  readonly #source: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;
  /** Bytes handed out so far (decompressed). */
  consumed = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#source.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    return true;
  }

  /** Exactly `length` bytes; throws TarFormatError when the stream ends first. */
  async read(length: number): Promise<Buffer> {
    while (this.#pending.length < length) {
      if (!(await this.#fill())) throw new TarFormatError('the archive ends in the middle of an entry (truncated file)');
    }
    const out = this.#pending.subarray(0, length);
    this.#pending = this.#pending.subarray(length);
    this.consumed += length;
    return out;
  }

  /** `length` bytes as a sequence of chunks (an entry's content, without holding it whole). */
  async *chunks(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.#fill())) {
        throw new TarFormatError('the archive ends in the middle of an entry (truncated file)');
      }
      const take = Math.min(left, this.#pending.length);
      const out = this.#pending.subarray(0, take);
      this.#pending = this.#pending.subarray(take);
      this.consumed += take;
      left -= take;
      yield out;
    }
  }

  /** Reads to the end of the stream, at most `limit` more bytes, which must all be zero (tar padding). */
  async drainZeros(limit: number): Promise<void> {
    let seen = 0;
    for (;;) {
      for (const byte of this.#pending) if (byte !== 0) throw new TarFormatError('data follows the end of the archive');
      seen += this.#pending.length;
      this.consumed += this.#pending.length;
      this.#pending = Buffer.alloc(0);
      if (seen > limit) throw new TarFormatError('too much data follows the end of the archive');
      if (!(await this.#fill())) return;
    }
  }
}

/** SHA-256 and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** One entry to write: its name in the archive, size, mode, and its bytes or the file holding them. */
export interface TarEntry {
  readonly name: string;
  readonly size: number;
  readonly mode?: number;
  readonly bytes?: Buffer;
  readonly file?: string;
}

/**
 * Writes `entries` as a gzip-compressed ustar archive to `target` atomically (a temporary name,
 * fsync, rename): a failure leaves no file behind. A file entry whose size differs from the
 * one given (it changed after it was hashed) is an error.
 */
export async function writeTarGz(target: string, entries: readonly TarEntry[], mtime: Date, options: { level?: number; transform?: Transform } = {}): Promise<void> {
  async function* tar(): AsyncGenerator<Buffer> {
    for (const entry of entries) {
      yield encodeHeader(entry.name, entry.size, mtime, entry.mode);
      let written = 0;
      if (entry.bytes) {
        written = entry.bytes.length;
        yield entry.bytes;
      } else if (entry.file && entry.size > 0) {
        for await (const chunk of createReadStream(entry.file, { end: entry.size - 1 })) {
          written += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      }
      if (written !== entry.size) throw new TarFormatError(`${entry.name} changed while the archive was written`);
      yield padding(entry.size);
    }
    yield END_OF_ARCHIVE;
  }
  const temporary = `${target}.${process.pid}.tmp`;
  try {
    const out = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
    if (options.transform) await pipeline(tar, createGzip({ level: options.level ?? 6 }), options.transform, out);
    else await pipeline(tar, createGzip({ level: options.level ?? 6 }), out);
    const handle = await open(temporary, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Unpacks the `size` bytes of the entry the reader stands at into a new file `target` (parent
 * folders made), with `mode`, synced unless `sync` is false (a caller writing thousands of files
 * syncs the file system once instead), then skips the entry's padding. Returns the content's
 * SHA-256 for the caller to compare with its manifest.
 */
export async function extractEntry(reader: ChunkReader, size: number, target: string, mode = 0o600, sync = true): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  const handle = await open(target, 'wx', mode);
  const hash = createHash('sha256');
  try {
    for await (const chunk of reader.chunks(size)) {
      hash.update(chunk);
      await handle.write(chunk);
    }
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  await reader.read(padding(size).length);
  return hash.digest('hex');
}

/**
 * A .tar.gz opened for reading — a file, or the bytes a function gives (an encrypted backup's
 * decrypted stream; its errors reach the reader) — as a ChunkReader of its decompressed bytes;
 * `close` (idempotent) releases the source.
 */
export function openTarGz(file: string | (() => AsyncIterable<Buffer>)): { reader: ChunkReader; close(): void } {
  const input = typeof file === 'string' ? createReadStream(file) : Readable.from(file(), { objectMode: false });
  const gunzip = createGunzip();
  input.on('error', (error: Error) => gunzip.destroy(error));
  input.pipe(gunzip);
  return {
    reader: new ChunkReader(gunzip),
    close() {
      input.destroy();
      gunzip.destroy();
    },
  };
}

/** The content of the entry whose header was just read (held whole: for manifests and signatures), with its padding skipped. */
export async function readEntryBytes(reader: ChunkReader, header: TarHeader): Promise<Buffer> {
  const bytes = Buffer.from(await reader.read(header.size));
  await reader.read(padding(header.size).length);
  return bytes;
}
