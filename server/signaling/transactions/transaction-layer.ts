/**
 * The transaction layer (RFC 3261 §17): the server and client transactions open now, found by
 * their key (server: Via branch, sent-by and method; client: our branch and method) and by the
 * id the application knows; matching of retransmitted requests, of ACK and CANCEL to their
 * INVITE, and of responses to client transactions; and the compact cache of final responses of
 * completed non-INVITE transactions over UDP that answers retransmissions for Timer J.
 * The state machines themselves (timers, retransmission) are ./server-transaction.ts and
 * ./client-transaction.ts; what to do with a request or response is the signaling service's.
 */
import type { SipRequest, SipResponse } from '../sip/sip-message.ts';
import { headerParam } from '../sip/sip-message.ts';
import type { MessageSource } from '../transports/sip-transport.ts';
import { ClientTransaction, type ClientTransactionHooks } from './client-transaction.ts';
import { ServerTransaction } from './server-transaction.ts';
import { TIMERS } from './timers.ts';
import { monotonicMs } from '../../core/clock.ts';

export interface TransactionLayerOptions {
  /** Puts bytes on the wire towards a destination (the listener set); false when impossible. */
  send(destination: MessageSource, data: Buffer): boolean;
  /** A server transaction ended (the owner forgets what it kept about it). */
  serverTerminated?(transaction: ServerTransaction): void;
  /** A 2xx to INVITE was never acknowledged within 64·T1. */
  ackTimeout?(transaction: ServerTransaction): void;
}

/** Via sent-by of a Via header value. */
function sentByOf(via: string): string {
  return /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
}

/** The key of the server transaction a request belongs to (`method` INVITE: the one an ACK/CANCEL names). */
export function serverKey(request: SipRequest, method = request.method): string {
  const via = request.get('via') ?? '';
  return `${headerParam(via, 'branch') ?? ''}|${sentByOf(via)}|${method}`;
}

/** Where responses to a request go (RFC 3261 §18.2.2, RFC 3581). */
export function responseDestination(request: SipRequest, source: MessageSource): MessageSource {
  if (source.protocol !== 'udp') return source;
  const via = request.get('via') ?? '';
  if (headerParam(via, 'rport') !== undefined) return source;
  return { ...source, port: Number(/:(\d+)$/.exec(sentByOf(via))?.[1] ?? 5060) };
}

export class TransactionLayer {
  readonly #options: TransactionLayerOptions;
  readonly #serverByKey = new Map<string, ServerTransaction>();
  readonly #serverById = new Map<string, ServerTransaction>();
  readonly #clientByKey = new Map<string, ClientTransaction>();
  readonly #clientById = new Map<string, ClientTransaction>();
  /**
   * Final responses of completed non-INVITE transactions over UDP, by transaction key, kept for
   * Timer J (64·T1) to answer request retransmissions — compact, swept by `sweep`.
   */
  readonly #completed = new Map<string, { data: Buffer; destination: MessageSource; until: number }>();

  constructor(options: TransactionLayerOptions) {
    this.#options = options;
  }

  get serverCount(): number {
    return this.#serverById.size;
  }

  get clientCount(): number {
    return this.#clientById.size;
  }

  /** The open server transactions (PRACK matching, an application that went away). */
  servers(): IterableIterator<ServerTransaction> {
    return this.#serverById.values();
  }

  server(id: string): ServerTransaction | undefined {
    return this.#serverById.get(id);
  }

  client(id: string): ClientTransaction | undefined {
    return this.#clientById.get(id);
  }

  /** The open server transaction of this request (or, with `method`, of the INVITE an ACK/CANCEL names). */
  matchServer(request: SipRequest, method = request.method): ServerTransaction | undefined {
    return this.#serverByKey.get(serverKey(request, method));
  }

  /**
   * A retransmitted request is absorbed here (returns true): an open transaction repeats its
   * last response, a completed non-INVITE one over UDP repeats its cached final response.
   */
  absorbRetransmission(request: SipRequest): boolean {
    const key = serverKey(request);
    const existing = this.#serverByKey.get(key);
    if (existing) {
      existing.retransmission();
      return true;
    }
    const completed = this.#completed.get(key);
    if (completed && completed.until > monotonicMs()) {
      this.#options.send(completed.destination, completed.data);
      return true;
    }
    return false;
  }

  /**
   * Whether a request with this top Via and method belongs to a server transaction open or
   * completed (a retransmission), from the raw header values alone (the overload path's
   * partial parse).
   */
  knows(via: string, method: string): boolean {
    const key = `${headerParam(via, 'branch') ?? ''}|${sentByOf(via)}|${method}`;
    if (this.#serverByKey.has(key)) return true;
    const completed = this.#completed.get(key);
    return completed !== undefined && completed.until > monotonicMs();
  }

  /** Opens the server transaction of a request from the network. */
  createServer(request: SipRequest, source: MessageSource): ServerTransaction {
    const destination = responseDestination(request, source);
    const key = serverKey(request);
    const transaction = new ServerTransaction(request, source, {
      send: (data) => this.#options.send(destination, data),
      terminated: (t) => {
        this.#options.serverTerminated?.(t);
        this.#serverById.delete(t.id);
        if (this.#serverByKey.get(key) === t) this.#serverByKey.delete(key);
      },
      ackTimeout: (t) => this.#options.ackTimeout?.(t),
      completedNonInvite: (_t, data) => {
        this.#completed.delete(key); // re-insert: keeps the map in expiry order
        this.#completed.set(key, { data, destination, until: monotonicMs() + TIMERS.transactionTimeout });
        return true;
      },
    });
    this.#serverByKey.set(key, transaction);
    this.#serverById.set(transaction.id, transaction);
    return transaction;
  }

  /** Opens and starts the client transaction of a request the box sends with Via branch `branchId`. */
  startClient(request: SipRequest, destination: MessageSource, branchId: string, hooks: Pick<ClientTransactionHooks, 'response' | 'failed'>): ClientTransaction {
    const key = `${branchId}|${request.method}`;
    const transaction = new ClientTransaction(request, branchId, destination.protocol !== 'udp', {
      send: (data) => this.#options.send(destination, data),
      response: hooks.response,
      failed: hooks.failed,
      terminated: (t) => {
        this.#clientById.delete(t.id);
        if (this.#clientByKey.get(key) === t) this.#clientByKey.delete(key);
      },
    });
    this.#clientByKey.set(key, transaction);
    this.#clientById.set(transaction.id, transaction);
    transaction.start();
    return transaction;
  }

  /** The client transaction a response belongs to (top Via branch and CSeq method). */
  matchResponse(response: SipResponse): ClientTransaction | undefined {
    return this.#clientByKey.get(`${headerParam(response.get('via') ?? '', 'branch') ?? ''}|${response.cseq.method}`);
  }

  /** Forgets cached final responses past Timer J. */
  sweep(now = monotonicMs()): void {
    // Insertion order is expiry order: stop at the first entry still needed.
    for (const [key, entry] of this.#completed) {
      if (entry.until > now) break;
      this.#completed.delete(key);
    }
  }

  close(): void {
    for (const transaction of [...this.#serverById.values()]) transaction.close();
    for (const transaction of [...this.#clientById.values()]) transaction.close();
    this.#completed.clear();
  }
}
