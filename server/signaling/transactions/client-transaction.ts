/**
 * Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state): one per request the
 * box sends. Retransmits over UDP (Timer A/E), gives up after 64·T1 with a synthesized 408
 * (Timer B/F; Timer B only until the first 1xx, then Timer C: CANCEL and 408 after 3 min of ringing), acknowledges non-2xx final responses to INVITE itself and keeps answering their
 * retransmissions (Timer D), passes each response up once — except 2xx to INVITE, whose
 * retransmissions are passed up too so the dialog's ACK can be repeated.
 */
import { randomUUID } from 'node:crypto';
import { SipRequest, type SipResponse } from '../sip/sip-message.ts';
import { TIMERS } from './timers.ts';

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ClientTransactionHooks {
  send(data: Buffer): boolean;
  /** A response for the transaction user; `retransmission` marks a repeated 2xx to INVITE. */
  response(response: SipResponse, transaction: ClientTransaction, retransmission: boolean): void;
  /** No final response in time (408) or the transport failed (503). */
  failed(status: 408 | 503, transaction: ClientTransaction): void;
  terminated(transaction: ClientTransaction): void;
}

export class ClientTransaction {
  readonly id = randomUUID();
  readonly request: SipRequest;
  readonly isInvite: boolean;
  readonly branch: string;
  owner: unknown;
  dialogId = '';
  #state: ClientTransactionState;
  #finalStatus: number | undefined;
  #ack: Buffer | undefined;
  readonly #reliable: boolean;
  readonly #hooks: ClientTransactionHooks;
  #retransmitTimer: NodeJS.Timeout | undefined;
  #timeoutTimer: NodeJS.Timeout | undefined;

  constructor(request: SipRequest, branch: string, reliable: boolean, hooks: ClientTransactionHooks) {
    this.request = request;
    this.branch = branch;
    this.isInvite = request.method === 'INVITE';
    this.#reliable = reliable;
    this.#hooks = hooks;
    this.#state = this.isInvite ? 'calling' : 'trying';
  }

  get state(): ClientTransactionState {
    return this.#state;
  }

  get finalStatus(): number | undefined {
    return this.#finalStatus;
  }

  /** Sends the request and arms the timers; false when it could not be sent at all. */
  start(): boolean {
    const data = this.request.toBuffer();
    if (!this.#hooks.send(data)) {
      queueMicrotask(() => this.#fail(503));
      return false;
    }
    if (!this.#reliable) this.#retransmit(data, TIMERS.T1);
    this.#timeoutTimer = setTimeout(() => this.#fail(408), TIMERS.transactionTimeout);
    return true;
  }

  #retransmit(data: Buffer, interval: number): void {
    this.#retransmitTimer = setTimeout(() => {
      if (this.#state !== 'calling' && this.#state !== 'trying' && this.#state !== 'proceeding') return;
      if (this.isInvite && this.#state === 'proceeding') return; // Timer A stops at the first 1xx
      this.#hooks.send(data);
      const next = this.isInvite ? interval * 2 : Math.min(interval * 2, TIMERS.T2);
      this.#retransmit(data, this.#state === 'proceeding' ? TIMERS.T2 : next);
    }, interval);
  }

  /** Timer C fired: CANCEL the INVITE (RFC 3261 §9.1) and report 408 to the transaction user. */
  #timerC(): void {
    if (this.#state !== 'proceeding') return;
    this.#hooks.send(buildCancel(this.request).toBuffer());
    this.#fail(408);
  }

  #fail(status: 408 | 503): void {
    if (this.#state === 'terminated' || this.#finalStatus !== undefined) return;
    this.#finalStatus = status;
    this.#hooks.failed(status, this);
    this.#terminate();
  }

  onResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.#state) {
      case 'calling':
      case 'trying':
      case 'proceeding':
        if (status < 200) {
          this.#state = 'proceeding';
          // RFC 3261 §17.1.1.2: Timer B runs only in Calling. A ringing INVITE waits for its
          // final response; Timer C (restarted by each 1xx) cancels it if that never comes.
          if (this.isInvite) {
            clearTimeout(this.#timeoutTimer);
            this.#timeoutTimer = setTimeout(() => this.#timerC(), TIMERS.timerC);
          }
          this.#hooks.response(response, this, false);
          return;
        }
        this.#finalStatus = status;
        clearTimeout(this.#retransmitTimer);
        clearTimeout(this.#timeoutTimer);
        if (this.isInvite && status < 300) {
          this.#state = 'accepted';
          this.#timeoutTimer = setTimeout(() => this.#terminate(), TIMERS.transactionTimeout); // Timer M
        } else if (this.isInvite) {
          this.#state = 'completed';
          this.#ack = buildAckForFailure(this.request, response).toBuffer();
          this.#hooks.send(this.#ack);
          this.#timeoutTimer = setTimeout(() => this.#terminate(), this.#reliable ? 0 : TIMERS.timerD);
        } else {
          this.#state = 'completed';
          this.#timeoutTimer = setTimeout(() => this.#terminate(), this.#reliable ? 0 : TIMERS.T4); // Timer K
        }
        this.#hooks.response(response, this, false);
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.#hooks.response(response, this, true);
        return;
      case 'completed':
        if (this.isInvite && status >= 300 && this.#ack) this.#hooks.send(this.#ack);
        return;
      default:
        return;
    }
  }

  #terminate(): void {
    if (this.#state === 'terminated') return;
    clearTimeout(this.#retransmitTimer);
    clearTimeout(this.#timeoutTimer);
    this.#state = 'terminated';
    this.#hooks.terminated(this);
  }

  close(): void {
    this.#terminate();
  }
}

/** RFC 3261 §9.1: a CANCEL for an INVITE that got a provisional response (same branch, CSeq number). */
export function buildCancel(invite: SipRequest): SipRequest {
  const cancel = new SipRequest('CANCEL', invite.uri);
  const via = invite.get('via');
  if (via) cancel.add('via', via);
  for (const route of invite.getAll('route')) cancel.add('route', route);
  cancel.add('max-forwards', '70');
  cancel.add('from', invite.get('from') ?? '');
  cancel.add('to', invite.get('to') ?? '');
  cancel.add('call-id', invite.callId);
  cancel.add('cseq', `${invite.cseq.seq} CANCEL`);
  return cancel;
}

/** RFC 3261 §17.1.1.3: the ACK for a non-2xx, inside the INVITE's transaction. */
export function buildAckForFailure(invite: SipRequest, response: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', invite.uri);
  const via = invite.get('via');
  if (via) ack.add('via', via);
  for (const route of invite.getAll('route')) ack.add('route', route);
  ack.add('max-forwards', '70');
  ack.add('from', invite.get('from') ?? '');
  ack.add('to', response.get('to') ?? invite.get('to') ?? '');
  ack.add('call-id', invite.callId);
  ack.add('cseq', `${invite.cseq.seq} ACK`);
  return ack;
}
