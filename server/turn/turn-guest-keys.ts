/**
 * TURN credentials the box can take back: one random user and password per browser in a
 * meeting, its key written into the relay's own user database (coturn's SQLite `userdb`, table
 * `turnusers_lt`, read by coturn at every authentication with `lt-cred-mech`) when the browser
 * joins and deleted when it leaves. After that the relay refuses the name (401): a guest's
 * credentials last as long as the guest is in the meeting, not a fixed time.
 *
 * Written by the control plane (which admits browsers), read by the TURN process's coturn:
 * both find the file at `turnUserDb(runDir)`. The key is coturn's long-term credential key,
 * MD5(user:realm:password) in hex; the password itself is never stored. No credential outlives
 * the control plane: it clears the table when it starts (no browser is in a meeting then).
 * What does not live here: the relay's configuration (./turn-config.ts) and its process
 * (./turn-service.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { getLogger } from '../core/logger.ts';

const log = getLogger('turn');

/** Where coturn's user database lives in the box's run folder (both processes agree on it). */
export function turnUserDb(runDir: string): string {
  return path.join(runDir, 'turndb');
}

export interface TurnCredentials {
  readonly username: string;
  readonly credential: string;
}

export class TurnGuestKeys {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[string, string, string]>;
  readonly #delete: Database.Statement<[string]>;
  #closed = false;

  /** Opens (or makes) the relay's user database; every key left from an earlier run is removed. */
  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.#db = new Database(file);
    this.#db.pragma('busy_timeout = 2000');
    // Readers (coturn) never wait for the box's writes.
    this.#db.pragma('journal_mode = WAL');
    // coturn's own schema (Debian's /usr/share/coturn/schema.sql): coturn reads this table.
    this.#db.exec("CREATE TABLE IF NOT EXISTS turnusers_lt (realm varchar(127) default '', name varchar(512), hmackey char(128), PRIMARY KEY (realm, name))");
    const left = this.#db.prepare('DELETE FROM turnusers_lt').run().changes;
    if (left > 0) log.info({ removed: left }, 'TURN credentials of an earlier run removed');
    this.#insert = this.#db.prepare('INSERT OR REPLACE INTO turnusers_lt (realm, name, hmackey) VALUES (?, ?, ?)');
    this.#delete = this.#db.prepare('DELETE FROM turnusers_lt WHERE name = ?');
  }

  /** New credentials for one browser in `realm` (the relay's realm: the box's local domain). */
  grant(participantId: string, realm: string): TurnCredentials {
    const username = `guest-${participantId}`;
    const credential = randomBytes(18).toString('base64url');
    const key = createHash('md5').update(`${username}:${realm}:${credential}`).digest('hex');
    this.#insert.run(realm, username, key);
    return { username, credential };
  }

  /** The relay refuses these credentials from now on (safe to call twice). */
  revoke(username: string): void {
    if (this.#closed) return;
    this.#delete.run(username);
  }

  /** How many browsers hold credentials now. */
  get count(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM turnusers_lt').get() as { n: number }).n;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
