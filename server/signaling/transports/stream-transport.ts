/**
 * SIP over TCP and over TLS (RFC 3261 §18): a listener that frames each connection's bytes
 * into messages and remembers connections by id, so replies and later requests to a terminal
 * go back over the connection it opened (essential behind NAT). Idle connections are closed
 * after a while; a connection that sends something unframeable gets its 400 and is closed.
 * A port change (`rebind`) opens the new listener first and then stops the old one accepting;
 * connections already open stay (registered terminals keep their connection and their calls).
 * A new certificate (`setCertificate`) is used for handshakes from then on.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { createError } from '../../errors.ts';
import { getLogger } from '../../logging/logger.ts';
import { StreamFramer } from '../sip/stream-framer.ts';
import type { MessageSource, SipTransport, SipTransportEvents } from './sip-transport.ts';

const log = getLogger('sip-stream-transport');

export interface StreamTransportOptions {
  readonly host: string;
  readonly port: number;
  /** Present for TLS. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  /** Connections silent this long are closed (a registered terminal refreshes well before). */
  readonly idleTimeoutMs?: number;
  /** Upper bound on simultaneous connections. */
  readonly maxConnections?: number;
}

export class StreamTransport extends EventEmitter<SipTransportEvents> implements SipTransport {
  readonly protocol: 'tcp' | 'tls';
  readonly #options: StreamTransportOptions;
  #port: number;
  #certificate: { readonly key: Buffer; readonly cert: Buffer } | undefined;
  readonly #connections = new Map<string, net.Socket>();
  #server: net.Server | undefined;
  #local = { address: '', port: 0 };
  #nextId = 1;

  constructor(options: StreamTransportOptions) {
    super();
    this.#options = options;
    this.#port = options.port;
    this.#certificate = options.tls;
    this.protocol = options.tls ? 'tls' : 'tcp';
  }

  get local() {
    return this.#local;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async listen(): Promise<void> {
    this.#server = await this.#open(this.#port);
  }

  /**
   * Moves the listener to `port`: on failure to bind it nothing changes and the error is
   * thrown; otherwise the old listener stops accepting and its open connections stay.
   */
  async rebind(port: number): Promise<void> {
    const previous = this.#server;
    if (!previous || port === this.#local.port) return;
    this.#server = await this.#open(port);
    this.#port = port;
    previous.close();
  }

  /** Handshakes from now on present this certificate (TLS only). */
  setCertificate(certificate: { readonly key: Buffer; readonly cert: Buffer }): void {
    this.#certificate = certificate;
    if (this.#server instanceof tls.Server) this.#server.setSecureContext({ key: certificate.key, cert: certificate.cert });
  }

  #open(port: number): Promise<net.Server> {
    const onConnection = (socket: net.Socket) => void this.#accept(socket);
    const certificate = this.#certificate;
    const server = certificate
      ? tls.createServer({ key: certificate.key, cert: certificate.cert, handshakeTimeout: 10_000 }, onConnection)
      : net.createServer(onConnection);
    server.maxConnections = this.#options.maxConnections ?? 10_000;
    if (server instanceof tls.Server) {
      server.on('tlsClientError', (error, socket) => {
        log.debug({ err: error.message, address: socket.remoteAddress }, 'TLS handshake failed');
      });
    }
    return new Promise((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          createError(
            'VCBOX_ERR_LISTEN',
            { transport: this.protocol.toUpperCase(), address: this.#options.host, port, reason: error.message },
            error,
          ),
        ),
      );
      server.listen(port, this.#options.host, () => {
        const address = server.address() as net.AddressInfo;
        this.#local = { address: address.address, port: address.port };
        server.removeAllListeners('error');
        server.on('error', (error) => log.error({ err: error }, 'listener error'));
        resolve(server);
      });
    });
  }

  /** An open connection whose far end is address:port (a terminal's own connection). */
  findConnection(address: string, port: number): string | undefined {
    for (const [id, socket] of this.#connections) {
      if (!socket.destroyed && socket.remoteAddress === address && socket.remotePort === port) return id;
    }
    return undefined;
  }

  hasConnection(id: string): boolean {
    const socket = this.#connections.get(id);
    return socket !== undefined && !socket.destroyed;
  }

  /** Opens a connection to a peer that has none open with us (resolves with its id). */
  connect(address: string, port: number, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const onConnect = () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(this.#accept(socket));
      };
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const socket = this.#certificate
        ? tls.connect({ host: address, port, rejectUnauthorized: false }, onConnect)
        : net.connect({ host: address, port }, onConnect);
      const timer = setTimeout(() => onError(new Error(`connection to ${address}:${port} timed out`)), timeoutMs);
      socket.once('error', onError);
    });
  }

  #accept(socket: net.Socket): string {
    const id = `${this.protocol}-${this.#nextId++}`;
    const source: MessageSource = {
      protocol: this.protocol,
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
      connectionId: id,
    };
    this.#connections.set(id, socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.#options.idleTimeoutMs ?? 15 * 60_000, () => socket.destroy());
    const framer = new StreamFramer();
    socket.on('data', (chunk: Buffer) => {
      for (const item of framer.push(chunk)) {
        if (item.kind === 'message') this.emit('message', item.data, source);
        else if (item.kind === 'ping') socket.write('\r\n');
        else {
          this.emit('framingError', item.error, chunk, source);
          socket.end();
          return;
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(id));
    return id;
  }

  send(data: Buffer, to: MessageSource): boolean {
    const socket = to.connectionId ? this.#connections.get(to.connectionId) : undefined;
    if (!socket || socket.destroyed || !socket.writable) return false;
    socket.write(data);
    return true;
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#connections.values()) socket.destroy();
    this.#connections.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
