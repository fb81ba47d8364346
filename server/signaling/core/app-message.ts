/**
 * What the signaling service does to a SIP message an application hands it before it goes on
 * the wire (drachtio-wire-protocol.md §6.1): drops the headers only the server may set,
 * replaces `@localhost` with the sending transport's address, types an untyped SDP body and
 * refuses an untyped other body. Shared by responses, new requests and in-dialog requests.
 */
import type { SipMessage } from '../sip/sip-message.ts';

/** Headers an application may not set (the server owns them). */
const FORBIDDEN = new Set(['via', 'route', 'record-route', 'rseq', 'content-length']);
/** Headers the server builds itself from the transaction or dialog. */
const DIALOG_HEADERS = new Set(['from', 'to', 'call-id', 'cseq']);
const LOCALHOST_HEADERS = new Set(['from', 'to', 'contact', 'p-asserted-identity']);
const CHALLENGE_HEADERS = new Set(['www-authenticate', 'proxy-authenticate']);

export interface CopyOptions {
  /** Also take From/To/Call-ID/CSeq from the application (new out-of-dialog requests). */
  readonly includeDialogHeaders?: boolean;
  /** Headers the caller has set already and the application's copy must not repeat. */
  readonly skip?: ReadonlySet<string>;
}

/** Copies the application's headers onto `target` (after the fixed ones the caller added). */
export function copyAppHeaders(source: SipMessage, target: SipMessage, hostport: string, options: CopyOptions = {}): void {
  for (const [name, value] of source.headers) {
    if (FORBIDDEN.has(name) || options.skip?.has(name)) continue;
    if (DIALOG_HEADERS.has(name) && !options.includeDialogHeaders) continue;
    if (/[\r\n]/.test(value)) continue;
    if (CHALLENGE_HEADERS.has(name)) {
      // srf can only give one value per header name; several challenges (RFC 8760: one per
      // algorithm) go on the wire as one header line each, as SIP requires.
      for (const challenge of value.split(/,\s*(?=Digest\s)/i)) target.add(name, challenge.trim());
      continue;
    }
    target.add(name, LOCALHOST_HEADERS.has(name) ? replaceLocalhost(value, hostport) : value);
  }
}

export function replaceLocalhost(value: string, hostport: string): string {
  return value.replace(/@localhost(?=[;>:\s]|$)(:\d+)?/gi, `@${hostport}`);
}

/** Sets the body and its type; returns an error text when a non-SDP body has no type. */
export function applyBody(source: SipMessage, target: SipMessage): string | undefined {
  target.body = source.body;
  if (source.body.length === 0) return undefined;
  const type = source.get('content-type');
  if (type) {
    if (!target.has('content-type')) target.add('content-type', type);
    return undefined;
  }
  if (source.body.subarray(0, 3).toString('latin1') === 'v=0') {
    target.set('content-type', 'application/sdp');
    return undefined;
  }
  return 'missing content-type';
}
