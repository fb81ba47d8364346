/**
 * Short-lived TURN credentials for one browser (the "TURN REST API" scheme coturn checks with
 * `use-auth-secret`): the user name is `<expiry unix seconds>:<participant>` and the password
 * the base64 HMAC-SHA1 of that name under the box's TURN secret. Nothing is stored: the relay
 * recomputes the HMAC, and refuses names whose expiry has passed.
 */
import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  readonly username: string;
  readonly credential: string;
  /** When they stop working (ISO time). */
  readonly expiresAt: string;
}

/** Default life of a credential: a long meeting (refreshed at a rejoin). */
export const TURN_CREDENTIAL_SECONDS = 12 * 3600;

export function turnCredentials(secret: string, user: string, now = Date.now(), lifeSeconds = TURN_CREDENTIAL_SECONDS): TurnCredentials {
  const expiry = Math.floor(now / 1000) + lifeSeconds;
  const username = `${expiry}:${user}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64'), expiresAt: new Date(expiry * 1000).toISOString() };
}
