/**
 * The open TCP or TLS connections of one stream transport, by id, and the per-address cap
 * against a hostile LAN (#16): one remote address may hold at most `maxConnectionsPerAddress`
 * connections; the next one is closed on the TCP accept, before any TLS handshake, and the
 * refusal is logged at most once a minute per address. Framing, deadlines and listening stay
 * in ./stream-transport.ts; which connection a registered terminal uses is
 * ./registered-connections.ts.
 */
import type net from 'node:net';
import { getLogger } from '../../core/logger.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('sip-connection-registry');

/**
 * Connections one address may hold. A room system or phone keeps one; a B2BUA or a SIP
 * trunk a few. 64 leaves room for test rigs that run many sipp instances from 127.0.0.1.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;

export interface ConnectionRegistryOptions {
  /** 'tcp' or 'tls': the prefix of connection ids and what the refusal log names. */
  readonly protocol: 'tcp' | 'tls';
  /** Connections one remote address may hold at once (default MAX_CONNECTIONS_PER_ADDRESS). */
  readonly maxConnectionsPerAddress?: number;
}

export class ConnectionRegistry {
  readonly #protocol: 'tcp' | 'tls';
  readonly #cap: number;
  readonly #connections = new Map<string, net.Socket>();
  /** Open accepted connections per remote address (counted from the TCP accept, before TLS). */
  readonly #perAddress = new Map<string, number>();
  /** Addresses refused for the per-address cap, with when that was last logged. */
  readonly #refusedLogged = new Map<string, number>();
  #nextId = 1;

  constructor(options: ConnectionRegistryOptions) {
    this.#protocol = options.protocol;
    this.#cap = options.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
  }

  get size(): number {
    return this.#connections.size;
  }

  /**
   * Counts an incoming TCP connection against its address's cap; over it the socket is closed
   * and false returned. The count drops again when the socket closes.
   */
  admit(raw: net.Socket): boolean {
    const address = raw.remoteAddress ?? '';
    const open = this.#perAddress.get(address) ?? 0;
    if (open >= this.#cap) {
      raw.destroy();
      const now = monotonicMs();
      if (now - (this.#refusedLogged.get(address) ?? 0) > 60_000) {
        if (this.#refusedLogged.size > 1000) this.#refusedLogged.clear();
        this.#refusedLogged.set(address, now);
        log.warn({ address, open, cap: this.#cap, transport: this.#protocol }, 'SIP connection refused: this address holds as many connections as one address may');
      }
      return false;
    }
    this.#perAddress.set(address, open + 1);
    raw.once('close', () => {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    return true;
  }

  /** Remembers a connection (accepted or opened by the box) until it closes; returns its id. */
  add(socket: net.Socket): string {
    const id = `${this.#protocol}-${this.#nextId++}`;
    this.#connections.set(id, socket);
    socket.on('close', () => this.#connections.delete(id));
    return id;
  }

  /** The open socket of a connection id, if it is still writable. */
  writable(id: string | undefined): net.Socket | undefined {
    const socket = id ? this.#connections.get(id) : undefined;
    return socket && !socket.destroyed && socket.writable ? socket : undefined;
  }

  has(id: string): boolean {
    const socket = this.#connections.get(id);
    return socket !== undefined && !socket.destroyed;
  }

  /** An open connection whose far end is address:port (a terminal's own connection). */
  find(address: string, port: number): string | undefined {
    for (const [id, socket] of this.#connections) {
      if (!socket.destroyed && socket.remoteAddress === address && socket.remotePort === port) return id;
    }
    return undefined;
  }

  /** Open connections from one remote address (for tests and diagnostics). */
  countFrom(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  closeAll(): void {
    for (const socket of this.#connections.values()) socket.destroy();
    this.#connections.clear();
  }
}
