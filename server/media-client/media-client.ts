/**
 * The control plane's end of the media control channel (media/control/media-control-protocol.ts):
 * a MediaControl whose calls go over the Unix socket to the media service through the shared
 * request client (server/core/request-client.ts: ids, per-call timeout, reconnect), and the
 * media service's events re-emitted here. It reconnects by itself when the media service
 * restarts; calls made while it is away fail at once with VCBOX_ERR_MEDIA_UNAVAILABLE (a
 * caller gets a clean 503, not a hang).
 */
import { EventEmitter } from 'node:events';
import { MAX_LINE_BYTES, MEDIA_METHODS, type MediaControl, type MediaEvents } from '../../media/control/media-control-protocol.ts';
import { createError } from '../core/errors.ts';
import { RequestClient } from '../core/request-client.ts';

export class MediaClient extends EventEmitter<MediaEvents & { connect: []; disconnect: [] }> {
  readonly #client: RequestClient;
  /** The typed calls: `client.media.joinSip(…)`. */
  readonly media: MediaControl;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    super();
    this.#client = new RequestClient(socketPath, {
      peer: 'the media service',
      maxLineBytes: MAX_LINE_BYTES,
      timeoutMs: options.timeoutMs ?? 10_000,
      keepConnected: true,
      unavailable: (reason) => createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason }),
      onEvent: (event, args) => (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args),
    });
    this.#client.on('connect', () => this.emit('connect'));
    this.#client.on('disconnect', () => this.emit('disconnect'));
    const media: Record<string, (...params: unknown[]) => Promise<unknown>> = {};
    for (const method of MEDIA_METHODS) media[method] = (...params: unknown[]) => this.#client.call(method, params);
    this.media = media as unknown as MediaControl;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Starts connecting (and reconnecting); resolves at the first connection or after `waitMs`. */
  start(waitMs = 0): Promise<boolean> {
    return this.#client.start(waitMs);
  }

  close(): void {
    this.#client.close();
  }
}
