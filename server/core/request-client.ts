/**
 * The client end of a line-JSON control channel (./line-json-ipc.ts has the server end and the
 * line reader): requests `{"id","method","params"}` over a Unix socket, answers matched by id
 * (in any order) through a map of pending calls, each with its own timeout, and events
 * (`{"event","args"}`) handed to `onEvent`. Two ways to stay connected:
 * - `keepConnected` (the media client): `start()` connects and reconnects by itself whenever the
 *   connection is lost; a call made while it is away fails at once;
 * - otherwise (the signaling control client) a call connects when there is no connection and
 *   the connection is kept for the next call (it does not keep the process alive).
 * Whatever goes wrong on the way — not running, connection lost mid-call, no answer in time —
 * rejects with the channel's own "unavailable" error (`unavailable(reason)`); an error answer
 * rejects with the code, message and params the server sent.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { readLines } from './line-json-ipc.ts';
import { getLogger } from './logger.ts';

const log = getLogger('control-client');

export interface RequestClientOptions {
  /** Who answers, for the log and the reasons ("the media service"). */
  readonly peer: string;
  /** Longest answer line accepted (a longer one drops the connection). */
  readonly maxLineBytes: number;
  /** How long a call waits for its answer. */
  readonly timeoutMs: number;
  /** The error a call rejects with when the peer cannot answer, with the reason in words. */
  readonly unavailable: (reason: string) => Error;
  /** Reconnect by itself after `start()` (and after every loss); default false. */
  readonly keepConnected?: boolean;
  /** Wait before reconnecting (default 250 ms). */
  readonly retryMs?: number;
  /** An event line the peer pushed. */
  readonly onEvent?: (event: string, args: unknown[]) => void;
}

/** An error answer as the server sent it. */
export type RemoteError = Error & { code: string; params: Record<string, unknown> };

interface Pending {
  readonly method: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly timer: NodeJS.Timeout;
}

export class RequestClient extends EventEmitter<{ connect: []; disconnect: [] }> {
  readonly #socketPath: string;
  readonly #options: RequestClientOptions;
  readonly #pending = new Map<number, Pending>();
  #socket: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #failConnecting: ((error: Error) => void) | undefined;
  #connected = false;
  #nextId = 1;
  #retry: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(socketPath: string, options: RequestClientOptions) {
    super();
    this.#socketPath = socketPath;
    this.#options = options;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Calls waiting for their answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Starts connecting and (with `keepConnected`) reconnecting; resolves true at the first
   * connection, or false after `waitMs` without one.
   */
  start(waitMs = 0): Promise<boolean> {
    this.#started = true;
    void this.#connect().catch(() => {});
    if (this.#connected || waitMs <= 0) return Promise.resolve(this.#connected);
    return new Promise((resolve) => {
      const onConnect = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.off('connect', onConnect);
        resolve(false);
      }, waitMs);
      this.once('connect', onConnect);
    });
  }

  #connect(): Promise<net.Socket> {
    if (this.#closed) return Promise.reject(this.#options.unavailable('the client is closed'));
    if (this.#socket && this.#connected) return Promise.resolve(this.#socket);
    if (this.#connecting) return this.#connecting;
    const socket = net.createConnection(this.#socketPath);
    this.#socket = socket;
    if (!this.#options.keepConnected) socket.unref();
    this.#connecting = new Promise<net.Socket>((resolve, reject) => {
      this.#failConnecting = reject;
      socket.once('connect', () => {
        this.#connecting = undefined;
        this.#failConnecting = undefined;
        this.#connected = true;
        log.info({ socket: this.#socketPath }, `connected to ${this.#options.peer}`);
        resolve(socket);
        this.emit('connect');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (this.#connected) return;
        this.#connecting = undefined;
        this.#failConnecting = undefined;
        reject(this.#options.unavailable(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? `${this.#options.peer} is not running` : error.message));
      });
    });
    this.#connecting.catch(() => {});
    readLines(
      socket,
      this.#options.maxLineBytes,
      (line) => this.#receive(line),
      () => {
        log.warn({ maxLineBytes: this.#options.maxLineBytes }, `${this.#options.peer} sent a line past the bound; reconnecting`);
        socket.destroy();
      },
    );
    socket.on('close', () => this.#lost(socket));
    return this.#connecting;
  }

  #lost(socket: net.Socket): void {
    if (this.#socket !== socket) return;
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#socket = undefined;
    this.#connecting = undefined;
    this.#failConnecting?.(this.#options.unavailable(`connection closed before ${this.#options.peer} accepted it`));
    this.#failConnecting = undefined;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(this.#options.unavailable(`connection closed: ${this.#options.peer} went away before it answered ${pending.method}`));
    }
    if (wasConnected) {
      if (!this.#closed) log.warn(`lost ${this.#options.peer}${this.#options.keepConnected ? '; reconnecting' : ''}`);
      this.emit('disconnect');
    }
    if (this.#options.keepConnected && this.#started && !this.#closed) {
      this.#retry = setTimeout(() => void this.#connect().catch(() => {}), this.#options.retryMs ?? 250);
    }
  }

  #receive(line: string): void {
    let message: { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; params?: unknown }; event?: unknown; args?: unknown };
    try {
      message = JSON.parse(line);
    } catch {
      log.warn(`${this.#options.peer} sent a line that is not JSON; ignored`);
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    if (typeof message.event === 'string') {
      this.#options.onEvent?.(message.event, Array.isArray(message.args) ? message.args : []);
      return;
    }
    const pending = typeof message.id === 'number' ? this.#pending.get(message.id) : undefined;
    if (!pending) {
      if (message.error) log.warn({ error: message.error }, `${this.#options.peer} answered an error to no call`);
      return;
    }
    this.#pending.delete(message.id as number);
    clearTimeout(pending.timer);
    if (message.error) {
      const { code, message: text, params } = message.error;
      pending.reject(
        Object.assign(new Error(typeof text === 'string' ? text : `${pending.method} failed`), {
          code: typeof code === 'string' ? code : 'VCBOX_ERR_INTERNAL',
          params: typeof params === 'object' && params !== null ? (params as Record<string, unknown>) : {},
        }),
      );
    } else {
      pending.resolve(message.result);
    }
  }

  /** Sends one request; its answer's result, or the error it was answered with. */
  async call(method: string, params: readonly unknown[] = []): Promise<unknown> {
    let socket: net.Socket;
    if (this.#options.keepConnected) {
      if (!this.#socket || !this.#connected) throw this.#options.unavailable(`not connected to ${this.#options.peer}`);
      socket = this.#socket;
    } else {
      socket = await this.#connect();
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(this.#options.unavailable(`${this.#options.peer} gave no answer to ${method} within ${this.#options.timeoutMs} ms`));
      }, this.#options.timeoutMs);
      this.#pending.set(id, { method, resolve, reject, timer });
      socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  /** Drops the connection (calls in flight fail as unavailable) and stops reconnecting. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#socket?.destroy();
  }
}
