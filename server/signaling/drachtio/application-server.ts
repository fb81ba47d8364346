/**
 * The signaling service's side of drachtio's wire protocol towards SIP applications
 * (drachtio-srf): a TCP listener (loopback by default) where applications connect,
 * authenticate with the shared secret, register routes per SIP method, ping, and send `sip`
 * and `proxy` commands. Authentication, routes and pings are handled here; `sip`/`proxy`
 * commands are handed to the signaling core. Routing picks connections round-robin.
 * Wire format: shared/notes/drachtio-wire-protocol.md §2-3.
 */
import { timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import { type Frame, FrameDecoder, encodeFrame, newMessageId } from './wire-frames.ts';

const log = getLogger('drachtio-server');

export class AppConnection {
  readonly id: string;
  readonly socket: net.Socket;
  authenticated = false;
  tags: string[] = [];
  readonly routes = new Set<string>();
  #closed = false;

  constructor(id: string, socket: net.Socket) {
    this.id = id;
    this.socket = socket;
  }

  get open(): boolean {
    return !this.#closed && !this.socket.destroyed;
  }

  markClosed(): void {
    this.#closed = true;
  }

  #corked = false;

  /** Sends a frame `<new id>|…tokens` (+ SIP message). Frames of one tick go out in one write. */
  send(tokens: readonly string[], sip?: Buffer): void {
    if (!this.open) return;
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(encodeFrame([newMessageId(), ...tokens], sip));
  }

  /** Answers the application's message `msgId`. */
  reply(msgId: string, tokens: readonly string[], sip?: Buffer): void {
    this.send(['response', msgId, ...tokens], sip);
  }
}

export interface ApplicationServerEvents {
  /** A `sip` command: tokens after the command name, and the SIP message. */
  sip: [connection: AppConnection, msgId: string, args: string[], message: Buffer | undefined];
  proxy: [connection: AppConnection, msgId: string, args: string[], message: Buffer | undefined];
  closed: [connection: AppConnection];
}

export interface ApplicationServerOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  /** Answered in the authentication reply: `proto/host:port,…` of the SIP listeners. */
  readonly hostports: () => string;
  readonly version: string;
}

export class ApplicationServer extends EventEmitter<ApplicationServerEvents> {
  readonly #options: ApplicationServerOptions;
  readonly #connections = new Map<string, AppConnection>();
  readonly #roundRobin = new Map<string, number>();
  #server: net.Server | undefined;
  #nextId = 1;
  #local = { address: '', port: 0 };

  constructor(options: ApplicationServerOptions) {
    super();
    this.#options = options;
  }

  get local() {
    return this.#local;
  }

  get connections(): AppConnection[] {
    return [...this.#connections.values()].filter((c) => c.authenticated && c.open);
  }

  listen(): Promise<void> {
    const server = net.createServer((socket) => this.#accept(socket));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (error) =>
        reject(createError('VCBOX_ERR_LISTEN', { transport: 'TCP (application port)', address: this.#options.host, port: this.#options.port, reason: error.message }, error)),
      );
      server.listen(this.#options.port, this.#options.host, () => {
        const address = server.address() as net.AddressInfo;
        this.#local = { address: address.address, port: address.port };
        server.removeAllListeners('error');
        server.on('error', (error) => log.error({ err: error }, 'application listener error'));
        resolve();
      });
    });
  }

  /** One authenticated connection that routed `verb` (round-robin), or undefined. */
  pick(verb: string): AppConnection | undefined {
    const candidates = this.connections.filter((c) => c.routes.has(verb));
    if (candidates.length === 0) return undefined;
    const next = ((this.#roundRobin.get(verb) ?? -1) + 1) % candidates.length;
    this.#roundRobin.set(verb, next);
    return candidates[next];
  }

  #accept(socket: net.Socket): void {
    const connection = new AppConnection(`app-${this.#nextId++}`, socket);
    this.#connections.set(connection.id, connection);
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    log.info({ connection: connection.id, from: `${socket.remoteAddress}:${socket.remotePort}` }, 'application connected');
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        log.warn({ connection: connection.id, reason: (error as Error).message }, 'unframeable data from application; closing');
        socket.destroy();
        return;
      }
      for (const frame of frames) this.#onFrame(connection, frame);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      connection.markClosed();
      this.#connections.delete(connection.id);
      log.info({ connection: connection.id }, 'application disconnected');
      this.emit('closed', connection);
    });
  }

  #onFrame(connection: AppConnection, frame: Frame): void {
    const [msgId = '', command = '', ...args] = frame.tokens;
    if (command === 'authenticate') {
      const offered = Buffer.from(args[0] ?? '');
      const expected = Buffer.from(this.#options.secret);
      if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) {
        log.warn({ connection: connection.id }, 'application gave a wrong secret');
        connection.reply(msgId, ['NO', 'incorrect secret']);
        connection.socket.end();
        return;
      }
      connection.authenticated = true;
      connection.tags = (args[1] ?? '').split(',').filter((t) => t !== '');
      const hostports = this.#options.hostports();
      connection.reply(msgId, ['OK', hostports, this.#options.version, hostports]);
      return;
    }
    if (!connection.authenticated) {
      connection.reply(msgId, ['NO', 'not authenticated']);
      connection.socket.end();
      return;
    }
    switch (command) {
      case 'route':
        connection.routes.add((args[0] ?? '').toLowerCase());
        connection.reply(msgId, ['OK']);
        return;
      case 'remove_route':
        connection.routes.delete((args[0] ?? '').toLowerCase());
        connection.reply(msgId, ['OK']);
        return;
      case 'ping':
        connection.reply(msgId, ['OK', 'pong']);
        return;
      case 'sip':
        this.emit('sip', connection, msgId, args, frame.sip);
        return;
      case 'proxy':
        this.emit('proxy', connection, msgId, args, frame.sip);
        return;
      default:
        connection.reply(msgId, ['NO', 'Unknown message type']);
    }
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const connection of this.#connections.values()) connection.socket.destroy();
    this.#connections.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
