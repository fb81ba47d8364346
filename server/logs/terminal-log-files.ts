/**
 * Terminal logs as the console reads them (spec "Logs": per terminal IP, its registration and
 * subscription messages; filter by model, online/offline; search; export). The signaling
 * service writes one file per terminal address under `<logDir>/terminals/` — `<ip>.log`, the
 * previous part `<ip>.log.1` (server/signaling/core/terminal-log.ts) — each entry a line
 * `----- <ISO time> from|to <address>` and the SIP message. Here: the terminals that have a log,
 * with the model, version and accounts their last REGISTERs carried (remembered per file size
 * and time, so a list of many terminals reads only what changed); one terminal's entries, newest
 * first, searched and paged; cleaning and trimming the folder (the signaling service opens a
 * file for every entry, so any file may be deleted). Online/offline is the caller's (the
 * registrar's bindings).
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { deleteFiles, filesUnder, oldestBeyond, type Removal, type StoredFile, totalSize } from '../disk/folder-files.ts';
import { parseUserAgent } from '../sip-app/registrar/location-service.ts';
import { parseNameAddr, parseUri } from '../signaling/sip/sip-uri.ts';

export interface TerminalLogSummary {
  /** The file's name without `.log`: how the API names the terminal. */
  readonly id: string;
  /** The terminal's address as the entries give it. */
  readonly ip: string;
  readonly model: string;
  readonly version: string;
  /** Accounts it registered (the To user of its REGISTERs). */
  readonly accounts: string[];
  readonly size: number;
  readonly updatedAt: string;
  readonly entries: number;
}

export interface TerminalLogEntry {
  readonly time: string;
  readonly direction: 'in' | 'out';
  readonly address: string;
  /** The message's first line: `REGISTER sip:… SIP/2.0`, `SIP/2.0 200 OK`. */
  readonly summary: string;
  readonly text: string;
}

const ENTRY_HEAD = /^----- (\S+) (from|to) (\S+)\r?$/gm;
const ID = /^[0-9A-Za-z._]{1,80}$/;

/** The file stems of a terminal log folder: `10.0.0.7.log` and `10.0.0.7.log.1` → `10.0.0.7`. */
function idOf(name: string): string | undefined {
  const match = /^(.+)\.log(?:\.1)?$/.exec(name);
  return match && ID.test(match[1] as string) ? (match[1] as string) : undefined;
}

/** A terminal's files in the order of their lines: the previous part (`.log.1`) first. */
function olderPartFirst(files: readonly StoredFile[]): StoredFile[] {
  return [...files].sort((a, b) => Number(b.name.endsWith('.1')) - Number(a.name.endsWith('.1')));
}

export function isTerminalLogId(value: string): boolean {
  return ID.test(value) && !value.startsWith('.');
}

export function parseEntries(text: string): TerminalLogEntry[] {
  const heads = [...text.matchAll(ENTRY_HEAD)];
  return heads.map((head, i) => {
    const start = (head.index ?? 0) + head[0].length + 1;
    const end = heads[i + 1]?.index ?? text.length;
    const body = text.slice(start, end).trimEnd();
    return {
      time: head[1] as string,
      direction: head[2] === 'from' ? 'in' : 'out',
      address: head[3] as string,
      summary: (body.split(/\r?\n/, 1)[0] ?? '').trim(),
      text: body,
    };
  });
}

/** Model, version and accounts from a terminal's own messages (newest User-Agent wins). */
function describe(entries: TerminalLogEntry[]): { model: string; version: string; accounts: string[] } {
  let userAgent = '';
  const accounts = new Set<string>();
  for (const entry of entries) {
    if (entry.direction !== 'in') continue;
    // Line by line, then linear parsers: these texts are what terminals sent (the former
    // patterns were quadratic and cubic on long blank runs).
    const agent = /^User-Agent:(.*)$/im.exec(entry.text)?.[1]?.trim();
    if (agent) userAgent = agent;
    const toLine = /^(?:To|t):(.*)$/im.exec(entry.text)?.[1] ?? '';
    const to = parseUri(parseNameAddr(toLine)?.uri ?? '')?.user;
    if (to && /^REGISTER /.test(entry.summary)) accounts.add(decodeURIComponent(to));
  }
  const { model, version } = parseUserAgent(userAgent);
  return { model, version, accounts: [...accounts].sort() };
}

export class TerminalLogFiles {
  readonly #dir: string;
  /** What each terminal's files said, by id, with the sizes and times they had then. */
  readonly #known = new Map<string, { stamp: string; summary: TerminalLogSummary }>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  get folder(): string {
    return this.#dir;
  }

  async files(): Promise<StoredFile[]> {
    return (await filesUnder(this.#dir)).filter((file) => !file.name.includes('/') && idOf(file.name) !== undefined);
  }

  async usage(): Promise<{ bytes: number; files: number }> {
    const files = await this.files();
    return { bytes: totalSize(files), files: files.length };
  }

  /** The files of one terminal, older part first (looked up by name: no walk of the folder). */
  async filesOf(id: string): Promise<StoredFile[]> {
    if (!isTerminalLogId(id)) return [];
    const out: StoredFile[] = [];
    for (const name of [`${id}.log.1`, `${id}.log`]) {
      const file = path.join(this.#dir, name);
      const info = await lstat(file).catch(() => undefined);
      if (info?.isFile()) out.push({ path: file, name, size: info.size, mtimeMs: info.mtimeMs });
    }
    return out;
  }

  /** Every terminal with a log, newest activity first. */
  async list(): Promise<TerminalLogSummary[]> {
    const byId = new Map<string, StoredFile[]>();
    for (const file of await this.files()) {
      const id = idOf(file.name) as string;
      byId.set(id, [...(byId.get(id) ?? []), file]);
    }
    const out: TerminalLogSummary[] = [];
    for (const [id, files] of byId) {
      const stamp = files.map((f) => `${f.name}:${f.size}:${f.mtimeMs}`).sort().join('|');
      const known = this.#known.get(id);
      if (known?.stamp === stamp) {
        out.push(known.summary);
        continue;
      }
      const entries = await this.#read(olderPartFirst(files));
      const newest = Math.max(...files.map((f) => f.mtimeMs));
      const summary: TerminalLogSummary = {
        id,
        ip: entries.find((e) => e.direction === 'in')?.address ?? entries[0]?.address ?? id,
        ...describe(entries),
        size: totalSize(files),
        updatedAt: new Date(newest).toISOString(),
        entries: entries.length,
      };
      this.#known.set(id, { stamp, summary });
      out.push(summary);
    }
    for (const id of this.#known.keys()) if (!byId.has(id)) this.#known.delete(id);
    return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.ip.localeCompare(b.ip));
  }

  /** One terminal's entries, oldest first (undefined: no log for it). */
  async entries(id: string): Promise<TerminalLogEntry[] | undefined> {
    if (!isTerminalLogId(id)) return undefined;
    const files = await this.filesOf(id);
    return files.length === 0 ? undefined : this.#read(files);
  }

  async #read(files: readonly StoredFile[]): Promise<TerminalLogEntry[]> {
    const texts: string[] = [];
    for (const file of files) texts.push(await readFile(file.path, 'utf8').catch(() => ''));
    return parseEntries(texts.join('\n'));
  }

  /** Deletes every terminal log (a terminal's next message starts a new file). */
  async clean(): Promise<Removal> {
    const removal = await deleteFiles(await this.files());
    this.#known.clear();
    return removal;
  }

  /** Deletes the oldest files until the folder holds at most `limit` bytes. */
  async trim(limit: number): Promise<Removal> {
    return deleteFiles(oldestBeyond(await this.files(), limit));
  }
}
