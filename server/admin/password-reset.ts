/**
 * "Forgot password" links: a one-time token (only its hash stored) valid 10 minutes, sent by
 * mail to the administrator's registered address. Using it sets a new password and ends every
 * session of that administrator.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { createError } from '../core/errors.ts';

export const RESET_LINK_LIFETIME_MS = 10 * 60_000;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export class PasswordResets {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  issue(adminId: number, now = Date.now()): string {
    const token = randomBytes(32).toString('base64url');
    this.#db
      .prepare('INSERT INTO password_resets (token_hash, admin_id, expires_at) VALUES (?, ?, ?)')
      .run(hash(token), adminId, new Date(now + RESET_LINK_LIFETIME_MS).toISOString());
    return token;
  }

  /** The administrator a valid, unused, unexpired token belongs to; the token is spent. */
  consume(token: string, now = Date.now()): number {
    const row = this.#db.prepare('SELECT admin_id, expires_at, used_at FROM password_resets WHERE token_hash = ?').get(hash(token)) as
      | { admin_id: number; expires_at: string; used_at: string | null }
      | undefined;
    if (!row || row.used_at || Date.parse(row.expires_at) < now) throw createError('VCBOX_ERR_RESET_LINK');
    this.#db.prepare('UPDATE password_resets SET used_at = ? WHERE token_hash = ?').run(new Date(now).toISOString(), hash(token));
    return row.admin_id;
  }
}
