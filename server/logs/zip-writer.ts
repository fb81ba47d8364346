/**
 * A small streaming ZIP writer (PKWARE APPNOTE 6.3: local headers with a data descriptor,
 * deflate from node:zlib, CRC-32 from zlib.crc32, a central directory, UTF-8 names) for log
 * exports: files are read and compressed one after another as the download is sent, so an
 * export of gigabytes of logs never sits in memory. No ZIP64: an export is refused beyond
 * ZIP_MAX_BYTES of files (the caller checks, `ZIP_MAX_BYTES`) and ZIP_MAX_ENTRIES entries. A
 * file that grows while it is read (a log being written) is taken up to its size when listed.
 * `unzip`, Windows Explorer and macOS Archive Utility read what it writes.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** Sizes and offsets must stay below 4 GiB without ZIP64; a margin for headers and incompressible data. */
export const ZIP_MAX_BYTES = 3.5 * 1024 ** 3;
export const ZIP_MAX_ENTRIES = 65_000;

export interface ZipEntry {
  /** The name inside the archive (`web/2026-11-22.control-plane.log`). */
  readonly name: string;
  /** The file to read; or the content itself. */
  readonly path?: string;
  readonly content?: Buffer;
  /** Bytes of `path` to take (its size when listed). */
  readonly size?: number;
  readonly mtimeMs: number;
}

const FLAGS = 0x0008 | 0x0800; // sizes in a data descriptor; UTF-8 names
const DEFLATE = 8;
const VERSION = 20;

function dosTime(ms: number): { time: number; date: number } {
  const at = new Date(ms);
  const year = Math.max(1980, at.getFullYear());
  return {
    time: (at.getHours() << 11) | (at.getMinutes() << 5) | Math.floor(at.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((at.getMonth() + 1) << 5) | at.getDate(),
  };
}

interface Written {
  readonly name: Buffer;
  readonly crc: number;
  readonly compressed: number;
  readonly size: number;
  readonly offset: number;
  readonly time: number;
  readonly date: number;
}

async function* content(entry: ZipEntry): AsyncGenerator<Buffer> {
  if (entry.content) {
    yield entry.content;
    return;
  }
  if (!entry.path || entry.size === 0) return;
  const stream = createReadStream(entry.path, entry.size === undefined ? {} : { end: entry.size - 1 });
  for await (const chunk of stream) yield chunk as Buffer;
}

async function* archive(entries: readonly ZipEntry[]): AsyncGenerator<Buffer> {
  if (entries.length > ZIP_MAX_ENTRIES) throw new Error(`a ZIP without ZIP64 holds at most ${ZIP_MAX_ENTRIES} files`);
  const written: Written[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const { time, date } = dosTime(entry.mtimeMs);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(DEFLATE, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    // CRC and sizes (14-25) follow in the data descriptor.
    local.writeUInt16LE(name.length, 26);
    yield Buffer.concat([local, name]);
    const start = offset;
    offset += local.length + name.length;

    let crc = 0;
    let size = 0;
    let compressed = 0;
    const deflate = zlib.createDeflateRaw({ level: 6 });
    const output: Buffer[] = [];
    deflate.on('data', (chunk: Buffer) => output.push(chunk));
    const drain = function* () {
      while (output.length > 0) {
        const chunk = output.shift() as Buffer;
        compressed += chunk.length;
        yield chunk;
      }
    };
    for await (const chunk of content(entry)) {
      crc = zlib.crc32(chunk, crc);
      size += chunk.length;
      // Backpressure: wait for the compressor to take the chunk before reading on.
      await new Promise<void>((resolve, reject) => deflate.write(chunk, (error) => (error ? reject(error) : resolve())));
      yield* drain();
    }
    await new Promise<void>((resolve, reject) => {
      deflate.once('end', resolve);
      deflate.once('error', reject);
      deflate.end();
    });
    yield* drain();
    offset += compressed;

    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(compressed, 8);
    descriptor.writeUInt32LE(size, 12);
    yield descriptor;
    offset += descriptor.length;
    written.push({ name, crc, compressed, size, offset: start, time, date });
  }

  const directoryStart = offset;
  let directorySize = 0;
  for (const entry of written) {
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | VERSION, 4); // made by: Unix
    header.writeUInt16LE(VERSION, 6);
    header.writeUInt16LE(FLAGS, 8);
    header.writeUInt16LE(DEFLATE, 10);
    header.writeUInt16LE(entry.time, 12);
    header.writeUInt16LE(entry.date, 14);
    header.writeUInt32LE(entry.crc >>> 0, 16);
    header.writeUInt32LE(entry.compressed, 20);
    header.writeUInt32LE(entry.size, 24);
    header.writeUInt16LE(entry.name.length, 28);
    header.writeUInt32LE((0o100640 << 16) >>> 0, 38); // external attributes: a regular file, rw-r-----
    header.writeUInt32LE(entry.offset, 42);
    yield Buffer.concat([header, entry.name]);
    directorySize += header.length + entry.name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(written.length, 8);
  end.writeUInt16LE(written.length, 10);
  end.writeUInt32LE(directorySize, 12);
  end.writeUInt32LE(directoryStart, 16);
  yield end;
}

/** The ZIP of `entries` as a stream, produced while it is read. */
export function zipStream(entries: readonly ZipEntry[]): Readable {
  return Readable.from(archive(entries), { objectMode: false });
}
