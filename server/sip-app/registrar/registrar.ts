/**
 * The registrar (RFC 3261 §10) as a drachtio-srf REGISTER handler: digest authentication
 * against the accounts (MD5 and SHA-256), bindings with bounded expiry into the location
 * service, at most five terminals per account, un-registration (one contact, or `*`); sources
 * that keep failing authentication are locked out (./auth-lockout.ts).
 */
import type Srf from 'drachtio-srf';
import type { AccountStore } from '../../accounts/account-store.ts';
import { getLogger } from '../../core/logger.ts';
import { headerParam, splitHeaderValues } from '../../signaling/sip/sip-message.ts';
import { parseNameAddr, parseUri } from '../../signaling/sip/sip-uri.ts';
import { dialOfUri } from '../request-dial.ts';
import type { AuthLockout } from './auth-lockout.ts';
import type { DigestAlgorithm, DigestAuthenticator } from './digest-auth.ts';
import { type Binding, type LocationService, MAX_BINDINGS_PER_ACCOUNT, parseUserAgent } from './location-service.ts';

const log = getLogger('registrar');

export interface RegistrarOptions {
  readonly accounts: AccountStore;
  readonly location: LocationService;
  readonly digest: DigestAuthenticator;
  /** The SIP domain (the local domain setting), also the digest realm. */
  readonly realm: () => string;
  /** Digest algorithms to challenge with, most preferred first (the sip.digestAlgorithms setting). */
  readonly algorithms: () => readonly DigestAlgorithm[];
  readonly minExpires?: number;
  readonly maxExpires?: number;
  /** Addresses that keep failing authentication (shared with INVITE). */
  readonly lockout: AuthLockout;
  /** Runs after each REGISTER of an account was answered, whatever the answer (./registrar-feed.ts). */
  readonly handled?: (account: string) => void;
}

export class Registrar {
  readonly #options: RegistrarOptions;

  constructor(options: RegistrarOptions) {
    this.#options = options;
  }

  handle = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => {
    const source = req.source_address;
    if (this.#options.lockout.isLocked(source)) {
      res.send(403, 'Too many failed authentications; try again later', {});
      return;
    }
    const dial = dialOfUri(parseNameAddr(req.get('To') ?? '')?.uri ?? '');
    if (dial.kind !== 'account') {
      res.send(404, 'Not Found - accounts are 4-digit numbers', {});
      return;
    }
    const number = dial.number;
    try {
      this.#handleAccount(req, res, source, number);
    } finally {
      this.#options.handled?.(number);
    }
  };

  #handleAccount(req: Srf.SrfRequest, res: Srf.SrfResponse, source: string, number: string): void {
    const realm = this.#options.realm();
    const algorithms = this.#options.algorithms();
    const challenge = (stale: boolean) =>
      res.send(401, { headers: { 'WWW-Authenticate': this.#options.digest.challenges(realm, algorithms, source, stale).join(', ') } });
    const authorization = req.get('Authorization');
    if (!authorization) {
      challenge(false);
      return;
    }
    const result = this.#options.digest.verify(authorization, { method: 'REGISTER', uri: req.uri, source }, realm, algorithms, (username) =>
      this.#options.accounts.credentials(username, realm),
    );
    // Challenges and refusals tested no password: they are not counted (a spoofed source
    // could send them by the thousand), and logged only at debug level for the same reason.
    if (result.outcome === 'challenge') {
      log.debug({ source, account: number, reason: result.reason }, 'REGISTER challenged again');
      challenge(result.stale);
      return;
    }
    if (result.outcome === 'refused') {
      log.debug({ source, account: number, reason: result.reason }, 'REGISTER refused');
      res.send(403, `Forbidden - ${result.reason}`, {});
      return;
    }
    if (result.outcome === 'failed') {
      this.#options.lockout.failed(source, number, 'REGISTER', result.reason);
      const account = this.#options.accounts.findByNumber(number);
      if (account && account.realm !== realm) {
        res.send(403, 'Forbidden - account credentials belong to another domain; reset the password', {});
      } else {
        res.send(403, 'Forbidden - wrong account or password', {});
      }
      return;
    }
    if (result.username !== number) {
      log.info({ source, account: number, username: result.username }, 'REGISTER refused: credentials of another account');
      res.send(403, `Forbidden - the credentials of account ${result.username} cannot register ${number}`, {});
      return;
    }
    this.#options.lockout.succeeded(source);
    this.#bind(req, res, number);
  }

  #bind(req: Srf.SrfRequest, res: Srf.SrfResponse, account: string): void {
    const minExpires = this.#options.minExpires ?? 60;
    const maxExpires = this.#options.maxExpires ?? 3600;
    const contacts = splitHeaderValues(req.get('Contact') ?? '');
    const expiresHeader = req.get('Expires');
    const callId = req.get('Call-ID') ?? '';
    const cseq = Number.parseInt(req.get('CSeq') ?? '0', 10);
    const userAgent = req.get('User-Agent') ?? '';
    const { model, version } = parseUserAgent(userAgent);
    // Wall-clock: what the console shows and the store keeps; the location service decides liveness on the monotonic clock.
    const now = Date.now();

    if (contacts.length === 1 && contacts[0] === '*') {
      this.#options.location.removeAll(account);
      log.info({ account }, 'all terminals un-registered');
      res.send(200, { headers: { Date: new Date().toUTCString() } });
      return;
    }
    const updates: Binding[] = [];
    const removals: string[] = [];
    for (const value of contacts) {
      const nameAddr = parseNameAddr(value);
      if (!nameAddr || !parseUri(nameAddr.uri)) {
        res.send(400, `Bad Request - invalid Contact ${value.slice(0, 60)}`, {});
        return;
      }
      const raw = headerParam(nameAddr.params, 'expires') ?? expiresHeader ?? String(maxExpires);
      const requested = Number.parseInt(raw, 10);
      if (!Number.isFinite(requested) || requested < 0) {
        res.send(400, `Bad Request - invalid expires ${raw}`, {});
        return;
      }
      if (requested === 0) {
        removals.push(nameAddr.uri);
        continue;
      }
      if (requested < minExpires) {
        res.send(423, 'Interval Too Brief', { headers: { 'Min-Expires': String(minExpires) } });
        return;
      }
      const expires = Math.min(requested, maxExpires);
      updates.push({
        account,
        contact: nameAddr.uri,
        instance: headerParam(nameAddr.params, '\\+sip\\.instance'),
        callId,
        cseq,
        expiresAt: now + expires * 1000,
        registeredAt: now,
        userAgent,
        model,
        version,
        source: { protocol: req.protocol, address: req.source_address, port: Number(req.source_port) },
      });
    }
    if (!this.#options.location.apply(account, updates, removals)) {
      log.warn({ account, source: req.source_address }, 'registration refused: device limit reached');
      res.send(403, `Forbidden - at most ${MAX_BINDINGS_PER_ACCOUNT} devices may register to one account`, {});
      return;
    }
    const live = this.#options.location.lookup(account);
    const headers: Record<string, string> = { Date: new Date().toUTCString() };
    if (live.length > 0) {
      headers.Contact = live.map((b) => `<${b.contact}>;expires=${this.#options.location.secondsLeft(b)}`).join(', ');
    }
    log.debug({ account, contacts: live.length, source: req.source_address, protocol: req.protocol, userAgent }, 'registered');
    res.send(200, { headers });
  }
}
