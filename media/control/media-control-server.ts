/**
 * The media service's end of the control channel (./media-control-protocol.ts): listens on
 * the Unix socket (server/core/line-json-ipc.ts), runs requests against the MediaService
 * and pushes its events to every connected control plane. A malformed line is answered with an
 * error, never a crash.
 */
import { badRequest, ControlSocketServer } from '../../server/core/line-json-ipc.ts';
import type { MediaService } from '../media-service.ts';
import { MAX_LINE_BYTES, MEDIA_EVENTS, MEDIA_METHODS, type MediaMethod } from './media-control-protocol.ts';

export class MediaControlServer {
  readonly #service: MediaService;
  readonly #socket: ControlSocketServer;

  constructor(service: MediaService, socketPath: string) {
    this.#service = service;
    this.#socket = new ControlSocketServer(socketPath, { name: 'media control channel', maxLineBytes: MAX_LINE_BYTES, call: (method, params) => this.#call(method, params) });
    for (const event of MEDIA_EVENTS) {
      service.on(event, (...args: unknown[]) => this.#socket.broadcast({ event, args }));
    }
  }

  listen(): Promise<void> {
    return this.#socket.listen();
  }

  #call(method: unknown, params: unknown[]): unknown {
    if (!MEDIA_METHODS.includes(method as MediaMethod)) throw badRequest(`unknown method ${String(method)}`);
    if (method === 'ping') return { meetings: this.#service.meetingCount, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) };
    return (this.#service[method as Exclude<MediaMethod, 'ping'>] as (...args: unknown[]) => unknown).apply(this.#service, params);
  }

  close(): void {
    this.#socket.close();
  }
}
