/**
 * drachtio wire protocol framing (shared/notes/drachtio-wire-protocol.md §2):
 * `<byte length>#<payload>`, payload = `token|token|…` then optionally CRLF and a SIP message.
 * Frames are cut by bytes, not characters, and one read may carry several frames or part of
 * one. A connection that sends something that is not a frame is reported, never guessed at.
 */
import { randomUUID } from 'node:crypto';

/** Largest frame accepted from an application (a SIP message is at most 64 KiB). */
export const MAX_FRAME_BYTES = 1024 * 1024;
const CRLF = '\r\n';

export interface Frame {
  readonly tokens: string[];
  /** The SIP message after the leader, or undefined when the frame has none. */
  readonly sip: Buffer | undefined;
}

export class FrameError extends Error {}

export class FrameDecoder {
  #buffer: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns the frames they complete. Throws FrameError on garbage. */
  push(chunk: Buffer): Frame[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const hash = this.#buffer.indexOf(0x23); // '#'
      if (hash < 0) {
        if (this.#buffer.length > 10 || /[^0-9]/.test(this.#buffer.toString('latin1'))) {
          throw new FrameError('expected "<length>#" at the start of a frame');
        }
        break;
      }
      const digits = this.#buffer.subarray(0, hash).toString('latin1');
      if (!/^\d{1,9}$/.test(digits)) throw new FrameError(`invalid frame length "${digits.slice(0, 12)}"`);
      const length = Number(digits);
      if (length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
      const end = hash + 1 + length;
      if (this.#buffer.length < end) break;
      frames.push(parsePayload(this.#buffer.subarray(hash + 1, end)));
      this.#buffer = this.#buffer.subarray(end);
    }
    return frames;
  }
}

function parsePayload(payload: Buffer): Frame {
  const crlf = payload.indexOf(CRLF, 0, 'latin1');
  const leader = (crlf < 0 ? payload : payload.subarray(0, crlf)).toString('utf8');
  return { tokens: leader.split('|'), sip: crlf < 0 ? undefined : Buffer.from(payload.subarray(crlf + 2)) };
}

/** Encodes a frame; tokens must not contain `|`, CR or LF (they are replaced). */
export function encodeFrame(tokens: readonly string[], sip?: Buffer): Buffer {
  const leader = Buffer.from(tokens.map((t) => t.replace(/[|\r\n]/g, ' ')).join('|'), 'utf8');
  const payload = sip ? Buffer.concat([leader, Buffer.from(CRLF), sip]) : leader;
  return Buffer.concat([Buffer.from(`${payload.length}#`), payload]);
}

export function newMessageId(): string {
  return randomUUID();
}

/** drachtio's time token: UTC `HH:MM:SS.uuuuuu`. */
export function wireTime(date = new Date()): string {
  const iso = date.toISOString(); // 2026-11-22T02:03:04.567Z
  return `${iso.slice(11, 19)}.${iso.slice(20, 23)}000`;
}
