/**
 * Who may enter a meeting, whatever the way in (SIP call, browser join page, later the IVR):
 * the number is a VMR or a scheduled/instant meeting inside its window (start minus the
 * early-join setting until its end); the PIN decides the role (host PIN → host, guest PIN →
 * guest; no PIN needed when the meeting has no guest PIN); a locked meeting refuses newcomers;
 * a full one too. Callers map the refusal kinds to their own answers (SIP status, HTTP code).
 */
import type { SettingsStore } from '../settings/settings-store.ts';
import type { LayoutChoice } from '../../media/mcu/layouts.ts';
import type { VmrStore } from '../rooms/vmr-store.ts';
import type { LiveMeeting, LiveMeetings, MeetingKind } from './live-meetings.ts';
import { type MeetingStore, occurrences } from './meeting-store.ts';

/** Participants a scheduled or instant meeting takes (they have no capacity of their own). */
export const MEETING_CAPACITY = 500;

export interface MeetingTarget {
  readonly number: string;
  readonly kind: MeetingKind;
  readonly refId: number;
  readonly subject: string;
  readonly hostPin: string;
  readonly guestPin: string;
  readonly capacity: number;
  /** The composed layout the meeting starts with (a VMR's own; `auto` otherwise). */
  readonly layout: LayoutChoice;
}

export type RefusalKind = 'not-found' | 'ended' | 'not-started' | 'pin-required' | 'wrong-pin' | 'locked' | 'full';

export type Admission =
  | { readonly ok: true; readonly target: MeetingTarget; readonly role: 'host' | 'guest'; readonly live: LiveMeeting }
  | { readonly ok: false; readonly refusal: RefusalKind; readonly target?: MeetingTarget };

/** The role a PIN gives in a meeting (undefined or '' = no PIN entered), or why it gives none. */
export function roleFor(target: Pick<MeetingTarget, 'hostPin' | 'guestPin'>, pin: string | undefined): 'host' | 'guest' | 'pin-required' | 'wrong-pin' {
  const entered = pin !== undefined && pin !== '';
  if (entered && pin === target.hostPin) return 'host';
  if (entered && target.guestPin !== '' && pin === target.guestPin) return 'guest';
  if (!entered) return target.guestPin === '' ? 'guest' : 'pin-required';
  return 'wrong-pin';
}

export class MeetingAdmission {
  readonly #vmrs: VmrStore;
  readonly #meetings: MeetingStore;
  readonly #settings: SettingsStore;
  readonly #live: LiveMeetings;

  constructor(options: { vmrs: VmrStore; meetings: MeetingStore; settings: SettingsStore; live: LiveMeetings }) {
    this.#vmrs = options.vmrs;
    this.#meetings = options.meetings;
    this.#settings = options.settings;
    this.#live = options.live;
  }

  /** The meeting a number dials now, or why it cannot be entered now. */
  resolve(number: string, now = new Date()): MeetingTarget | RefusalKind {
    const vmr = this.#vmrs.byNumber(number);
    if (vmr) return { number, kind: 'vmr', refId: vmr.id, subject: vmr.name, hostPin: vmr.hostPin, guestPin: vmr.guestPin, capacity: vmr.capacity, layout: vmr.layout };
    const meeting = this.#meetings.byNumber(number);
    if (!meeting || meeting.status === 'cancelled') return 'not-found';
    const early = this.#settings.get('call.earlyJoinMinutes') * 60_000;
    const length = meeting.durationMinutes * 60_000;
    const t = now.getTime();
    const open = occurrences(meeting, new Date(t - length), new Date(t + early)).some((start) => {
      const at = new Date(start).getTime();
      return t >= at - early && t < at + length;
    });
    if (!open) return occurrences(meeting, now, new Date(t + 366 * 86_400_000)).length > 0 ? 'not-started' : 'ended';
    return { number, kind: meeting.type, refId: meeting.id, subject: meeting.subject, hostPin: meeting.hostPin, guestPin: meeting.guestPin, capacity: MEETING_CAPACITY, layout: 'auto' };
  }

  /**
   * Checks a newcomer with `pin` (undefined = none given). On success the meeting is live (an
   * empty one started if needed); the caller adds the participant or calls `abandon`.
   */
  admit(number: string, pin: string | undefined, now = new Date()): Admission {
    const target = this.resolve(number, now);
    if (typeof target === 'string') return { ok: false, refusal: target };
    const role = roleFor(target, pin);
    if (role !== 'host' && role !== 'guest') return { ok: false, refusal: role, target };
    const live = this.#live.ensure({ number, kind: target.kind, refId: target.refId, subject: target.subject, layout: target.layout });
    if (live.locked) {
      this.#live.endIfEmpty(number);
      return { ok: false, refusal: 'locked', target };
    }
    if (live.participants.size >= target.capacity) return { ok: false, refusal: 'full', target };
    return { ok: true, target, role, live };
  }

  /** The newcomer did not make it in after all: an empty meeting it started ends again. */
  abandon(number: string): void {
    this.#live.endIfEmpty(number);
  }
}
