/**
 * The small part of POSIX ustar that backups need, written and read by our own code (no
 * dependency): regular files only, names of at most 100 bytes, sizes in octal (< 8 GiB), each
 * header's checksum verified. Anything else a tar may hold — directories, links, devices,
 * pax/GNU extension headers, base-256 sizes — is refused by the reader, so an archive made by
 * another tool cannot smuggle a symlink or a path outside the staging folder. `tar tzf` and
 * `tar xzf` read what the writer makes. What the archive means (manifest, signature, limits)
 * lives in ./backup-archive.ts.
 */

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

/** A 512-byte ustar header of a regular file (mode 0600, owner 0, the given modification time). */
export function encodeHeader(name: string, size: number, mtime: Date): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 100) throw new TarFormatError(`entry name "${name}" must be 1-100 bytes`);
  if (!Number.isInteger(size) || size < 0 || size > MAX_OCTAL_SIZE) throw new TarFormatError(`entry "${name}" size ${size} out of range`);
  const block = Buffer.alloc(BLOCK);
  nameBytes.copy(block, 0);
  writeOctal(block, 100, 8, 0o600);
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
  if (prefix !== '') throw new TarFormatError('long entry names are not used by vcbox backups');
  const name = cString(block, 0, 100);
  return { name, size: readOctal(block, 124, 12, 'size') };
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
