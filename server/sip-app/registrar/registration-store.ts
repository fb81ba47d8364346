/**
 * The location service's bindings on disk (table `sip_registrations`, migration 20), so a
 * restart of the control plane — a crash, `kill -9`, an upgrade — finds every terminal still
 * registered. Write-behind: a REGISTER only marks its account changed (a Set insert, nothing
 * on disk); every `flushIntervalMs` (250 ms) the changed accounts' rows are taken from what is
 * live now and handed to the writer thread (./registration-writer.ts), which replaces them in
 * one transaction on its own connection: the SQLite work and the WAL checkpoints it triggers
 * (an fsync, tens of milliseconds on a busy disk) stay off the event loop that answers
 * REGISTERs — written inline they were the tail of the REGISTER latency at a steady load.
 * close() waits (bounded) for the writer's batches and writes what is left itself. A crash loses
 * at most the changes of the last interval: a refresh then keeps its previous expiry, a first
 * registration is missing until the terminal's next re-REGISTER, an un-REGISTER lingers until
 * the binding expires. At start the rows not yet expired come back (expired ones are deleted).
 * A database in memory (no file a second connection could open) is written inline.
 */
import { Worker } from 'node:worker_threads';
import type { Db } from '../../db/database.ts';
import { getLogger } from '../../core/logger.ts';
import type { Binding } from './location-service.ts';
import { DONE_SEQ, type RegistrationRow, type WriteResult, writeBatch } from './registration-writer.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('registration-store');

/** How long close() waits for the writer thread's batches before writing inline anyway. */
const CLOSE_WAIT_MS = 5000;

type Row = RegistrationRow;

function rowOf(b: Binding): Row {
  return {
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
  };
}

export class RegistrationStore {
  readonly #db: Db;
  readonly #dirty = new Set<string>();
  readonly #flushIntervalMs: number;
  readonly #inThread: boolean;
  #writer: Worker | undefined;
  #done: Int32Array | undefined;
  #seq = 0;
  /** Batches handed to the writer and not yet reported back: their accounts, by seq. */
  readonly #pending = new Map<number, readonly string[]>();
  #timer: NodeJS.Timeout | undefined;
  #current: ((account: string) => readonly Binding[]) | undefined;
  #closed = false;
  #failing = false;

  /** `inThread` (default: when the database is a file): write in the writer thread. */
  constructor(db: Db, options: { flushIntervalMs?: number; inThread?: boolean } = {}) {
    this.#db = db;
    this.#flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#inThread = (options.inThread ?? true) && !db.memory;
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
    if (this.#inThread) this.#startWriter();
    this.#timer = setInterval(() => this.flush(), this.#flushIntervalMs);
    this.#timer.unref();
  }

  #startWriter(): void {
    const done = new SharedArrayBuffer(4);
    this.#done = new Int32Array(done);
    const writer = new Worker(new URL('./registration-writer.ts', import.meta.url), { workerData: { registrationWriter: true, file: this.#db.name, done } });
    writer.unref();
    writer.on('message', (result: WriteResult) => this.#onWritten(result));
    writer.on('error', (error) => {
      // The thread itself died (not a refused write): write inline from now on.
      log.error({ err: error.message }, 'the registration writer thread failed; writing inline');
      if (this.#writer !== writer) return;
      this.#writer = undefined;
      for (const accounts of this.#pending.values()) for (const account of accounts) this.changed(account);
      this.#pending.clear();
    });
    this.#writer = writer;
  }

  #onWritten(result: WriteResult): void {
    const accounts = this.#pending.get(result.seq);
    this.#pending.delete(result.seq);
    if (result.error === undefined) {
      if (this.#failing) log.info('registrations written again');
      this.#failing = false;
      return;
    }
    // The disk refused (full, busy past the timeout): keep them for the next tick, say it once.
    for (const account of accounts ?? []) this.changed(account);
    if (!this.#failing) log.error({ err: result.error, accounts: accounts?.length }, 'could not write the registrations; retrying at every flush');
    this.#failing = true;
  }

  /** An account's bindings changed (added, refreshed, removed, expired): written at the next flush. */
  changed(account: string): void {
    if (!this.#closed) this.#dirty.add(account);
  }

  /** Hands every changed account's rows to the writer now (written inline without one). */
  flush(): void {
    const current = this.#current;
    if (this.#dirty.size === 0 || !current) return;
    const accounts = [...this.#dirty];
    this.#dirty.clear();
    const rows: Row[] = [];
    for (const account of accounts) for (const b of current(account)) rows.push(rowOf(b));
    const writer = this.#writer;
    if (writer) {
      const seq = ++this.#seq;
      this.#pending.set(seq, accounts);
      writer.postMessage({ seq, accounts, rows });
      return;
    }
    try {
      writeBatch(this.#db, { accounts, rows });
      if (this.#failing) log.info({ accounts: accounts.length }, 'registrations written again');
      this.#failing = false;
    } catch (error) {
      for (const account of accounts) this.#dirty.add(account);
      if (!this.#failing) log.error({ err: (error as Error).message, accounts: accounts.length }, 'could not write the registrations; retrying at every flush');
      this.#failing = true;
    }
  }

  /**
   * Writes what is pending and stops: waits (at most 5 s) for the writer's batches, then writes
   * inline the accounts changed since and those of batches not reported written.
   */
  close(): void {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const writer = this.#writer;
    this.#writer = undefined;
    try {
      if (writer && this.#done) {
        const deadline = monotonicMs() + CLOSE_WAIT_MS;
        let finished = Atomics.load(this.#done, DONE_SEQ);
        while (finished < this.#seq && monotonicMs() < deadline) {
          Atomics.wait(this.#done, DONE_SEQ, finished, deadline - monotonicMs());
          finished = Atomics.load(this.#done, DONE_SEQ);
        }
        if (finished < this.#seq) log.warn({ batches: this.#seq - finished }, 'the registration writer did not finish in time; writing inline');
        // Their results may not have come back yet: write them again from what is live (idempotent).
        for (const accounts of this.#pending.values()) for (const account of accounts) this.#dirty.add(account);
        this.#pending.clear();
      }
      if (this.#db.open) this.flush();
    } finally {
      this.#closed = true;
      this.#dirty.clear();
      void writer?.terminate();
    }
  }
}
