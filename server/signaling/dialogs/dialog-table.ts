/**
 * The dialog table: the SIP dialogs open now (./dialog.ts), by drachtio's dialog id. It matches
 * in-dialog messages by Call-ID and tags (either side may have created the dialog), creates the
 * dialog of a 1xx/2xx to INVITE or SUBSCRIBE — as UAS from the application's answer, as UAC from
 * the network's — follows its early/confirmed state, and builds requests inside a dialog
 * (RFC 3261 §12). Which application owns a dialog is opaque here; sending is not done here.
 */
import { headerParam, SipRequest, type SipResponse } from '../sip/sip-message.ts';
import { parseNameAddr } from '../sip/sip-uri.ts';
import type { MessageSource } from '../transports/sip-transport.ts';
import { type Dialog, dialogIdOf, newDialog } from './dialog.ts';

/** The tag parameter of a From/To header value ('' when there is none). */
export function tagOf(value: string | undefined): string {
  return headerParam(value ?? '', 'tag') ?? '';
}

/**
 * The URI of a Contact header value; undefined when there is none or it is empty (a 1xx/2xx
 * without Contact must neither leave a dialog without a remote target nor erase a good one).
 */
export function contactTarget(value: string | undefined): string | undefined {
  const uri = parseNameAddr(value ?? '')?.uri.trim();
  return uri || undefined;
}

/** What the table needs of a server transaction that answered a dialog-creating request. */
interface AnsweredRequest {
  readonly request: SipRequest;
  readonly source: MessageSource;
  readonly isInvite: boolean;
  readonly dialogId: string;
  acknowledged2xx(): void;
}

/** What the table needs of a client transaction whose request may create a dialog. */
interface SentRequest {
  readonly request: SipRequest;
  readonly dialogId: string;
}

export class DialogTable {
  readonly #dialogs = new Map<string, Dialog>();
  /** Told when a dialog comes, goes or is confirmed (the dialog snapshot is written soon after). */
  onChange: () => void = () => {};

  get size(): number {
    return this.#dialogs.size;
  }

  get(id: string): Dialog | undefined {
    return this.#dialogs.get(id);
  }

  /** Puts a dialog in the table (a restored or adopted one). */
  set(dialog: Dialog): void {
    this.#dialogs.set(dialog.id, dialog);
    this.onChange();
  }

  delete(id: string): void {
    if (this.#dialogs.delete(id)) this.onChange();
  }

  values(): IterableIterator<Dialog> {
    return this.#dialogs.values();
  }

  /**
   * The dialog of an in-dialog message: ours as UAS (From tag is the peer's, To tag ours) or as
   * UAC (To tag is ours). Our tag is always required: a stray request that guessed a Call-ID
   * and the peer's tag (both on the wire of every message of the call) matches nothing.
   */
  find(callId: string, fromTag: string, toTag: string): Dialog | undefined {
    const byFrom = this.#dialogs.get(dialogIdOf(callId, fromTag));
    if (byFrom && byFrom.remoteTag === fromTag && byFrom.localTag === toTag) return byFrom;
    const byTo = this.#dialogs.get(dialogIdOf(callId, toTag));
    if (byTo && byTo.localTag === toTag) return byTo;
    return undefined;
  }

  /** The dialog a message belongs to, by its Call-ID, From tag and To tag. */
  match(message: SipRequest | SipResponse): Dialog | undefined {
    return this.find(message.callId, tagOf(message.get('from')), tagOf(message.get('to')));
  }

  /** Ends the dialogs an application connection owned (it went away). */
  removeOwnedBy(owner: unknown): void {
    for (const [id, dialog] of this.#dialogs) if (dialog.owner === owner) this.delete(id);
  }

  /** Ends an early dialog (a final failure response ended its INVITE/SUBSCRIBE). */
  removeIfEarly(id: string): void {
    if (id && this.#dialogs.get(id)?.state === 'early') this.delete(id);
  }

  /** Whether a dialog still goes through the connection (or draining UDP socket) `connectionId`. */
  uses(connectionId: string): boolean {
    for (const dialog of this.#dialogs.values()) if (dialog.peer.connectionId === connectionId) return true;
    return false;
  }

  /** After a UDP port change: dialogs over UDP so far stay on the former port (`drainingId`). */
  keepUdpPeersOn(drainingId: string): void {
    for (const dialog of this.#dialogs.values()) {
      if (dialog.peer.protocol === 'udp' && dialog.peer.connectionId === undefined) dialog.peer = { ...dialog.peer, connectionId: drainingId };
    }
  }

  /**
   * The application answered a dialog-creating request 1xx/2xx: the dialog is created (UAS), or
   * confirmed by a 2xx; an INVITE's 2xx then waits for its ACK (`pendingAck`).
   */
  upsertUas(transaction: AnsweredRequest, response: SipResponse, owner: unknown): void {
    const request = transaction.request;
    const id = transaction.dialogId;
    const existing = this.#dialogs.get(id);
    const confirmed = response.status >= 200;
    if (existing) {
      if (confirmed && existing.state !== 'confirmed') {
        existing.state = 'confirmed';
        this.onChange();
      }
      if (confirmed && transaction.isInvite) existing.pendingAck = transaction;
      return;
    }
    const dialog = newDialog({
      id,
      role: 'uas',
      callId: request.callId,
      local: response.get('to') ?? '',
      remote: request.get('from') ?? '',
      localTag: tagOf(response.get('to')),
      remoteTag: tagOf(request.get('from')),
      localSeq: Math.floor(Math.random() * 10_000) + 1,
      remoteSeq: request.cseq.seq,
      // Without a Contact (RFC 3261 requires one), the From URI is where the peer is.
      remoteTarget: contactTarget(request.get('contact')) ?? parseNameAddr(request.get('from') ?? '')?.uri ?? request.uri,
      routeSet: request.getAll('record-route'),
      peer: transaction.source,
      owner,
      method: request.method,
      state: confirmed ? 'confirmed' : 'early',
      inviteSeq: request.cseq.seq,
      pendingAck: confirmed && transaction.isInvite ? transaction : undefined,
    });
    this.#dialogs.set(id, dialog);
    if (dialog.state === 'confirmed') this.onChange();
  }

  /**
   * A response from the network to an INVITE/SUBSCRIBE the box sent: a 1xx/2xx with a To tag
   * creates the dialog (UAC) or confirms an early one; a failure ends an early one.
   */
  onUacResponse(transaction: SentRequest, response: SipResponse, peer: MessageSource, owner: unknown): void {
    const status = response.status;
    const dialogId = transaction.dialogId;
    const remoteTag = tagOf(response.get('to'));
    if (status > 100 && status < 300 && remoteTag) {
      const existing = this.#dialogs.get(dialogId);
      if (!existing) this.#createUac(transaction, response, peer, owner);
      else if (status >= 200 && existing.state === 'early') {
        existing.state = 'confirmed';
        this.onChange();
        existing.remoteTag = remoteTag;
        existing.remote = response.get('to') ?? existing.remote;
        existing.remoteTarget = contactTarget(response.get('contact')) ?? existing.remoteTarget;
      }
    } else if (status >= 300) {
      this.removeIfEarly(dialogId);
    }
  }

  #createUac(transaction: SentRequest, response: SipResponse, peer: MessageSource, owner: unknown): void {
    const request = transaction.request;
    const dialog = newDialog({
      id: transaction.dialogId,
      role: 'uac',
      callId: request.callId,
      local: request.get('from') ?? '',
      remote: response.get('to') ?? '',
      localTag: tagOf(request.get('from')),
      remoteTag: tagOf(response.get('to')),
      localSeq: request.cseq.seq,
      remoteSeq: 0,
      // Without a Contact the request URI stands in (RFC 3261 §12.1.2 needs one; some send none on a 1xx).
      remoteTarget: contactTarget(response.get('contact')) ?? request.uri,
      routeSet: response.getAll('record-route').reverse(),
      peer,
      owner,
      method: request.method,
      state: response.status >= 200 ? 'confirmed' : 'early',
      inviteSeq: request.cseq.seq,
      lastInviteFinal: response.status >= 200 ? response.status : undefined,
    });
    this.#dialogs.set(dialog.id, dialog);
    if (dialog.state === 'confirmed') this.onChange();
  }

  /** Builds a request inside `dialog` (RFC 3261 §12.2.1.1); the application's CSeq and URI are kept when usable. */
  buildRequest(dialog: Dialog, method: string, appRequest: SipRequest | undefined): SipRequest {
    const appSeq = appRequest?.has('cseq') ? appRequest.cseq.seq : undefined;
    let seq: number;
    if (method === 'ACK' || method === 'CANCEL') seq = dialog.inviteSeq;
    else if (appSeq !== undefined && appSeq > dialog.localSeq) seq = appSeq;
    else seq = ++dialog.localSeq;
    dialog.localSeq = Math.max(dialog.localSeq, seq);
    if (method === 'INVITE') dialog.inviteSeq = seq;
    const useAppUri = appRequest && method !== 'ACK' && !appRequest.uri.includes('placeholder');
    const request = new SipRequest(method, useAppUri ? appRequest.uri : dialog.remoteTarget);
    for (const route of dialog.routeSet) request.add('route', route);
    request.add('max-forwards', '70');
    request.add('from', dialog.local);
    request.add('to', dialog.remote);
    request.add('call-id', dialog.callId);
    request.add('cseq', `${seq} ${method}`);
    return request;
  }

  clear(): void {
    this.#dialogs.clear();
  }
}
