/**
 * The system logs as files (spec "Logs": system logs per module Web, SIP, MCU, TURN, exported by
 * date range): each module's folder `<logDir>/<module>/` holds the day-and-size rotated files
 * the processes write (server/core/rotating-log-file.ts). Here: listing them with their day,
 * process and size; which file each process is writing now (the newest of that process, if it is
 * today's: it is never deleted, only emptied); choosing a date range for an export; cleaning a module and
 * trimming it to its share of the server-log quota, oldest files first.
 *
 * A `<logDir>/<module>.log` left by a version before rotation is part of its module, dated by
 * its modification time. Writing the files is not here (the logger), nor zipping (./zip-writer.ts).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { deleteFiles, filesUnder, oldestBeyond, type Removal, type StoredFile, totalSize, truncateFiles, addRemovals } from '../disk/folder-files.ts';
import { LOG_MODULES, type LogFile } from '../core/logger.ts';
import { localDay, parseLogFileName } from '../core/rotating-log-file.ts';

export type LogModule = LogFile;
export { LOG_MODULES };

export interface SystemLogFile extends StoredFile {
  readonly module: LogModule;
  /** The local day of its lines, YYYY-MM-DD. */
  readonly date: string;
  /** The process that writes it (`legacy` for a file from before rotation). */
  readonly process: string;
  readonly seq: number;
  /** A process may be writing it now (the newest file of its process, of today): emptied, never deleted. */
  readonly active: boolean;
}

export function isLogModule(value: string): value is LogModule {
  return (LOG_MODULES as readonly string[]).includes(value);
}

export class SystemLogFiles {
  readonly #logDir: string;

  constructor(logDir: string) {
    this.#logDir = logDir;
  }

  folder(module: LogModule): string {
    return path.join(this.#logDir, module);
  }

  /** One module's files, oldest day first. */
  async list(module: LogModule): Promise<SystemLogFile[]> {
    const files: Omit<SystemLogFile, 'active'>[] = [];
    for (const file of await filesUnder(this.folder(module))) {
      const parsed = file.name.includes('/') ? undefined : parseLogFileName(file.name);
      if (parsed) files.push({ ...file, module, ...parsed });
    }
    const legacy = path.join(this.#logDir, `${module}.log`);
    const old = await stat(legacy).catch(() => undefined);
    if (old?.isFile()) files.push({ path: legacy, name: `${module}.log`, size: old.size, mtimeMs: old.mtimeMs, module, date: localDay(old.mtimeMs), process: 'legacy', seq: 0 });
    // A process writes the newest of its files, and only while that file's day lasts: its
    // first line of a new day opens a new file, so an older file is never written again.
    const today = localDay(Date.now());
    const newest = new Map<string, Omit<SystemLogFile, 'active'>>();
    for (const file of files) {
      if (file.process === 'legacy' || file.date !== today) continue;
      const best = newest.get(file.process);
      if (!best || file.date > best.date || (file.date === best.date && file.seq > best.seq)) newest.set(file.process, file);
    }
    const active = new Set([...newest.values()].map((f) => f.path));
    return files
      .map((file) => ({ ...file, active: active.has(file.path) }))
      .sort((a, b) => a.date.localeCompare(b.date) || a.process.localeCompare(b.process) || a.seq - b.seq);
  }

  async usage(module: LogModule): Promise<{ bytes: number; files: number }> {
    const files = await this.list(module);
    return { bytes: totalSize(files), files: files.length };
  }

  /** The files of `modules` with lines from the days `from` to `to` (YYYY-MM-DD, inclusive). */
  async between(modules: readonly LogModule[], from: string, to: string): Promise<SystemLogFile[]> {
    const out: SystemLogFile[] = [];
    for (const module of modules) out.push(...(await this.list(module)).filter((file) => file.date >= from && file.date <= to));
    return out;
  }

  /** Deletes a module's files; the ones processes are writing are emptied instead. */
  async clean(module: LogModule): Promise<Removal> {
    const files = await this.list(module);
    return addRemovals(await deleteFiles(files.filter((f) => !f.active)), await truncateFiles(files.filter((f) => f.active && f.size > 0)));
  }

  /** Deletes a module's oldest files until it holds at most `limit` bytes (never a file being written). */
  async trim(module: LogModule, limit: number): Promise<Removal> {
    const files = await this.list(module);
    if (totalSize(files) <= limit) return { deleted: [], truncated: [], freedBytes: 0 };
    const activeBytes = totalSize(files.filter((f) => f.active));
    return deleteFiles(oldestBeyond(files.filter((f) => !f.active), Math.max(0, limit - activeBytes)));
  }
}
