/**
 * The registrar (RFC 3261 §10) as a drachtio-srf REGISTER handler: digest authentication
 * against the accounts (MD5 and SHA-256), bindings with bounded expiry into the location
 * service, at most five terminals per account, un-registration (one contact, or `*`), and a
 * lock-out of sources that keep failing authentication (recorded in the audit log).
 */
import type Srf from 'drachtio-srf';
import type { AccountStore } from '../../accounts/account-store.ts';
import { recordAudit } from '../../audit/audit-log.ts';
import type { Db } from '../../db/database.ts';
import { getLogger } from '../../logging/logger.ts';
import { headerParam, splitHeaderValues } from '../../signaling/sip/sip-message.ts';
import { parseNameAddr, parseUri } from '../../signaling/sip/sip-uri.ts';
import type { DigestAlgorithm, DigestAuthenticator } from './digest-auth.ts';
import { type Binding, type LocationService, MAX_BINDINGS_PER_ACCOUNT, parseUserAgent } from './location-service.ts';

const log = getLogger('registrar');

export interface RegistrarOptions {
  readonly db: Db;
  readonly accounts: AccountStore;
  readonly location: LocationService;
  readonly digest: DigestAuthenticator;
  /** The SIP domain (the local domain setting), also the digest realm. */
  readonly realm: () => string;
  /** Digest algorithms to challenge with, most preferred first (the sip.digestAlgorithms setting). */
  readonly algorithms: () => readonly DigestAlgorithm[];
  readonly minExpires?: number;
  readonly maxExpires?: number;
  /** Failed authentications from one address before it is locked out, and for how long. */
  readonly lockout?: { readonly failures: number; readonly windowMs: number; readonly durationMs: number };
}

interface FailureRecord {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

export class Registrar {
  readonly #options: RegistrarOptions;
  readonly #failures = new Map<string, FailureRecord>();

  constructor(options: RegistrarOptions) {
    this.#options = options;
  }

  get #lockout() {
    return this.#options.lockout ?? { failures: 10, windowMs: 5 * 60_000, durationMs: 10 * 60_000 };
  }

  handle = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => {
    const source = req.source_address;
    const now = Date.now();
    const record = this.#failures.get(source);
    if (record && record.lockedUntil > now) {
      res.send(403, 'Too many failed authentications; try again later', {});
      return;
    }
    const toUri = parseUri(parseNameAddr(req.get('To') ?? '')?.uri ?? '');
    const number = toUri?.user ?? '';
    if (!/^\d{4}$/.test(number)) {
      res.send(404, 'Not Found - accounts are 4-digit numbers', {});
      return;
    }
    const realm = this.#options.realm();
    const authorization = req.get('Authorization');
    if (!authorization) {
      res.send(401, { headers: { 'WWW-Authenticate': this.#options.digest.challenges(realm, this.#options.algorithms()).join(', ') } });
      return;
    }
    const result = this.#options.digest.verify(authorization, 'REGISTER', realm, (username) => this.#options.accounts.credentials(username, realm));
    if (result.outcome === 'stale') {
      res.send(401, { headers: { 'WWW-Authenticate': this.#options.digest.challenges(realm, this.#options.algorithms(), true).join(', ') } });
      return;
    }
    if (result.outcome === 'failed' || result.username !== number) {
      const reason = result.outcome === 'failed' ? result.reason : `credentials of ${result.username} used for ${number}`;
      this.#fail(source, number, reason);
      const account = this.#options.accounts.findByNumber(number);
      if (account && account.realm !== realm) {
        res.send(403, 'Forbidden - account credentials belong to another domain; reset the password', {});
      } else {
        res.send(403, 'Forbidden - wrong account or password', {});
      }
      return;
    }
    this.#failures.delete(source);
    this.#bind(req, res, number);
  };

  #fail(source: string, account: string, reason: string): void {
    const now = Date.now();
    const { failures, windowMs, durationMs } = this.#lockout;
    let record = this.#failures.get(source);
    if (!record || now - record.firstAt > windowMs) record = { count: 0, firstAt: now, lockedUntil: 0 };
    record.count++;
    this.#failures.set(source, record);
    log.warn({ source, account, reason, failures: record.count }, 'REGISTER authentication failed');
    if (record.count >= failures) {
      record.lockedUntil = now + durationMs;
      record.count = 0;
      record.firstAt = now;
      log.warn({ source, minutes: durationMs / 60_000 }, 'source locked out after repeated authentication failures');
      recordAudit(this.#options.db, {
        actor: 'system',
        source,
        action: 'sip.auth.lockout',
        detail: { account, failures, lockedForSeconds: durationMs / 1000 },
      });
    }
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
      headers.Contact = live.map((b) => `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`).join(', ');
    }
    log.debug({ account, contacts: live.length, source: req.source_address, protocol: req.protocol, userAgent }, 'registered');
    res.send(200, { headers });
  }
}
