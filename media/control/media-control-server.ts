/**
 * The media service's end of the control channel (./media-control-protocol.ts): listens on
 * the Unix socket, runs requests against the MediaService and pushes its events to every
 * connected control plane. A malformed line is answered with an error, never a crash.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import { getLogger } from '../../server/logging/logger.ts';
import { listenOnUnixSocket } from '../../server/process/unix-socket.ts';
import type { MediaService } from '../media-service.ts';
import { MAX_LINE_BYTES, MEDIA_EVENTS, MEDIA_METHODS, type MediaMethod } from './media-control-protocol.ts';

const log = getLogger('media-control');

export class MediaControlServer {
  readonly #service: MediaService;
  readonly #socketPath: string;
  readonly #server: net.Server;
  readonly #clients = new Set<net.Socket>();
  #closed = false;

  constructor(service: MediaService, socketPath: string) {
    this.#service = service;
    this.#socketPath = socketPath;
    this.#server = net.createServer((socket) => this.#accept(socket));
    for (const event of MEDIA_EVENTS) {
      service.on(event, (...args: unknown[]) => this.#broadcast({ event, args }));
    }
  }

  async listen(): Promise<void> {
    await listenOnUnixSocket(this.#server, this.#socketPath);
    log.info({ socket: this.#socketPath }, 'media control channel listening');
  }

  #accept(socket: net.Socket): void {
    this.#clients.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES && !buffered.includes('\n')) {
        socket.end(`${JSON.stringify({ id: null, error: { code: 'VCBOX_ERR_BAD_REQUEST', message: `control line longer than ${MAX_LINE_BYTES} bytes` } })}\n`);
        return;
      }
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) void this.#handle(socket, line);
        newline = buffered.indexOf('\n');
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#clients.delete(socket));
  }

  async #handle(socket: net.Socket, line: string): Promise<void> {
    let id: unknown = null;
    try {
      const request = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
      id = request.id ?? null;
      const method = request.method as MediaMethod;
      if (!MEDIA_METHODS.includes(method)) throw Object.assign(new Error(`unknown method ${String(request.method)}`), { code: 'VCBOX_ERR_BAD_REQUEST' });
      const params = Array.isArray(request.params) ? request.params : [];
      const result =
        method === 'ping'
          ? { meetings: this.#service.meetingCount, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) }
          : await (this.#service[method] as (...args: unknown[]) => unknown).apply(this.#service, params);
      this.#write(socket, { id, result: result ?? null });
    } catch (error) {
      const err = error as Error & { code?: string; params?: Record<string, unknown> };
      this.#write(socket, { id, error: { code: err.code ?? 'VCBOX_ERR_INTERNAL', message: err.message, params: err.params ?? {} } });
    }
  }

  #write(socket: net.Socket, message: unknown): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  }

  #broadcast(message: unknown): void {
    for (const socket of this.#clients) this.#write(socket, message);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#clients) socket.destroy();
    this.#server.close();
    rmSync(this.#socketPath, { force: true });
  }
}
