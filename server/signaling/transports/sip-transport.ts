/**
 * What the signaling service needs of a SIP transport, and where a message came from. The
 * UDP transport is in ./udp-transport.ts, TCP and TLS (one implementation over net or tls)
 * in ./stream-transport.ts. Transports only move bytes and frame them: parsing errors they
 * hit on streams are handed up so the service can answer 400 before the connection closes.
 */
import type { EventEmitter } from 'node:events';
import type { SipParseError } from '../sip/sip-message.ts';

export type TransportProtocol = 'udp' | 'tcp' | 'tls';

/** Where a message came from; replies to it go back the same way. */
export interface MessageSource {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
  /** For TCP/TLS: the connection it arrived on (requests to that terminal reuse it). */
  readonly connectionId?: string;
}

export interface SipTransportEvents {
  message: [data: Buffer, source: MessageSource];
  /** A stream could not be framed; the transport closes that connection after `reply`. */
  framingError: [error: SipParseError, head: Buffer, source: MessageSource];
}

export interface SipTransport extends EventEmitter<SipTransportEvents> {
  readonly protocol: TransportProtocol;
  /** Address and port actually bound (port 0 in the options picks a free one). */
  readonly local: { readonly address: string; readonly port: number };
  listen(): Promise<void>;
  /** Sends to a source (on its connection for streams, if still open). */
  send(data: Buffer, to: MessageSource): boolean;
  close(): Promise<void>;
}
