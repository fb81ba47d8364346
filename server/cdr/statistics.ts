/**
 * The statistics page's figures (spec "Statistics"): meetings held in a time range by type —
 * point-to-point (answered p2p calls in `call_records`), instant, scheduled and VMR meetings
 * (`meeting_records`, one row per meeting held, counted by its start) — and the maximum
 * concurrency in the range and ever: the most meeting participants at once and the most
 * meetings at once (`concurrency_daily`, ./concurrency-records.ts, day granularity: a range
 * takes every UTC day it touches). For days before that table existed the largest single
 * meeting (`meeting_records.participants_max`) stands in as a lower bound. Meetings with
 * content: those in which someone held the content floor (`meeting_records.content_shared`). The call-record
 * list and export are in control-plane/routes/call-records.ts.
 */
import type { Db } from '../db/database.ts';
import { type TimeRange, rangeWhere } from './report-period.ts';

export interface MeetingCounts {
  readonly p2p: number;
  readonly instant: number;
  readonly scheduled: number;
  readonly vmr: number;
  readonly total: number;
  /** Participants over all conference meetings (each leg counted once). */
  readonly participants: number;
  /** Conference meetings in which someone shared content. */
  readonly withContent: number;
}

export interface MaxConcurrency {
  /** Most meeting participants at once (all meetings together). */
  readonly participants: number;
  /** When that was first reached (null when nothing was recorded). */
  readonly participantsAt: string | null;
  /** Most meetings with someone in them at once. */
  readonly meetings: number;
  readonly meetingsAt: string | null;
}

export class MeetingStatistics {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  counts(range: TimeRange): MeetingCounts {
    const calls = rangeWhere('started_at', range);
    const p2p = this.#db
      .prepare(`SELECT count(*) AS n FROM call_records WHERE ${["type = 'p2p'", 'answered_at IS NOT NULL', ...calls.conditions].join(' AND ')}`)
      .get(calls.params) as { n: number };
    const meetings = rangeWhere('started_at', range);
    const rows = this.#db
      .prepare(
        `SELECT kind, count(*) AS n, coalesce(sum(participants_total), 0) AS participants, coalesce(sum(content_shared), 0) AS content FROM meeting_records ${where(meetings.conditions)} GROUP BY kind`,
      )
      .all(meetings.params) as { kind: 'vmr' | 'scheduled' | 'instant'; n: number; participants: number; content: number }[];
    const byKind = { instant: 0, scheduled: 0, vmr: 0 };
    let participants = 0;
    let withContent = 0;
    for (const row of rows) {
      byKind[row.kind] = row.n;
      participants += row.participants;
      withContent += row.content;
    }
    return { p2p: p2p.n, ...byKind, total: p2p.n + byKind.instant + byKind.scheduled + byKind.vmr, participants, withContent };
  }

  maxConcurrency(range: TimeRange): MaxConcurrency {
    // Days are UTC dates; a range takes each day it overlaps (its end is exclusive).
    const days: string[] = [];
    const params: Record<string, string> = {};
    if (range.from) {
      days.push('day >= @fromDay');
      params.fromDay = range.from.toISOString().slice(0, 10);
    }
    if (range.to) {
      days.push('day <= @toDay');
      params.toDay = new Date(range.to.getTime() - 1).toISOString().slice(0, 10);
    }
    const byParticipants = this.#db
      .prepare(`SELECT participants_max AS n, participants_at AS at FROM concurrency_daily ${where(days)} ORDER BY participants_max DESC, participants_at LIMIT 1`)
      .get(params) as { n: number; at: string } | undefined;
    const byMeetings = this.#db
      .prepare(`SELECT meetings_max AS n, meetings_at AS at FROM concurrency_daily ${where(days)} ORDER BY meetings_max DESC, meetings_at LIMIT 1`)
      .get(params) as { n: number; at: string } | undefined;
    const meetings = rangeWhere('started_at', range);
    const largest = this.#db
      .prepare(`SELECT participants_max AS n, started_at AS at FROM meeting_records ${where(meetings.conditions)} ORDER BY participants_max DESC, started_at LIMIT 1`)
      .get(meetings.params) as { n: number; at: string } | undefined;
    const participants = largest && largest.n > (byParticipants?.n ?? 0) ? largest : byParticipants;
    return {
      participants: participants?.n ?? 0,
      participantsAt: participants?.at ?? null,
      meetings: byMeetings?.n ?? (largest && largest.n > 0 ? 1 : 0),
      meetingsAt: byMeetings?.at ?? (largest && largest.n > 0 ? largest.at : null),
    };
  }
}

function where(conditions: string[]): string {
  return conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
}
