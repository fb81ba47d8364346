/**
 * The meetings happening now, as the control plane knows them: per meeting (keyed by its dial
 * number) its kind, subject, lock state and the participants in it (name, role, account, how
 * they came in, and a way to hang them up), and who presents content now (the floor's holder,
 * from the box's floor control) since when, and the newcomers on their way in (admitted, their
 * media being joined): a meeting ends when nobody is in it and nobody is arriving, so the last
 * participant leaving cannot end it under a newcomer's feet. An arrival holds the meeting for at
 * most `ARRIVAL_HOLD_MS`; a newcomer gets in (`add`) or gives up (`gaveUp`) before that. The
 * SIP application fills it; the console's meeting-control API reads and acts on it; the media
 * service holds the media side.
 */
import { EventEmitter } from 'node:events';
import type { LayoutChoice } from '../../media/mcu/layouts.ts';
import { monotonicMs } from '../core/clock.ts';

/** How long a newcomer admitted to a meeting may take to get in before its arrival stops holding the meeting (and its seat). */
export const ARRIVAL_HOLD_MS = 60_000;

export type MeetingKind = 'vmr' | 'scheduled' | 'instant';

export interface LiveParticipant {
  readonly id: string;
  readonly displayName: string;
  readonly account: string | null;
  readonly role: 'host' | 'guest';
  readonly type: 'sip' | 'web';
  readonly callId: string;
  readonly source: string;
  readonly transport: string;
  readonly joinedAt: Date;
  /**
   * Taken over by a control plane that restarted (its call went on): it joined before, and was
   * counted then — the meeting record and the admission seats do not count it again.
   */
  readonly resumed?: boolean;
  /** Ends the participant's call (BYE) with the reason given. */
  readonly hangUp: (reason: string) => void;
}

export interface LiveMeeting {
  readonly number: string;
  readonly kind: MeetingKind;
  readonly refId: number;
  readonly subject: string;
  readonly startedAt: Date;
  locked: boolean;
  /** The composed layout (the VMR's at start; the console's layout picker changes it). */
  layout: LayoutChoice;
  /** The participant pinned to the big pane by the host, if any. */
  pinned: string | null;
  /** The site broadcast to every other SIP terminal (full screen), if any. */
  broadcast: string | null;
  /** Watched sites: SIP terminal (key) sees that participant (value) full screen. */
  readonly watching: Map<string, string>;
  readonly participants: Map<string, LiveParticipant>;
  /** The participant presenting content now (the content floor's holder) and since when; null: nobody. */
  presenter: LivePresenter | null;
  /** Whether anyone has presented content in this meeting (the meeting record keeps it). */
  contentShared: boolean;
}

export interface LivePresenter {
  readonly participantId: string;
  readonly since: Date;
}

export interface LiveMeetingsEvents {
  started: [meeting: LiveMeeting];
  ended: [meeting: LiveMeeting];
  joined: [meeting: LiveMeeting, participant: LiveParticipant];
  left: [meeting: LiveMeeting, participant: LiveParticipant, reason: string];
  /** The content floor's holder changed (null: nobody presents now). */
  presenter: [meeting: LiveMeeting, presenter: LivePresenter | null];
}

export class LiveMeetings extends EventEmitter<LiveMeetingsEvents> {
  readonly #meetings = new Map<string, LiveMeeting>();
  /** Newcomers on their way in: meeting number → their admission times (monotonic, oldest first). */
  readonly #arriving = new Map<string, number[]>();

  get(number: string): LiveMeeting | undefined {
    return this.#meetings.get(number);
  }

  list(): LiveMeeting[] {
    return [...this.#meetings.values()];
  }

  /** The live meeting for a number, started (empty) if it is not live yet. */
  ensure(info: Pick<LiveMeeting, 'number' | 'kind' | 'refId' | 'subject'> & { layout?: LayoutChoice }): LiveMeeting {
    let meeting = this.#meetings.get(info.number);
    if (!meeting) {
      meeting = { ...info, layout: info.layout ?? 'auto', pinned: null, broadcast: null, watching: new Map(), startedAt: new Date(), locked: false, participants: new Map(), presenter: null, contentShared: false };
      this.#meetings.set(info.number, meeting);
      this.emit('started', meeting);
    }
    return meeting;
  }

  /**
   * A newcomer was admitted to the live meeting `number` and is on its way in: until it is in
   * (`add`), gives up (`gaveUp`) or `ARRIVAL_HOLD_MS` passes, the meeting does not end.
   */
  arrive(number: string): void {
    if (!this.#meetings.has(number)) return;
    const times = this.#arriving.get(number) ?? [];
    times.push(monotonicMs());
    this.#arriving.set(number, times);
    // A newcomer that never got in nor said so: its hold runs out, and an empty meeting ends then.
    setTimeout(() => this.endIfEmpty(number), ARRIVAL_HOLD_MS + 50).unref();
  }

  /** Newcomers on their way into any meeting, within the hold. */
  get arriving(): number {
    let count = 0;
    for (const number of [...this.#arriving.keys()]) count += this.#arrivingAt(number);
    return count;
  }

  /** Newcomers on their way into `number` within the hold (stale arrivals dropped). */
  #arrivingAt(number: string): number {
    const times = this.#arriving.get(number);
    if (!times) return 0;
    const now = monotonicMs();
    while (times.length > 0 && now - (times[0] as number) > ARRIVAL_HOLD_MS) times.shift();
    if (times.length === 0) this.#arriving.delete(number);
    return times.length;
  }

  /** One newcomer on its way into `number` is no longer arriving (the oldest: they are counted, not named). */
  #arrived(number: string): void {
    const times = this.#arriving.get(number);
    times?.shift();
    if (times?.length === 0) this.#arriving.delete(number);
  }

  /** A newcomer did not get in after all: it holds the meeting no longer, and an empty meeting ends. */
  gaveUp(number: string): void {
    this.#arrived(number);
    this.endIfEmpty(number);
  }

  /**
   * The participant is in. False when its meeting is not live (it ended: the newcomer's arrival
   * outlived its hold) — the participant is not listed then, and its adapter ends its call.
   * A participant taken over after a restart was not arriving (it was counted when it joined).
   */
  add(number: string, participant: LiveParticipant): boolean {
    const meeting = this.#meetings.get(number);
    if (!meeting) return false;
    if (!participant.resumed) this.#arrived(number);
    meeting.participants.set(participant.id, participant);
    this.emit('joined', meeting, participant);
    return true;
  }

  remove(number: string, participantId: string, reason: string): void {
    const meeting = this.#meetings.get(number);
    const participant = meeting?.participants.get(participantId);
    if (!meeting || !participant) return;
    meeting.participants.delete(participantId);
    if (meeting.pinned === participantId) meeting.pinned = null;
    if (meeting.broadcast === participantId) meeting.broadcast = null;
    if (meeting.presenter?.participantId === participantId) {
      meeting.presenter = null;
      this.emit('presenter', meeting, null);
    }
    for (const [viewer, watched] of [...meeting.watching]) if (viewer === participantId || watched === participantId) meeting.watching.delete(viewer);
    this.emit('left', meeting, participant, reason);
    this.endIfEmpty(number);
  }

  /**
   * The floor control's word on who presents in a meeting (null: nobody). A participant not in
   * the meeting (any more) presents nothing; the same holder again keeps its start time.
   */
  setPresenter(number: string, participantId: string | null): void {
    const meeting = this.#meetings.get(number);
    if (!meeting) return;
    const id = participantId !== null && meeting.participants.has(participantId) ? participantId : null;
    if ((meeting.presenter?.participantId ?? null) === id) return;
    meeting.presenter = id === null ? null : { participantId: id, since: new Date() };
    if (id !== null) meeting.contentShared = true;
    this.emit('presenter', meeting, meeting.presenter);
  }

  /** A meeting nobody is in any more and nobody is arriving at ends (its lock goes with it). */
  endIfEmpty(number: string): void {
    const meeting = this.#meetings.get(number);
    if (!meeting || meeting.participants.size > 0 || this.#arrivingAt(number) > 0) return;
    this.#meetings.delete(number);
    this.emit('ended', meeting);
  }
}
