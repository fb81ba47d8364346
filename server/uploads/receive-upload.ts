/**
 * Receiving a file an administrator uploads as a request body (a backup to restore, a terminal
 * firmware file): streamed to a new file on disk, never held in memory, with a size bound
 * checked on every chunk, and an optional look at each chunk (a running checksum). A refused or
 * broken upload rejects and leaves only the partly written file, which the caller deletes (it
 * owns the folder: a staging folder, a temporary name).
 *
 * After a refusal the rest of the body is read and thrown away, up to DISCARD_LIMIT bytes, so the
 * client hears the answer instead of a reset connection; a sender that never stops is cut off.
 * What the limit is and what to say when it is passed belong to the caller.
 */
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/** Bytes of a refused upload read and dropped (so the client gets the answer) before the connection is cut. */
export const DISCARD_LIMIT = 64 * 1024 * 1024;

export interface UploadBounds {
  /** The most bytes accepted; one more and the upload is refused with `tooLarge()`. */
  readonly limit: number;
  /** The refusal when the body grows past `limit` (`received`: the bytes seen so far). */
  readonly tooLarge: (received: number) => Error;
  /** Sees every accepted chunk before it is written (e.g. to hash the file). */
  readonly onChunk?: (chunk: Buffer) => void;
}

/** Streams `body` into the new file `file` (created exclusively, mode 0600); resolves with its size. */
export function receiveUpload(body: Readable, file: string, bounds: UploadBounds): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    let received = 0;
    let failed: Error | undefined;
    const fail = (error: Error) => {
      if (failed) return;
      failed = error;
      out.destroy();
      reject(error);
    };
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (failed) {
        if (received > bounds.limit + DISCARD_LIMIT) body.destroy();
        return;
      }
      if (received > bounds.limit) return fail(bounds.tooLarge(received));
      bounds.onChunk?.(chunk);
      if (!out.write(chunk)) {
        body.pause();
        out.once('drain', () => body.resume());
      }
    });
    body.on('end', () => {
      if (!failed) out.end();
    });
    body.on('error', (error) => fail(error));
    body.on('close', () => {
      if (!body.readableEnded) fail(new Error('the upload was interrupted'));
    });
    out.on('error', (error) => fail(error));
    out.on('finish', () => {
      if (!failed) resolve(received);
    });
  });
}

/**
 * Reads a body that is refused before any of it was stored (a wrong file name, say) to its end,
 * up to DISCARD_LIMIT bytes, so the refusal reaches the client; then the caller throws it.
 */
export function discardUpload(body: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (body.readableEnded || body.destroyed) return resolve();
    let received = 0;
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > DISCARD_LIMIT) body.destroy();
    });
    body.once('end', () => resolve());
    body.once('close', () => resolve());
    body.once('error', () => resolve());
    body.resume();
  });
}
