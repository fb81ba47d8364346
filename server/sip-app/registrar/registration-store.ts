/**
 * The location service's bindings on disk (table `sip_registrations`, migration 20), so a
 * restart of the control plane — a crash, `kill -9`, an upgrade — finds every terminal still
 * registered. Write-behind: a REGISTER only marks its account changed (a Set insert, nothing
 * on disk); every `flushIntervalMs` (250 ms) the changed accounts' bindings are written in one
 * transaction (their rows replaced by what is live now). A crash loses at most the changes of
 * the last interval: a refresh then keeps its previous expiry, a first registration is missing
 * until the terminal's next re-REGISTER, an un-REGISTER lingers until the binding expires.
 * At start the rows not yet expired come back (expired ones are deleted).
 */
import type { Db } from '../../db/database.ts';
import { getLogger } from '../../core/logger.ts';
import type { Binding } from './location-service.ts';

const log = getLogger('registration-store');

interface Row {
  account: string;
  contact: string;
  instance: string | null;
  call_id: string;
  cseq: number;
  expires_at: number;
  registered_at: number;
  user_agent: string;
  model: string;
  version: string;
  protocol: string;
  address: string;
  port: number;
}

export class RegistrationStore {
  readonly #db: Db;
  readonly #dirty = new Set<string>();
  readonly #flushIntervalMs: number;
  readonly #remove: ReturnType<Db['prepare']>;
  readonly #insert: ReturnType<Db['prepare']>;
  #timer: NodeJS.Timeout | undefined;
  #current: ((account: string) => readonly Binding[]) | undefined;
  #closed = false;
  #failing = false;

  constructor(db: Db, options: { flushIntervalMs?: number } = {}) {
    this.#db = db;
    this.#flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#remove = db.prepare('DELETE FROM sip_registrations WHERE account = ?');
    this.#insert = db.prepare(
      `INSERT INTO sip_registrations (account, contact, instance, call_id, cseq, expires_at, registered_at, user_agent, model, version, protocol, address, port)
       VALUES (@account, @contact, @instance, @call_id, @cseq, @expires_at, @registered_at, @user_agent, @model, @version, @protocol, @address, @port)`,
    );
  }

  /** The bindings still live at `now` (expired rows are deleted on the way). */
  load(now = Date.now()): Binding[] {
    this.#db.prepare('DELETE FROM sip_registrations WHERE expires_at <= ?').run(now);
    const rows = this.#db.prepare('SELECT * FROM sip_registrations ORDER BY account, registered_at').all() as Row[];
    return rows.map((row) => ({
      account: row.account,
      contact: row.contact,
      instance: row.instance ?? undefined,
      callId: row.call_id,
      cseq: row.cseq,
      expiresAt: row.expires_at,
      registeredAt: row.registered_at,
      userAgent: row.user_agent,
      model: row.model,
      version: row.version,
      source: { protocol: row.protocol, address: row.address, port: row.port },
    }));
  }

  /** Starts the write-behind: `current(account)` tells an account's bindings at flush time. */
  start(current: (account: string) => readonly Binding[]): void {
    if (this.#closed || this.#timer) return;
    this.#current = current;
    this.#timer = setInterval(() => this.flush(), this.#flushIntervalMs);
    this.#timer.unref();
  }

  /** An account's bindings changed (added, refreshed, removed, expired): written at the next flush. */
  changed(account: string): void {
    if (!this.#closed) this.#dirty.add(account);
  }

  /** Writes every changed account now, in one transaction. */
  flush(): void {
    const current = this.#current;
    if (this.#dirty.size === 0 || !current) return;
    const accounts = [...this.#dirty];
    this.#dirty.clear();
    try {
      this.#db.transaction(() => {
        for (const account of accounts) {
          this.#remove.run(account);
          for (const b of current(account)) {
            this.#insert.run({
              account: b.account,
              contact: b.contact,
              instance: b.instance ?? null,
              call_id: b.callId,
              cseq: b.cseq,
              expires_at: b.expiresAt,
              registered_at: b.registeredAt,
              user_agent: b.userAgent,
              model: b.model,
              version: b.version,
              protocol: b.source.protocol,
              address: b.source.address,
              port: b.source.port,
            });
          }
        }
      })();
      if (this.#failing) log.info({ accounts: accounts.length }, 'registrations written again');
      this.#failing = false;
    } catch (error) {
      // The disk refused (full, busy past the timeout): keep them for the next tick, say it once.
      for (const account of accounts) this.#dirty.add(account);
      if (!this.#failing) log.error({ err: (error as Error).message, accounts: accounts.length }, 'could not write the registrations; retrying at every flush');
      this.#failing = true;
    }
  }

  /** Writes what is pending and stops. */
  close(): void {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      if (this.#db.open) this.flush();
    } finally {
      this.#closed = true;
      this.#dirty.clear();
    }
  }
}
