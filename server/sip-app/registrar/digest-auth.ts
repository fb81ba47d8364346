/**
 * SIP digest authentication on the server side (RFC 3261 §22, RFC 8760 for SHA-256):
 * challenges carrying a stateless nonce (time + HMAC, so any process with the secret can check
 * it and nothing is stored per challenge), and verification of Authorization headers against
 * stored HA1 values, with qop=auth, nonce expiry (answered as stale, so terminals retry
 * without asking the user) and nonce-count replay protection.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface Credentials {
  readonly ha1Md5: string;
  readonly ha1Sha256: string;
}

export type VerifyResult =
  | { readonly outcome: 'ok'; readonly username: string; readonly algorithm: DigestAlgorithm }
  | { readonly outcome: 'stale'; readonly username: string }
  | { readonly outcome: 'failed'; readonly username: string | undefined; readonly reason: string };

export interface DigestOptions {
  readonly secret: Buffer;
  readonly nonceLifetimeMs?: number;
}

const hash = (algorithm: DigestAlgorithm, text: string) =>
  createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(text).digest('hex');

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

export class DigestAuthenticator {
  readonly #secret: Buffer;
  readonly #lifetime: number;
  /** Highest nonce-count seen per nonce, in order of last use; expired nonces are dropped. */
  readonly #counts = new Map<string, number>();

  constructor(options: DigestOptions) {
    this.#secret = options.secret;
    this.#lifetime = options.nonceLifetimeMs ?? 300_000;
  }

  /** `<time>.<salt>.<mac>`: the salt makes nonces issued in the same millisecond differ. */
  #nonce(realm: string, at = Date.now(), salt = randomBytes(6).toString('base64url')): string {
    const time = at.toString(36);
    return `${time}.${salt}.${this.#mac(time, salt, realm)}`;
  }

  #mac(time: string, salt: string, realm: string): string {
    return createHmac('sha256', this.#secret).update(`${time}:${salt}:${realm}`).digest('base64url').slice(0, 22);
  }

  /**
   * Drops nonce counts of nonces past their lifetime (they are refused as stale anyway), oldest
   * first, so the map holds only live nonces instead of growing until a blanket clear.
   */
  #forgetExpired(now = Date.now()): void {
    for (const nonce of this.#counts.keys()) {
      const issued = Number.parseInt(nonce.slice(0, nonce.indexOf('.')), 36);
      if (now - issued <= this.#lifetime) break;
      this.#counts.delete(nonce);
    }
  }

  /** WWW-Authenticate values, one per algorithm, in the order given (most preferred first, RFC 8760 §2.4). */
  challenges(realm: string, algorithms: readonly DigestAlgorithm[], stale = false): string[] {
    const nonce = this.#nonce(realm);
    return algorithms.map(
      (algorithm) => `Digest realm="${realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  /** Checks an Authorization header for `method` against the user's stored credentials. */
  verify(header: string, method: string, realm: string, lookup: (username: string) => Credentials | undefined): VerifyResult {
    const params = parseDigest(header);
    if (!params) return { outcome: 'failed', username: undefined, reason: 'not a Digest Authorization header' };
    const username = params.get('username');
    const nonce = params.get('nonce') ?? '';
    const uri = params.get('uri');
    const response = params.get('response') ?? '';
    const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase() as DigestAlgorithm;
    if (!username || !uri || !response) return { outcome: 'failed', username, reason: 'username, uri or response missing' };
    if (algorithm !== 'MD5' && algorithm !== 'SHA-256') return { outcome: 'failed', username, reason: `unsupported algorithm ${algorithm}` };
    if (params.get('realm') !== realm) return { outcome: 'failed', username, reason: `realm "${params.get('realm')}" is not "${realm}"` };

    const [time = '', salt = '', mac = ''] = nonce.split('.');
    const issued = Number.parseInt(time, 36);
    const expected = this.#mac(time, salt, realm);
    if (!Number.isFinite(issued) || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) {
      return { outcome: 'failed', username, reason: 'nonce was not issued by this server' };
    }
    const credentials = lookup(username);
    if (!credentials) return { outcome: 'failed', username, reason: `no account ${username}` };

    const ha1 = algorithm === 'MD5' ? credentials.ha1Md5 : credentials.ha1Sha256;
    const ha2 = hash(algorithm, `${method}:${uri}`);
    const qop = params.get('qop');
    let wanted: string;
    if (qop) {
      if (qop !== 'auth') return { outcome: 'failed', username, reason: `unsupported qop ${qop}` };
      const nc = params.get('nc') ?? '';
      const cnonce = params.get('cnonce') ?? '';
      wanted = hash(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    } else {
      wanted = hash(algorithm, `${ha1}:${nonce}:${ha2}`);
    }
    if (wanted.length !== response.length || !timingSafeEqual(Buffer.from(wanted), Buffer.from(response.toLowerCase()))) {
      return { outcome: 'failed', username, reason: 'wrong password' };
    }
    if (Date.now() - issued > this.#lifetime) return { outcome: 'stale', username };
    if (qop) {
      const count = Number.parseInt(params.get('nc') ?? '', 16);
      const last = this.#counts.get(nonce) ?? 0;
      if (!(count > last)) return { outcome: 'failed', username, reason: 'nonce count replayed' };
      this.#counts.delete(nonce); // re-insert: the map stays in order of last use
      this.#counts.set(nonce, count);
      this.#forgetExpired();
    }
    return { outcome: 'ok', username, algorithm };
  }
}
