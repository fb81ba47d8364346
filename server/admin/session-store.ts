/**
 * Console sessions: a random token in an HTTP-only cookie (only its SHA-256 is stored), a CSRF
 * token the console sends back in `X-CSRF-Token` on every change, and the spec's idle timeout
 * (30 minutes without a request ends the session; activity is recorded at most every 30 s).
 * `last_seen_at` is wall-clock time (it carries sessions over a restart of the control plane):
 * a clock set forward by more than the idle timeout ends the sessions (people log in again); a
 * clock set back lengthens an idle session's time by the jump until its next request, which
 * writes the time again (server/core/clock.ts lists the box's wall-clock times).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.ts';
import { isDiskFull } from '../disk/disk-space-guard.ts';

export const IDLE_TIMEOUT_MS = 30 * 60_000;

export interface Session {
  readonly adminId: number;
  readonly csrfToken: string;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
/** How a session's cookie value is kept (table admin_sessions, column token_hash). */
export const sessionTokenHash = hash;

/** last_seen_at is written at most this often per session (reads must not each cost a write). */
const TOUCH_EVERY_MS = 30_000;

export class SessionStore {
  readonly #db: Db;
  readonly #select: Statement<[string]>;
  readonly #touch: Statement<[string, string]>;

  constructor(db: Db) {
    this.#db = db;
    this.#select = db.prepare<[string]>('SELECT admin_id, csrf_token, last_seen_at FROM admin_sessions WHERE token_hash = ?');
    this.#touch = db.prepare<[string, string]>('UPDATE admin_sessions SET last_seen_at = ? WHERE token_hash = ?');
  }

  create(adminId: number, source: string, userAgent: string): { token: string; csrfToken: string } {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const now = new Date().toISOString();
    this.#db
      .prepare('INSERT INTO admin_sessions (token_hash, admin_id, csrf_token, created_at, last_seen_at, source, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(hash(token), adminId, csrfToken, now, now, source, userAgent.slice(0, 256));
    return { token, csrfToken };
  }

  /** The session of a cookie token, touched; undefined when unknown or idle too long (then deleted). */
  touch(token: string, now = Date.now()): Session | undefined {
    const key = hash(token);
    const row = this.#select.get(key) as
      | { admin_id: number; csrf_token: string; last_seen_at: string }
      | undefined;
    if (!row) return undefined;
    const idle = now - Date.parse(row.last_seen_at);
    if (idle > IDLE_TIMEOUT_MS) {
      this.delete(token);
      return undefined;
    }
    // Written when older than that — or ahead of the clock by as much (it went back since).
    if (Math.abs(idle) > TOUCH_EVERY_MS) {
      try {
        this.#touch.run(new Date(now).toISOString(), key);
      } catch (error) {
        // A full disk must not lock the administrator out of freeing it: the session goes on untouched.
        if (!isDiskFull(error)) throw error;
      }
    }
    return { adminId: row.admin_id, csrfToken: row.csrf_token };
  }

  delete(token: string): void {
    this.#db.prepare('DELETE FROM admin_sessions WHERE token_hash = ?').run(hash(token));
  }

  deleteAllOf(adminId: number, except?: string): void {
    this.#db.prepare('DELETE FROM admin_sessions WHERE admin_id = ? AND token_hash <> ?').run(adminId, except ? hash(except) : '');
  }
}
