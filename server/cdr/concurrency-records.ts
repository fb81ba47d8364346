/**
 * The most meeting participants and meetings at once, per UTC day (table `concurrency_daily`,
 * migration 11): updated as participants join — the only moment a maximum can rise — from
 * the live-meetings registry, which holds every SIP leg and browser in every meeting. The
 * statistics (./statistics.ts) read "maximum concurrency ever / in a period" from it without
 * scanning call records. Point-to-point calls are not counted: the box only relays their
 * signaling; the media flows between the two terminals and takes no port of the box.
 */
import type { Db } from '../db/database.ts';
import type { LiveMeetings } from '../meetings/live-meetings.ts';

export class ConcurrencyRecords {
  readonly #db: Db;
  readonly #now: () => Date;

  /** `now`: the clock (tests place joins on chosen days). */
  constructor(db: Db, options: { now?: () => Date } = {}) {
    this.#db = db;
    this.#now = options.now ?? (() => new Date());
  }

  follow(live: LiveMeetings): void {
    live.on('joined', () => {
      let participants = 0;
      let meetings = 0;
      for (const meeting of live.list()) {
        participants += meeting.participants.size;
        if (meeting.participants.size > 0) meetings++;
      }
      this.record(participants, meetings);
    });
  }

  /** Raises the day's maxima to these figures if they are higher (the time kept is when a maximum was first reached). */
  record(participants: number, meetings: number): void {
    const at = this.#now().toISOString();
    // In an UPDATE, SQLite evaluates every SET expression against the row as it was.
    this.#db
      .prepare(
        `INSERT INTO concurrency_daily (day, participants_max, participants_at, meetings_max, meetings_at) VALUES (@day, @participants, @at, @meetings, @at)
         ON CONFLICT(day) DO UPDATE SET
           participants_max = max(participants_max, excluded.participants_max),
           participants_at = CASE WHEN excluded.participants_max > participants_max THEN excluded.participants_at ELSE participants_at END,
           meetings_max = max(meetings_max, excluded.meetings_max),
           meetings_at = CASE WHEN excluded.meetings_max > meetings_max THEN excluded.meetings_at ELSE meetings_at END`,
      )
      .run({ day: at.slice(0, 10), participants, meetings, at });
  }
}
