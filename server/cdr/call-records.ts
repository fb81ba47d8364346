/**
 * Call detail records: one row per call in table `call_records` — who called whom, when the
 * call was attempted, answered and ended, its duration, outcome and why it ended (in words). Call handlers write them;
 * the console lists and exports them (`search`, `forExport`: newest first, by period, meeting
 * type, and a search on subject, meeting ID, caller or callee); the statistics pages count them.
 */
import type { Db } from '../db/database.ts';
import { likeAny, likePattern } from '../db/like-search.ts';
import { type PeriodQuery, rangeOf, rangeWhere } from './report-period.ts';

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
  /** Why the call ended, in words ("hangup", "no media received (RTP timeout)"…); null while it runs or when nobody said. */
  readonly endReason: string | null;
}

/** What the console's call-record list and export filter on. */
export interface CallRecordFilter extends PeriodQuery {
  readonly type?: CallType | undefined;
  /** Text searched in the subject, meeting ID, caller and callee (literally). */
  readonly q?: string | undefined;
}

/** A call record as the console lists it (the stored columns, named as stored). */
export interface CallRecordRow {
  type: string;
  subject: string | null;
  meeting_id: string | null;
  caller: string;
  callee: string;
  started_at: string;
  answered_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  outcome: string | null;
  end_reason: string | null;
  /** Export only: 1 when the leg's meeting had content shared, 0 when not, null for point-to-point calls or no meeting record. */
  content_shared?: number | null;
}

const LISTED_COLUMNS = 'type, subject, meeting_id, caller, callee, started_at, answered_at, ended_at, duration_s, outcome, end_reason';
/**
 * Whether a meeting leg's meeting had content shared: the meeting record of the leg's meeting
 * number (its meeting ID, else the number it dialled) whose time overlaps the leg's.
 */
const CONTENT_SHARED = `CASE WHEN type = 'p2p' THEN NULL ELSE (
  SELECT m.content_shared FROM meeting_records m
  WHERE m.number = coalesce(call_records.meeting_id, call_records.callee)
    AND m.started_at <= coalesce(call_records.ended_at, '9999') AND (m.ended_at IS NULL OR m.ended_at >= call_records.started_at)
  ORDER BY m.id DESC LIMIT 1) END AS content_shared`;
/** The most rows one export holds (an .xls sheet holds 65 536). */
export const CALL_RECORD_EXPORT_LIMIT = 65_000;

function whereOf(filter: CallRecordFilter): { clause: string; params: Record<string, string> } {
  const { conditions: where, params } = rangeWhere('started_at', rangeOf(filter));
  if (filter.type) {
    where.push('type = @type');
    params.type = filter.type;
  }
  if (filter.q) {
    where.push(likeAny(['subject', 'meeting_id', 'caller', 'callee']));
    params.q = likePattern(filter.q);
  }
  return { clause: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
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

  /**
   * Closes a record (once), with why it ended in words when known; the outcome of an answered
   * call stays `answered`. Its times are wall-clock (what people read); its duration is
   * `durationSeconds` when the caller measured the call on the monotonic clock
   * (server/core/clock.ts: a wall clock set during the call does not change it), else the time
   * from the answer to `at`, never below 0.
   */
  ended(id: number, outcome: CallOutcome, at = new Date(), reason?: string, durationSeconds?: number): void {
    this.#db
      .prepare(
        `UPDATE call_records SET ended_at = @at,
           duration_s = CASE WHEN answered_at IS NULL THEN 0
             WHEN @duration IS NOT NULL THEN @duration
             ELSE max(0, CAST(round((julianday(@at) - julianday(answered_at)) * 86400) AS INTEGER)) END,
           outcome = COALESCE(outcome, @outcome), end_reason = @reason
         WHERE id = @id AND ended_at IS NULL`,
      )
      .run({ at: at.toISOString(), duration: durationSeconds === undefined ? null : Math.max(0, Math.round(durationSeconds)), outcome, reason: reason ?? null, id });
  }

  /**
   * Ends the records a previous control plane left open — it was killed or crashed, so nobody
   * saw those calls end — at `at`, with `reason` saying so; returns how many. Only records begun
   * before `before` (this process's start: later ones are its own calls) and not in `keep` (the
   * calls it took over, server/sip-app/meetings/call-takeover.ts).
   */
  endLeftOpen(reason: string, options: { before?: Date; keep?: readonly number[] } = {}, at = new Date()): number {
    const keep = JSON.stringify(options.keep ?? []);
    return this.#db
      .prepare(
        `UPDATE call_records SET ended_at = @at,
           duration_s = CASE WHEN answered_at IS NULL THEN 0 ELSE max(0, CAST(round((julianday(@at) - julianday(answered_at)) * 86400) AS INTEGER)) END,
           outcome = COALESCE(outcome, 'failed'), end_reason = @reason
         WHERE ended_at IS NULL AND started_at < @before AND id NOT IN (SELECT value FROM json_each(@keep))`,
      )
      .run({ at: at.toISOString(), reason, before: (options.before ?? at).toISOString(), keep }).changes;
  }

  /** The records still open (not ended) with Call-ID `callId`. */
  openByCallId(callId: string): CallRecord[] {
    return (this.#db.prepare('SELECT * FROM call_records WHERE call_id = ? AND ended_at IS NULL').all(callId) as Record<string, unknown>[]).map(toRecord);
  }

  get(id: number): CallRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM call_records WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }

  byCallId(callId: string): CallRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM call_records WHERE call_id = ? ORDER BY id DESC LIMIT 1').get(callId) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** One page of the records that match, newest first, and how many match in all. */
  search(filter: CallRecordFilter, page: { readonly page: number; readonly pageSize: number }): { total: number; items: CallRecordRow[] } {
    const { clause, params } = whereOf(filter);
    const limit = Math.trunc(page.pageSize);
    const offset = (Math.trunc(page.page) - 1) * limit;
    const total = (this.#db.prepare(`SELECT count(*) AS n FROM call_records ${clause}`).get(params) as { n: number }).n;
    const items = this.#db.prepare(`SELECT ${LISTED_COLUMNS} FROM call_records ${clause} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}`).all(params) as CallRecordRow[];
    return { total, items };
  }

  /** The records that match, newest first, at most CALL_RECORD_EXPORT_LIMIT (a spreadsheet's worth). */
  forExport(filter: CallRecordFilter): CallRecordRow[] {
    const { clause, params } = whereOf(filter);
    return this.#db.prepare(`SELECT ${LISTED_COLUMNS}, ${CONTENT_SHARED} FROM call_records ${clause} ORDER BY id DESC LIMIT ${CALL_RECORD_EXPORT_LIMIT}`).all(params) as CallRecordRow[];
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
    endReason: (row.end_reason as string | null) ?? null,
  };
}
