/**
 * A fixed-capacity ring buffer: pushing beyond the capacity overwrites the oldest entry, so
 * memory stays bounded however long the box runs. Holds the dashboard's system samples
 * (./system-sampler.ts); knows nothing about what it holds.
 */

export class RingBuffer<T> {
  readonly #items: (T | undefined)[];
  /** Index the next push writes to. */
  #next = 0;
  #size = 0;

  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring buffer capacity must be a positive integer, not ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** The newest entry, if any. */
  latest(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#next - 1 + this.capacity) % this.capacity];
  }

  /** Entries oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(start + i) % this.capacity] as T);
    return out;
  }

  /** The newest entries for which `keep` holds, oldest first (scans back from the newest and stops at the first that fails). */
  newestWhile(keep: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (let i = 1; i <= this.#size; i++) {
      const item = this.#items[(this.#next - i + this.capacity) % this.capacity] as T;
      if (!keep(item)) break;
      out.push(item);
    }
    return out.reverse();
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
