/**
 * Cuts a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3): headers up to CRLFCRLF, then
 * exactly Content-Length bytes of body. CRLF keep-alives between messages are skipped (RFC 5626
 * double-CRLF pings are answered by the transport). A message without Content-Length or larger
 * than MAX_MESSAGE_BYTES cannot be framed, so the framer reports it and the connection closes.
 */
import { MAX_MESSAGE_BYTES, SipParseError, headerEnd } from './sip-message.ts';

export type FramerItem = { kind: 'message'; data: Buffer } | { kind: 'ping' } | { kind: 'error'; error: SipParseError };

export class StreamFramer {
  #buffer: Buffer = Buffer.alloc(0);
  #failed = false;

  /** Feeds bytes; returns the complete items they finish. After an error, nothing more. */
  push(chunk: Buffer): FramerItem[] {
    if (this.#failed) return [];
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const items: FramerItem[] = [];
    for (;;) {
      // Keep-alives: "\r\n\r\n" is a ping (answer "\r\n"), a lone "\r\n" a pong.
      let skipped = 0;
      while (this.#buffer[skipped] === 0x0d && this.#buffer[skipped + 1] === 0x0a) skipped += 2;
      if (skipped > 0) {
        if (skipped >= 4) items.push({ kind: 'ping' });
        this.#buffer = this.#buffer.subarray(skipped);
      }
      if (this.#buffer.length === 0) break;
      const end = headerEnd(this.#buffer);
      if (end < 0) {
        if (this.#buffer.length > MAX_MESSAGE_BYTES) return this.#fail(items, `headers longer than ${MAX_MESSAGE_BYTES} bytes`);
        break;
      }
      const head = this.#buffer.subarray(0, end).toString('latin1');
      const match = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\S*)/i.exec(head);
      if (!match) return this.#fail(items, 'missing Content-Length header (required over TCP/TLS)');
      const raw = match[1] ?? '';
      if (!/^\d{1,9}$/.test(raw)) return this.#fail(items, `invalid Content-Length "${raw.slice(0, 20)}"`);
      const total = end + Number(raw);
      if (total > MAX_MESSAGE_BYTES) return this.#fail(items, `message larger than ${MAX_MESSAGE_BYTES} bytes`);
      if (this.#buffer.length < total) break;
      items.push({ kind: 'message', data: Buffer.from(this.#buffer.subarray(0, total)) });
      this.#buffer = this.#buffer.subarray(total);
    }
    return items;
  }

  #fail(items: FramerItem[], reason: string): FramerItem[] {
    this.#failed = true;
    this.#buffer = Buffer.alloc(0);
    items.push({ kind: 'error', error: new SipParseError(reason) });
    return items;
  }
}
