/**
 * The registrar's hot path inside the signaling service: the two common REGISTERs are answered
 * here instead of crossing to the SIP application and back (each hop a parse and a
 * serialisation on both sides):
 *  1. a REGISTER of an account without credentials gets its 401 challenge here, with the
 *     application's own stateless nonces (server/sip-app/registrar/digest-auth.ts, the same
 *     key derived from the application secret both processes share: bound to the realm and the
 *     source address, the same lifetime, realm, qop and algorithms), so the application accepts
 *     what terminals answer to it; an answer whose nonce is forged, another address's or another
 *     realm's, or stale or replayed while the password is right, is challenged here too.
 *  2. an authenticated refresh of a binding the application already holds — the account's
 *     own credentials, right, against a nonce issued to this address and not used before; one
 *     Contact, the same URI, instance, transport, address and port as the cached binding,
 *     live; an expiry within the bounds — gets its 200 here; the refresh is reported to the
 *     application in its next feed (./registrar-cache.ts).
 * Everything else goes to the application as before (returns false): no feed lately, a source
 * locked out (the application answers 403), no account in the To, credentials of another
 * account or none known, a wrong password or a malformed answer (the application refuses and
 * counts it towards lock-out), first registrations, a new device, a changed Contact,
 * un-registering, several Contacts. The account's cached bindings are dropped then, until the
 * application feeds them again.
 *
 * Replay: this process verifies every authenticated REGISTER before the application sees it
 * and records each nonce's use here; a use the application accepted (its 2xx goes back through
 * this process) is recorded here too (`answeredByApp`). Nonces issued before this process
 * started are stale here (their uses here are forgotten), so a restart opens no replay.
 * The HA1 values are read from the database at each REGISTER: a changed password, a deleted
 * account count at once.
 */
import { monotonicMs } from '../../core/clock.ts';
import { getLogger } from '../../core/logger.ts';
import { type Credentials, type DigestAlgorithm, DigestAuthenticator } from '../../sip-app/registrar/digest-auth.ts';
import { dialOfUri } from '../../sip-app/request-dial.ts';
import { headerParam, type SipRequest, type SipResponse, splitHeaderValues } from '../sip/sip-message.ts';
import { parseNameAddr } from '../sip/sip-uri.ts';
import type { MessageSource } from '../transports/sip-transport.ts';
import type { RegistrarCache } from './registrar-cache.ts';

const log = getLogger('fast-registrar');

/** An Authorization header longer than this is the application's to refuse. */
const MAX_AUTHORIZATION = 2048;
/** The SIP fields whose values the report carries, bounded. */
const MAX_REPORTED = 256;

export interface FastRegistrarOptions {
  readonly cache: RegistrarCache;
  /** The nonce key (nonceKey() of the application secret). */
  readonly nonceKey: Buffer;
  /** The SIP domain, also the digest realm (the network.localDomain setting, read as the application reads it). */
  readonly realm: () => string;
  /** The digest algorithms to challenge with and accept, most preferred first (sip.digestAlgorithms). */
  readonly algorithms: () => readonly DigestAlgorithm[];
  /** The account's HA1 values for the realm, read from the database now (undefined: none). */
  readonly credentials: (account: string, realm: string) => Credentials | undefined;
  /** False: only challenges are answered here, every authenticated REGISTER goes on (to measure the two steps apart). */
  readonly refreshes?: boolean;
}

/** How a request is answered here: status, reason, extra headers; returns the response sent. */
export type Respond = (status: number, reason: string, extra: [string, string][]) => SipResponse;

export interface FastRegistrarCounts {
  challenges: number;
  refreshes: number;
  forwarded: number;
}

export class FastRegistrar {
  readonly #cache: RegistrarCache;
  readonly #digest: DigestAuthenticator;
  readonly #credentials: FastRegistrarOptions['credentials'];
  readonly #realm: () => string;
  readonly #algorithms: () => readonly DigestAlgorithm[];
  readonly #refreshes: boolean;
  readonly counts: FastRegistrarCounts = { challenges: 0, refreshes: 0, forwarded: 0 };

  constructor(options: FastRegistrarOptions) {
    this.#cache = options.cache;
    this.#credentials = options.credentials;
    this.#realm = options.realm;
    this.#algorithms = options.algorithms;
    this.#refreshes = options.refreshes ?? true;
    this.#digest = new DigestAuthenticator({ secret: options.nonceKey, staleBefore: monotonicMs() });
  }

  get cache(): RegistrarCache {
    return this.#cache;
  }

  /** Answers a REGISTER (out of any dialog, not a retransmission) here when it can; false: the application's. */
  handle(request: SipRequest, source: MessageSource, respond: Respond): boolean {
    const now = Date.now();
    const cache = this.#cache;
    // The cache's feed times and lock-outs are on the monotonic clock; the bindings' expiries (now) on the wall clock.
    if (!cache.live() || cache.isLocked(source.address)) return this.#forward(undefined);
    const dial = dialOfUri(parseNameAddr(request.get('to') ?? '')?.uri ?? '');
    if (dial.kind !== 'account') return this.#forward(undefined);
    const account = dial.number;
    const realm = this.#realm();
    const algorithms = this.#algorithms();
    const challenge = (stale: boolean) => {
      this.counts.challenges++;
      // One header line per algorithm, most preferred first (as the application sends them).
      respond(401, 'Unauthorized', this.#digest.challenges(realm, algorithms, source.address, stale).map((value) => ['www-authenticate', value]));
      return true;
    };
    const authorization = request.getAll('authorization');
    if (authorization.length === 0) return challenge(false);
    const header = authorization[0] as string;
    if (authorization.length > 1 || header.length > MAX_AUTHORIZATION) return this.#forward(account);
    let credentialsOf: string | undefined;
    const result = this.#digest.verify(header, { method: 'REGISTER', uri: request.uri, source: source.address }, realm, algorithms, (username) => {
      credentialsOf = username;
      return username === account ? this.#credentials(account, realm) : undefined;
    });
    if (result.outcome === 'challenge') {
      // A forged, foreign or other address's nonce (no password tested: not counted, as in the
      // application), or a right password against a stale or used nonce.
      log.debug({ source: source.address, account, reason: result.reason }, 'REGISTER challenged again');
      return challenge(result.stale);
    }
    // Refused or failed (the application answers and counts it), or the credentials of another account.
    if (result.outcome !== 'ok' || credentialsOf !== account) return this.#forward(account);
    return (this.#refreshes && this.#refresh(request, source, account, respond, now)) || this.#forward(account);
  }

  /** The REGISTER goes to the application: its account's bindings are not known here until it feeds them again. */
  #forward(account: string | undefined): false {
    this.counts.forwarded++;
    if (account !== undefined) this.#cache.invalidate(account);
    return false;
  }

  /** Answers an authenticated refresh of a cached binding (true), or leaves it to the application. */
  #refresh(request: SipRequest, source: MessageSource, account: string, respond: Respond, now: number): boolean {
    const cache = this.#cache;
    const contacts = request.getAll('contact').flatMap(splitHeaderValues);
    if (contacts.length !== 1) return false;
    const nameAddr = parseNameAddr(contacts[0] as string);
    if (!nameAddr) return false;
    const raw = (headerParam(nameAddr.params, 'expires') ?? request.get('expires') ?? String(cache.maxExpires)).trim();
    if (!/^\d{1,10}$/.test(raw)) return false;
    const requested = Number(raw);
    if (requested < cache.minExpires) return false; // 0 (un-register) and 423 are the application's
    const binding = cache.bindings(account, now).find((b) => b.contact === nameAddr.uri);
    if (!binding) return false;
    if (binding.protocol !== source.protocol || binding.address !== source.address || binding.port !== source.port) return false;
    if ((binding.instance ?? undefined) !== headerParam(nameAddr.params, '\\+sip\\.instance')) return false;
    const userAgent = request.get('user-agent') ?? '';
    const callId = request.callId;
    if (userAgent.length > MAX_REPORTED || callId.length > MAX_REPORTED) return false;
    const expiresAt = now + Math.min(requested, cache.maxExpires) * 1000;
    cache.refreshed(binding, {
      account,
      contact: binding.contact,
      callId,
      cseq: request.cseq.seq,
      expiresAt,
      registeredAt: now,
      userAgent,
      protocol: source.protocol,
      address: source.address,
      port: source.port,
    });
    const live = cache.bindings(account, now);
    const contact = live.map((b) => `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`).join(', ');
    this.counts.refreshes++;
    respond(200, 'OK', [
      ['contact', contact],
      ['date', new Date(now).toUTCString()],
    ]);
    return true;
  }

  /** The application answered a REGISTER it was sent: a 2xx used its nonce, remembered here against replay. */
  answeredByApp(request: SipRequest, status: number): void {
    if (status < 200 || status >= 300) return;
    const header = request.get('authorization');
    if (header && header.length <= MAX_AUTHORIZATION) this.#digest.remember(header);
  }
}
