/**
 * Call detail records: one row per call in table `call_records` — who called whom, when the
 * call was attempted, answered and ended, its duration and outcome. The statistics pages
 * (statistics issue) count and export these rows; call handlers write them.
 */
import type { Db } from '../db/database.ts';

export type CallType = 'p2p' | 'instant' | 'scheduled' | 'vmr';
export type CallOutcome = 'answered' | 'busy' | 'no-answer' | 'canceled' | 'rejected' | 'failed';

export interface CallRecord {
  readonly id: number;
  readonly type: CallType;
  readonly callId: string;
  readonly caller: string;
  readonly callee: string;
  readonly startedAt: string;
  readonly answeredAt: string | null;
  readonly endedAt: string | null;
  readonly durationSeconds: number | null;
  readonly outcome: CallOutcome | null;
}

export class CallRecords {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Opens a record when a call is attempted; returns its id. */
  start(type: CallType, callId: string, caller: string, callee: string, at = new Date()): number {
    const result = this.#db
      .prepare('INSERT INTO call_records (type, call_id, caller, callee, started_at) VALUES (?, ?, ?, ?, ?)')
      .run(type, callId, caller, callee, at.toISOString());
    return Number(result.lastInsertRowid);
  }

  answered(id: number, at = new Date()): void {
    this.#db.prepare("UPDATE call_records SET answered_at = ?, outcome = 'answered' WHERE id = ?").run(at.toISOString(), id);
  }

  /** Closes a record (once); the outcome of an answered call stays `answered`. */
  ended(id: number, outcome: CallOutcome, at = new Date()): void {
    this.#db
      .prepare(
        `UPDATE call_records SET ended_at = ?,
           duration_s = CASE WHEN answered_at IS NULL THEN 0 ELSE CAST(round((julianday(?) - julianday(answered_at)) * 86400) AS INTEGER) END,
           outcome = COALESCE(outcome, ?)
         WHERE id = ? AND ended_at IS NULL`,
      )
      .run(at.toISOString(), at.toISOString(), outcome, id);
  }

  get(id: number): CallRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM call_records WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }

  byCallId(callId: string): CallRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM call_records WHERE call_id = ? ORDER BY id DESC LIMIT 1').get(callId) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }
}

function toRecord(row: Record<string, unknown>): CallRecord {
  return {
    id: row.id as number,
    type: row.type as CallType,
    callId: row.call_id as string,
    caller: row.caller as string,
    callee: row.callee as string,
    startedAt: row.started_at as string,
    answeredAt: (row.answered_at as string | null) ?? null,
    endedAt: (row.ended_at as string | null) ?? null,
    durationSeconds: (row.duration_s as number | null) ?? null,
    outcome: (row.outcome as CallOutcome | null) ?? null,
  };
}
