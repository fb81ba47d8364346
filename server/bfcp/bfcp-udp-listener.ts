/**
 * BFCP over UDP (RFC 8855 §6.1–6.2): version 2; one BfcpEndpoint per peer address. Reliability
 * as the RFC sets it: a server-initiated message (FloorRequestStatus, FloorStatus) gets a fresh
 * transaction ID and is retransmitted after T1 = 500 ms, doubling, at most 4 times, until the
 * client acknowledges it (FloorRequestStatusAck, FloorStatusAck, or any response with that
 * ID); a response is kept 10 s and sent again when the same request (primitive, conference,
 * transaction, user) arrives again, without handling it twice. Fragmented requests are
 * reassembled (bounded in count, size and time). A datagram that does not decode gets an Error
 * when its header is BFCP's, and is dropped otherwise.
 *
 * Server-initiated transaction IDs come from the upper half (0x8000–0xFFFF): a client's own
 * IDs count up from 1, and some clients (libre's) match a response by ID alone.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { getLogger } from '../core/logger.ts';
import type { BfcpEndpoint, BfcpReceiver } from './bfcp-endpoint.ts';
import {
  type Attribute,
  BfcpDecodeError,
  type BfcpMessage,
  decodeHeader,
  decodeMessage,
  decodePayload,
  ErrorCode,
  encodeMessage,
  errorResponse,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  type MessageIds,
  Primitive,
  readIds,
} from './bfcp-message.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('bfcp-udp');

/** RFC 8855 §6.2.2: initial retransmission timer. */
export const T1_MS = 500;
/** Retransmissions of one server-initiated message. */
export const MAX_RETRANSMITS = 4;
/** How long a response is kept to answer a retransmitted request (RFC 8855 §6.2.3). */
export const RESPONSE_CACHE_MS = 10_000;
/** Peers with state at once; others still get answers, but nothing is kept for them. */
export const MAX_UDP_PEERS = 1024;
const MAX_CACHED_RESPONSES = 64;
const MAX_PENDING_NOTIFICATIONS = 64;
const MAX_REASSEMBLIES = 4;
/** A peer no user is bound to, with nothing pending, is forgotten after this long without traffic. */
const IDLE_PEER_MS = 120_000;

function requestKey(ids: MessageIds): string {
  return `${ids.primitive}:${ids.conferenceId}:${ids.transactionId}:${ids.userId}`;
}

interface PendingNotification {
  readonly bytes: Buffer;
  timer: NodeJS.Timeout;
  retransmits: number;
}

interface Reassembly {
  readonly header: MessageIds & { readonly version: number; readonly responder: boolean; readonly payloadBytes: number };
  readonly payload: Buffer;
  readonly covered: Set<number>;
  readonly started: number;
}

class UdpEndpoint implements BfcpEndpoint {
  readonly transport = 'udp' as const;
  readonly version = 2 as const;
  readonly peer: string;
  readonly #socket: dgram.Socket;
  readonly #address: string;
  readonly #port: number;
  readonly #responses = new Map<string, { bytes: Buffer; expires: number }>();
  readonly #pending = new Map<number, PendingNotification>();
  readonly reassemblies = new Map<string, Reassembly>();
  #nextTransactionId = 0x8000 + Math.floor(Math.random() * 0x8000);
  #closed = false;
  lastSeen = monotonicMs();

  constructor(socket: dgram.Socket, address: string, port: number) {
    this.#socket = socket;
    this.#address = address;
    this.#port = port;
    this.peer = net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while it holds something worth keeping (cached answers, messages awaiting an ack). */
  get busy(): boolean {
    return this.#responses.size > 0 || this.#pending.size > 0 || this.reassemblies.size > 0;
  }

  send(bytes: Buffer): void {
    if (this.#closed) return;
    this.#socket.send(bytes, this.#port, this.#address, (error) => {
      if (error) log.debug({ err: error, peer: this.peer }, 'BFCP UDP send failed');
    });
  }

  respond(request: BfcpMessage, response: BfcpMessage): void {
    const bytes = encodeMessage(response);
    if (this.#responses.size >= MAX_CACHED_RESPONSES) this.expire(monotonicMs());
    if (this.#responses.size < MAX_CACHED_RESPONSES) {
      this.#responses.set(requestKey(request), { bytes, expires: monotonicMs() + RESPONSE_CACHE_MS });
    }
    this.send(bytes);
  }

  /** Sends the cached response to this request again; false when there is none. */
  resendResponse(request: MessageIds): boolean {
    const cached = this.#responses.get(requestKey(request));
    if (!cached || cached.expires < monotonicMs()) return false;
    this.send(cached.bytes);
    return true;
  }

  notify(conferenceId: number, userId: number, primitive: number, attributes: Attribute[]): void {
    if (this.#closed) return;
    if (this.#pending.size >= MAX_PENDING_NOTIFICATIONS) {
      log.warn({ peer: this.peer }, 'BFCP client acknowledges nothing: notification dropped');
      return;
    }
    const transactionId = this.#nextTransactionId;
    this.#nextTransactionId = 0x8000 | ((transactionId + 1) & 0x7fff);
    const bytes = encodeMessage({ version: 2, responder: false, primitive, conferenceId, transactionId, userId, attributes });
    const entry: PendingNotification = { bytes, retransmits: 0, timer: setTimeout(() => this.#retransmit(transactionId, T1_MS), T1_MS) };
    this.#pending.set(transactionId, entry);
    this.send(bytes);
  }

  #retransmit(transactionId: number, lastInterval: number): void {
    const entry = this.#pending.get(transactionId);
    if (!entry || this.#closed) return;
    if (entry.retransmits >= MAX_RETRANSMITS) {
      this.#pending.delete(transactionId);
      log.info({ peer: this.peer, transactionId }, 'BFCP notification never acknowledged');
      return;
    }
    entry.retransmits++;
    this.send(entry.bytes);
    const interval = lastInterval * 2;
    entry.timer = setTimeout(() => this.#retransmit(transactionId, interval), interval);
  }

  /** A response from the client to one of our transactions: stop retransmitting it. */
  acknowledge(transactionId: number): boolean {
    const entry = this.#pending.get(transactionId);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.#pending.delete(transactionId);
    return true;
  }

  /** Drops expired cached responses and stale reassemblies. */
  expire(now: number): void {
    for (const [key, cached] of this.#responses) if (cached.expires < now) this.#responses.delete(key);
    for (const [key, reassembly] of this.reassemblies) if (reassembly.started + RESPONSE_CACHE_MS < now) this.reassemblies.delete(key);
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#pending.values()) clearTimeout(entry.timer);
    this.#pending.clear();
    this.#responses.clear();
    this.reassemblies.clear();
  }
}

export class BfcpUdpListener {
  readonly transport = 'udp' as const;
  readonly #socket: dgram.Socket;
  readonly #receiver: BfcpReceiver;
  readonly #endpoints = new Map<string, UdpEndpoint>();
  readonly #sweep: NodeJS.Timeout;
  #closing: Promise<void> | undefined;

  private constructor(socket: dgram.Socket, receiver: BfcpReceiver) {
    this.#socket = socket;
    this.#receiver = receiver;
    this.#sweep = setInterval(() => this.#expire(), 5000);
    this.#sweep.unref();
  }

  static open(receiver: BfcpReceiver, host: string, port: number): Promise<BfcpUdpListener> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        const listener = new BfcpUdpListener(socket, receiver);
        socket.on('error', (error) => log.error({ err: error }, 'BFCP UDP socket failed'));
        socket.on('message', (datagram, rinfo) => listener.#onDatagram(datagram, rinfo));
        log.info({ host, port: listener.port }, 'BFCP listening on UDP');
        resolve(listener);
      });
    });
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Stops the retransmissions and closes the socket; idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      clearInterval(this.#sweep);
      const endpoints = [...this.#endpoints.values()];
      this.#endpoints.clear();
      for (const endpoint of endpoints) {
        endpoint.close();
        this.#closed(endpoint);
      }
      this.#socket.close(() => resolve());
    });
    return this.#closing;
  }

  #closed(endpoint: UdpEndpoint): void {
    try {
      this.#receiver.endpointClosed(endpoint);
    } catch (error) {
      log.error({ err: error, peer: endpoint.peer }, 'BFCP endpoint close handling failed');
    }
  }

  #expire(): void {
    const now = monotonicMs();
    for (const [key, endpoint] of this.#endpoints) {
      endpoint.expire(now);
      if (!endpoint.busy && endpoint.lastSeen + IDLE_PEER_MS < now && !this.#receiver.isBound(endpoint)) {
        this.#endpoints.delete(key);
        endpoint.close();
        this.#closed(endpoint);
      }
    }
  }

  #endpoint(rinfo: dgram.RemoteInfo): UdpEndpoint {
    const key = `${rinfo.address}|${rinfo.port}`;
    let endpoint = this.#endpoints.get(key);
    if (!endpoint) {
      endpoint = new UdpEndpoint(this.#socket, rinfo.address, rinfo.port);
      if (this.#endpoints.size < MAX_UDP_PEERS) this.#endpoints.set(key, endpoint);
      else log.warn({ peer: endpoint.peer }, 'BFCP UDP peer table full: answering without keeping state');
    }
    endpoint.lastSeen = monotonicMs();
    return endpoint;
  }

  #onDatagram(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closing) return;
    try {
      this.#handle(datagram, rinfo);
    } catch (error) {
      log.error({ err: error, peer: `${rinfo.address}:${rinfo.port}` }, 'BFCP UDP input failed');
    }
  }

  #handle(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    // Not even a BFCP header (or not a version this box speaks): not worth an answer.
    if (datagram.length < HEADER_BYTES) return;
    const version = datagram.readUInt8(0) >> 5;
    if (version !== 1 && version !== 2) return;
    const ids = readIds(datagram);
    const endpoint = this.#endpoint(rinfo);
    if (version !== 2) {
      endpoint.send(encodeMessage(errorResponse(ids, 2, ErrorCode.UnsupportedVersion, 'BFCP version 1 is for TCP; over UDP use version 2')));
      return;
    }
    let header: ReturnType<typeof decodeHeader>;
    try {
      header = decodeHeader(datagram);
    } catch (error) {
      if (!(error instanceof BfcpDecodeError)) throw error;
      // A response (R bit) that does not decode is not answered.
      if ((datagram.readUInt8(0) & 0x10) === 0) endpoint.send(encodeMessage(errorResponse(ids, 2, error.code, error.message)));
      return;
    }
    let message: BfcpMessage;
    try {
      message = decodeMessage(datagram);
    } catch (error) {
      if (!(error instanceof BfcpDecodeError)) throw error;
      log.debug({ peer: endpoint.peer, reason: error.message }, 'BFCP datagram refused');
      if (!header.responder) endpoint.send(encodeMessage(errorResponse(header, 2, error.code, error.message)));
      return;
    }
    if (message.responder) {
      // An Ack (or an Error) answering one of our notifications.
      endpoint.acknowledge(message.transactionId);
      return;
    }
    if (message.primitive === Primitive.FloorRequestStatusAck || message.primitive === Primitive.FloorStatusAck) {
      endpoint.acknowledge(message.transactionId);
      return;
    }
    if (endpoint.resendResponse(message)) return;
    if (message.fragment) {
      const whole = this.#reassemble(endpoint, message, header.payloadBytes, datagram.subarray(16));
      if (!whole) return;
      message = whole;
    }
    this.#receiver.receive(message, endpoint);
  }

  /** Adds a fragment; returns the whole message once every part arrived. */
  #reassemble(endpoint: UdpEndpoint, fragment: BfcpMessage, payloadBytes: number, body: Buffer): BfcpMessage | undefined {
    const key = requestKey(fragment);
    let reassembly = endpoint.reassemblies.get(key);
    if (!reassembly) {
      if (payloadBytes + HEADER_BYTES > MAX_MESSAGE_BYTES) {
        endpoint.send(encodeMessage(errorResponse(fragment, 2, ErrorCode.IncorrectMessageLength, `message of ${payloadBytes + HEADER_BYTES} octets exceeds the limit of ${MAX_MESSAGE_BYTES}`)));
        return undefined;
      }
      if (endpoint.reassemblies.size >= MAX_REASSEMBLIES) return undefined;
      reassembly = { header: { ...fragment, payloadBytes }, payload: Buffer.alloc(payloadBytes), covered: new Set(), started: monotonicMs() };
      endpoint.reassemblies.set(key, reassembly);
    }
    if (reassembly.header.payloadBytes !== payloadBytes) {
      endpoint.reassemblies.delete(key);
      endpoint.send(encodeMessage(errorResponse(fragment, 2, ErrorCode.IncorrectMessageLength, 'fragments of one message disagree on its length')));
      return undefined;
    }
    const offset = (fragment.fragment?.offset ?? 0) * 4;
    body.copy(reassembly.payload, offset);
    for (let word = offset / 4; word < (offset + body.length) / 4; word++) reassembly.covered.add(word);
    if (reassembly.covered.size * 4 < payloadBytes) return undefined;
    endpoint.reassemblies.delete(key);
    try {
      const { fragment: _ignored, ...rest } = fragment;
      return { ...rest, attributes: decodePayload(reassembly.payload) };
    } catch (error) {
      if (!(error instanceof BfcpDecodeError)) throw error;
      endpoint.send(encodeMessage(errorResponse(fragment, 2, error.code, error.message)));
      return undefined;
    }
  }
}
