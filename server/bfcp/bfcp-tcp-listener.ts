/**
 * BFCP over TCP and over TLS (RFC 8855 §6.2 and §9, RFC 4582 framing; TCP/TLS/BFCP in RFC
 * 8856): messages back to back on the stream, each cut by its header's payload length. Version
 * 1 only. Over TLS the box's own certificate (server/tls) is presented; TLS 1.2 at least. A message whose attributes do not decode
 * gets an Error and the connection goes on; one that breaks the framing (wrong version, F bit,
 * a length above the limit) gets an Error and the connection is closed, as does a connection
 * that keeps sending bad messages. Each TCP connection is one BfcpEndpoint; server-initiated
 * messages carry transaction ID 0. Limits: 256 connections, 16 per address, and a connection
 * that nobody is bound to (or that stops mid-message) closed after 30 s without a message.
 */
import net from 'node:net';
import tls from 'node:tls';
import { getLogger } from '../core/logger.ts';
import type { BfcpEndpoint, BfcpReceiver } from './bfcp-endpoint.ts';
import {
  type Attribute,
  BfcpDecodeError,
  type BfcpMessage,
  decodeHeader,
  decodeMessage,
  ErrorCode,
  encodeMessage,
  errorResponse,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  primitiveName,
  readIds,
} from './bfcp-message.ts';

const log = getLogger('bfcp-tcp');

/** Connections open at once; more are refused by the kernel's accept being closed at once. */
export const MAX_TCP_CONNECTIONS = 256;
/** Connections from one address at once; beyond, a new one is closed at once. */
export const MAX_TCP_CONNECTIONS_PER_ADDRESS = 16;
/**
 * A connection no participant is bound to, or one in the middle of a message, must make
 * progress within this time or is closed; a bound participant's connection may stay quiet.
 */
export const TCP_IDLE_MS = 30_000;
/** Bad messages a connection may send before it is closed. */
const MAX_BAD_MESSAGES = 5;

/** The key and certificate chain (PEM) a TLS listener presents. */
export interface BfcpTlsCredentials {
  readonly key: Buffer | string;
  readonly cert: Buffer | string;
}

class TcpEndpoint implements BfcpEndpoint {
  readonly transport: 'tcp' | 'tls';
  readonly version = 1 as const;
  readonly peer: string;
  readonly #socket: net.Socket;

  constructor(socket: net.Socket, transport: 'tcp' | 'tls') {
    this.transport = transport;
    this.#socket = socket;
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  get closed(): boolean {
    return this.#socket.destroyed || !this.#socket.writable;
  }

  respond(_request: BfcpMessage, response: BfcpMessage): void {
    this.write(response);
  }

  notify(conferenceId: number, userId: number, primitive: number, attributes: Attribute[]): void {
    this.write({ version: 1, responder: false, primitive, conferenceId, transactionId: 0, userId, attributes });
  }

  write(message: BfcpMessage): void {
    if (this.closed) return;
    this.#socket.write(encodeMessage(message));
  }
}

export class BfcpTcpListener {
  readonly transport: 'tcp' | 'tls';
  readonly #server: net.Server;
  readonly #receiver: BfcpReceiver;
  readonly #sockets = new Set<net.Socket>();
  readonly #perAddress = new Map<string, number>();
  #closing: Promise<void> | undefined;

  private constructor(server: net.Server, receiver: BfcpReceiver, transport: 'tcp' | 'tls') {
    this.#server = server;
    this.#receiver = receiver;
    this.transport = transport;
  }

  /** Listens on TCP, or on TLS when `credentials` are given. */
  static open(receiver: BfcpReceiver, host: string, port: number, credentials?: BfcpTlsCredentials): Promise<BfcpTcpListener> {
    const server = credentials
      ? tls.createServer({ key: credentials.key, cert: credentials.cert, minVersion: 'TLSv1.2', noDelay: true, handshakeTimeout: 10_000 })
      : net.createServer({ noDelay: true });
    server.maxConnections = MAX_TCP_CONNECTIONS;
    const listener = new BfcpTcpListener(server, receiver, credentials ? 'tls' : 'tcp');
    if (credentials) {
      server.on('secureConnection', (socket: tls.TLSSocket) => listener.#accept(socket));
      server.on('tlsClientError', (error, socket) => log.debug({ err: error, peer: `${socket.remoteAddress}:${socket.remotePort}` }, 'BFCP TLS handshake failed'));
    } else {
      server.on('connection', (socket) => listener.#accept(socket));
    }
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (error) => log.error({ err: error }, 'BFCP TCP listener failed'));
        log.info({ host, port: listener.port, transport: listener.transport }, 'BFCP listening');
        resolve(listener);
      });
    });
  }

  /** A TLS listener presents `credentials` from the next handshake on (connections up keep theirs); nothing for plain TCP. */
  useCredentials(credentials: BfcpTlsCredentials): void {
    if (this.#server instanceof tls.Server) this.#server.setSecureContext({ key: credentials.key, cert: credentials.cert });
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Stops listening and closes every connection; idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const address = socket.remoteAddress ?? '';
    const count = this.#perAddress.get(address) ?? 0;
    if (count >= MAX_TCP_CONNECTIONS_PER_ADDRESS) {
      log.warn({ address }, 'BFCP connection refused: too many from this address');
      socket.destroy();
      return;
    }
    this.#perAddress.set(address, count + 1);
    this.#sockets.add(socket);
    const endpoint = new TcpEndpoint(socket, this.transport);
    let buffered: Buffer = Buffer.alloc(0);
    let badMessages = 0;
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      log.info({ peer: endpoint.peer, reason }, 'BFCP TCP connection closed by the server');
      socket.end();
      // A peer that does not read must not keep the socket: destroy after a grace period.
      setTimeout(() => socket.destroy(), 2000).unref();
    };
    const refuse = (ids: Parameters<typeof errorResponse>[0], error: BfcpDecodeError) => {
      endpoint.write(errorResponse(ids, 1, error.code, error.message));
    };
    socket.on('data', (chunk: Buffer) => {
      if (ended) return;
      try {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        while (!ended && buffered.length >= HEADER_BYTES) {
          const ids = readIds(buffered);
          const first = buffered.readUInt8(0);
          if (first >> 5 !== 1) {
            refuse(ids, new BfcpDecodeError(ErrorCode.UnsupportedVersion, `BFCP version ${first >> 5} is not supported over TCP (use 1)`));
            end('unsupported version');
            return;
          }
          if (first & 0x08) {
            refuse(ids, new BfcpDecodeError(ErrorCode.ParseError, 'the F bit (fragmentation) is not allowed over TCP'));
            end('fragment over TCP');
            return;
          }
          const header = decodeHeader(buffered.subarray(0, HEADER_BYTES));
          const total = HEADER_BYTES + header.payloadBytes;
          if (total > MAX_MESSAGE_BYTES) {
            refuse(ids, new BfcpDecodeError(ErrorCode.IncorrectMessageLength, `message of ${total} octets exceeds the limit of ${MAX_MESSAGE_BYTES}`));
            end('oversized message');
            return;
          }
          if (buffered.length < total) break;
          const frame = buffered.subarray(0, total);
          buffered = buffered.subarray(total);
          let message: BfcpMessage;
          try {
            message = decodeMessage(frame);
          } catch (error) {
            if (!(error instanceof BfcpDecodeError)) throw error;
            log.debug({ peer: endpoint.peer, reason: error.message, primitive: primitiveName(header.primitive) }, 'BFCP message refused');
            refuse(ids, error);
            if (++badMessages >= MAX_BAD_MESSAGES) end('too many bad messages');
            continue;
          }
          this.#receiver.receive(message, endpoint);
        }
        if (buffered.length > 0) buffered = Buffer.from(buffered);
      } catch (error) {
        log.error({ err: error, peer: endpoint.peer }, 'BFCP TCP input failed');
        socket.destroy();
      }
    });
    socket.on('error', (error) => log.debug({ err: error, peer: endpoint.peer }, 'BFCP TCP connection error'));
    socket.setTimeout(TCP_IDLE_MS);
    socket.on('timeout', () => {
      if (buffered.length > 0 || !this.#receiver.isBound(endpoint)) end('idle');
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
      try {
        this.#receiver.endpointClosed(endpoint);
      } catch (error) {
        log.error({ err: error, peer: endpoint.peer }, 'BFCP endpoint close handling failed');
      }
    });
  }
}
