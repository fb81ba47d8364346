/**
 * Schema migrations, in code, numbered. `migrate(db)` brings a database to the newest version
 * this software knows, each step in its own transaction; `PRAGMA user_version` holds the version
 * and table `schema_migrations` the history. A database newer than the code is refused rather
 * than touched. New tables of later issues (accounts, meetings, CDRs…) are added here as new
 * entries at the end — never by editing an entry that has shipped.
 */
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { Db } from './database.ts';

const log = getLogger('migrations');

/** What a migration may need besides the database. */
export interface MigrationContext {
  /**
   * Seals a secret setting's value with the box key (server/secrets/box-key.ts). Absent: a
   * migration that must seal something refuses (the caller did not say which box it is).
   */
  readonly sealSecret?: (key: string, plaintext: string) => string;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: (db: Db, context: MigrationContext) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'settings and audit log',
    up(db) {
      db.exec(`
        CREATE TABLE schema_migrations (
          version    INTEGER PRIMARY KEY,
          name       TEXT NOT NULL,
          applied_at TEXT NOT NULL
        );
        CREATE TABLE settings (
          key        TEXT PRIMARY KEY,
          value      TEXT NOT NULL,          -- JSON
          updated_at TEXT NOT NULL
        );
        CREATE TABLE audit_log (
          id       INTEGER PRIMARY KEY AUTOINCREMENT,
          at       TEXT NOT NULL,
          actor    TEXT NOT NULL,             -- admin user name, or 'system'
          source   TEXT,                      -- client IP for console actions
          action   TEXT NOT NULL,             -- e.g. 'settings.update'
          detail   TEXT                       -- JSON
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        CREATE INDEX audit_log_actor ON audit_log(actor);
      `);
    },
  },
  {
    version: 2,
    name: 'accounts (SIP credentials as HA1 only)',
    up(db) {
      db.exec(`
        CREATE TABLE accounts (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          number     TEXT NOT NULL UNIQUE CHECK (number GLOB '[0-9][0-9][0-9][0-9]'),
          name       TEXT NOT NULL,
          email      TEXT,
          realm      TEXT NOT NULL,           -- the SIP domain the HA1 values were made for
          ha1_md5    TEXT NOT NULL,           -- MD5(number:realm:password)
          ha1_sha256 TEXT NOT NULL,           -- SHA-256(number:realm:password)
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 3,
    name: 'call records',
    up(db) {
      db.exec(`
        CREATE TABLE call_records (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          type        TEXT NOT NULL,            -- p2p | instant | scheduled | vmr
          call_id     TEXT NOT NULL,
          caller      TEXT NOT NULL,
          callee      TEXT NOT NULL,
          subject     TEXT,
          meeting_id  TEXT,
          started_at  TEXT NOT NULL,            -- INVITE received
          answered_at TEXT,
          ended_at    TEXT,
          duration_s  INTEGER,                  -- answered to ended
          outcome     TEXT                      -- answered | busy | no-answer | canceled | rejected | failed
        );
        CREATE INDEX call_records_started ON call_records(started_at);
        CREATE INDEX call_records_type ON call_records(type);
      `);
    },
  },
  {
    version: 4,
    name: 'console administrators and their sessions',
    up(db) {
      db.exec(`
        CREATE TABLE admins (
          id                   INTEGER PRIMARY KEY AUTOINCREMENT,
          username             TEXT NOT NULL UNIQUE COLLATE NOCASE,
          password_hash        TEXT NOT NULL,     -- scrypt$N$r$p$salt$hash
          email                TEXT,
          role                 TEXT NOT NULL CHECK (role IN ('admin', 'operator')),
          must_change_password INTEGER NOT NULL DEFAULT 0,
          failed_logins        INTEGER NOT NULL DEFAULT 0,
          locked_until         TEXT,
          created_at           TEXT NOT NULL
        );
        CREATE TABLE admin_sessions (
          token_hash   TEXT PRIMARY KEY,          -- SHA-256 of the cookie value
          admin_id     INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
          csrf_token   TEXT NOT NULL,
          created_at   TEXT NOT NULL,
          last_seen_at TEXT NOT NULL,
          source       TEXT,
          user_agent   TEXT
        );
      `);
    },
  },
  {
    version: 5,
    name: 'password reset links',
    up(db) {
      db.exec(`
        CREATE TABLE password_resets (
          token_hash TEXT PRIMARY KEY,            -- SHA-256 of the token in the mailed link
          admin_id   INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
          expires_at TEXT NOT NULL,
          used_at    TEXT
        );
      `);
    },
  },
  {
    version: 6,
    name: 'physical rooms and virtual meeting rooms',
    up(db) {
      db.exec(`
        CREATE TABLE rooms (
          id             INTEGER PRIMARY KEY AUTOINCREMENT,
          name           TEXT NOT NULL,
          type           TEXT NOT NULL CHECK (type IN ('normal', 'video')),
          account_number TEXT REFERENCES accounts(number) ON DELETE SET NULL,
          created_at     TEXT NOT NULL
        );
        CREATE TABLE vmrs (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          number     TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 5 AND 12 AND number NOT GLOB '*[^0-9]*'),
          name       TEXT NOT NULL,
          owner      TEXT REFERENCES accounts(number) ON DELETE SET NULL,
          host_pin   TEXT NOT NULL,
          guest_pin  TEXT NOT NULL,            -- '' = guests need no PIN
          capacity   INTEGER NOT NULL,
          layout     TEXT NOT NULL,
          created_at TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 7,
    name: 'scheduled and instant meetings',
    up(db) {
      db.exec(`
        CREATE TABLE meetings (
          id            INTEGER PRIMARY KEY AUTOINCREMENT,
          number        TEXT NOT NULL UNIQUE,
          subject       TEXT NOT NULL,
          type          TEXT NOT NULL CHECK (type IN ('scheduled', 'instant')),
          organizer     TEXT NOT NULL,
          start_at      TEXT NOT NULL,
          duration_min  INTEGER NOT NULL,
          recurrence    TEXT,                    -- JSON {freq, until} or NULL
          host_pin      TEXT NOT NULL,
          guest_pin     TEXT NOT NULL,
          status        TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
          created_at    TEXT NOT NULL,
          updated_at    TEXT NOT NULL
        );
        CREATE INDEX meetings_start ON meetings(start_at);
        CREATE TABLE meeting_participants (
          meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
          kind       TEXT NOT NULL CHECK (kind IN ('account', 'room')),
          ref        TEXT NOT NULL,
          PRIMARY KEY (meeting_id, kind, ref)
        );
      `);
    },
  },
  {
    version: 8,
    name: 'account search index (trigram full-text: substring search without a table scan)',
    up(db) {
      db.exec(`
        CREATE VIRTUAL TABLE accounts_fts USING fts5(number, name, email, content='accounts', content_rowid='id', tokenize='trigram');
        INSERT INTO accounts_fts(rowid, number, name, email) SELECT id, number, name, coalesce(email, '') FROM accounts;
        CREATE TRIGGER accounts_fts_insert AFTER INSERT ON accounts BEGIN
          INSERT INTO accounts_fts(rowid, number, name, email) VALUES (new.id, new.number, new.name, coalesce(new.email, ''));
        END;
        CREATE TRIGGER accounts_fts_delete AFTER DELETE ON accounts BEGIN
          INSERT INTO accounts_fts(accounts_fts, rowid, number, name, email) VALUES ('delete', old.id, old.number, old.name, coalesce(old.email, ''));
        END;
        CREATE TRIGGER accounts_fts_update AFTER UPDATE OF number, name, email ON accounts BEGIN
          INSERT INTO accounts_fts(accounts_fts, rowid, number, name, email) VALUES ('delete', old.id, old.number, old.name, coalesce(old.email, ''));
          INSERT INTO accounts_fts(rowid, number, name, email) VALUES (new.id, new.number, new.name, coalesce(new.email, ''));
        END;
      `);
    },
  },
  {
    version: 9,
    name: 'meeting records (one row per meeting held: the statistics count meetings, not legs)',
    up(db) {
      db.exec(`
        CREATE TABLE meeting_records (
          id INTEGER PRIMARY KEY,
          number TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('vmr', 'scheduled', 'instant')),
          subject TEXT NOT NULL,
          started_at TEXT NOT NULL,
          ended_at TEXT,
          duration_s INTEGER,
          participants_total INTEGER NOT NULL DEFAULT 0,
          participants_max INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX meeting_records_started ON meeting_records(started_at);
      `);
    },
  },
  {
    version: 10,
    name: 'licence: trial, activations, expiry warnings (license* tables stay with the box: backups leave them out)',
    up(db) {
      db.exec(`
        CREATE TABLE license_trial (
          box_id     TEXT PRIMARY KEY,
          started_at TEXT NOT NULL,
          ends_at    TEXT NOT NULL,
          started_by TEXT NOT NULL
        );
        CREATE TABLE license_activations (
          id           INTEGER PRIMARY KEY AUTOINCREMENT,
          serial       TEXT NOT NULL,
          key          TEXT NOT NULL,            -- which trusted key signed it: vendor | test
          payload      TEXT NOT NULL,            -- the canonical payload (JSON)
          text         TEXT NOT NULL,            -- the licence as pasted
          activated_at TEXT NOT NULL,
          activated_by TEXT NOT NULL
        );
        CREATE TABLE license_warnings (
          subject    TEXT PRIMARY KEY,           -- serial|validUntil, or trial|boxId
          expires_at TEXT NOT NULL,
          sent_at    TEXT NOT NULL,
          recipients TEXT NOT NULL               -- JSON array
        );
      `);
    },
  },
  {
    version: 11,
    name: 'daily maximum concurrency (meeting participants and meetings at once, per UTC day)',
    up(db) {
      db.exec(`
        CREATE TABLE concurrency_daily (
          day              TEXT PRIMARY KEY,   -- YYYY-MM-DD (UTC)
          participants_max INTEGER NOT NULL,   -- meeting participants at once, all meetings together
          participants_at  TEXT NOT NULL,      -- when that maximum was first reached
          meetings_max     INTEGER NOT NULL,   -- meetings with someone in them at once
          meetings_at      TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 12,
    name: 'terminal firmware files per model and the update progress of each terminal',
    up(db) {
      db.exec(`
        CREATE TABLE firmware (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          model       TEXT NOT NULL,            -- as the administrator typed it (the terminals' User-Agent model)
          model_key   TEXT NOT NULL,            -- lower case, single spaces: what terminals are matched on
          version     TEXT NOT NULL,
          file_name   TEXT NOT NULL,            -- the uploaded name; the file is <dataDir>/firmware/<id>.rom
          size        INTEGER NOT NULL,
          sha256      TEXT NOT NULL,
          latest      INTEGER NOT NULL DEFAULT 0,
          uploaded_at TEXT NOT NULL,
          uploaded_by TEXT NOT NULL,
          replaced_at TEXT,
          UNIQUE (model_key, version)
        );
        CREATE UNIQUE INDEX firmware_one_latest ON firmware (model_key) WHERE latest = 1;
        CREATE TABLE firmware_progress (
          id             INTEGER PRIMARY KEY AUTOINCREMENT,
          firmware_id    INTEGER NOT NULL REFERENCES firmware(id) ON DELETE CASCADE,
          model_key      TEXT NOT NULL,
          account        TEXT NOT NULL,
          terminal       TEXT NOT NULL,         -- the terminal's instance id, else its address
          model          TEXT NOT NULL,         -- as the terminal reports it
          address        TEXT,
          contact        TEXT,
          from_version   TEXT NOT NULL,
          target_version TEXT NOT NULL,
          requested_at   TEXT,                  -- "update now" (null: the terminal fetched the file by itself)
          requested_by   TEXT,
          notified_at    TEXT,                  -- the NOTIFY was answered 2xx
          notify_status  INTEGER,
          notify_error   TEXT,
          downloaded_at  TEXT,                  -- the whole file was served to it
          seen_version   TEXT,                  -- the version of its last registration since the request
          seen_at        TEXT,
          updated_at     TEXT,                  -- it registered with the target version
          UNIQUE (model_key, account, terminal)
        );
        CREATE INDEX firmware_progress_firmware ON firmware_progress (firmware_id);
      `);
    },
  },
  {
    version: 14,
    name: 'disk usage alerts: one mail per crossing of 80 % (disk_alerts stays with the box: backups leave it out)',
    up(db) {
      db.exec(`
        CREATE TABLE disk_alerts (
          path       TEXT PRIMARY KEY,   -- the watched folder (storage path; the log folder when on another file system)
          above      INTEGER NOT NULL,   -- 1 from going above 80 % until back at 78 % or below
          percent    REAL NOT NULL,      -- usage at the last check
          checked_at TEXT NOT NULL,
          crossed_at TEXT,               -- when usage last went above 80 %
          mailed_at  TEXT,               -- when that crossing's mail went out (NULL: not yet)
          recipients TEXT                -- JSON array of the addresses it went to
        );
      `);
    },
  },
  {
    version: 15,
    name: 'Prometheus metrics bearer token (its hash only)',
    up(db) {
      db.exec(`
        CREATE TABLE metrics_token (
          id           INTEGER PRIMARY KEY CHECK (id = 1),  -- one token at a time
          token_hash   TEXT NOT NULL,                       -- SHA-256 of the token, hex
          created_at   TEXT NOT NULL,
          created_by   TEXT NOT NULL,
          last_used_at TEXT
        );
      `);
    },
  },
  {
    // Versions 16-18 are other changes of the same release; this one only needs to come after 15.
    version: 19,
    name: 'secret settings sealed with the box key',
    up(db, context) {
      // The secret settings of this version (an entry never changes once shipped): values in
      // clear become `vcbox-sealed:box:v1:…` (server/secrets/sealed-value.ts).
      const rows = db.prepare("SELECT key, value FROM settings WHERE key IN ('smtp.password')").all() as { key: string; value: string }[];
      const plain = rows.filter((row) => {
        const value = JSON.parse(row.value) as unknown;
        return typeof value === 'string' && value !== '' && !value.startsWith('vcbox-sealed:');
      });
      if (plain.length === 0) return;
      if (!context.sealSecret) throw new Error('stored secrets must be sealed with the box key, which this caller did not give');
      // The clear text's bytes are overwritten in the file, not left in a free block.
      db.pragma('secure_delete = ON');
      const update = db.prepare('UPDATE settings SET value = ? WHERE key = ?');
      for (const row of plain) update.run(JSON.stringify(context.sealSecret(row.key, JSON.parse(row.value) as string)), row.key);
    },
  },
  {
    version: 20,
    name: 'SIP registrations (the location service) kept across restarts (box-local: backups leave it out)',
    up(db) {
      db.exec(`
        CREATE TABLE sip_registrations (
          account       TEXT NOT NULL,     -- the account number
          contact       TEXT NOT NULL,     -- the Contact URI
          instance      TEXT,              -- RFC 5626 +sip.instance, when sent
          call_id       TEXT NOT NULL,
          cseq          INTEGER NOT NULL,
          expires_at    INTEGER NOT NULL,  -- ms since the epoch
          registered_at INTEGER NOT NULL,  -- ms since the epoch
          user_agent    TEXT NOT NULL,
          model         TEXT NOT NULL,
          version       TEXT NOT NULL,
          protocol      TEXT NOT NULL,     -- udp, tcp, tls: where the REGISTER came from
          address       TEXT NOT NULL,
          port          INTEGER NOT NULL,
          PRIMARY KEY (account, contact)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 21,
    name: 'call records say why a call ended, in words',
    up(db) {
      // e.g. "hangup", "no media received (RTP timeout)", "removed by the administrator"; NULL for calls that ended before.
      db.exec('ALTER TABLE call_records ADD COLUMN end_reason TEXT');
    },
  },
  {
    version: 22,
    name: 'meeting records say whether content was shared (the statistics count meetings with content)',
    up(db) {
      // 1 once someone held the content floor in the meeting; 0 for meetings held before.
      db.exec('ALTER TABLE meeting_records ADD COLUMN content_shared INTEGER NOT NULL DEFAULT 0');
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration newer than the database; returns the versions applied. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, context: MigrationContext = {}): number[] {
  const latest = migrations.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > latest) {
    throw createError('VCBOX_ERR_DB_TOO_NEW', { path: db.name, found: current, supported: latest });
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    // IMMEDIATE: take the write lock before reading, so two processes starting together
    // cannot both apply the same step.
    const step = db.transaction(() => {
      if (schemaVersion(db) >= migration.version) return false;
      migration.up(db, context);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
      db.pragma(`user_version = ${migration.version}`);
      return true;
    });
    try {
      if (step.immediate()) applied.push(migration.version);
    } catch (error) {
      throw createError(
        'VCBOX_ERR_DB_MIGRATION',
        { version: migration.version, name: migration.name, reason: (error as Error).message },
        error,
      );
    }
  }
  if (applied.length > 0) log.info({ applied, version: latest }, 'database migrated');
  return applied;
}
