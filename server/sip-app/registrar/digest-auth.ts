/**
 * SIP (and the provisioning URL's HTTP) digest authentication on the server side (RFC 3261
 * §22, RFC 7616, RFC 8760 for SHA-256): challenges carrying a stateless nonce (time + salt +
 * HMAC over the realm and the address it was issued to, so any process with the secret can
 * check it and nothing is stored per challenge), and verification of Authorization headers
 * against stored HA1 values.
 *
 * What a verification checks, and what each refusal means for the caller:
 * - `challenge`: ask again with a fresh nonce — the nonce is not one this server issued to this
 *   address (forged, another address's, another realm's), or it is past its lifetime or used
 *   before (replay: single use without qop, strictly rising nonce-count with qop=auth); the
 *   last two answered `stale=true` when the credentials themselves were right, so terminals
 *   retry without asking the user.
 * - `refused`: the answer cannot be right whatever the password — an algorithm not configured
 *   (sip.digestAlgorithms), a `uri` that is not the Request-URI, an unknown qop, a header
 *   missing parts. No password was tested.
 * - `failed`: a password (or user name) was tested against a nonce issued to this address and
 *   was wrong. Only these count towards locking the address out (./auth-lockout.ts), so
 *   packets from a spoofed UDP source, which never saw a nonce for that address, cannot lock a
 *   terminal out.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseUri } from '../../signaling/sip/sip-uri.ts';
import { monotonicMs } from '../../core/clock.ts';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface Credentials {
  readonly ha1Md5: string;
  readonly ha1Sha256: string;
}

/** The request an Authorization header has to answer. */
export interface DigestRequest {
  readonly method: string;
  /** The Request-URI (SIP) or request target (HTTP) the answer must have signed. */
  readonly uri: string;
  /** The address the request came from: nonces are issued to one address. */
  readonly source: string;
}

export type VerifyResult =
  | { readonly outcome: 'ok'; readonly username: string; readonly algorithm: DigestAlgorithm }
  /** Ask again with a fresh nonce (`stale`: the credentials were right, only the nonce was not). */
  | { readonly outcome: 'challenge'; readonly username: string | undefined; readonly stale: boolean; readonly reason: string }
  /** Refused without testing a password (a client or configuration mismatch). */
  | { readonly outcome: 'refused'; readonly username: string | undefined; readonly reason: string }
  /** A wrong password or user name against a nonce issued to this address: counts towards lock-out. */
  | { readonly outcome: 'failed'; readonly username: string | undefined; readonly reason: string };

export interface DigestOptions {
  readonly secret: Buffer;
  readonly nonceLifetimeMs?: number;
  /**
   * Nonces issued before this time are answered as stale: their use may have been recorded by
   * a process that is gone (the signaling service's fast path after its restart).
   */
  readonly staleBefore?: number;
}

/** The key of the stateless nonces, derived from the application secret the SIP processes share. */
export function nonceKey(applicationSecret: string): Buffer {
  return createHash('sha256').update(`digest:${applicationSecret}`).digest();
}

const hash = (algorithm: DigestAlgorithm, text: string) =>
  createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(text).digest('hex');

/**
 * Live nonces whose use is remembered (replay check). Beyond it the oldest are forgotten, and
 * every nonce issued up to the last forgotten one is answered as stale from then on.
 */
const MAX_REMEMBERED_NONCES = 100_000;

/** Random bytes drawn in blocks (one system call per 1 024 nonces, not one each); 6 per salt. */
let saltPool = Buffer.alloc(0);
let saltAt = 0;
function nextSalt(): string {
  if (saltAt + 6 > saltPool.length) {
    saltPool = randomBytes(6 * 1024);
    saltAt = 0;
  }
  saltAt += 6;
  return saltPool.toString('base64url', saltAt - 6, saltAt);
}

/** A value from the request, fit to be quoted in a reason phrase or a log line: printable ASCII, bounded. */
function shown(text: string | undefined, max = 80): string {
  return String(text ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** Parses `Digest a="b", c=d` into a map (names lower-case, quotes removed). */
export function parseDigest(header: string): Map<string, string> | undefined {
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const params = new Map<string, string>();
  // The look-behind starts a name only where a word starts (without it: quadratic on a long word).
  const re = /(?<![A-Za-z0-9_-])([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const m of (match[1] as string).matchAll(re)) {
    params.set((m[1] as string).toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  }
  return params;
}

/**
 * Whether the `uri` an answer signed names the resource of the request: the same text, or — for
 * SIP URIs — the same scheme, user, host (case-insensitive) and port (RFC 3261 §22.4 wants them
 * to refer to the same resource; terminals copy the Request-URI, some with other letter case).
 */
export function sameResource(signed: string, requestUri: string): boolean {
  if (signed === requestUri) return true;
  const a = parseUri(signed);
  const b = parseUri(requestUri);
  if (!a || !b) return false;
  return a.scheme === b.scheme && a.user === b.user && a.host === b.host && a.port === b.port;
}

export class DigestAuthenticator {
  readonly #secret: Buffer;
  readonly #lifetime: number;
  /**
   * Nonces used successfully, with the highest nonce-count seen (Infinity: used without qop, so
   * used up), in order of first use (close to issue order: terminals answer a challenge at
   * once); nonces past their lifetime are dropped (refused as stale anyway).
   */
  readonly #used = new Map<string, number>();
  /** Nonces issued at or before this time are stale: their use may have been forgotten (the cap). */
  #staleUpTo = Number.NEGATIVE_INFINITY;

  constructor(options: DigestOptions) {
    this.#secret = options.secret;
    this.#lifetime = options.nonceLifetimeMs ?? 300_000;
    if (options.staleBefore !== undefined) this.#staleUpTo = options.staleBefore;
  }

  /**
   * Records the use an Authorization header made of its nonce, when another process accepted
   * it (the SIP application answered 2xx): a replay of it is then refused here too. Only a
   * genuine nonce's use is recorded (the header itself was checked there).
   */
  remember(header: string): void {
    const params = parseDigest(header);
    const nonce = params?.get('nonce');
    if (!params || !nonce || nonce.length > 64) return;
    const issued = this.#issuedAt(nonce);
    if (!Number.isFinite(issued) || monotonicMs() - issued > this.#lifetime) return;
    this.#forgetExpired();
    const qop = params.get('qop');
    const count = qop ? Number.parseInt(params.get('nc') ?? '', 16) : Number.POSITIVE_INFINITY;
    if (!(count > 0)) return;
    this.#used.set(nonce, Math.max(this.#used.get(nonce) ?? 0, count));
  }

  /**
   * `<time>.<salt>.<mac>`: the salt makes nonces issued in the same millisecond differ. The time
   * is on the monotonic clock (server/core/clock.ts), the same in every process of a boot: a
   * nonce outlives a restart of the control plane, and a wall clock set back does not stretch
   * its lifetime (nor a forward one cut it short).
   */
  #nonce(realm: string, source: string, at = Math.floor(monotonicMs()), salt = nextSalt()): string {
    const time = at.toString(36);
    return `${time}.${salt}.${this.#mac(time, salt, realm, source)}`;
  }

  #mac(time: string, salt: string, realm: string, source: string): string {
    return createHmac('sha256', this.#secret).update(`${time}:${salt}:${realm}:${source}`).digest('base64url').slice(0, 22);
  }

  #issuedAt(nonce: string): number {
    return Number.parseInt(nonce.slice(0, nonce.indexOf('.')), 36);
  }

  /** Drops remembered nonces past their lifetime (oldest first), and the oldest beyond the cap. */
  #forgetExpired(now = monotonicMs()): void {
    for (const nonce of this.#used.keys()) {
      const issued = this.#issuedAt(nonce);
      const expired = now - issued > this.#lifetime;
      if (!expired && this.#used.size <= MAX_REMEMBERED_NONCES) break;
      if (!expired) this.#staleUpTo = Math.max(this.#staleUpTo, issued);
      this.#used.delete(nonce);
    }
  }

  /**
   * WWW-Authenticate / Proxy-Authenticate values for a request from `source`, one per
   * algorithm, in the order given (most preferred first, RFC 8760 §2.4), sharing one nonce.
   */
  challenges(realm: string, algorithms: readonly DigestAlgorithm[], source: string, stale = false): string[] {
    const nonce = this.#nonce(realm, source);
    return algorithms.map(
      (algorithm) => `Digest realm="${realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  /**
   * Checks an Authorization header answering `request` against the user's stored credentials;
   * `algorithms` are the accepted ones (the configured challenge algorithms).
   */
  verify(
    header: string,
    request: DigestRequest,
    realm: string,
    algorithms: readonly DigestAlgorithm[],
    lookup: (username: string) => Credentials | undefined,
  ): VerifyResult {
    const params = parseDigest(header);
    if (!params) return { outcome: 'refused', username: undefined, reason: 'the Authorization header is not a Digest answer' };
    const username = params.get('username');
    const nonce = params.get('nonce') ?? '';
    const uri = params.get('uri');
    const response = params.get('response') ?? '';
    const algorithmText = (params.get('algorithm') ?? 'MD5').toUpperCase();
    const qop = params.get('qop');
    if (!username || uri === undefined || !response) return { outcome: 'refused', username, reason: 'the digest answer lacks its username, uri or response' };
    if (params.get('realm') !== realm) return { outcome: 'challenge', username, stale: false, reason: `realm "${shown(params.get('realm'))}" is not "${realm}"` };
    const algorithm = algorithms.find((accepted) => accepted === algorithmText);
    if (!algorithm) return { outcome: 'refused', username, reason: `digest algorithm ${shown(algorithmText, 20)} is not accepted here; use ${algorithms.join(' or ')}` };
    if (!sameResource(uri, request.uri)) return { outcome: 'refused', username, reason: `the digest uri ${shown(uri)} is not the Request-URI ${shown(request.uri)}` };
    if (qop !== undefined && qop !== 'auth') return { outcome: 'refused', username, reason: `digest qop ${shown(qop, 20)} is not supported; use qop=auth` };

    const [time = '', salt = '', mac = ''] = nonce.split('.');
    const issued = Number.parseInt(time, 36);
    const expected = this.#mac(time, salt, realm, request.source);
    if (!Number.isFinite(issued) || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) {
      return { outcome: 'challenge', username, stale: false, reason: 'the nonce was not issued to this address by this server' };
    }
    // From here the nonce is genuine and was sent to this address: a wrong guess counts.
    const credentials = lookup(username);
    if (!credentials) return { outcome: 'failed', username, reason: `no account ${shown(username, 40)}` };

    const ha1 = algorithm === 'MD5' ? credentials.ha1Md5 : credentials.ha1Sha256;
    const ha2 = hash(algorithm, `${request.method}:${uri}`);
    const nc = params.get('nc') ?? '';
    const wanted = qop ? hash(algorithm, `${ha1}:${nonce}:${nc}:${params.get('cnonce') ?? ''}:${qop}:${ha2}`) : hash(algorithm, `${ha1}:${nonce}:${ha2}`);
    if (wanted.length !== response.length || !timingSafeEqual(Buffer.from(wanted), Buffer.from(response.toLowerCase()))) {
      return { outcome: 'failed', username, reason: 'wrong password' };
    }
    const now = monotonicMs();
    // A time ahead of the clock: issued before a reboot (the monotonic clock started again).
    if (issued > now || now - issued > this.#lifetime || issued <= this.#staleUpTo) return { outcome: 'challenge', username, stale: true, reason: 'the nonce has expired' };
    this.#forgetExpired(now);
    const last = this.#used.get(nonce);
    if (qop) {
      const count = Number.parseInt(nc, 16);
      if (!(count > (last ?? 0))) return { outcome: 'challenge', username, stale: true, reason: 'nonce count replayed' };
      this.#used.set(nonce, count);
    } else {
      if (last !== undefined) return { outcome: 'challenge', username, stale: true, reason: 'nonce used before (replay)' };
      this.#used.set(nonce, Number.POSITIVE_INFINITY);
    }
    return { outcome: 'ok', username, algorithm };
  }
}
