/**
 * SIP over UDP: one datagram, one message. Datagrams larger than the SIP maximum are dropped
 * (there is no way to answer part of one); parsing is the service's job.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { createError } from '../../errors.ts';
import { MAX_MESSAGE_BYTES } from '../sip/sip-message.ts';
import type { MessageSource, SipTransport, SipTransportEvents } from './sip-transport.ts';

export class UdpTransport extends EventEmitter<SipTransportEvents> implements SipTransport {
  readonly protocol = 'udp' as const;
  readonly #host: string;
  readonly #port: number;
  #socket: dgram.Socket | undefined;
  #local = { address: '', port: 0 };

  constructor(options: { readonly host: string; readonly port: number }) {
    super();
    this.#host = options.host;
    this.#port = options.port;
  }

  get local() {
    return this.#local;
  }

  listen(): Promise<void> {
    const socket = dgram.createSocket({ type: net.isIPv6(this.#host) ? 'udp6' : 'udp4', reuseAddr: false });
    this.#socket = socket;
    socket.on('message', (data, info) => {
      if (data.length > MAX_MESSAGE_BYTES) return;
      this.emit('message', data, { protocol: 'udp', address: info.address, port: info.port });
    });
    return new Promise((resolve, reject) => {
      socket.once('error', (error) =>
        reject(createError('VCBOX_ERR_LISTEN', { transport: 'UDP', address: this.#host, port: this.#port, reason: error.message }, error)),
      );
      socket.bind(this.#port, this.#host, () => {
        const address = socket.address();
        this.#local = { address: address.address, port: address.port };
        socket.removeAllListeners('error');
        socket.on('error', () => {
          // ICMP errors of sends surface here; a lost datagram is SIP's everyday case.
        });
        resolve();
      });
    });
  }

  send(data: Buffer, to: MessageSource): boolean {
    if (!this.#socket) return false;
    this.#socket.send(data, to.port, to.address);
    return true;
  }

  close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
