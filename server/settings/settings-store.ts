/**
 * The settings store: the spec's settings kept in SQLite table `settings` (one JSON value per
 * key), read with their defaults filled in, and changed only through `update`, which checks
 * every value and the rules across values before anything is written, writes all keys of one
 * change in a single transaction and records it in the audit log. Parts of this process that
 * apply a setting live (the backup scheduler) listen to `observer` ('changed': the keys whose
 * value changed, by `update` or by `reload` after the table was rewritten, e.g. a restore).
 *
 * Secret settings (SECRET_SETTINGS: the SMTP password, the automatic backups' passphrase) are
 * stored sealed with the box key (server/secrets/box-key.ts, AES-256-GCM bound to the key's
 * name) and unsealed when read; the database file never holds them in clear. A value that cannot
 * be unsealed (the box key was lost or replaced) reads as empty, and the log says to set it again.
 */
import { EventEmitter } from 'node:events';
import { recordAudit } from '../audit/audit-log.ts';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.ts';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { type BoxSealer, boxSealer, secretsDirOf } from '../secrets/box-key.ts';
import { sealKind } from '../secrets/sealed-value.ts';
import { SECRET_SETTINGS } from './setting-effects.ts';
import {
  checkSetting,
  crossCheck,
  defaultSettings,
  isSettingKey,
  type SettingKey,
  type Settings,
} from './settings-schema.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('settings');

export interface ChangeAuthor {
  readonly actor: string;
  readonly source?: string;
}

export interface SettingsObserverEvents {
  changed: [keys: SettingKey[]];
}

export interface SettingsStoreOptions {
  /** The data directory's secrets folder (the box key); default: `secrets` beside the database file. */
  readonly secretsDir?: string;
}

export class SettingsStore {
  /** Told after a change is committed; listeners must not throw. */
  readonly observer = new EventEmitter<SettingsObserverEvents>();
  readonly #db: Db;
  readonly #rows: Statement<[]>;
  readonly #dataVersion: Statement<[]>;
  /**
   * The settings as last read, and the database's data_version then. Hot paths (every
   * REGISTER reads the realm) use the cache; a change by this connection, or by another process
   * (data_version moves; checked at most every 100 ms), makes the next read go to the table.
   */
  #cache: { version: number; checkedAt: number; settings: Readonly<Settings> } | undefined;

  readonly #sealer: BoxSealer;
  readonly #unsealWarned = new Set<string>();

  constructor(db: Db, options: SettingsStoreOptions = {}) {
    this.#db = db;
    this.#sealer = boxSealer(options.secretsDir ?? secretsDirOf(db));
    this.#rows = db.prepare<[]>('SELECT key, value FROM settings');
    this.#dataVersion = db.prepare<[]>('PRAGMA data_version').pluck();
  }

  #current(): Readonly<Settings> {
    // Monotonic: a wall clock set back must not make the cache look fresh until it catches up.
    const now = monotonicMs();
    // Within 100 ms of the last check the cache is trusted without asking SQLite.
    if (this.#cache && now - this.#cache.checkedAt < 100) return this.#cache.settings;
    const version = this.#dataVersion.get() as number;
    if (this.#cache?.version === version) {
      this.#cache.checkedAt = now;
    } else {
      const settings = defaultSettings() as Record<string, unknown>;
      for (const row of this.#rows.all() as { key: string; value: string }[]) {
        if (isSettingKey(row.key)) settings[row.key] = this.#stored(row.key, JSON.parse(row.value));
      }
      this.#cache = { version, checkedAt: now, settings: settings as Settings };
    }
    return this.#cache.settings;
  }

  /** A stored value as the box uses it: secrets unsealed. */
  #stored(key: SettingKey, value: unknown): unknown {
    const kind = sealKind(value);
    if (!SECRET_SETTINGS.includes(key) || kind === undefined) return value;
    try {
      if (kind !== 'box') throw new Error(`sealed with a ${kind} key, not the box key`);
      return this.#sealer.unseal(key, value as string);
    } catch (error) {
      if (!this.#unsealWarned.has(key)) {
        this.#unsealWarned.add(key);
        log.error({ key, err: (error as Error).message }, 'a stored secret cannot be unsealed with this box key (the key in <dataDir>/secrets was replaced?): set it again');
      }
      return '';
    }
  }

  /** What is written for a value: secrets sealed with the box key (an empty secret stays empty). */
  #toStore(key: SettingKey, value: unknown): string {
    if (SECRET_SETTINGS.includes(key) && typeof value === 'string' && value !== '') return JSON.stringify(this.#sealer.seal(key, value));
    return JSON.stringify(value);
  }

  /** The next read asks SQLite whatever the cache's age (another process has just written, and said so). */
  refresh(): void {
    if (this.#cache) this.#cache.checkedAt = 0;
  }

  /** All settings, stored values over defaults (a copy). Unknown stored keys (from a newer box) are ignored. */
  getAll(): Settings {
    return structuredClone(this.#current()) as Settings;
  }

  /** One setting; objects come back as copies, so callers cannot change the cache. */
  get<K extends SettingKey>(key: K): Settings[K] {
    const value = this.#current()[key];
    return (typeof value === 'object' && value !== null ? structuredClone(value) : value) as Settings[K];
  }

  /**
   * Changes some settings at once. Throws VCBOX_ERR_SETTING_UNKNOWN / _INVALID naming the key
   * and the rule, and then nothing is written. Returns the keys whose value really changed.
   */
  update(changes: Record<string, unknown>, author: ChangeAuthor): SettingKey[] {
    const current = this.getAll();
    const next = { ...current } as Record<string, unknown>;
    for (const [key, value] of Object.entries(changes)) {
      if (!isSettingKey(key)) throw createError('VCBOX_ERR_SETTING_UNKNOWN', { key });
      const reason = checkSetting(key, value);
      if (reason) throw createError('VCBOX_ERR_SETTING_INVALID', { key, reason });
      next[key] = value;
    }
    const broken = crossCheck(next as Settings);
    if (broken) throw createError('VCBOX_ERR_SETTING_INVALID', { key: broken[0], reason: broken[1] });

    const changed = (Object.keys(changes) as SettingKey[]).filter(
      (key) => JSON.stringify(current[key]) !== JSON.stringify(next[key]),
    );
    if (changed.length === 0) return [];
    const now = new Date().toISOString();
    const upsert = this.#db.prepare(
      'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    );
    this.#cache = undefined; // data_version does not move for this connection's own writes
    this.#db.transaction(() => {
      for (const key of changed) upsert.run(key, this.#toStore(key, next[key]), now);
      // A secret's value never reaches the operation log (readable by operators, exported,
      // forwarded to remote syslog): only that it changed.
      const shown = (key: SettingKey, value: unknown) => (SECRET_SETTINGS.includes(key) ? (value ? '(set)' : '') : value);
      const detail = Object.fromEntries(changed.map((key) => [key, { from: shown(key, current[key]), to: shown(key, next[key]) }]));
      recordAudit(this.#db, { actor: author.actor, source: author.source, action: 'settings.update', detail });
    })();
    log.info({ changed, actor: author.actor }, 'settings changed');
    this.observer.emit('changed', changed);
    return changed;
  }

  /**
   * Forgets every stored value except those whose key starts with one of `keptPrefixes`: they
   * read as their defaults again (the factory reset). Returns how many were removed. Runs in the
   * caller's transaction when there is one; call `reload` after it commits to tell listeners.
   */
  forgetStored(keptPrefixes: readonly string[]): number {
    const kept = keptPrefixes.map(() => "key NOT LIKE ? ESCAPE '\\'");
    const patterns = keptPrefixes.map((prefix) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    this.#cache = undefined;
    return this.#db.prepare(`DELETE FROM settings${kept.length ? ` WHERE ${kept.join(' AND ')}` : ''}`).run(...patterns).changes;
  }

  /**
   * Forgets the cached settings after this connection rewrote the table outside `update` (its
   * own writes do not move data_version), and tells listeners which values differ from
   * `before` (what `getAll` answered before the rewrite). Returns them.
   */
  reload(before: Settings): SettingKey[] {
    this.#cache = undefined;
    const after = this.getAll();
    const changed = (Object.keys(after) as SettingKey[]).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
    if (changed.length > 0) this.observer.emit('changed', changed);
    return changed;
  }
}
