/**
 * Which TCP/TLS connection a terminal registered over (drachtio §10(f)): requests to a Contact
 * that registered on a stream connection reuse that connection (the terminal is often behind
 * NAT and reachable no other way). Keyed by the Contact's `user@host:port`; entries lapse with
 * the registration. The connections themselves are ./connection-registry.ts.
 */
import { headerParam, type SipRequest, type SipResponse } from '../sip/sip-message.ts';
import { parseNameAddr, parseUri } from '../sip/sip-uri.ts';
import type { MessageSource } from './sip-transport.ts';
import { monotonicMs } from '../../core/clock.ts';

/** How a registered terminal's stream connection is found again: `user@host:port` of its Contact. */
function contactKey(uri: { user: string | undefined; host: string; port: number | undefined }): string {
  return `${uri.user ?? ''}@${uri.host}:${uri.port ?? ''}`;
}

export class RegisteredConnections {
  readonly #byContact = new Map<string, { protocol: 'tcp' | 'tls'; connectionId: string; until: number }>();
  #registrationsSinceSweep = 0;

  /** The connection a Contact URI registered on, while its registration lasts. */
  lookup(uri: { user: string | undefined; host: string; port: number | undefined }): { protocol: 'tcp' | 'tls'; connectionId: string } | undefined {
    const entry = this.#byContact.get(contactKey(uri));
    return entry && entry.until > monotonicMs() ? entry : undefined;
  }

  /** A REGISTER from `source` was answered 2xx by `response`: remember (or forget) its bindings. */
  remember(request: SipRequest, response: SipResponse, source: MessageSource): void {
    if (source.protocol === 'udp' || !source.connectionId) return;
    // The 200 lists every binding of the account; only the ones this REGISTER carried live on
    // this connection (another device's contact must not be routed here).
    const own = new Set(request.getAll('contact').map((value) => parseNameAddr(value)?.uri));
    for (const value of request.getAll('contact')) {
      const nameAddr = parseNameAddr(value);
      const uri = nameAddr ? parseUri(nameAddr.uri) : undefined;
      const expires = headerParam(nameAddr?.params ?? '', 'expires') ?? request.get('expires');
      if (uri && expires?.trim() === '0') this.#byContact.delete(contactKey(uri));
    }
    for (const value of response.getAll('contact')) {
      const nameAddr = parseNameAddr(value);
      const uri = nameAddr && own.has(nameAddr.uri) ? parseUri(nameAddr.uri) : undefined;
      if (!nameAddr || !uri) continue;
      const expires = Number(headerParam(nameAddr.params, 'expires') ?? response.get('expires') ?? 3600);
      const key = contactKey(uri);
      if (expires === 0) this.#byContact.delete(key);
      else this.#byContact.set(key, { protocol: source.protocol, connectionId: source.connectionId, until: monotonicMs() + expires * 1000 });
    }
    // Forget registrations that lapsed (terminals that went away without un-registering).
    if (this.#byContact.size > 1000 && ++this.#registrationsSinceSweep >= 1000) {
      this.#registrationsSinceSweep = 0;
      const now = monotonicMs();
      for (const [key, entry] of this.#byContact) if (entry.until < now) this.#byContact.delete(key);
    }
  }
}
