/**
 * A SIP dialog as the signaling service tracks it (RFC 3261 §12): identifiers, sequence
 * numbers, the remote target and route set needed to build in-dialog requests for the
 * application, the connection it arrived on, and which application connection owns it.
 * The id is drachtio's: `<Call-ID>;from-tag=<From tag of the dialog-creating request>`.
 */
import type { MessageSource } from '../transports/sip-transport.ts';

export type DialogRole = 'uas' | 'uac';

export interface Dialog {
  readonly id: string;
  readonly role: DialogRole;
  readonly callId: string;
  /** Our From/To header value with our tag (`<sip:…>;tag=…`). */
  readonly local: string;
  /** The peer's From/To header value with its tag. */
  remote: string;
  readonly localTag: string;
  remoteTag: string;
  localSeq: number;
  remoteSeq: number;
  /** The peer's Contact URI: where in-dialog requests go. */
  remoteTarget: string;
  /** Route set (Record-Route, in the order requests must carry it). */
  routeSet: string[];
  /** Where the dialog's peer was last heard from (stream: its connection). */
  peer: MessageSource;
  /** The application connection that owns the dialog. */
  owner: unknown;
  /** The dialog-creating method: INVITE or SUBSCRIBE. */
  readonly method: string;
  state: 'early' | 'confirmed';
  /** CSeq number of the INVITE that the next ACK acknowledges. */
  inviteSeq: number;
  /** The last ACK we sent for a 2xx, repeated if the 2xx is retransmitted. */
  lastAck: Buffer | undefined;
  /** Final status of the last INVITE we sent in this dialog (an ACK is ours only after a 2xx). */
  lastInviteFinal: number | undefined;
  /** Server transaction of an INVITE answered 2xx and not yet acknowledged. */
  pendingAck: { acknowledged2xx(): void } | undefined;
}

export function dialogIdOf(callId: string, fromTag: string): string {
  return `${callId};from-tag=${fromTag}`;
}

/** Fields a new dialog starts without: set as the dialog lives. */
type LaterFields = 'lastAck' | 'lastInviteFinal' | 'pendingAck';

/** A dialog record with the fields that only later events fill left empty (or as given). */
export function newDialog(fields: Omit<Dialog, LaterFields> & Partial<Pick<Dialog, LaterFields>>): Dialog {
  return { lastAck: undefined, lastInviteFinal: undefined, pendingAck: undefined, ...fields };
}
