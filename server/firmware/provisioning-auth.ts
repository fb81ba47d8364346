/**
 * Who may fetch from the box's provisioning URL: a terminal logging in with its SIP account
 * number and password by HTTP Digest (RFC 7616). The box keeps only the accounts' HA1 values
 * (`MD5(number:realm:password)` and the SHA-256 one), which is exactly what Digest needs, so the
 * check reuses the registrar's verifier (stateless nonces, qop=auth, nonce-count replay check,
 * stale nonces answered with `stale=true`, nonces bound to the client's address, only the
 * configured algorithms) and the realm is the SIP domain: one password per terminal, no
 * second one. The `uri` the client signed must be the URL it asked for. Wrong passwords count
 * towards the same lock-out of the address as SIP's (10 in 5 minutes).
 *
 * Not here: what is served (server/control-plane/routes/provisioning.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AccountStore } from '../accounts/account-store.ts';
import { getLogger } from '../core/logger.ts';
import type { AuthLockout } from '../sip-app/registrar/auth-lockout.ts';
import { type DigestAlgorithm, DigestAuthenticator } from '../sip-app/registrar/digest-auth.ts';

const log = getLogger('provisioning');

export type ProvisioningAuthResult =
  | { readonly outcome: 'ok'; readonly account: string }
  /** 401: ask again with these WWW-Authenticate values (no or wrong credentials, or a stale nonce). */
  | { readonly outcome: 'challenge'; readonly challenges: string[]; readonly reason: string }
  /** 403: the address is locked out. */
  | { readonly outcome: 'locked' };

export interface ProvisioningAuthOptions {
  readonly accounts: AccountStore;
  /** The SIP domain (network.localDomain): the realm the HA1 values were made for. */
  readonly realm: () => string;
  /** Digest algorithms to offer, most preferred first (the sip.digestAlgorithms setting). */
  readonly algorithms: () => readonly DigestAlgorithm[];
  readonly lockout: AuthLockout;
}

export class ProvisioningAuth {
  readonly #options: ProvisioningAuthOptions;
  // Nonces only have to outlive one download; a restart makes old ones stale, which clients retry.
  readonly #digest = new DigestAuthenticator({ secret: randomBytes(32) });

  constructor(options: ProvisioningAuthOptions) {
    this.#options = options;
  }

  /** Checks one request: its method, the URL it asked for, its Authorization header and source address. */
  check(method: string, url: string, authorization: string | undefined, source: string): ProvisioningAuthResult {
    const { lockout, accounts } = this.#options;
    if (lockout.isLocked(source)) return { outcome: 'locked' };
    const realm = this.#options.realm();
    const algorithms = this.#options.algorithms();
    const challenge = (reason: string, stale = false): ProvisioningAuthResult => ({
      outcome: 'challenge',
      challenges: this.#digest.challenges(realm, algorithms, source, stale),
      reason,
    });
    if (!authorization || !/^\s*Digest\s/i.test(authorization)) return challenge('no Digest credentials');
    const result = this.#digest.verify(authorization, { method, uri: url, source }, realm, algorithms, (username) => accounts.credentials(username, realm));
    if (result.outcome === 'challenge') return challenge(result.reason, result.stale);
    if (result.outcome === 'refused') return challenge(result.reason);
    if (result.outcome === 'failed') {
      // Only a wrong password against a nonce issued to this address counts towards lock-out.
      lockout.failed(source, result.username ?? '', `HTTP ${method}`, result.reason);
      log.warn({ source, account: result.username, url, reason: result.reason }, 'provisioning login refused');
      return challenge(result.reason);
    }
    lockout.succeeded(source);
    return { outcome: 'ok', account: result.username };
  }
}
