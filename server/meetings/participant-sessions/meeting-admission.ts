/**
 * The meeting's own rules for a newcomer, used only by the participant-sessions service
 * (./participant-sessions.ts, the one way into a meeting — who is asking and how many wrong
 * guesses they made is decided there, not here): the number is a VMR or a scheduled/instant
 * meeting inside its window (start minus the early-join setting until its end); the PIN decides
 * the role (host PIN → host, guest PIN → guest; no PIN needed when the meeting has no guest
 * PIN); a locked meeting refuses newcomers; a full one too. The box's licence
 * (server/license/license-policy.ts) bounds the participants of all meetings together —
 * counting those admitted but not in yet, so two callers at once cannot both take the last
 * port — and, when it is expired or revoked, makes the admission audio only. The MCU port range
 * (`media.mcuPorts`) bounds them too, by the manual's rule (../media-ports.ts: 6 ports a call,
 * 8 with content; newcomers admitted but not in yet count 6): a newcomer no call's worth of
 * ports is left for is refused (`media-ports`) instead of failing inside the media service. Adapters map the
 * refusal kinds to their own answers (SIP status, HTTP code, IVR prompt).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MeetingFloors } from '../../bfcp/meeting-floors.ts';
import type { LicensePolicy } from '../../license/license-policy.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import type { LayoutChoice } from '../../../media/mcu/layouts.ts';
import type { VmrStore } from '../../rooms/vmr-store.ts';
import type { LiveMeeting, LiveMeetings, MeetingKind } from '../live-meetings.ts';
import { callsThatFit, liveCalls, PORTS_PER_CALL, PORTS_PER_CONTENT_CALL, portsInUse, rangeSize } from '../media-ports.ts';
import { type MeetingStore, occurrences } from '../meeting-store.ts';

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

/**
 * Why a newcomer may not enter. The meeting's rules: not-found … license-ports. The entry
 * policy of ./participant-sessions.ts: `locked-out` (too many wrong meeting IDs or PINs from the
 * newcomer's address), `meeting-locked-out` (too many wrong PINs for this meeting: it takes no
 * PIN for a while), `guest-access-off` (the `call.guestAccess` setting is off and the newcomer
 * has no account).
 */
export type RefusalKind =
  | 'not-found'
  | 'ended'
  | 'not-started'
  | 'pin-required'
  | 'wrong-pin'
  | 'locked'
  | 'full'
  | 'license-ports'
  | 'media-ports'
  | 'locked-out'
  | 'meeting-locked-out'
  | 'guest-access-off';

export type Admission =
  | {
      readonly ok: true;
      readonly target: MeetingTarget;
      readonly role: 'host' | 'guest';
      readonly live: LiveMeeting;
      /** The licence allows no video now: the newcomer takes part with audio only. */
      readonly audioOnly: boolean;
    }
  | {
      readonly ok: false;
      readonly refusal: RefusalKind;
      readonly target?: MeetingTarget;
      /** license-ports: the concurrent participants the licence allows; media-ports: the calls the MCU port range holds. */
      readonly ports?: number;
      /** locked-out, meeting-locked-out: when the lock-out ends (whole seconds from now). */
      readonly retryAfterSeconds?: number;
    };

/** PINs compared in a time that does not depend on how many leading digits are right. */
function samePin(entered: string, pin: string): boolean {
  const a = createHash('sha256').update(entered).digest();
  const b = createHash('sha256').update(pin).digest();
  return timingSafeEqual(a, b);
}

/** The role a PIN gives in a meeting (undefined or '' = no PIN entered), or why it gives none. */
export function roleFor(target: Pick<MeetingTarget, 'hostPin' | 'guestPin'>, pin: string | undefined): 'host' | 'guest' | 'pin-required' | 'wrong-pin' {
  const entered = pin !== undefined && pin !== '';
  if (entered && target.hostPin !== '' && samePin(pin, target.hostPin)) return 'host';
  if (entered && target.guestPin !== '' && samePin(pin, target.guestPin)) return 'guest';
  if (!entered) return target.guestPin === '' ? 'guest' : 'pin-required';
  return 'wrong-pin';
}

export class MeetingAdmission {
  readonly #vmrs: VmrStore;
  readonly #meetings: MeetingStore;
  readonly #settings: SettingsStore;
  readonly #live: LiveMeetings;
  readonly #license: LicensePolicy | undefined;
  readonly #floors: (() => MeetingFloors | undefined) | undefined;

  /** @param options.license the licence rules (absent: no licence limits, e.g. in unit set-ups) */
  /** @param options.floors the meetings' floors: a participant that can present takes content ports */
  constructor(options: { vmrs: VmrStore; meetings: MeetingStore; settings: SettingsStore; live: LiveMeetings; license?: LicensePolicy | undefined; floors?: (() => MeetingFloors | undefined) | undefined }) {
    this.#vmrs = options.vmrs;
    this.#meetings = options.meetings;
    this.#settings = options.settings;
    this.#live = options.live;
    this.#license = options.license;
    this.#floors = options.floors;
  }

  /** Newcomers admitted within the hold time and not in their meeting yet (the live meetings count their arrivals). */
  get seatsHeld(): number {
    return this.#live.arriving;
  }

  /** Participants in all meetings plus newcomers admitted within the hold time. */
  #portsInUse(): number {
    let count = 0;
    for (const meeting of this.#live.list()) count += meeting.participants.size;
    return count + this.#live.arriving;
  }

  /** The MCU ports the live calls take (content calls 8) and the newcomers admitted but not in yet (6 each). */
  #mediaPortsInUse(): number {
    const floors = this.#floors?.();
    const calls = liveCalls(this.#live.list(), floors && ((meeting, id) => floors.canPresent(meeting, id)));
    return portsInUse(calls) + this.#live.arriving * PORTS_PER_CALL;
  }

  /**
   * Whether the MCU port range holds the 2 more ports a call takes once it presents (8, not 6:
   * the manual's rule) — for a participant not counted with content yet (a browser's first
   * share; a SIP terminal with a content line was counted with 8 when it came in). The
   * calls that fit, for the refusal's words.
   */
  contentPortsFit(): { fits: boolean; calls: number } {
    const range = this.#settings.get('media.mcuPorts');
    return { fits: rangeSize(range) - this.#mediaPortsInUse() >= PORTS_PER_CONTENT_CALL - PORTS_PER_CALL, calls: Math.floor(rangeSize(range) / PORTS_PER_CALL) };
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
   * A newcomer whose PIN gave `role` enters `target`: the meeting is live from here (an empty
   * one started if needed), a locked one refuses, then capacity and the licence's ports. On
   * success the caller adds the participant or calls `abandon`.
   */
  enter(target: MeetingTarget, role: 'host' | 'guest'): Admission {
    const live = this.#live.ensure({ number: target.number, kind: target.kind, refId: target.refId, subject: target.subject, layout: target.layout });
    if (live.locked) {
      this.#live.endIfEmpty(target.number);
      return { ok: false, refusal: 'locked', target };
    }
    return this.#seat(target, live, role);
  }

  /**
   * Someone the box itself calls into a live meeting (the console's invite): no PIN — the host
   * asked for them — but the meeting must be live and unlocked, and its capacity and the
   * licence's ports hold.
   */
  enterInvited(number: string, now = new Date()): Admission {
    const target = this.resolve(number, now);
    const live = this.#live.get(number);
    if (typeof target === 'string' || !live) return { ok: false, refusal: typeof target === 'string' ? target : 'not-found' };
    if (live.locked) return { ok: false, refusal: 'locked', target };
    return this.#seat(target, live, 'guest');
  }

  /** Capacity and licence ports; a seat taken is counted until the newcomer is in. */
  #seat(target: MeetingTarget, live: LiveMeeting, role: 'host' | 'guest'): Admission {
    const { number } = target;
    if (live.participants.size >= target.capacity) return { ok: false, refusal: 'full', target };
    const portsRefusal = this.#license?.portsRefusal(this.#portsInUse());
    if (portsRefusal) {
      this.#live.endIfEmpty(number);
      return { ok: false, refusal: 'license-ports', target, ports: portsRefusal.params.ports as number };
    }
    const range = this.#settings.get('media.mcuPorts');
    if (callsThatFit(range, this.#mediaPortsInUse(), false) === 0) {
      this.#live.endIfEmpty(number);
      return { ok: false, refusal: 'media-ports', target, ports: Math.floor(rangeSize(range) / PORTS_PER_CALL) };
    }
    this.#live.arrive(number);
    return { ok: true, target, role, live, audioOnly: this.#license?.audioOnly() ?? false };
  }

  /** A participant that outlived a control-plane restart comes back: its meeting is live again (no seat, no rule: it was admitted). */
  resumeLive(target: MeetingTarget): LiveMeeting {
    return this.#live.ensure({ number: target.number, kind: target.kind, refId: target.refId, subject: target.subject, layout: target.layout });
  }

  /** The newcomer did not make it in after all: its port is free again, and an empty meeting it started ends again. */
  abandon(number: string): void {
    this.#live.gaveUp(number);
  }
}
