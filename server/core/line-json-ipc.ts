/**
 * The control channels between the box's processes — the media service's (media/control) and
 * the signaling service's (server/signaling/signaling-control.ts) — are the same thing at
 * their server end: newline-delimited JSON over a Unix socket in `<dataDir>/run`, readable by
 * the box's user only (the folder 0700, the socket 0600, a stale socket file of a previous run
 * removed), each request line `{"id":…,"method":"…","params":[…]}` answered with `{"id":…,
 * "result":…}` or `{"id":…,"error":{"code","message","params"}}`, events pushed to every client,
 * a line longer than the bound refused and the connection ended. The one line reader both ends
 * use is `readLines`. What the methods do, and the clients, belong to each channel.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { getLogger } from './logger.ts';

const log = getLogger('control-socket');

/**
 * Reads newline-delimited lines from a socket (set to utf8 here): `onLine` for each complete,
 * non-blank line; `onTooLong` once, when an unfinished line grows past `maxLineBytes` (the
 * reader then stops delivering).
 */
export function readLines(socket: net.Socket, maxLineBytes: number, onLine: (line: string) => void, onTooLong: () => void): void {
  socket.setEncoding('utf8');
  let buffered = '';
  let refused = false;
  socket.on('data', (chunk: string) => {
    if (refused) return;
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) onLine(line);
      newline = buffered.indexOf('\n');
    }
    if (buffered.length > maxLineBytes) {
      refused = true;
      buffered = '';
      onTooLong();
    }
  });
}

export interface ControlSocketOptions {
  /** What the channel is, for the log ("media control channel"). */
  readonly name: string;
  /** Longest request line accepted. */
  readonly maxLineBytes: number;
  /** Runs one request; what it returns (or throws: code, message, params) is the answer. */
  readonly call: (method: unknown, params: unknown[]) => unknown;
}

export class ControlSocketServer {
  readonly #socketPath: string;
  readonly #options: ControlSocketOptions;
  readonly #server: net.Server;
  readonly #clients = new Set<net.Socket>();
  #closed = false;

  constructor(socketPath: string, options: ControlSocketOptions) {
    this.#socketPath = socketPath;
    this.#options = options;
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  listen(): Promise<void> {
    mkdirSync(path.dirname(this.#socketPath), { recursive: true, mode: 0o700 });
    rmSync(this.#socketPath, { force: true });
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#socketPath, () => {
        this.#server.off('error', reject);
        chmodSync(this.#socketPath, 0o600);
        log.info({ socket: this.#socketPath }, `${this.#options.name} listening`);
        resolve();
      });
    });
  }

  #accept(socket: net.Socket): void {
    this.#clients.add(socket);
    readLines(
      socket,
      this.#options.maxLineBytes,
      (line) => void this.#handle(socket, line),
      () => socket.end(`${JSON.stringify({ id: null, error: { code: 'VCBOX_ERR_BAD_REQUEST', message: `control line longer than ${this.#options.maxLineBytes} bytes` } })}\n`),
    );
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#clients.delete(socket));
  }

  async #handle(socket: net.Socket, line: string): Promise<void> {
    let id: unknown = null;
    try {
      const request = parseRequest(line);
      id = request.id;
      if (!request.params) throw badRequest(`${String(request.method).slice(0, 60)}: params must be an array`);
      const result = await this.#options.call(request.method, request.params);
      this.#write(socket, { id, result: result ?? null });
    } catch (error) {
      const err = error as Error & { code?: string; params?: Record<string, unknown> };
      this.#write(socket, { id, error: { code: err.code ?? 'VCBOX_ERR_INTERNAL', message: err.message, params: err.params ?? {} } });
    }
  }

  #write(socket: net.Socket, message: unknown): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Pushes an event line to every connected client. */
  broadcast(message: unknown): void {
    for (const socket of this.#clients) this.#write(socket, message);
  }

  /** Stops listening, drops the clients, removes the socket file. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#clients) socket.destroy();
    this.#server.close();
    rmSync(this.#socketPath, { force: true });
  }
}

/**
 * One request line: a JSON object with an `id` (a number or string, answered back), a `method`
 * and `params` (an array; missing is none, anything else undefined here). A line that is not a
 * JSON object is a VCBOX_ERR_BAD_REQUEST saying what was wrong.
 */
function parseRequest(line: string): { id: string | number | null; method: unknown; params: unknown[] | undefined } {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch (error) {
    throw badRequest(`a request line must be JSON (${(error as Error).message}); send {"id":1,"method":"…","params":[…]}`);
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw badRequest('a request must be a JSON object {"id":1,"method":"…","params":[…]}');
  const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
  return { id: typeof id === 'number' || typeof id === 'string' ? id : null, method, params: params === undefined ? [] : Array.isArray(params) ? params : undefined };
}

/** An error a control channel answers with (the code tells the client what it was). */
export function badRequest(message: string): Error {
  return Object.assign(new Error(message), { code: 'VCBOX_ERR_BAD_REQUEST' });
}
