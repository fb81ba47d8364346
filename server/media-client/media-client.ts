/**
 * The control plane's end of the media control channel (media/control): a MediaControl whose
 * calls go over the Unix socket to the media service, with a per-call timeout, and the media
 * service's events re-emitted here. It reconnects by itself when the media service restarts;
 * calls made while it is away fail at once with VCBOX_ERR_MEDIA_UNAVAILABLE (a caller gets a
 * clean 503, not a hang).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { MAX_LINE_BYTES, MEDIA_METHODS, type MediaControl } from '../../media/control/media-control-protocol.ts';
import type { MediaServiceEvents } from '../../media/media-service.ts';
import { createError } from '../core/errors.ts';
import { readLines } from '../core/line-json-ipc.ts';
import { getLogger } from '../core/logger.ts';

const log = getLogger('media-client');

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class MediaClient extends EventEmitter<MediaServiceEvents & { connect: []; disconnect: [] }> {
  readonly #socketPath: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #socket: net.Socket | undefined;
  #connected = false;
  #nextId = 1;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  /** The typed calls: `client.media.joinSip(…)`. */
  readonly media: MediaControl;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    super();
    this.#socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    const media: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const method of MEDIA_METHODS) media[method] = (...args: unknown[]) => this.#call(method, args);
    this.media = media as unknown as MediaControl;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Starts connecting (and reconnecting); resolves at the first connection or after `waitMs`. */
  start(waitMs = 0): Promise<boolean> {
    this.#connect();
    if (this.#connected || waitMs <= 0) return Promise.resolve(this.#connected);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), waitMs);
      this.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #connect(): void {
    if (this.#closed || this.#socket) return;
    const socket = net.createConnection(this.#socketPath);
    this.#socket = socket;
    socket.on('connect', () => {
      this.#connected = true;
      log.info({ socket: this.#socketPath }, 'connected to the media service');
      this.emit('connect');
    });
    readLines(
      socket,
      MAX_LINE_BYTES,
      (line) => this.#receive(line),
      () => socket.destroy(),
    );
    socket.on('error', () => {});
    socket.on('close', () => {
      const wasConnected = this.#connected;
      this.#connected = false;
      this.#socket = undefined;
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the media service connection closed' }));
        this.#pending.delete(id);
      }
      if (wasConnected) {
        log.warn('lost the media service; reconnecting');
        this.emit('disconnect');
      }
      if (!this.#closed) this.#retry = setTimeout(() => this.#connect(), 250);
    });
  }

  #receive(line: string): void {
    let message: { id?: number; result?: unknown; error?: { code: string; message: string; params?: Record<string, unknown> }; event?: string; args?: unknown[] };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (message.event) {
      (this.emit as (event: string, ...args: unknown[]) => boolean)(message.event, ...(message.args ?? []));
      return;
    }
    const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
    if (!pending || message.id === undefined) return;
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error) pending.reject(Object.assign(new Error(message.error.message), { code: message.error.code, params: message.error.params ?? {} }));
    else pending.resolve(message.result);
  }

  #call(method: string, params: unknown[]): Promise<unknown> {
    const socket = this.#socket;
    if (!socket || !this.#connected) {
      return Promise.reject(createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'not connected' }));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: `${method} got no answer within ${this.#timeoutMs} ms` }));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#socket?.destroy();
  }
}
