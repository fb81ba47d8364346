/**
 * Terminal logs (spec "Logs"): when the `terminalLogs.enabled` setting is on, the registration
 * and subscription traffic of each terminal — REGISTER/SUBSCRIBE requests and the box's
 * answers — is kept in one file per terminal IP under `<logDir>/terminals/`. Files are bounded
 * (rotated to `.1` past a size); writing never blocks or fails a SIP transaction.
 */
import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { getLogger } from '../../core/logger.ts';

const log = getLogger('terminal-log');

export const TERMINAL_LOG_METHODS = new Set(['REGISTER', 'SUBSCRIBE']);

export class TerminalLog {
  readonly #dir: string;
  readonly #maxBytes: number;
  /** Writes per file in order, without overlapping. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(dir: string, maxBytes = 2 * 1024 * 1024) {
    this.#dir = dir;
    this.#maxBytes = maxBytes;
  }

  static fileName(address: string): string {
    return `${address.replace(/[^0-9A-Za-z.]/g, '_')}.log`;
  }

  record(address: string, direction: 'in' | 'out', data: Buffer): void {
    const file = path.join(this.#dir, TerminalLog.fileName(address));
    const entry = `----- ${new Date().toISOString()} ${direction === 'in' ? 'from' : 'to'} ${address}\n${data.toString('utf8')}\n`;
    const previous = this.#queues.get(file) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        await mkdir(this.#dir, { recursive: true });
        const size = await stat(file).then((s) => s.size, () => 0);
        if (size > this.#maxBytes) await rename(file, `${file}.1`);
        await appendFile(file, entry);
      })
      .catch((error: Error) => log.warn({ file, err: error.message }, 'could not write the terminal log'));
    this.#queues.set(file, next);
    void next.then(() => {
      if (this.#queues.get(file) === next) this.#queues.delete(file);
    });
  }

  /** Resolves when everything queued so far is written (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all(this.#queues.values());
  }
}
