/**
 * Meeting records: one row per meeting held (table `meeting_records`) — its number, kind and
 * subject, when it started (first participant in) and ended (last one out), how many took
 * part and the most at once, and whether anyone shared content (held the content floor). The per-leg rows stay in `call_records`; the statistics count
 * meetings and their concurrency from here. Fed by the live-meetings registry.
 */
import { monotonicMs } from '../core/clock.ts';
import type { Db } from '../db/database.ts';
import type { LiveMeeting, LiveMeetings, MeetingKind } from '../meetings/live-meetings.ts';

export interface MeetingRecord {
  readonly id: number;
  readonly number: string;
  readonly kind: MeetingKind;
  readonly subject: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationSeconds: number | null;
  readonly participantsTotal: number;
  readonly participantsMax: number;
  readonly contentShared: boolean;
}

export class MeetingRecords {
  readonly #db: Db;
  readonly #open = new Map<LiveMeeting, number>();
  /** When each meeting this process recorded from its start began, on the monotonic clock (its duration). */
  readonly #startedMono = new Map<LiveMeeting, number>();

  constructor(db: Db) {
    this.#db = db;
  }

  /** Writes a record for every meeting `live` starts, updates it on joins, closes it at the end. */
  follow(live: LiveMeetings): void {
    // A meeting is recorded from its first participant (an admitted caller that then fails to
    // connect starts and ends an empty meeting: not a meeting held).
    live.on('joined', (meeting, participant) => {
      let id = this.#open.get(meeting);
      // A meeting whose calls outlived a control-plane restart goes on in the record its
      // predecessor left open (one meeting per number is live at a time).
      if (id === undefined) {
        const left = this.#db.prepare('SELECT id FROM meeting_records WHERE number = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1').get(meeting.number) as { id: number } | undefined;
        if (left) this.#open.set(meeting, left.id);
        id = left?.id;
      }
      if (id === undefined) {
        id = Number(
          this.#db
            .prepare('INSERT INTO meeting_records (number, kind, subject, started_at) VALUES (?, ?, ?, ?)')
            .run(meeting.number, meeting.kind, meeting.subject, new Date().toISOString()).lastInsertRowid,
        );
        this.#open.set(meeting, id);
        this.#startedMono.set(meeting, monotonicMs());
      }
      // A participant taken over after a restart was counted when it first joined.
      this.#db
        .prepare('UPDATE meeting_records SET participants_total = participants_total + ?, participants_max = max(participants_max, ?) WHERE id = ?')
        .run(participant.resumed ? 0 : 1, meeting.participants.size, id);
    });
    live.on('presenter', (meeting, presenter) => {
      const id = this.#open.get(meeting);
      if (id === undefined || presenter === null) return;
      this.#db.prepare('UPDATE meeting_records SET content_shared = 1 WHERE id = ? AND content_shared = 0').run(id);
    });
    live.on('ended', (meeting) => {
      const id = this.#open.get(meeting);
      if (id === undefined) return;
      this.#open.delete(meeting);
      // Its times are wall-clock; its duration monotonic when this process saw it start (a wall
      // clock set meanwhile does not change it), else from its times, never below 0.
      const started = this.#startedMono.get(meeting);
      this.#startedMono.delete(meeting);
      const now = new Date().toISOString();
      this.#db
        .prepare(
          `UPDATE meeting_records SET ended_at = @now,
             duration_s = coalesce(@duration, max(0, CAST(round((julianday(@now) - julianday(started_at)) * 86400) AS INTEGER)))
           WHERE id = @id`,
        )
        .run({ now, duration: started === undefined ? null : Math.round((monotonicMs() - started) / 1000), id });
    });
  }

  /**
   * Ends the meeting records a killed control plane left open whose meeting is not live again
   * (no call of it was taken over), at `at`; returns how many.
   */
  endLeftOpen(live: LiveMeetings, at = new Date()): number {
    const numbers = JSON.stringify(live.list().map((m) => m.number));
    const now = at.toISOString();
    return this.#db
      .prepare(
        `UPDATE meeting_records SET ended_at = @now, duration_s = max(0, CAST(round((julianday(@now) - julianday(started_at)) * 86400) AS INTEGER))
         WHERE ended_at IS NULL AND number NOT IN (SELECT value FROM json_each(@numbers))`,
      )
      .run({ now, numbers }).changes;
  }

  list(limit = 100): MeetingRecord[] {
    const rows = this.#db.prepare('SELECT * FROM meeting_records ORDER BY id DESC LIMIT ?').all(limit) as Record<string, unknown>[];
    return rows.map((row) => ({
      id: row.id as number,
      number: row.number as string,
      kind: row.kind as MeetingKind,
      subject: row.subject as string,
      startedAt: row.started_at as string,
      endedAt: (row.ended_at as string | null) ?? null,
      durationSeconds: (row.duration_s as number | null) ?? null,
      participantsTotal: row.participants_total as number,
      participantsMax: row.participants_max as number,
      contentShared: row.content_shared === 1,
    }));
  }
}
