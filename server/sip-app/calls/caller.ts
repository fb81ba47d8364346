/**
 * What a call handler needs to know about who is calling and how (From user and display name,
 * source address, transport, Call-ID), and the one way an error becomes a SIP reason phrase
 * (its reason parameter if it has one, on one line, bounded). Shared by meeting calls and the IVR.
 */
import type Srf from 'drachtio-srf';
import { parseNameAddr, parseUri } from '../../signaling/sip/sip-uri.ts';

export interface CallerInfo {
  /** The From URI's user part ('guest' when there is none). */
  readonly user: string;
  /** The From display name, if the terminal sent one. */
  readonly displayName: string | undefined;
  readonly callId: string;
  /** `address:port` the request came from. */
  readonly source: string;
  /** The address alone. */
  readonly address: string;
  readonly transport: string;
}

export function callerOf(req: Srf.SrfRequest): CallerInfo {
  // parseNameAddr is linear; a regular expression here was cubic on a long run of blanks.
  const displayName = parseNameAddr(req.get('From') ?? '')?.display?.trim();
  return {
    // Our own parser, which answers undefined for a From it cannot read: srf's getParsedHeader
    // throws on some (`From: ;tag=x`), and this runs inside call handlers.
    user: parseUri(parseNameAddr(req.get('From') ?? '')?.uri ?? '')?.user || 'guest',
    displayName: displayName || undefined,
    callId: req.get('Call-ID') ?? '',
    source: `${req.source_address}:${req.source_port}`,
    address: req.source_address,
    transport: String((req as unknown as { protocol?: string }).protocol ?? 'udp'),
  };
}

/** An error's reason, fit for a SIP reason phrase. */
export function reasonPhrase(error: Error & { params?: { reason?: unknown } }): string {
  return String(error.params?.reason ?? error.message)
    .replace(/[\r\n]/g, ' ')
    .slice(0, 200);
}

const WARNING_CODES = new Set([301, 302, 305, 399]);

/**
 * The Warning header (RFC 3261 §20.43) of a 488 that refuses an SDP offer: the media side's
 * code (301 address family, 302 transport profile, 305 media format; 399 otherwise) and the
 * reason in words, so that a terminal's log or screen says what was not acceptable.
 */
export function sdpWarning(error: Error & { params?: { reason?: unknown; warning?: unknown } }): Record<string, string> {
  const code = WARNING_CODES.has(Number(error.params?.warning)) ? Number(error.params?.warning) : 399;
  const text = reasonPhrase(error).replace(/["\\]/g, "'");
  return { Warning: `${code} vcbox "${text}"` };
}
