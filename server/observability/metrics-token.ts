/**
 * The bearer token Prometheus scrapes /metrics with (operators' scrapers cannot log in with a
 * console session). One token at a time, in table `metrics_token` (migration 15) as its
 * SHA-256 only: it is shown once when an administrator creates it — creating again rotates it,
 * the old one stops working at once — and removing it turns the metrics off. There is none
 * until an administrator creates one, so /metrics is never open by default. The table is
 * carried by backups, so a replacement box restored from one keeps its scrapers working.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { monotonicMs } from '../core/clock.ts';

export interface MetricsTokenStatus {
  readonly set: boolean;
  readonly createdAt?: string;
  readonly createdBy?: string;
  readonly lastUsedAt?: string;
}

/** A token's last use is written at most this often (a scrape every few seconds is no reason to write each time). */
const LAST_USED_EVERY_MS = 60_000;

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class MetricsTokenStore {
  readonly #db: Db;
  #lastUsedWritten = 0;

  constructor(db: Db) {
    this.#db = db;
  }

  status(): MetricsTokenStatus {
    const row = this.#db.prepare('SELECT created_at AS createdAt, created_by AS createdBy, last_used_at AS lastUsedAt FROM metrics_token WHERE id = 1').get() as
      | { createdAt: string; createdBy: string; lastUsedAt: string | null }
      | undefined;
    if (!row) return { set: false };
    return { set: true, createdAt: row.createdAt, createdBy: row.createdBy, ...(row.lastUsedAt ? { lastUsedAt: row.lastUsedAt } : {}) };
  }

  /** Makes a new token (replacing any other) and returns it: the only time it is seen. */
  create(createdBy: string): { token: string; status: MetricsTokenStatus } {
    const token = `vcbm_${randomBytes(32).toString('base64url')}`;
    this.#db
      .prepare(
        'INSERT INTO metrics_token (id, token_hash, created_at, created_by, last_used_at) VALUES (1, ?, ?, ?, NULL) ON CONFLICT(id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, created_by = excluded.created_by, last_used_at = NULL',
      )
      .run(hashOf(token).toString('hex'), new Date().toISOString(), createdBy);
    this.#lastUsedWritten = 0;
    return { token, status: this.status() };
  }

  /** Removes the token (metrics off); false when there was none. */
  remove(): boolean {
    return this.#db.prepare('DELETE FROM metrics_token WHERE id = 1').run().changes > 0;
  }

  /** 'ok', 'wrong' (a token is set and this is not it) or 'off' (none is set). */
  check(token: string | undefined): 'ok' | 'wrong' | 'off' {
    const row = this.#db.prepare('SELECT token_hash AS hash FROM metrics_token WHERE id = 1').get() as { hash: string } | undefined;
    if (!row) return 'off';
    if (!token) return 'wrong';
    if (!timingSafeEqual(hashOf(token), Buffer.from(row.hash, 'hex'))) return 'wrong';
    const now = monotonicMs();
    if (now - this.#lastUsedWritten >= LAST_USED_EVERY_MS) {
      this.#lastUsedWritten = now;
      this.#db.prepare('UPDATE metrics_token SET last_used_at = ? WHERE id = 1').run(new Date().toISOString());
    }
    return 'ok';
  }
}
