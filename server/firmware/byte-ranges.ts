/**
 * HTTP range requests for the firmware downloads (RFC 9110 §14): reading one `Range: bytes=…`
 * header against a file's size, and following which bytes of a file each terminal has been
 * sent, so that a terminal fetching the file in pieces (or resuming after a broken transfer)
 * counts as "downloaded" once it has had every byte.
 *
 * One range per request: a request for several ranges is answered with the whole file (RFC 9110
 * lets a server ignore Range), which terminals — they ask for one piece at a time — do not do.
 */
import { monotonicMs } from '../core/clock.ts';

export type RangeAnswer =
  | { readonly kind: 'whole' }
  | { readonly kind: 'part'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

/** What to send for a Range header (undefined: none) on a file of `size` bytes; `end` is inclusive. */
export function readRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=(.+)$/i.exec(header); // the spec is trimmed below (`\s*(.+)` was quadratic)
  if (!match) return { kind: 'whole' }; // another unit: ignored
  const specs = (match[1] as string).split(',').map((s) => s.trim());
  if (specs.length !== 1) return { kind: 'whole' };
  const spec = /^(\d*)-(\d*)$/.exec(specs[0] as string);
  if (!spec || (spec[1] === '' && spec[2] === '')) return { kind: 'whole' }; // malformed: ignored
  if (spec[1] === '') {
    const suffix = Number(spec[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(spec[1]);
  const end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1);
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'whole' }; // "bytes=9-3" is invalid: ignored
  return { kind: 'part', start, end };
}

interface Pieces {
  /** Sent byte spans [start, end] (inclusive), merged and sorted. */
  spans: [number, number][];
  touchedAt: number;
}

/**
 * The bytes of each file each downloader (account + address) has been sent. Kept in memory for
 * an hour after the last piece (a transfer is not resumed a day later) and for at most 10 000
 * downloaders at once.
 */
export class DownloadCoverage {
  readonly #pieces = new Map<string, Pieces>();
  readonly #ttlMs: number;

  constructor(ttlMs = 60 * 60_000) {
    this.#ttlMs = ttlMs;
  }

  /** Notes that bytes [start, end] of a file of `size` bytes reached `who`; true when `who` now has all of it. */
  add(who: string, size: number, start: number, end: number, now = monotonicMs()): boolean {
    this.#forget(now);
    const entry = this.#pieces.get(who) ?? { spans: [], touchedAt: now };
    entry.touchedAt = now;
    const spans = [...entry.spans, [start, end] as [number, number]].sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const span of spans) {
      const last = merged.at(-1);
      if (last && span[0] <= last[1] + 1) last[1] = Math.max(last[1], span[1]);
      else merged.push([span[0], span[1]]);
    }
    const whole = merged.length === 1 && merged[0]?.[0] === 0 && (merged[0]?.[1] ?? -1) >= size - 1;
    if (whole) {
      this.#pieces.delete(who);
      return true;
    }
    entry.spans = merged;
    this.#pieces.delete(who); // re-insert: the map stays in order of last use
    this.#pieces.set(who, entry);
    return false;
  }

  #forget(now: number): void {
    for (const [who, entry] of this.#pieces) {
      if (now - entry.touchedAt <= this.#ttlMs && this.#pieces.size <= 10_000) break;
      this.#pieces.delete(who);
    }
  }
}
