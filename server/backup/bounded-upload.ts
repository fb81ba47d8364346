/**
 * Receiving an uploaded file (a backup to restore, a release package to install) into a file on
 * disk without ever holding it in memory or writing more than a limit: a declared length over
 * the limit is refused before anything is read; a body that grows past it is refused at that
 * byte, read on (and dropped) a while so the client hears the answer, then cut off. Whoever
 * calls it removes the file on failure. What the file means is the caller's.
 */
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

/** Bytes of an over-limit upload read and thrown away (so the client hears the 413) before the connection is cut. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * Streams `body` into the new file `file` (mode 0600); resolves with the size. Over `limit`
 * bytes (declared or received) it rejects with `tooLarge()`.
 */
export function receiveUpload(body: Readable, declaredLength: number | undefined, file: string, limit: number, tooLarge: () => Error): Promise<number> {
  if (declaredLength !== undefined && declaredLength > limit) return Promise.reject(tooLarge());
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
        // Read on (and drop) so the client gets the answer; a sender that never stops is cut off.
        if (received > limit + DISCARD_LIMIT) body.destroy();
        return;
      }
      if (received > limit) return fail(tooLarge());
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
