/**
 * Meetings as the console plans them: scheduled (subject, start, duration, optional recurrence
 * daily/weekly/monthly until a date, participants from accounts and rooms, PINs generated or
 * set) and instant (starting now). A meeting's number comes from the shared dial plan. Edits are
 * refused once the meeting has started; cancelling keeps the record. Occurrences of recurring
 * meetings are computed for a calendar window. Joining and media are the meetings-with-media
 * issue's.
 */
import type { Db } from '../db/database.ts';
import { createError } from '../core/errors.ts';
import { isMeetingNumber, isStoredPin, randomDigits, type ReservedNumberSource } from '../dial-plan/dial-plan.ts';
import { freeNumber, numberOwner } from '../rooms/meeting-numbers.ts';
import { SettingsStore } from '../settings/settings-store.ts';

export type Frequency = 'daily' | 'weekly' | 'monthly';

export interface Recurrence {
  readonly freq: Frequency;
  /** Last day an occurrence may start (ISO date-time). */
  readonly until: string;
}

export interface Meeting {
  readonly id: number;
  readonly number: string;
  readonly subject: string;
  readonly type: 'scheduled' | 'instant';
  readonly organizer: string;
  readonly start: string;
  readonly durationMinutes: number;
  readonly recurrence: Recurrence | null;
  readonly hostPin: string;
  readonly guestPin: string;
  readonly status: 'scheduled' | 'cancelled';
  readonly accounts: string[];
  readonly rooms: number[];
}

export interface MeetingInput {
  subject: string;
  start: string;
  durationMinutes: number;
  recurrence?: Recurrence | null;
  accounts?: string[];
  rooms?: number[];
  number?: string;
  hostPin?: string;
  guestPin?: string;
}

interface Row {
  id: number;
  number: string;
  subject: string;
  type: 'scheduled' | 'instant';
  organizer: string;
  start_at: string;
  duration_min: number;
  recurrence: string | null;
  host_pin: string;
  guest_pin: string;
  status: 'scheduled' | 'cancelled';
}

const MAX_OCCURRENCES = 500;

/** Start times of a meeting's occurrences that overlap [from, to]. */
export function occurrences(meeting: Pick<Meeting, 'start' | 'durationMinutes' | 'recurrence'>, from: Date, to: Date): string[] {
  const out: string[] = [];
  const first = new Date(meeting.start);
  const until = meeting.recurrence ? new Date(meeting.recurrence.until) : first;
  const length = meeting.durationMinutes * 60_000;
  for (let i = 0; out.length < MAX_OCCURRENCES && i < 5000; i++) {
    const at = new Date(first);
    if (meeting.recurrence?.freq === 'daily') at.setUTCDate(first.getUTCDate() + i);
    else if (meeting.recurrence?.freq === 'weekly') at.setUTCDate(first.getUTCDate() + 7 * i);
    else if (meeting.recurrence?.freq === 'monthly') at.setUTCMonth(first.getUTCMonth() + i);
    else if (i > 0) break;
    if (at > until || at > to) break;
    if (at.getTime() + length >= from.getTime()) out.push(at.toISOString());
  }
  return out;
}

export class MeetingStore {
  readonly #db: Db;
  /** The numbers the settings reserve (IVR access, instant meeting): no meeting takes them. */
  readonly #reserved: ReservedNumberSource;

  constructor(db: Db, settings: ReservedNumberSource = new SettingsStore(db)) {
    this.#db = db;
    this.#reserved = settings;
  }

  #check(input: MeetingInput, id?: number): void {
    const fail = (field: string, reason: string) => createError('VCBOX_ERR_MEETING', { field, reason });
    if (input.subject.trim() === '' || input.subject.length > 255) throw fail('subject', 'a subject has 1 to 255 characters');
    if (Number.isNaN(Date.parse(input.start))) throw fail('start', 'a start is a date and time');
    if (!Number.isInteger(input.durationMinutes) || input.durationMinutes < 5 || input.durationMinutes > 24 * 60) throw fail('durationMinutes', 'a meeting lasts 5 minutes to 24 hours');
    if (input.recurrence) {
      const until = Date.parse(input.recurrence.until);
      if (Number.isNaN(until) || until < Date.parse(input.start)) throw fail('recurrence.until', 'the recurrence ends after the first meeting');
      if (until - Date.parse(input.start) > 2 * 366 * 86_400_000) throw fail('recurrence.until', 'a recurrence spans at most two years');
    }
    if (input.hostPin !== undefined && !isStoredPin(input.hostPin)) throw fail('hostPin', 'a PIN has 4 to 8 digits');
    if (input.guestPin !== undefined && input.guestPin !== '' && !isStoredPin(input.guestPin)) throw fail('guestPin', 'a PIN has 4 to 8 digits, or is empty');
    if (input.hostPin !== undefined && input.hostPin === input.guestPin) throw fail('guestPin', 'the guest PIN must differ from the host PIN');
    for (const number of input.accounts ?? []) {
      if (!this.#db.prepare('SELECT 1 FROM accounts WHERE number = ?').get(number)) throw fail('accounts', `there is no account ${number}`);
    }
    for (const room of input.rooms ?? []) {
      if (!this.#db.prepare('SELECT 1 FROM rooms WHERE id = ?').get(room)) throw fail('rooms', `there is no room ${room}`);
    }
    if (input.number !== undefined) {
      if (!isMeetingNumber(input.number)) throw fail('number', 'a meeting number has 5 to 12 digits (4 digits are accounts)');
      const owner = numberOwner(this.#db, this.#reserved, input.number, id === undefined ? undefined : { table: 'meetings', id });
      if (owner) throw createError('VCBOX_ERR_ROOM_EXISTS', { number: input.number, owner });
    }
  }

  create(input: MeetingInput, organizer: string, type: 'scheduled' | 'instant' = 'scheduled'): Meeting {
    this.#check(input);
    const hostPin = input.hostPin ?? randomDigits(6);
    let guestPin = input.guestPin;
    while (guestPin === undefined || (input.guestPin === undefined && guestPin === hostPin)) guestPin = randomDigits(4);
    const now = new Date().toISOString();
    return this.#db.transaction(() => {
      const result = this.#db
        .prepare(
          'INSERT INTO meetings (number, subject, type, organizer, start_at, duration_min, recurrence, host_pin, guest_pin, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          input.number ?? freeNumber(this.#db, this.#reserved),
          input.subject,
          type,
          organizer,
          new Date(input.start).toISOString(),
          input.durationMinutes,
          input.recurrence ? JSON.stringify({ freq: input.recurrence.freq, until: new Date(input.recurrence.until).toISOString() }) : null,
          hostPin,
          guestPin,
          'scheduled',
          now,
          now,
        );
      const id = Number(result.lastInsertRowid);
      this.#setParticipants(id, input);
      return this.get(id) as Meeting;
    })();
  }

  #setParticipants(id: number, input: Pick<MeetingInput, 'accounts' | 'rooms'>): void {
    const add = this.#db.prepare('INSERT OR IGNORE INTO meeting_participants (meeting_id, kind, ref) VALUES (?, ?, ?)');
    if (input.accounts) {
      this.#db.prepare("DELETE FROM meeting_participants WHERE meeting_id = ? AND kind = 'account'").run(id);
      for (const number of input.accounts) add.run(id, 'account', number);
    }
    if (input.rooms) {
      this.#db.prepare("DELETE FROM meeting_participants WHERE meeting_id = ? AND kind = 'room'").run(id);
      for (const room of input.rooms) add.run(id, 'room', String(room));
    }
  }

  get(id: number): Meeting | undefined {
    const row = this.#db.prepare('SELECT * FROM meetings WHERE id = ?').get(id) as Row | undefined;
    if (!row) return undefined;
    const participants = this.#db.prepare('SELECT kind, ref FROM meeting_participants WHERE meeting_id = ? ORDER BY ref').all(id) as { kind: string; ref: string }[];
    return {
      id: row.id,
      number: row.number,
      subject: row.subject,
      type: row.type,
      organizer: row.organizer,
      start: row.start_at,
      durationMinutes: row.duration_min,
      recurrence: row.recurrence ? (JSON.parse(row.recurrence) as Recurrence) : null,
      hostPin: row.host_pin,
      guestPin: row.guest_pin,
      status: row.status,
      accounts: participants.filter((p) => p.kind === 'account').map((p) => p.ref),
      rooms: participants.filter((p) => p.kind === 'room').map((p) => Number(p.ref)),
    };
  }

  byNumber(number: string): Meeting | undefined {
    const row = this.#db.prepare('SELECT id FROM meetings WHERE number = ?').get(number) as { id: number } | undefined;
    return row ? this.get(row.id) : undefined;
  }

  /** Changes a meeting that has not started yet. */
  update(id: number, changes: Partial<MeetingInput>, now = Date.now()): Meeting {
    const current = this.get(id);
    if (!current) throw createError('VCBOX_ERR_ROOM_NOT_FOUND', { kind: 'meeting', id });
    if (Date.parse(current.start) <= now) throw createError('VCBOX_ERR_MEETING_STARTED', { number: current.number });
    const next: MeetingInput = {
      subject: changes.subject ?? current.subject,
      start: changes.start ?? current.start,
      durationMinutes: changes.durationMinutes ?? current.durationMinutes,
      recurrence: changes.recurrence === undefined ? current.recurrence : changes.recurrence,
      hostPin: changes.hostPin ?? current.hostPin,
      guestPin: changes.guestPin ?? current.guestPin,
      ...(changes.number ? { number: changes.number } : {}),
      ...(changes.accounts ? { accounts: changes.accounts } : {}),
      ...(changes.rooms ? { rooms: changes.rooms } : {}),
    };
    this.#check(next, id);
    this.#db.transaction(() => {
      this.#db
        .prepare('UPDATE meetings SET number = ?, subject = ?, start_at = ?, duration_min = ?, recurrence = ?, host_pin = ?, guest_pin = ?, updated_at = ? WHERE id = ?')
        .run(
          next.number ?? current.number,
          next.subject,
          new Date(next.start).toISOString(),
          next.durationMinutes,
          next.recurrence ? JSON.stringify({ freq: next.recurrence.freq, until: new Date(next.recurrence.until).toISOString() }) : null,
          next.hostPin,
          next.guestPin,
          new Date().toISOString(),
          id,
        );
      this.#setParticipants(id, changes);
    })();
    return this.get(id) as Meeting;
  }

  cancel(id: number): Meeting {
    if (this.#db.prepare("UPDATE meetings SET status = 'cancelled', updated_at = ? WHERE id = ?").run(new Date().toISOString(), id).changes === 0) {
      throw createError('VCBOX_ERR_ROOM_NOT_FOUND', { kind: 'meeting', id });
    }
    return this.get(id) as Meeting;
  }

  /** Meetings with an occurrence in [from, to], each with those occurrences' start times. */
  window(from: Date, to: Date, q?: string): (Meeting & { occurrences: string[] })[] {
    const rows = this.#db.prepare('SELECT id FROM meetings WHERE start_at <= ? ORDER BY start_at').all(to.toISOString()) as { id: number }[];
    const out: (Meeting & { occurrences: string[] })[] = [];
    for (const { id } of rows) {
      const meeting = this.get(id) as Meeting;
      if (q && !meeting.subject.toLowerCase().includes(q.toLowerCase()) && !meeting.number.includes(q)) continue;
      const starts = occurrences(meeting, from, to);
      if (starts.length > 0) out.push({ ...meeting, occurrences: starts });
    }
    return out;
  }
}
