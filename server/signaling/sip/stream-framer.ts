/**
 * Cuts a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3): headers up to CRLFCRLF, then
 * exactly Content-Length bytes of body. CRLF keep-alives between messages are skipped (RFC 5626
 * double-CRLF pings are answered by the transport). A message without Content-Length or larger
 * than MAX_MESSAGE_BYTES cannot be framed, so the framer reports it and the connection closes.
 *
 * The work per byte is bounded whatever the peer's pace: bytes are appended into storage that
 * doubles (not copied again on every read), and the search for the end of the headers resumes
 * where the previous one stopped — a peer trickling a 64 KiB header block one byte per segment
 * costs linear time, not 64 KiB per byte.
 */
import { MAX_MESSAGE_BYTES, SipParseError, headerEnd } from './sip-message.ts';

/** An error carries the start of what could not be framed (up to 8 KiB), to answer it from. */
export type FramerItem = { kind: 'message'; data: Buffer } | { kind: 'ping' } | { kind: 'error'; error: SipParseError; head: Buffer };

const ERROR_HEAD_BYTES = 8192;

export class StreamFramer {
  /** Bytes not framed yet; a view into #storage once two reads had to be joined. */
  #buffer: Buffer = Buffer.alloc(0);
  /** Storage this framer allocated for joining reads (never a pooled or a caller's buffer). */
  #storage: Buffer | undefined;
  /** How many bytes at the start of #buffer are known to hold no CRLFCRLF. */
  #searched = 0;
  #failed = false;

  /** Bytes received and not yet framed: a message under way (0 between messages). */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Feeds bytes; returns the complete items they finish. After an error, nothing more. */
  push(chunk: Buffer): FramerItem[] {
    if (this.#failed) return [];
    this.#append(chunk);
    const items: FramerItem[] = [];
    for (;;) {
      // Keep-alives: "\r\n\r\n" is a ping (answer "\r\n"), a lone "\r\n" a pong.
      let skipped = 0;
      while (this.#buffer[skipped] === 0x0d && this.#buffer[skipped + 1] === 0x0a) skipped += 2;
      if (skipped > 0) {
        if (skipped >= 4) items.push({ kind: 'ping' });
        this.#buffer = this.#buffer.subarray(skipped);
        this.#searched = 0;
      }
      if (this.#buffer.length === 0) break;
      const end = headerEnd(this.#buffer, Math.max(0, this.#searched - 3));
      if (end < 0) {
        if (this.#buffer.length > MAX_MESSAGE_BYTES) return this.#fail(items, `headers longer than ${MAX_MESSAGE_BYTES} bytes`, 513);
        this.#searched = this.#buffer.length;
        break;
      }
      const head = this.#buffer.subarray(0, end).toString('latin1');
      const match = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\S*)/i.exec(head);
      if (!match) return this.#fail(items, 'missing Content-Length header (required over TCP/TLS)');
      const raw = match[1] ?? '';
      if (!/^\d{1,9}$/.test(raw)) return this.#fail(items, `invalid Content-Length "${raw.slice(0, 20)}"`);
      const total = end + Number(raw);
      if (total > MAX_MESSAGE_BYTES) return this.#fail(items, `message larger than ${MAX_MESSAGE_BYTES} bytes`, 513);
      if (this.#buffer.length < total) break;
      items.push({ kind: 'message', data: Buffer.from(this.#buffer.subarray(0, total)) });
      this.#buffer = this.#buffer.subarray(total);
      this.#searched = 0;
    }
    return items;
  }

  /** Adds a read after the pending bytes, growing the storage by doubling when it is full. */
  #append(chunk: Buffer): void {
    if (this.#buffer.length === 0) {
      this.#buffer = chunk;
      this.#searched = 0;
      return;
    }
    const length = this.#buffer.length + chunk.length;
    const storage = this.#storage;
    const offset = storage && this.#buffer.buffer === storage.buffer ? this.#buffer.byteOffset - storage.byteOffset : -1;
    if (storage && offset >= 0 && offset + length <= storage.length) {
      chunk.copy(storage, offset + this.#buffer.length);
      this.#buffer = storage.subarray(offset, offset + length);
      return;
    }
    // Bounded: pending bytes never exceed MAX_MESSAGE_BYTES plus one read before #fail.
    const grown = Buffer.allocUnsafeSlow(Math.max(4096, 2 * length));
    this.#buffer.copy(grown, 0);
    chunk.copy(grown, this.#buffer.length);
    this.#storage = grown;
    this.#buffer = grown.subarray(0, length);
  }

  #fail(items: FramerItem[], reason: string, status: 400 | 513 = 400): FramerItem[] {
    const head = Buffer.from(this.#buffer.subarray(0, ERROR_HEAD_BYTES));
    this.#failed = true;
    this.#buffer = Buffer.alloc(0);
    this.#storage = undefined;
    items.push({ kind: 'error', error: new SipParseError(reason, status), head });
    return items;
  }
}
