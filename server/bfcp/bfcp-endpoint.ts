/**
 * What the floor control server needs of one transport association with a BFCP client (a TCP
 * connection, or a UDP peer address): answer a request, send a server-initiated message, learn
 * when it goes away. Implemented by ./bfcp-tcp-listener.ts and ./bfcp-udp-listener.ts.
 */
import type { Attribute, BfcpMessage } from './bfcp-message.ts';

export interface BfcpEndpoint {
  readonly transport: 'tcp' | 'tls' | 'udp';
  /** The BFCP version spoken on it: 1 over TCP and TLS, 2 over UDP (RFC 8855 §5.1). */
  readonly version: 1 | 2;
  /** The peer as "address:port", for logs. */
  readonly peer: string;
  /** True once the connection closed (TCP) or the listener closed. */
  readonly closed: boolean;
  /** Sends a response to `request`: same transaction, R bit set. Over UDP it is kept 10 s to answer a retransmitted request. */
  respond(request: BfcpMessage, response: BfcpMessage): void;
  /**
   * Sends a server-initiated message (FloorRequestStatus, FloorStatus): transaction ID 0 over
   * TCP; over UDP a fresh one, retransmitted (T1 500 ms, doubling, 4 times) until acknowledged.
   */
  notify(conferenceId: number, userId: number, primitive: number, attributes: Attribute[]): void;
}

/** Where a transport hands decoded messages and endpoint ends. */
export interface BfcpReceiver {
  receive(message: BfcpMessage, endpoint: BfcpEndpoint): void;
  endpointClosed(endpoint: BfcpEndpoint): void;
  /** True while a user is bound to the endpoint (a UDP peer then stays, however quiet). */
  isBound(endpoint: BfcpEndpoint): boolean;
}
