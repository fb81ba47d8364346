/**
 * Participant sessions: the one way into a meeting and the owner of each participant's life
 * there. Every way in — SIP direct dial (server/sip-app/meetings), the IVR (server/sip-app/ivr),
 * the browser join WebSocket (server/control-plane/routes/join.ts), the console's dial-out, a
 * worker heal's re-attach, and later a cascade link from another box — is an adapter that asks
 * this service, and none re-checks a rule or writes a record on its own.
 *
 * Admission and authentication policy, in order: the address's lock-out for wrong meeting IDs
 * and PINs (./entry-lockout.ts), guest access (`call.guestAccess`: a newcomer without an
 * account is refused when it is off — the SIP application's middleware challenges for digest
 * first, see `accountRequired`; a browser has no account), the meeting (./meeting-admission.ts:
 * window, not found), the meeting's PIN lock-out, the PIN and the role it gives, then lock,
 * capacity and the licence's ports. Wrong IDs and PINs are counted here, for every way alike.
 * Each way's policy is one row of WAYS (deny by default: a way not listed cannot enter).
 *
 * After an admission, `open` makes the participant's ParticipantSession (./participant-
 * session.ts): the call record, the media join, the live registry entry and the one cascading
 * `close(reason)` that undoes all of them — whatever failed mid-join.
 */
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { SrtpPolicy } from '../../../media/meetings/meeting-media.ts';
import { CallRecords } from '../../cdr/call-records.ts';
import { createError } from '../../core/errors.ts';
import type { Db } from '../../db/database.ts';
import type { MeetingFloors } from '../../bfcp/meeting-floors.ts';
import type { LicensePolicy } from '../../license/license-policy.ts';
import type { VmrStore } from '../../rooms/vmr-store.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import type { LiveMeetings } from '../live-meetings.ts';
import type { MeetingStore } from '../meeting-store.ts';
import { DEFAULT_ENTRY_LOCKOUT, EntryLockout, type EntryLockoutPolicy } from './entry-lockout.ts';
import { type Admission, MeetingAdmission, type MeetingTarget, roleFor } from './meeting-admission.ts';
import { answeredMonotonicOf, type LegNote, ParticipantSession, type SessionCall, type SessionServices } from './participant-session.ts';
import { monotonicMs } from '../../core/clock.ts';

export type { Admission, MeetingTarget, RefusalKind } from './meeting-admission.ts';
export { declineVideo, type LegNote, ParticipantSession, parseLegNote, type SessionCall, type SessionTimer, type SipAnswer, type WebJoin } from './participant-session.ts';

/** The ways into a meeting. */
export type WayIn = 'sip' | 'ivr' | 'web' | 'dial-out';

interface WayPolicy {
  /**
   * The newcomer names the meeting and proves the right to enter by a PIN: wrong IDs and
   * PINs count, and lock-outs refuse it. (A way the box starts itself presents no guess.)
   */
  readonly guesses: boolean;
  /**
   * The box calls the newcomer in at the host's request (console, authenticated and audited):
   * no PIN, but only into a live, unlocked meeting with room.
   */
  readonly invited: boolean;
}

const WAYS: Readonly<Record<WayIn, WayPolicy>> = {
  sip: { guesses: true, invited: false },
  ivr: { guesses: true, invited: false },
  web: { guesses: true, invited: false },
  'dial-out': { guesses: false, invited: true },
};

/** Who is asking to enter, and how. */
export interface Entrant {
  readonly way: WayIn;
  /** The address the newcomer's request came from (dial-out: the invited terminal's). */
  readonly address: string;
  /** The account the newcomer authenticated as (digest), or null for a guest. */
  readonly account: string | null;
}

export type Refusal = Extract<Admission, { ok: false }>;

export interface ParticipantSessionsOptions {
  readonly db: Db;
  readonly vmrs: VmrStore;
  readonly meetings: MeetingStore;
  readonly settings: SettingsStore;
  readonly live: LiveMeetings;
  /** The media service the sessions join (absent: every join fails as the media being unavailable). */
  readonly media?: MediaControl | undefined;
  /** The licence rules (absent: no licence limits, e.g. in unit set-ups). */
  readonly license?: LicensePolicy | undefined;
  /** Wrong-ID and wrong-PIN lock-out rules (tests shorten them). */
  readonly lockout?: EntryLockoutPolicy | undefined;
  /** The meetings' floors (content sharing over BFCP) once their listeners are up; absent or undefined: content lines are declined. */
  readonly floors?: (() => MeetingFloors | undefined) | undefined;
}

export class ParticipantSessions {
  readonly #settings: SettingsStore;
  readonly #rules: MeetingAdmission;
  readonly #lockout: EntryLockout;
  readonly #services: Omit<SessionServices, 'ended'> | undefined;
  /** Sessions not closed yet: participant id → session. */
  readonly #open = new Map<string, ParticipantSession>();

  constructor(options: ParticipantSessionsOptions) {
    this.#settings = options.settings;
    this.#rules = new MeetingAdmission(options);
    this.#lockout = new EntryLockout(options.db, options.lockout ?? DEFAULT_ENTRY_LOCKOUT);
    const { media } = options;
    this.#services = media && {
      media,
      records: new CallRecords(options.db),
      live: options.live,
      srtp: () => options.settings.get('call.srtp') as SrtpPolicy,
      release: (number) => this.abandon(number),
      floors: options.floors ?? (() => undefined),
      contentPortsFit: () => this.#rules.contentPortsFit(),
    };
  }

  /**
   * The admitted newcomer's session: its call record opens now (`call` says who it is); the
   * adapter joins the media, enters it once answered, and closes it — or closes it to give up.
   */
  open(admission: Extract<Admission, { ok: true }>, call: SessionCall): ParticipantSession {
    const services = this.#services;
    if (!services) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'these participant sessions run without a media service' });
    const session = new ParticipantSession({ ...services, ended: (ended) => this.#open.delete(ended.id) }, admission, call);
    this.#open.set(session.id, session);
    return session;
  }

  /**
   * A participant whose call outlived a control-plane restart (its media leg and dialog kept by
   * the media and signaling services) is made again: the same participant id, call record and
   * role, its meeting live again — no admission (it was admitted before the restart). Undefined
   * when its meeting cannot be found any more (deleted, or no media service).
   */
  resume(number: string, participantId: string, note: LegNote, offer: string): ParticipantSession | undefined {
    const services = this.#services;
    const target = this.#rules.resolve(number);
    if (!services || typeof target === 'string') return undefined;
    const live = this.#rules.resumeLive(target);
    const session = new ParticipantSession(
      { ...services, ended: (ended) => this.#open.delete(ended.id) },
      { ok: true, target, role: note.role, live, audioOnly: note.audioOnly },
      { ...note.call, participantId },
      { record: note.record, offer, answeredMonotonicMs: answeredMonotonicOf(note) },
    );
    this.#open.set(session.id, session);
    return session;
  }

  /**
   * Whether a newcomer must have authenticated as an account to enter (guest access off): SIP
   * adapters then challenge for digest before anything else.
   */
  accountRequired(): boolean {
    return !this.#settings.get('call.guestAccess');
  }

  /**
   * Whether the newcomer's address is locked out (too many wrong meeting IDs or PINs). SIP
   * adapters ask it first, before a digest challenge or the IVR's media ports are spent on it.
   */
  lockedOut(entrant: Pick<Entrant, 'way' | 'address'>, now = monotonicMs()): Refusal | undefined {
    if (!WAYS[entrant.way]?.guesses) return undefined;
    const seconds = this.#lockout.sourceLockedFor(entrant.address, now);
    return seconds > 0 ? { ok: false, refusal: 'locked-out', retryAfterSeconds: seconds } : undefined;
  }

  /** What refuses this newcomer before any meeting is named: its address's lock-out, guest access. */
  barred(entrant: Entrant, now = monotonicMs()): Refusal | undefined {
    if (!WAYS[entrant.way]) return { ok: false, refusal: 'guest-access-off' };
    const lockedOut = this.lockedOut(entrant, now);
    if (lockedOut) return lockedOut;
    if (entrant.account === null && this.accountRequired()) return { ok: false, refusal: 'guest-access-off' };
    return undefined;
  }

  /**
   * The meeting a newcomer names (the IVR's first question, the join page's look-up), or why it
   * cannot be entered; a number that names no meeting counts as a wrong ID. `now` (here and in
   * `admit`) is the wall clock, for the meeting's window — a scheduled meeting is at a time people
   * read; lock-outs count on the monotonic clock (server/core/clock.ts).
   */
  findMeeting(entrant: Entrant, number: string, now = new Date()): MeetingTarget | Refusal {
    const barred = this.barred(entrant);
    if (barred) return barred;
    const target = this.#rules.resolve(number, now);
    if (typeof target !== 'string') return target;
    if (target === 'not-found' && WAYS[entrant.way].guesses) {
      this.#lockout.wrongId({ way: entrant.way, address: entrant.address, number });
      // The wrong ID that starts a lock-out is answered with it (the caller learns to stop now).
      const lockedOut = this.lockedOut(entrant);
      if (lockedOut) return lockedOut;
    }
    return { ok: false, refusal: target };
  }

  /**
   * The role a PIN gives in a meeting found by `findMeeting` (the IVR asks it per try), or why
   * it gives none; a wrong PIN counts against the address and the meeting.
   */
  checkPin(entrant: Entrant, target: MeetingTarget, pin: string | undefined, now = monotonicMs()): 'host' | 'guest' | Refusal {
    const barred = this.barred(entrant, now);
    if (barred) return { ...barred, target };
    const entered = pin !== undefined && pin !== '';
    // While the meeting's PIN entry is paused, no PIN is tried (a right one would confirm a guess).
    const meetingLockedOut = (): Refusal | undefined => {
      if (!entered && target.guestPin === '') return undefined;
      const seconds = this.#lockout.meetingLockedFor(target.number, now);
      return seconds > 0 ? { ok: false, refusal: 'meeting-locked-out', target, retryAfterSeconds: seconds } : undefined;
    };
    const paused = meetingLockedOut();
    if (paused) return paused;
    const role = roleFor(target, pin);
    if (role === 'host' || role === 'guest') return role;
    if (role === 'wrong-pin' && WAYS[entrant.way].guesses) {
      this.#lockout.wrongPin({ way: entrant.way, address: entrant.address, number: target.number }, now);
      // The wrong PIN that starts a lock-out is answered with it.
      const lockedOut = this.lockedOut(entrant, now);
      if (lockedOut) return { ...lockedOut, target };
      const pausedNow = meetingLockedOut();
      if (pausedNow) return pausedNow;
    }
    return { ok: false, refusal: role, target };
  }

  /**
   * Admits a newcomer to meeting `number` with `pin` (undefined = none given): every rule, in
   * the order of this file's header. On success the meeting is live (an empty one started if
   * needed) and a seat held; the adapter adds the participant or calls `abandon`.
   */
  admit(entrant: Entrant, number: string, pin: string | undefined, now = new Date()): Admission {
    const way = WAYS[entrant.way];
    if (!way) return { ok: false, refusal: 'guest-access-off' };
    if (way.invited) {
      const barred = this.barred(entrant);
      return barred ?? this.#rules.enterInvited(number, now);
    }
    const target = this.findMeeting(entrant, number, now);
    if ('ok' in target) return target;
    const role = this.checkPin(entrant, target, pin);
    if (typeof role !== 'string') return role;
    return this.#rules.enter(target, role);
  }

  /** The newcomer did not make it in after all: its seat is free again, and an empty meeting it started ends again. */
  abandon(number: string): void {
    this.#rules.abandon(number);
  }

  /** Sessions opened and not closed yet (in meetings, or joining). */
  get openSessions(): number {
    return this.#open.size;
  }

  /** Seats held by newcomers admitted but not in their meeting yet (all meetings). */
  get seatsHeld(): number {
    return this.#rules.seatsHeld;
  }

  /** Closes every open session (the application is stopping). */
  async close(reason = 'server-stopping'): Promise<void> {
    await Promise.all([...this.#open.values()].map((session) => session.close(reason)));
  }
}
