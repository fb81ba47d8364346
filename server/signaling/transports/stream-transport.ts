/**
 * SIP over TCP and over TLS (RFC 3261 §18): a listener that frames each connection's bytes
 * into messages and remembers connections by id, so replies and later requests to a terminal
 * go back over the connection it opened (essential behind NAT). Idle connections are closed
 * after a while; a connection that sends something unframeable gets its 400 and is closed.
 * A port change (`rebind`) opens the new listener first and then stops the old one accepting;
 * connections already open stay (registered terminals keep their connection and their calls).
 * A new certificate (`setCertificate`) is used for handshakes from then on.
 *
 * Against a hostile LAN: one address may hold at most `maxConnectionsPerAddress` connections
 * (more are closed at once, before any TLS handshake — ./connection-registry.ts); a connection accepted here must deliver
 * its first complete SIP message within `firstMessageTimeoutMs` (a connection that sends
 * nothing, or one byte now and then, is closed), and a message once begun must be complete
 * within `partialMessageTimeoutMs`; the framer bounds the bytes buffered for one message.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import { StreamFramer } from '../sip/stream-framer.ts';
import { ConnectionRegistry } from './connection-registry.ts';
import type { MessageSource, SipTransport, SipTransportEvents } from './sip-transport.ts';

const log = getLogger('sip-stream-transport');

export { MAX_CONNECTIONS_PER_ADDRESS } from './connection-registry.ts';
/** An accepted connection that has not sent a complete SIP message by then is closed (slow-loris). */
export const FIRST_MESSAGE_TIMEOUT_MS = 10_000;
/** A message whose first bytes arrived must be complete by then (a 64 KiB INVITE takes milliseconds). */
export const PARTIAL_MESSAGE_TIMEOUT_MS = 30_000;

export interface StreamTransportOptions {
  readonly host: string;
  readonly port: number;
  /** Present for TLS. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
  /** Connections silent this long are closed (a registered terminal refreshes well before). */
  readonly idleTimeoutMs?: number;
  /** Upper bound on simultaneous connections. */
  readonly maxConnections?: number;
  /** Connections one remote address may hold at once (default MAX_CONNECTIONS_PER_ADDRESS). */
  readonly maxConnectionsPerAddress?: number;
  /** Time an accepted connection has to send its first complete message (default FIRST_MESSAGE_TIMEOUT_MS). */
  readonly firstMessageTimeoutMs?: number;
  /** Time a begun message has to be complete (default PARTIAL_MESSAGE_TIMEOUT_MS). */
  readonly partialMessageTimeoutMs?: number;
}

export class StreamTransport extends EventEmitter<SipTransportEvents> implements SipTransport {
  readonly protocol: 'tcp' | 'tls';
  readonly #options: StreamTransportOptions;
  #port: number;
  #certificate: { readonly key: Buffer; readonly cert: Buffer } | undefined;
  readonly #connections: ConnectionRegistry;
  #server: net.Server | undefined;
  #local = { address: '', port: 0 };

  constructor(options: StreamTransportOptions) {
    super();
    this.#options = options;
    this.#port = options.port;
    this.#certificate = options.tls;
    this.protocol = options.tls ? 'tls' : 'tcp';
    this.#connections = new ConnectionRegistry({ protocol: this.protocol, maxConnectionsPerAddress: options.maxConnectionsPerAddress });
  }

  get local() {
    return this.#local;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The connections and the per-address cap (./connection-registry.ts). */
  get connections(): ConnectionRegistry {
    return this.#connections;
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
    const certificate = this.#certificate;
    const server = certificate ? tls.createServer({ key: certificate.key, cert: certificate.cert, handshakeTimeout: 10_000 }) : net.createServer();
    server.maxConnections = this.#options.maxConnections ?? 10_000;
    // The cap is checked on the TCP accept, so a refused TLS peer costs no handshake.
    server.on('connection', (raw: net.Socket) => {
      if (!this.#connections.admit(raw)) return;
      if (!(server instanceof tls.Server)) this.#accept(raw, true);
    });
    if (server instanceof tls.Server) {
      server.on('secureConnection', (socket: tls.TLSSocket) => void this.#accept(socket, true));
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
    return this.#connections.find(address, port);
  }

  hasConnection(id: string): boolean {
    return this.#connections.has(id);
  }

  /** Opens a connection to a peer that has none open with us (resolves with its id). */
  connect(address: string, port: number, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const onConnect = () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(this.#accept(socket, false));
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

  /** `inbound`: accepted here (deadlines apply), not opened by the box. */
  #accept(socket: net.Socket, inbound: boolean): string {
    const id = this.#connections.add(socket);
    const source: MessageSource = {
      protocol: this.protocol,
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
      connectionId: id,
    };
    socket.setNoDelay(true);
    socket.setTimeout(this.#options.idleTimeoutMs ?? 15 * 60_000, () => socket.destroy());
    const framer = new StreamFramer();
    // Slow-loris: the first message by a deadline from the accept, then each message begun by a
    // deadline from its first bytes (idle time alone would let one byte a minute hold it open).
    let sentMessage = !inbound;
    let deadline: NodeJS.Timeout | undefined;
    const expire = (reason: string) => {
      log.info({ address: source.address, port: source.port, transport: this.protocol, reason }, 'SIP connection closed');
      socket.destroy();
    };
    if (inbound) {
      deadline = setTimeout(() => expire('no complete SIP message in time after connecting'), this.#options.firstMessageTimeoutMs ?? FIRST_MESSAGE_TIMEOUT_MS);
    }
    socket.on('data', (chunk: Buffer) => {
      let framed = false;
      for (const item of framer.push(chunk)) {
        if (item.kind === 'message') {
          framed = true;
          this.emit('message', item.data, source);
        } else if (item.kind === 'ping') socket.write('\r\n');
        else {
          this.emit('framingError', item.error, item.head, source);
          socket.end();
          socket.setTimeout(2000, () => socket.destroy());
          return;
        }
      }
      if (framed) sentMessage = true;
      if (!sentMessage || socket.destroyed) return;
      // Each framed message is progress: the time for the next one (if begun) starts now.
      if (framed || framer.pending === 0) {
        clearTimeout(deadline);
        deadline = undefined;
      }
      if (framer.pending > 0 && deadline === undefined) {
        deadline = setTimeout(() => expire('a message begun was not completed in time'), this.#options.partialMessageTimeoutMs ?? PARTIAL_MESSAGE_TIMEOUT_MS);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(deadline));
    return id;
  }

  send(data: Buffer, to: MessageSource): boolean {
    const socket = this.#connections.writable(to.connectionId);
    if (!socket) return false;
    socket.write(data);
    return true;
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#connections.closeAll();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
