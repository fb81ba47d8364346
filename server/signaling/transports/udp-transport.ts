/**
 * SIP over UDP: one datagram, one message. Datagrams larger than the SIP maximum are dropped
 * (there is no way to answer part of one); parsing is the service's job.
 *
 * A port change (`rebind`) binds the new port first; the old socket is kept "draining": what
 * arrives on it is still emitted, marked with the socket's id as `connectionId`, and sends to
 * such a source go out from that socket, so dialogs set up on the old port finish there. The
 * signaling service decides what a draining socket may still carry and when it closes
 * (`closeDraining`).
 *
 * Two settings of the sockets are about capacity (issue #18): the receive buffer is raised to
 * RECEIVE_BUFFER_BYTES (the kernel caps it at net.core.rmem_max), because hundreds of terminals
 * re-registering at once overflow the default ~208 KB within one busy turn of the event loop and
 * every datagram dropped there comes back as a retransmission 500 ms later, costing twice; and
 * a destination that is an IP address is sent to at once, without the next-tick "DNS lookup"
 * dgram does for every send by default.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { createError } from '../../core/errors.ts';
import { MAX_MESSAGE_BYTES } from '../sip/sip-message.ts';
import type { MessageSource, SipTransport, SipTransportEvents } from './sip-transport.ts';
import { monotonicMs } from '../../core/clock.ts';

/**
 * Receive buffer asked for (bytes); Linux caps it at net.core.rmem_max, which install.sh raises
 * to this (Debian's own: 208 KB), and doubles it for its bookkeeping: ~768 KB hold about 600
 * SIP datagrams (each costs the kernel ~1.25 KB), a burst of 400 registrations in flight with
 * room to spare and ~0.2 s of arrivals at the signaling process's capacity — below T1 (500 ms).
 * A larger one (4 MB was tried) holds seconds of requests under overload: each is read after
 * the terminal has retransmitted it, and past about 2× the capacity goodput collapses into
 * retransmissions (scripts/bench/sip-overload.sh); what does not fit is dropped unread, as
 * the overload bound wants (../core/overload-guard.ts).
 */
export const RECEIVE_BUFFER_BYTES = 384 * 1024;

/** dgram's address lookup: an IP address answered in place, a name resolved as dgram would. */
function lookupAddress(address: string, options: dns.LookupOneOptions, callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = net.isIP(address);
  if (family !== 0) callback(null, address, family);
  else dns.lookup(address, options, callback);
}

/** A socket on a former port, kept until the dialogs begun on it are over. */
export interface DrainingSocket {
  readonly id: string;
  readonly port: number;
  readonly since: number;
}

export class UdpTransport extends EventEmitter<SipTransportEvents> implements SipTransport {
  readonly protocol = 'udp' as const;
  readonly #host: string;
  #port: number;
  #socket: dgram.Socket | undefined;
  #local = { address: '', port: 0 };
  readonly #draining = new Map<string, { socket: dgram.Socket; info: DrainingSocket }>();

  constructor(options: { readonly host: string; readonly port: number }) {
    super();
    this.#host = options.host;
    this.#port = options.port;
  }

  get local() {
    return this.#local;
  }

  /** Former ports still open for the dialogs begun on them. */
  get draining(): DrainingSocket[] {
    return [...this.#draining.values()].map((d) => d.info);
  }

  async listen(): Promise<void> {
    this.#socket = await this.#bind(this.#port);
    this.#local = { address: this.#socket.address().address, port: this.#socket.address().port };
  }

  /**
   * Moves to `port`: binds it (on failure nothing changes and the error is thrown), then keeps
   * the previous socket draining. A port already draining is taken back as the current one.
   */
  async rebind(port: number): Promise<void> {
    if (!this.#socket || port === this.#local.port) return;
    const back = [...this.#draining.values()].find((d) => d.info.port === port);
    let socket: dgram.Socket;
    if (back) {
      this.#draining.delete(back.info.id);
      socket = back.socket;
      socket.removeAllListeners('message');
      this.#receive(socket, undefined);
    } else {
      socket = await this.#bind(port);
    }
    const previous = this.#socket;
    const id = `udp-${this.#local.port}`;
    previous.removeAllListeners('message');
    this.#receive(previous, id);
    this.#draining.set(id, { socket: previous, info: { id, port: this.#local.port, since: monotonicMs() } });
    this.#socket = socket;
    this.#port = port;
    this.#local = { address: socket.address().address, port: socket.address().port };
  }

  /** Closes a draining socket (its dialogs are over). */
  closeDraining(id: string): void {
    const draining = this.#draining.get(id);
    if (!draining) return;
    this.#draining.delete(id);
    draining.socket.close();
  }

  #receive(socket: dgram.Socket, drainingId: string | undefined): void {
    socket.on('message', (data, info) => {
      if (data.length > MAX_MESSAGE_BYTES) return;
      const source: MessageSource = drainingId
        ? { protocol: 'udp', address: info.address, port: info.port, connectionId: drainingId }
        : { protocol: 'udp', address: info.address, port: info.port };
      this.emit('message', data, source);
    });
  }

  #bind(port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: net.isIPv6(this.#host) ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize: RECEIVE_BUFFER_BYTES, lookup: lookupAddress });
    this.#receive(socket, undefined);
    return new Promise((resolve, reject) => {
      socket.once('error', (error) => {
        try {
          socket.close();
        } catch {
          // never bound: nothing to close
        }
        reject(createError('VCBOX_ERR_LISTEN', { transport: 'UDP', address: this.#host, port, reason: error.message }, error));
      });
      socket.bind(port, this.#host, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => {
          // ICMP errors of sends surface here; a lost datagram is SIP's everyday case.
        });
        resolve(socket);
      });
    });
  }

  send(data: Buffer, to: MessageSource): boolean {
    // A source on a draining socket is answered from that socket (the peer's NAT binding and
    // its idea of where the box is are that port).
    const socket = (to.connectionId ? this.#draining.get(to.connectionId)?.socket : undefined) ?? this.#socket;
    if (!socket) return false;
    socket.send(data, to.port, to.address);
    return true;
  }

  close(): Promise<void> {
    for (const id of [...this.#draining.keys()]) this.closeDraining(id);
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
