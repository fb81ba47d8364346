/**
 * Taking calls over after a restart (#18, "calls in meetings survive a control-plane restart").
 * Run each time the SIP application connects to the signaling service:
 * - the dialogs this process knows (srf's) are adopted again — after a restart of the signaling
 *   service, which read them back from its snapshot and kept them as orphans — and pointed at the
 *   application's new connection;
 * - the other orphans are matched with the media process's SIP legs (`sipLegs`: each carries its
 *   session's note — Call-ID, call record, role) by Call-ID: each match is made again — the
 *   participant session around the same record (server/meetings/participant-sessions), an srf
 *   Dialog for the dialog (./adopted-dialog.ts), the live registry entry — and adopted, so a
 *   later BYE from the terminal ends the leg and closes the record as on any call;
 * - what cannot be taken over is ended cleanly: an orphan with no leg (a point-to-point or IVR
 *   call, a leg gone) gets a BYE saying why; a leg with no dialog leaves the media; a call the
 *   terminal hung up while nobody held it is closed as hung up; and, the first time, the call
 *   records a killed control plane left open and nothing took over are ended saying so, as are
 *   the meeting records of meetings that are not live again (a meeting whose calls were taken
 *   over goes on in its record).
 * Not here: the signaling side (server/signaling/dialogs/orphan-dialogs.ts), the dialog's life
 * from then on (./meeting-calls.ts).
 */
import type Srf from 'drachtio-srf';
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { SipLegInfo } from '../../../media/meetings/meeting-types.ts';
import type { CallRecords } from '../../cdr/call-records.ts';
import type { MeetingRecords } from '../../cdr/meeting-records.ts';
import type { LiveMeetings } from '../../meetings/live-meetings.ts';
import { getLogger } from '../../core/logger.ts';
import { type LegNote, type ParticipantSessions, parseLegNote } from '../../meetings/participant-sessions/participant-sessions.ts';
import type { SignalingControlClient } from '../../signaling/signaling-control.ts';
import { adoptDialog, rebindDialogs } from './adopted-dialog.ts';
import type { MeetingCalls } from './meeting-calls.ts';

const log = getLogger('call-takeover');

/** Tries to reach the signaling control channel and the media process, and the wait between. */
const ATTEMPTS = 20;
const RETRY_MS = 500;

/** The BYE's words when an orphan cannot be taken over. */
const NOT_TAKEN_OVER = 'the control plane restarted and could not take this call over';

export interface CallTakeoverOptions {
  readonly srf: Srf;
  readonly signaling: Pick<SignalingControlClient, 'orphans' | 'adopt' | 'release'>;
  readonly media: MediaControl;
  readonly sessions: ParticipantSessions;
  readonly meetingCalls: MeetingCalls;
  readonly records: CallRecords;
  /** The meeting records (a meeting none of whose calls was taken over is ended in them). */
  readonly meetingRecords: MeetingRecords;
  /** The live meetings (after the take-over: those its calls made live again). */
  readonly live: LiveMeetings;
  /** When this process started: records begun before it and not taken over were left open by its predecessor. */
  readonly startedAt: Date;
  /** The end reason of such records. */
  readonly leftOpenReason: string;
}

/** What one run did (logged; tests read the log). */
export interface TakeoverResult {
  readonly known: number;
  readonly resumed: number;
  readonly released: number;
  readonly legsLeft: number;
  readonly hungUp: number;
  readonly recordsEnded: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function retried<T>(what: string, call: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      return await call();
    } catch (error) {
      last = error;
      await sleep(RETRY_MS);
    }
  }
  throw new Error(`${what}: ${(last as Error).message}`);
}

export class CallTakeover {
  readonly #options: CallTakeoverOptions;
  #first = true;
  #running: Promise<unknown> = Promise.resolve();

  constructor(options: CallTakeoverOptions) {
    this.#options = options;
  }

  /** One pass (after each connection to the signaling service); passes run one at a time. */
  run(): Promise<TakeoverResult> {
    const next = this.#running.then(() => this.#run());
    this.#running = next.catch((error: Error) => log.error({ err: error.message }, 'taking the calls over failed'));
    return next;
  }

  async #run(): Promise<TakeoverResult> {
    const started = performance.now();
    const { srf, signaling, media, sessions, meetingCalls, records } = this.#options;
    const { orphans, ended } = await retried('the signaling control channel', () => signaling.orphans());
    // srf's own dialogs: this process set them up (the signaling service is the one that restarted).
    const known = (srf as unknown as { _dialogs: Map<string, Srf.Dialog> })._dialogs;
    rebindDialogs(srf, known.values());
    const mine = orphans.filter((o) => known.has(o.id)).map((o) => o.id);
    if (mine.length > 0) await signaling.adopt(mine);
    const others = orphans.filter((o) => !known.has(o.id));
    const first = this.#first;
    this.#first = false;
    if (others.length === 0 && ended.length === 0 && !first) {
      if (mine.length > 0) log.info({ adopted: mine.length }, 'dialogs adopted again after the signaling service restarted');
      return { known: mine.length, resumed: 0, released: 0, legsLeft: 0, hungUp: 0, recordsEnded: 0 };
    }

    // The media legs, by their call's Call-ID (no media: none can be taken over).
    const legs = await retried('the media service', () => media.sipLegs()).catch((error: Error) => {
      log.warn({ err: error.message }, 'no media legs to take over');
      return [] as SipLegInfo[];
    });
    const byCallId = new Map<string, Omit<SipLegInfo, 'note'> & { note: LegNote }>();
    const live = new Set(meetingCalls.participantIds());
    for (const leg of legs) {
      const note = parseLegNote(leg.note);
      if (note && !live.has(leg.participantId)) byCallId.set(note.call.callId, { ...leg, note });
    }

    const kept: number[] = [];
    let resumed = 0;
    let released = 0;
    const toAdopt: { id: string; participantId: string }[] = [];
    for (const orphan of others) {
      const leg = byCallId.get(orphan.callId);
      if (!leg) {
        if (await signaling.release(orphan.id, NOT_TAKEN_OVER).catch(() => false)) released++;
        continue;
      }
      byCallId.delete(orphan.callId);
      const session = sessions.resume(leg.meeting, leg.participantId, leg.note, leg.offer);
      if (!session) {
        await signaling.release(orphan.id, 'the meeting of this call no longer exists').catch(() => false);
        void media.leave(leg.meeting, leg.participantId, 'meeting-gone').catch(() => undefined);
        released++;
        continue;
      }
      try {
        const dialog = adoptDialog(srf, orphan, { local: leg.answer, remote: leg.offer });
        meetingCalls.resume(dialog, session);
        kept.push(session.record);
        toAdopt.push({ id: orphan.id, participantId: session.id });
        resumed++;
      } catch (error) {
        log.warn({ dialog: orphan.id, err: (error as Error).message }, 'could not make the dialog again');
        await session.close(NOT_TAKEN_OVER);
        await signaling.release(orphan.id, NOT_TAKEN_OVER).catch(() => false);
        released++;
      }
    }
    if (toAdopt.length > 0) {
      const adopted = new Set(await signaling.adopt(toAdopt.map((a) => a.id)));
      // Gone in the meantime (its peer hung up and the hold ran out): that call has ended.
      for (const a of toAdopt) if (!adopted.has(a.id)) meetingCalls.hangUp(a.participantId, 'hangup');
    }

    // Hung up while nobody held the call: its leg leaves, its record closes as hung up.
    let hungUp = 0;
    for (const gone of ended) {
      const leg = byCallId.get(gone.callId);
      byCallId.delete(gone.callId);
      if (leg) void media.leave(leg.meeting, leg.participantId, 'hangup').catch(() => undefined);
      for (const record of records.openByCallId(gone.callId)) {
        records.ended(record.id, record.answeredAt ? 'answered' : 'failed', new Date(gone.at), 'hangup');
        hungUp++;
      }
    }
    // Legs no dialog belongs to any more (their call ended unseen): out of the media.
    let legsLeft = 0;
    for (const leg of byCallId.values()) {
      void media.leave(leg.meeting, leg.participantId, 'no dialog after a control-plane restart').catch(() => undefined);
      legsLeft++;
    }
    let recordsEnded = 0;
    if (first) {
      recordsEnded = records.endLeftOpen(this.#options.leftOpenReason, { before: this.#options.startedAt, keep: kept });
      if (recordsEnded > 0) log.warn({ records: recordsEnded }, 'ended the call records a previous control plane left open');
      const meetingsEnded = this.#options.meetingRecords.endLeftOpen(this.#options.live);
      if (meetingsEnded > 0) log.warn({ meetings: meetingsEnded }, 'ended the meeting records a previous control plane left open');
    }
    const result = { known: mine.length, resumed, released, legsLeft, hungUp, recordsEnded };
    log.info({ ...result, ms: Math.round(performance.now() - started) }, 'calls taken over after a restart');
    return result;
  }
}
