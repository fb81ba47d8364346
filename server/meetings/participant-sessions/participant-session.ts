/**
 * One participant's life in a meeting, from its admission to its end (issue #17): made by the
 * participant sessions service (./participant-sessions.ts) after an admission, it owns the call
 * record (opened at once, answered when the participant is in, ended once with an outcome),
 * the media join (SIP leg or browser peer, through the media client; the licence's audio-only
 * rule applied to every SIP offer), the live registry entry, and one idempotent, cascading
 * `close(reason)`: it leaves the media, ends the record, and takes the entry out of the live
 * registry — or, when the participant never got in, gives back the admission's seat — and its
 * place at the meeting's floor (content sharing: BFCP IDs in the SIP answer when the offer has
 * a content line and a BFCP line, the floor usable from the answer on). Whatever
 * failed mid-join, nothing is left behind. Adapters (SIP dialog, IVR, dial-out, browser socket)
 * keep only what is theirs — the dialog and its SDP, the socket's frames — and call this.
 */
import { randomUUID } from 'node:crypto';
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { SrtpPolicy } from '../../../media/meetings/meeting-media.ts';
import { declineContent } from '../../../media/sdp/sip-sdp.ts';
import type { FloorIds, MeetingFloors } from '../../bfcp/meeting-floors.ts';
import type { CallOutcome, CallRecords } from '../../cdr/call-records.ts';
import { bootId, monotonicMs } from '../../core/clock.ts';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import type { LiveMeetings, LiveParticipant } from '../live-meetings.ts';
import type { Admission, MeetingTarget } from './meeting-admission.ts';

const log = getLogger('participant-session');

export type SipAnswer = Awaited<ReturnType<MediaControl['joinSip']>>;
export type WebJoin = Awaited<ReturnType<MediaControl['joinWeb']>>;

/**
 * The offer with its video streams declined (port 0), for a call that may take audio only: the
 * media service then answers video with port 0 and sets up audio alone.
 */
export function declineVideo(sdp: string): string {
  return sdp.replace(/^m=video [0-9]+ /gm, 'm=video 0 ');
}

/** What the service lends each session. */
export interface SessionServices {
  readonly media: MediaControl;
  readonly records: CallRecords;
  readonly live: LiveMeetings;
  /** The SRTP policy for SIP legs now (the `call.srtp` setting). */
  readonly srtp: () => SrtpPolicy;
  /** Gives back the seat an admission held (the participant never got in). */
  readonly release: (number: string) => void;
  /** The session has closed (the service forgets it). */
  readonly ended: (session: ParticipantSession) => void;
  /** The meetings' floors (BFCP), when the box serves content; else content lines are declined. */
  readonly floors: () => MeetingFloors | undefined;
  /** Whether the MCU port range holds a call's 2 more ports for content, and how many calls it holds. */
  readonly contentPortsFit: () => { fits: boolean; calls: number };
}

/**
 * A SIP call's session timer (RFC 4028) as its INVITE negotiated it: the interval the terminal
 * refreshes within (the box never refreshes: refresher=uac), and whether the terminal supports
 * the extension (the box's answers then carry Require: timer). Kept with the session so that a
 * restarted control plane expects the refreshes again after a take-over.
 */
export interface SessionTimer {
  readonly seconds: number;
  readonly supported: boolean;
}

/** Who the participant is, as its way in knows it (the call record and the live registry show it). */
export interface SessionCall {
  /** The participant's id (a fresh one when absent; dial-out names its Call-ID after it). */
  readonly participantId?: string;
  /** The call record's Call-ID (a browser's: its participant id). */
  readonly callId?: string;
  /** The call record's caller and callee. */
  readonly caller: string;
  readonly callee: string;
  readonly displayName: string;
  readonly account: string | null;
  readonly type: LiveParticipant['type'];
  /** Where the participant's signaling came from (`address:port`) and over what. */
  readonly source: string;
  readonly transport: string;
  /** The participant's address (static NAT: which address the box gives it). */
  readonly address: string;
  /** A SIP call's session timer, when its INVITE asked for one. */
  readonly sessionTimer?: SessionTimer | undefined;
}

type Admitted = Extract<Admission, { ok: true }>;

/**
 * What the media leg keeps of its session (the join's note): enough for a control plane that
 * restarted to make the session again around the same call record (`ParticipantSessions.resume`).
 */
export interface LegNote {
  readonly v: 1;
  readonly record: number;
  readonly role: 'host' | 'guest';
  readonly audioOnly: boolean;
  readonly call: Required<Pick<SessionCall, 'callId'>> & Omit<SessionCall, 'participantId' | 'callId'>;
  /**
   * When the leg joined, on the monotonic clock of which boot (server/core/clock.ts): a control
   * plane that takes the call over measures the call's duration from it (the join is within a
   * moment of the answer), whatever the wall clock did.
   */
  readonly joined?: { readonly boot: string; readonly monotonicMs: number };
}

/** A note read back from the media (any text): the LegNote, or undefined when it is not one. */
export function parseLegNote(text: string | undefined): LegNote | undefined {
  try {
    const note = JSON.parse(text ?? '') as Partial<LegNote>;
    const call = note.call as Partial<LegNote['call']> | undefined;
    const texts = ['callId', 'caller', 'callee', 'displayName', 'source', 'transport', 'address'] as const;
    if (note.v !== 1 || !Number.isInteger(note.record) || (note.role !== 'host' && note.role !== 'guest') || typeof note.audioOnly !== 'boolean') return undefined;
    if (call?.type !== 'sip' || !texts.every((key) => typeof call[key] === 'string') || (call.account !== null && typeof call.account !== 'string')) return undefined;
    // A session timer that is not one is left out (the call is still taken over, without it).
    const timer = call.sessionTimer as Partial<SessionTimer> | undefined;
    const timerOk = timer !== undefined && Number.isInteger(timer.seconds) && (timer.seconds as number) > 0 && (timer.seconds as number) <= 86_400 && typeof timer.supported === 'boolean';
    if (timer !== undefined && !timerOk) {
      const { sessionTimer: _dropped, ...rest } = call as LegNote['call'];
      return { ...(note as LegNote), call: rest };
    }
    return note as LegNote;
  } catch {
    return undefined;
  }
}

/** A session made again after a control-plane restart: its record and the leg's latest offer. */
export interface Resumed {
  readonly record: number;
  readonly offer: string;
  /** When its call was answered on the monotonic clock, when known (the note's join, same boot). */
  readonly answeredMonotonicMs?: number | undefined;
}

/** The monotonic answer time a note gives in this boot (undefined: written in another boot, or by an older version). */
export function answeredMonotonicOf(note: LegNote): number | undefined {
  const joined = note.joined;
  return joined && joined.boot === bootId() && Number.isFinite(joined.monotonicMs) ? joined.monotonicMs : undefined;
}

export class ParticipantSession {
  readonly id: string;
  readonly number: string;
  readonly target: MeetingTarget;
  readonly role: 'host' | 'guest';
  /** The licence allowed no video when the participant was admitted: every SIP offer has its video declined. */
  readonly audioOnly: boolean;
  readonly #services: SessionServices;
  readonly #call: SessionCall;
  readonly #record: number;
  #mediaTried = false;
  #entered = false;
  #closed = false;
  /** The latest SIP offer the media took (a heal re-attaches the leg with it). */
  #offer: string | undefined;
  /** The participant's BFCP IDs, once an answer handed them out. */
  #floorIds: FloorIds | undefined;

  /** Resumed after a control-plane restart: the record is answered already. */
  readonly #resumed: boolean;
  /** When the participant got in, on the monotonic clock (the record's duration), when known. */
  #answeredMono: number | undefined;
  /** When the leg first joined the media, on the monotonic clock (the note keeps it across heals). */
  #joinedMono: number | undefined;

  constructor(services: SessionServices, admission: Admitted, call: SessionCall, resumed?: Resumed) {
    this.#services = services;
    this.#call = call;
    this.id = call.participantId ?? randomUUID();
    this.number = admission.target.number;
    this.target = admission.target;
    this.role = admission.role;
    this.audioOnly = admission.audioOnly;
    this.#resumed = resumed !== undefined;
    if (resumed) {
      this.#record = resumed.record;
      this.#offer = resumed.offer;
      this.#mediaTried = true;
      this.#answeredMono = resumed.answeredMonotonicMs;
      this.#joinedMono = resumed.answeredMonotonicMs;
    } else {
      this.#record = services.records.start(admission.target.kind, call.callId ?? this.id, call.caller, call.callee);
    }
  }

  /** The call record's id. */
  get record(): number {
    return this.#record;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The call's session timer (RFC 4028), when its INVITE negotiated one. */
  get sessionTimer(): SessionTimer | undefined {
    return this.#call.sessionTimer;
  }

  /** The latest SIP offer the media took (video declined when audio only). */
  get offer(): string | undefined {
    return this.#offer;
  }

  /** The participant's BFCP IDs in its meeting's conference (content sharing), once answered. */
  get floorIds(): FloorIds | undefined {
    return this.#floorIds;
  }

  /** The SIP offer as the media gets it: video declined when the licence allows audio only, content when the box serves no floor. */
  #sipOffer(offer: string): string {
    const sdp = this.audioOnly ? declineVideo(offer) : offer;
    return this.#services.floors() ? sdp : declineContent(sdp);
  }

  /** The media's answer with the offer's BFCP line answered (the participant's floor IDs), when the media served content. */
  #withFloor(offer: string, answer: string): string {
    const floors = this.#services.floors();
    if (!floors) return answer;
    const { sdp, ids } = floors.answer(this.number, this.id, offer, answer);
    if (ids) {
      this.#floorIds = ids;
      if (this.#entered) floors.admit(this.number, this.id);
    }
    return sdp;
  }

  /**
   * The participant (a browser: it has no BFCP) asks for the meeting's floor to present
   * content, through the same floor control as SIP terminals: 'granted', or 'pending' while it
   * waits (queue policy). Refused with VCBOX_ERR_CONTENT_UNAVAILABLE when the box runs no floor
   * control, and with VCBOX_ERR_MEDIA_PORTS_FULL when its first request would take the call to
   * 8 ports and the MCU port range has not 2 left (the manual's rule; a SIP terminal's content
   * line was counted when it came in).
   */
  takeFloor(): 'granted' | 'pending' {
    this.#assertOpen();
    const floors = this.#services.floors();
    if (!floors) throw createError('VCBOX_ERR_CONTENT_UNAVAILABLE', { reason: 'the BFCP floor control is not running' });
    if (!floors.canPresent(this.number, this.id)) {
      const ports = this.#services.contentPortsFit();
      if (!ports.fits) throw createError('VCBOX_ERR_MEDIA_PORTS_FULL', { calls: ports.calls });
    }
    return floors.take(this.number, this.id);
  }

  /** Gives the floor back (or stops waiting for it). */
  releaseFloor(): void {
    this.#services.floors()?.release(this.number, this.id);
  }

  /** The participant holds its meeting's floor now. */
  get holdsFloor(): boolean {
    return !this.#closed && this.#services.floors()?.presenterOf(this.number) === this.id;
  }

  /**
   * Joins the meeting's media as a SIP leg with the terminal's offer. If the media refuses or
   * fails, the session is closed (record: `rejected` for an SDP it cannot answer, else
   * `failed`; seat given back) and the error thrown for the adapter to answer in its words.
   */
  async joinSip(offer: string): Promise<SipAnswer> {
    this.#assertOpen();
    const sdp = this.#sipOffer(offer);
    this.#mediaTried = true;
    try {
      const answer = await this.#sipJoin(sdp);
      this.#offer = sdp;
      return answer;
    } catch (error) {
      await this.close('media join failed', (error as { code?: string }).code === 'VCBOX_ERR_MEDIA_SDP' ? 'rejected' : 'failed');
      throw error;
    }
  }

  /** The leg joined again with its latest offer, after the media worker it was on died (heal). */
  rejoinSip(): Promise<SipAnswer> {
    this.#assertOpen();
    if (this.#offer === undefined) throw createError('VCBOX_ERR_SESSION_CLOSED', { number: this.number });
    return this.#sipJoin(this.#offer);
  }

  /** A new offer from the terminal (re-INVITE, UPDATE): the media's answer. */
  async updateSip(offer: string): Promise<string> {
    this.#assertOpen();
    const sdp = this.#sipOffer(offer);
    const answer = await this.#services.media.updateSip(this.number, this.id, sdp);
    this.#offer = sdp;
    return this.#withFloor(sdp, answer);
  }

  /** The participant's terminal asked for a key frame (SIP INFO): the media asks what it is sent for one — its content when `streamId` names its content line. */
  requestKeyFrame(streamId?: string): Promise<void> {
    this.#assertOpen();
    return streamId === undefined ? this.#services.media.requestKeyFrame(this.number, this.id) : this.#services.media.requestKeyFrame(this.number, this.id, streamId);
  }

  async #sipJoin(offer: string): Promise<SipAnswer> {
    const answer = await this.#services.media.joinSip(this.number, {
      participantId: this.id,
      displayName: this.#call.displayName,
      offer,
      srtp: this.#services.srtp(),
      remoteAddress: this.#call.address,
      note: JSON.stringify(this.#note()),
    });
    return { ...answer, sdp: this.#withFloor(offer, answer.sdp) };
  }

  /** What the media leg keeps of this session (a restarted control plane makes it again from it). */
  #note(): LegNote {
    const { participantId: _id, callId, ...call } = this.#call;
    this.#joinedMono ??= monotonicMs();
    return { v: 1, record: this.#record, role: this.role, audioOnly: this.audioOnly, call: { ...call, callId: callId ?? this.id }, joined: { boot: bootId(), monotonicMs: this.#joinedMono } };
  }

  /** Joins the meeting's media as a browser peer; on failure as `joinSip`. */
  async joinWeb(): Promise<WebJoin> {
    this.#assertOpen();
    this.#mediaTried = true;
    try {
      return await this.#services.media.joinWeb(this.number, this.id, this.#call.displayName, this.#call.address);
    } catch (error) {
      await this.close('media join failed', 'failed');
      throw error;
    }
  }

  /**
   * The participant is in (its call answered): the record says so and the live registry lists
   * it, with `hangUp` — how its adapter ends it from the box's side (BYE, a socket frame),
   * which in the end calls `close`. Its meeting cannot end while it is on its way in (the live
   * registry counts its arrival); one that ended all the same (the arrival outlived its hold)
   * does not list it, and its call is ended at once through `hangUp`, saying so.
   */
  enter(hangUp: (reason: string) => void): void {
    this.#assertOpen();
    this.#entered = true;
    if (this.#floorIds) this.#services.floors()?.admit(this.number, this.id);
    // One time for both: the record's answer time is the join time a take-over shows again.
    const now = new Date();
    if (!this.#resumed) {
      this.#services.records.answered(this.#record, now);
      this.#answeredMono = monotonicMs();
    }
    const call = this.#call;
    const listed = this.#services.live.add(this.number, {
      id: this.id,
      displayName: call.displayName,
      account: call.account,
      role: this.role,
      type: call.type,
      callId: call.callId ?? this.id,
      source: call.source,
      transport: call.transport,
      // Taken over after a restart: it joined when its call was answered, and was counted then.
      joinedAt: this.#resumed ? this.#answeredAt(now) : now,
      ...(this.#resumed ? { resumed: true } : {}),
      hangUp,
    });
    if (!listed) {
      // Its meeting ended before it got in (its arrival outlived the hold): its call ends, in words.
      this.#entered = false;
      log.warn({ meeting: this.number, participant: this.id }, 'the meeting ended before the participant got in; ending its call');
      queueMicrotask(() => hangUp('the meeting ended before you got in; call again'));
    }
  }

  /** When the call record says the call was answered (a resumed session's join time), else `now`. */
  #answeredAt(now: Date): Date {
    const answeredAt = this.#services.records.get(this.#record)?.answeredAt;
    return answeredAt ? new Date(answeredAt) : now;
  }

  /**
   * Ends the participant's session (once; later calls do nothing): leaves the media (when a join
   * was tried), ends the call record with `outcome` (default: answered when it got in, failed
   * otherwise; an answered record stays answered) and `reason` as why it ended, takes it out of the live registry or gives
   * back its admission's seat. Resolves when the media has been told.
   */
  async close(reason: string, outcome?: CallOutcome): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Its floor first (a held floor released: the media hears "nobody presents" before the leave).
    this.#services.floors()?.leave(this.number, this.id);
    // Sent first, so the media hears the leave before the meeting's end (one ordered channel).
    const left = this.#mediaTried ? this.#services.media.leave(this.number, this.id, reason).catch((error: Error) => log.debug({ meeting: this.number, participant: this.id, err: error.message }, 'media leave not served')) : undefined;
    try {
      // The duration on the monotonic clock when the answer's time on it is known.
      const duration = this.#entered && this.#answeredMono !== undefined ? (monotonicMs() - this.#answeredMono) / 1000 : undefined;
      this.#services.records.ended(this.#record, outcome ?? (this.#entered ? 'answered' : 'failed'), new Date(), reason, duration);
    } catch (error) {
      log.error({ meeting: this.number, participant: this.id, err: error as Error }, 'could not end the call record');
    }
    if (this.#entered) this.#services.live.remove(this.number, this.id, reason);
    else this.#services.release(this.number);
    this.#services.ended(this);
    await left;
  }

  /**
   * The control plane stops alone (a restart): the session is left as it is for the next one to
   * make again (`ParticipantSessions.resume`) — its media leg stays in the meeting, its call
   * record open, its live entry and seat as they are — and this process forgets it: a later
   * `close` does nothing.
   */
  handOver(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#services.ended(this);
  }

  #assertOpen(): void {
    if (this.#closed) throw createError('VCBOX_ERR_SESSION_CLOSED', { number: this.number });
  }
}
