/**
 * One process's log file of one module, rotated by day and by size, so the spec's "system logs
 * per module, exported by date range" can pick whole days and the disk quota can drop the
 * oldest files without touching the one being written.
 *
 * Files are `<logDir>/<module>/<YYYY-MM-DD>.<process>.log`, then `…<process>.1.log`, `.2.log`…
 * when a day's file passes the size limit (the day in the box's local time, as the backup
 * schedule uses it). Every process writes only files named after itself — the control plane
 * and the dev supervisor both log to the Web module, each to its own files — so no two
 * writers ever share a file and no file is ever renamed under a writer. The switch happens at
 * the first line after midnight or past the limit: the old file's writer is ended (its buffered
 * lines are written, in order, before it closes) and the line goes to the new file, so a
 * rotation loses nothing. Listing and reading these files is server/logs/system-log-files.ts.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';

type Writer = ReturnType<typeof pino.destination>;

/** A day's file is continued in a new one past this size (small enough for a fine-grained quota). */
export const MAX_LOG_FILE_BYTES = 16 * 1024 * 1024;

/** `2026-11-22.control-plane.log`, `2026-11-22.control-plane.3.log`. */
const FILE_NAME = /^(\d{4}-\d{2}-\d{2})\.([a-z0-9-]+?)(?:\.(\d+))?\.log$/;

export interface LogFileName {
  /** The local day the lines were written, YYYY-MM-DD. */
  readonly date: string;
  readonly process: string;
  /** 0 for the day's first file. */
  readonly seq: number;
}

export function parseLogFileName(name: string): LogFileName | undefined {
  const match = FILE_NAME.exec(name);
  if (!match) return undefined;
  return { date: match[1] as string, process: match[2] as string, seq: match[3] === undefined ? 0 : Number(match[3]) };
}

export function logFileName(file: LogFileName): string {
  return `${file.date}.${file.process}${file.seq === 0 ? '' : `.${file.seq}`}.log`;
}

/** YYYY-MM-DD of `time` in the process's local time zone. */
export function localDay(time: number): string {
  const at = new Date(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
}

function nextMidnight(time: number): number {
  const at = new Date(time);
  return new Date(at.getFullYear(), at.getMonth(), at.getDate() + 1).getTime();
}

export interface RotatingLogFileOptions {
  /** The module's folder, `<logDir>/<module>`. */
  readonly dir: string;
  /** This process's name in the file names (control-plane, signaling, media, supervisor). */
  readonly process: string;
  readonly maxFileBytes?: number;
}

/** A pino destination (a stream with `write`) that rotates its file by day and size. */
export class RotatingLogFile {
  readonly #dir: string;
  readonly #process: string;
  readonly #maxBytes: number;
  #writer: Writer | undefined;
  /** Writers of files left behind by a rotation, until they have written everything. */
  readonly #ending = new Set<Writer>();
  #day = '';
  #seq = 0;
  #bytes = 0;
  #nextDayAt = 0;
  #file = '';
  #complained = false;
  #closed = false;

  constructor(options: RotatingLogFileOptions) {
    this.#dir = options.dir;
    this.#process = options.process;
    this.#maxBytes = options.maxFileBytes ?? MAX_LOG_FILE_BYTES;
    // Opened at once, synchronously: a process that fails during start-up still leaves its line.
    this.#open(Date.now(), this.#lastSeqOfDay(localDay(Date.now())));
  }

  /** The file lines go to now. */
  get file(): string {
    return this.#file;
  }

  write(line: string): boolean {
    if (this.#closed) return false;
    const now = Date.now();
    const size = Buffer.byteLength(line);
    if (now >= this.#nextDayAt) this.#open(now, 0);
    else if (this.#bytes > 0 && this.#bytes + size > this.#maxBytes) this.#open(now, this.#seq + 1);
    this.#bytes += size;
    return this.#writer?.write(line) ?? false;
  }

  /** Writes out everything buffered, synchronously (before the process exits). */
  flushSync(): void {
    for (const writer of [...this.#ending, this.#writer]) {
      try {
        writer?.flushSync();
      } catch {
        // a log that cannot be written while exiting: nothing more can be done
      }
    }
  }

  /** Stops taking lines and ends the current file; its lines are written in the background (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retire(this.#writer);
    this.#writer = undefined;
  }

  /**
   * Closes, and resolves once every file's writer has written all its lines and closed — what a
   * process stopping in good order waits for (a synchronous flush cannot wait for a write that
   * is already under way in the background, and exiting would lose it).
   */
  async end(): Promise<void> {
    this.close();
    await Promise.all([...this.#ending].map((writer) => new Promise((resolve) => writer.once('close', resolve))));
  }

  /** The highest sequence number of this process's files of `day` (0 when there is none). */
  #lastSeqOfDay(day: string): number {
    let seq = 0;
    try {
      for (const name of readdirSync(this.#dir)) {
        const parsed = parseLogFileName(name);
        if (parsed && parsed.date === day && parsed.process === this.#process) seq = Math.max(seq, parsed.seq);
      }
    } catch {
      // no folder yet
    }
    return seq;
  }

  /** Switches to file `seq` of the day of `now` (the next one if that is already full). */
  #open(now: number, seq: number): void {
    const day = localDay(now);
    let fd: number | undefined;
    let file = '';
    try {
      mkdirSync(this.#dir, { recursive: true });
      for (let guard = 0; guard < 10_000; guard++, seq++) {
        file = path.join(this.#dir, logFileName({ date: day, process: this.#process, seq }));
        fd = openSync(file, 'a', 0o640);
        const size = fstatSync(fd).size;
        if (size < this.#maxBytes) {
          this.#bytes = size;
          break;
        }
        closeSync(fd);
        fd = undefined;
      }
    } catch (error) {
      // Logging must never become the logging caller's failure: keep the current file (if any).
      this.#complain(error as Error);
    }
    // Retry at the next line in a minute at the latest when nothing could be opened.
    this.#nextDayAt = fd === undefined ? Math.min(nextMidnight(now), now + 60_000) : nextMidnight(now);
    if (fd === undefined) return;
    const writer = pino.destination({ dest: fd, sync: false });
    writer.on('error', (error: Error) => this.#complain(error));
    this.#retire(this.#writer);
    this.#writer = writer;
    this.#day = day;
    this.#seq = seq;
    this.#file = file;
  }

  /** Ends a writer: its buffered lines are written in order, then its file is closed. */
  #retire(writer: Writer | undefined): void {
    if (!writer) return;
    this.#ending.add(writer);
    writer.once('close', () => this.#ending.delete(writer));
    try {
      writer.end();
    } catch {
      this.#ending.delete(writer); // already ended
    }
  }

  #complain(error: Error): void {
    if (this.#complained) return;
    this.#complained = true;
    process.stderr.write(`vcbox: cannot write the log in ${this.#dir} (${this.#day || 'start'}): ${error.message}\n`);
  }
}
