/**
 * Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state): one per request that
 * arrives from the network. It answers retransmitted requests with the last response,
 * retransmits final responses over UDP until acknowledged (Timer G/H for INVITE non-2xx; the
 * 2xx to an INVITE until its ACK, and reports an ACK timeout), and forgets itself after the
 * RFC's wait (Timer I/J, or 64·T1 in Accepted). The transaction id is the handle the
 * application uses to answer (drachtio's transactionId).
 */
import { randomUUID } from 'node:crypto';
import type { SipRequest, SipResponse } from '../sip/sip-message.ts';
import type { MessageSource } from '../transports/sip-transport.ts';
import { TIMERS } from './timers.ts';
import { monotonicMs } from '../../core/clock.ts';

export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface ServerTransactionHooks {
  /** Puts bytes on the wire towards the request's source; false when that is impossible. */
  send(data: Buffer): boolean;
  /** The transaction ended; the store forgets it. */
  terminated(transaction: ServerTransaction): void;
  /** A 2xx to INVITE was never acknowledged within 64·T1. */
  ackTimeout?(transaction: ServerTransaction): void;
  /**
   * A non-INVITE transaction over UDP got its final response. When the owner takes over
   * answering retransmissions for Timer J (returns true), the transaction ends at once: tens of
   * thousands of completed transactions kept whole for 32 s were what made the GC pause.
   */
  completedNonInvite?(transaction: ServerTransaction, lastResponse: Buffer): boolean;
}

export class ServerTransaction {
  readonly id = randomUUID();
  readonly request: SipRequest;
  readonly source: MessageSource;
  readonly isInvite: boolean;
  /** The To tag every response of this transaction carries (unless the application gives one). */
  readonly toTag = randomUUID().replace(/-/g, '').slice(0, 10);
  /** Opaque owner data (the application connection, the dialog id). */
  owner: unknown;
  dialogId = '';
  #state: ServerTransactionState;
  #lastResponse: Buffer | undefined;
  #finalStatus: number | undefined;
  #hooks: ServerTransactionHooks;
  #retransmitTimer: NodeJS.Timeout | undefined;
  #timeoutTimer: NodeJS.Timeout | undefined;
  readonly #reliable: boolean;

  constructor(request: SipRequest, source: MessageSource, hooks: ServerTransactionHooks) {
    this.request = request;
    this.source = source;
    this.isInvite = request.method === 'INVITE';
    this.#hooks = hooks;
    this.#state = this.isInvite ? 'proceeding' : 'trying';
    this.#reliable = source.protocol !== 'udp';
  }

  get state(): ServerTransactionState {
    return this.#state;
  }

  get finalStatus(): number | undefined {
    return this.#finalStatus;
  }

  /** True until a final response was sent. */
  get pending(): boolean {
    return this.#finalStatus === undefined && this.#state !== 'terminated';
  }

  /**
   * Sends a response and moves the state machine. Returns false if it could not be sent.
   * `relayed`: a 2xx to INVITE a proxy passes on (RFC 6026 §8.4): its retransmissions come end
   * to end from the callee, so the box neither repeats it nor waits for the ACK.
   */
  respond(response: SipResponse, relayed = false): boolean {
    if (this.#state === 'terminated' || this.#state === 'completed' || this.#state === 'confirmed' || this.#state === 'accepted') {
      return false;
    }
    const data = response.toBuffer();
    this.#lastResponse = data;
    const sent = this.#hooks.send(data);
    if (response.status < 200) {
      this.#state = 'proceeding';
      return sent;
    }
    this.#stopReliable();
    this.#finalStatus = response.status;
    if (this.isInvite && response.status < 300 && relayed) {
      this.#state = 'accepted';
      this.#timeoutTimer = setTimeout(() => this.#terminate(), TIMERS.transactionTimeout); // Timer L
    } else if (this.isInvite && response.status < 300) {
      this.#state = 'accepted';
      this.#retransmit(TIMERS.T1, true);
      this.#timeoutTimer = setTimeout(() => {
        this.#clear();
        if (this.#state === 'accepted') this.#hooks.ackTimeout?.(this);
        this.#terminate();
      }, TIMERS.transactionTimeout);
    } else if (this.isInvite) {
      this.#state = 'completed';
      if (!this.#reliable) this.#retransmit(TIMERS.T1, false);
      this.#timeoutTimer = setTimeout(() => this.#terminate(), TIMERS.transactionTimeout); // Timer H
    } else {
      this.#state = 'completed';
      if (this.#reliable || this.#hooks.completedNonInvite?.(this, data)) this.#terminate();
      else this.#timeoutTimer = setTimeout(() => this.#terminate(), TIMERS.transactionTimeout); // Timer J
    }
    return sent;
  }

  #reliableTimer: NodeJS.Timeout | undefined;
  /** RSeq of the reliable provisional response waiting for its PRACK. */
  pendingRseq: number | undefined;
  #nextRseq = 1 + Math.floor(Math.random() * 2 ** 30);

  /** The RSeq for the next reliable provisional response (RFC 3262 §3). */
  takeRseq(): number {
    return this.#nextRseq++;
  }

  /**
   * Sends a reliable provisional response (RFC 3262): retransmitted at T1, 2·T1… until the
   * PRACK for `rseq` arrives (`prack`) or 64·T1 pass.
   */
  respondReliably(response: SipResponse, rseq: number): boolean {
    if (!this.respond(response)) return false;
    this.#stopReliable();
    this.pendingRseq = rseq;
    const data = response.toBuffer();
    const started = monotonicMs();
    const resend = (interval: number) => {
      this.#reliableTimer = setTimeout(() => {
        if (this.pendingRseq !== rseq || this.#state !== 'proceeding') return;
        if (monotonicMs() - started >= TIMERS.transactionTimeout) {
          this.pendingRseq = undefined;
          return;
        }
        this.#hooks.send(data);
        resend(interval * 2);
      }, interval);
    };
    resend(TIMERS.T1);
    return true;
  }

  /** A PRACK acknowledged `rseq`; true when it matched the pending reliable response. */
  prack(rseq: number): boolean {
    if (this.pendingRseq !== rseq) return false;
    this.#stopReliable();
    return true;
  }

  #stopReliable(): void {
    clearTimeout(this.#reliableTimer);
    this.#reliableTimer = undefined;
    this.pendingRseq = undefined;
  }

  /** 2xx retransmissions go on even over TCP (RFC 3261 §13.3.1.4); non-2xx only over UDP. */
  #retransmit(interval: number, is2xx: boolean): void {
    if (this.#reliable && !is2xx) return;
    this.#retransmitTimer = setTimeout(() => {
      if ((is2xx && this.#state !== 'accepted') || (!is2xx && this.#state !== 'completed')) return;
      if (this.#lastResponse) this.#hooks.send(this.#lastResponse);
      this.#retransmit(Math.min(interval * 2, TIMERS.T2), is2xx);
    }, interval);
  }

  /** The same request arrived again: repeat the last response (nothing yet: stay quiet). */
  retransmission(): void {
    if (this.#lastResponse && this.#state !== 'terminated' && this.#state !== 'confirmed') this.#hooks.send(this.#lastResponse);
  }

  /** ACK matching this INVITE transaction (non-2xx final): stop retransmitting, wait Timer I. */
  ack(): void {
    if (this.#state !== 'completed' || !this.isInvite) return;
    this.#state = 'confirmed';
    this.#clear();
    this.#timeoutTimer = setTimeout(() => this.#terminate(), this.#reliable ? 0 : TIMERS.T4);
  }

  /** The ACK for our 2xx arrived (matched through the dialog). */
  acknowledged2xx(): void {
    if (this.#state !== 'accepted') return;
    this.#clear();
    // Keep absorbing INVITE retransmissions for a while (RFC 6026 Timer L), quietly.
    this.#state = 'confirmed';
    this.#timeoutTimer = setTimeout(() => this.#terminate(), this.#reliable ? 0 : TIMERS.transactionTimeout);
  }

  #clear(): void {
    this.#stopReliable();
    clearTimeout(this.#retransmitTimer);
    clearTimeout(this.#timeoutTimer);
    this.#retransmitTimer = undefined;
    this.#timeoutTimer = undefined;
  }

  #terminate(): void {
    if (this.#state === 'terminated') return;
    this.#clear();
    this.#state = 'terminated';
    this.#hooks.terminated(this);
  }

  /** Ends the transaction now (shutdown, or its connection is gone). */
  close(): void {
    this.#terminate();
  }
}
