/**
 * The registration store's writer thread (a worker_threads Worker, ./registration-store.ts):
 * its own connection to the database file writes each batch of changed accounts in one
 * transaction — their rows replaced by the rows sent — so the SQLite work, and the WAL
 * checkpoints (fsync) a commit may trigger, never stop the control plane's event loop, where
 * the SIP application answers REGISTERs. Batches are written in the order they come. Each
 * finished batch (written or not) is counted in the shared `done` cell, which close() waits on,
 * and reported back as a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../db/database.ts';

export interface RegistrationRow {
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

/** One flush: the accounts whose rows are replaced, and their rows now. */
export interface WriteBatch {
  readonly seq: number;
  readonly accounts: readonly string[];
  readonly rows: readonly RegistrationRow[];
}

/** What the writer says about a batch. */
export interface WriteResult {
  readonly seq: number;
  readonly error?: string;
}

/** Index in the shared Int32Array: the seq of the last batch finished. */
export const DONE_SEQ = 0;

type Db = ReturnType<typeof openDatabase>;
const statements = new WeakMap<Db, { remove: ReturnType<Db['prepare']>; insert: ReturnType<Db['prepare']> }>();

/** Replaces the rows of `batch.accounts` with `batch.rows`, in one transaction. */
export function writeBatch(db: Db, batch: Pick<WriteBatch, 'accounts' | 'rows'>): void {
  let prepared = statements.get(db);
  if (!prepared) {
    prepared = {
      remove: db.prepare('DELETE FROM sip_registrations WHERE account = ?'),
      insert: db.prepare(
        `INSERT INTO sip_registrations (account, contact, instance, call_id, cseq, expires_at, registered_at, user_agent, model, version, protocol, address, port)
         VALUES (@account, @contact, @instance, @call_id, @cseq, @expires_at, @registered_at, @user_agent, @model, @version, @protocol, @address, @port)`,
      ),
    };
    statements.set(db, prepared);
  }
  const { remove, insert } = prepared;
  db.transaction(() => {
    for (const account of batch.accounts) remove.run(account);
    for (const row of batch.rows) insert.run(row);
  })();
}

if (parentPort && workerData?.registrationWriter) {
  const port = parentPort;
  const { file, done } = workerData as { file: string; done: SharedArrayBuffer };
  const cells = new Int32Array(done);
  const db = openDatabase(file);
  port.on('message', (batch: WriteBatch) => {
    let error: string | undefined;
    try {
      writeBatch(db, batch);
    } catch (e) {
      error = (e as Error).message;
    }
    Atomics.store(cells, DONE_SEQ, batch.seq);
    Atomics.notify(cells, DONE_SEQ);
    port.postMessage({ seq: batch.seq, error } satisfies WriteResult);
  });
  port.on('close', () => db.close());
}
