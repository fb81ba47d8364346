/**
 * The SIP adapter of the participant sessions service (server/meetings/participant-sessions)
 * for meetings — what lives here is the dialog and its SDP, nothing of the participant's life:
 * direct dial (INVITE to a 5-12 digit number: `ID`, `ID**PIN`, `ID%2A%2APIN`; lock-out and
 * digest were settled by the SIP application's middleware, ../sip-middleware.ts), the IVR's
 * move into a meeting (`joinFromIvr`, a re-INVITE on the same call), the console's dial-out
 * (3pcc INVITE to a registered account) and a worker heal's re-attach. Each asks the service to
 * admit (PIN, window, lock, capacity, licence) and opens the participant's session, which owns
 * the call record, the media join, the live registry entry and the one cascading close; this
 * file answers with the media service's SDP and keeps the dialog: hang-ups either way,
 * re-INVITE/UPDATE (hold, moved address), session timers (RFC 4028), key frame INFO (RFC 5168),
 * removal from the console and media-side ends (RTP timeout, media restart) all end in
 * `session.close`; a worker's or the whole media process's death re-attaches the legs instead. With the licence allowing no video the session declines video in every offer.
 */
import { randomUUID } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { CallOutcome } from '../../cdr/call-records.ts';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import type { LiveMeetings } from '../../meetings/live-meetings.ts';
import type { Admission, Entrant, ParticipantSession, ParticipantSessions, RefusalKind, SessionTimer } from '../../meetings/participant-sessions/participant-sessions.ts';
import type { MeetingStore } from '../../meetings/meeting-store.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { declineContent } from '../../../media/sdp/sip-sdp.ts';
import { callerOf, reasonPhrase, sdpWarning } from '../calls/caller.ts';
import type { Binding } from '../registrar/location-service.ts';
import { onDialogEnd } from '../dialog-end.ts';
import { guardRequest } from '../request-guard.ts';
import { inviteOf } from '../sip-middleware.ts';

export { declineVideo } from '../../meetings/participant-sessions/participant-sessions.ts';

const log = getLogger('meeting-calls');

export interface MeetingCallsOptions {
  readonly srf: Srf;
  readonly live: LiveMeetings;
  /** The one way into a meeting: every caller is admitted there. */
  readonly sessions: ParticipantSessions;
  /** Where "meet now" calls create their instant meeting. */
  readonly meetings: MeetingStore;
  readonly settings: SettingsStore;
  /** The display name of an account, when the caller is one. */
  readonly accountName: (number: string) => string | undefined;
  /** Smallest session interval accepted (RFC 4028 Min-SE; 90 s unless a test shortens it). */
  readonly minSessionSeconds?: number;
  /** Registered terminals of an account, newest last (invitations dial the newest). */
  readonly bindings?: (account: string) => readonly Binding[];
}

/** `Session-Expires: 1800;refresher=uac` → its parts (undefined when absent or malformed). */
export function parseSessionExpires(value: string | undefined): { seconds: number; refresher?: 'uac' | 'uas' } | undefined {
  const match = /^\s*(\d{1,9})\s*(?:;(.*))?$/.exec(value ?? '');
  if (!match?.[1]) return undefined;
  const refresher = /refresher\s*=\s*(uac|uas)/i.exec(match[2] ?? '')?.[1]?.toLowerCase() as 'uac' | 'uas' | undefined;
  return { seconds: Number(match[1]), ...(refresher ? { refresher } : {}) };
}

/** An m-line's label as RFC 5168's stream_id may carry it (a=label values the box writes back into XML: nothing to escape). */
const STREAM_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The INFO body asking for a key frame (RFC 5168), of the stream labelled `streamId` when given (content), else of the video. */
export function pictureFastUpdate(streamId?: string): string {
  const stream = streamId !== undefined && STREAM_ID.test(streamId) ? `<stream_id>${streamId}</stream_id>` : '';
  return `<?xml version="1.0" encoding="utf-8" ?>\r\n<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder>${stream}</vc_primitive></media_control>\r\n`;
}

/** A SIP INFO body asking for a key frame: application/media_control+xml with picture_fast_update. */
export function isPictureFastUpdate(contentType: string, body: string): boolean {
  return /application\/media_control\+xml/i.test(contentType) && /<picture_fast_update\s*\/?>/i.test(body);
}

/** The stream a picture_fast_update names (`<stream_id>`: an m-line's a=label, RFC 5168), if one of label shape. */
export function pictureFastUpdateStream(body: string): string | undefined {
  const streamId = /<stream_id>\s*([^<\s]{1,64})\s*<\/stream_id>/i.exec(body)?.[1];
  return streamId !== undefined && STREAM_ID.test(streamId) ? streamId : undefined;
}

/** SIP answers to the refusals of the participant sessions service. */
const SIP_REFUSALS: Record<RefusalKind, [number, string]> = {
  'not-found': [404, 'Not Found - no such meeting'],
  ended: [404, 'Not Found - the meeting has ended'],
  'not-started': [480, 'Temporarily Unavailable - the meeting has not started yet'],
  'pin-required': [403, 'Forbidden - this meeting needs a PIN: dial {number}**PIN'],
  'wrong-pin': [403, 'Forbidden - wrong meeting PIN'],
  locked: [403, 'Call Rejected - the meeting is locked'],
  full: [486, 'Busy Here - the meeting is full ({capacity} participants)'],
  'license-ports': [486, "Busy Here - all {ports} concurrent participants the box's licence allows are in meetings"],
  'media-ports': [486, "Busy Here - the box's media ports are all in use ({ports} calls)"],
  'locked-out': [403, 'Forbidden - too many wrong meeting IDs or PINs from your address; try again in {seconds} s'],
  'meeting-locked-out': [403, 'Forbidden - too many wrong PINs for this meeting; it takes no PIN for {seconds} s'],
  'guest-access-off': [403, 'Forbidden - guest access is off: call with an account'],
};

/** The words a refusal of the entry policy (or the licence) carries in a Reason header (RFC 3326), saying what to do. */
function refusalReason(number: string, refusal: Extract<Admission, { ok: false }>): string | undefined {
  const seconds = refusal.retryAfterSeconds ?? 0;
  const error =
    refusal.refusal === 'license-ports'
      ? createError('VCBOX_ERR_LICENSE_PORTS', { ports: refusal.ports })
      : refusal.refusal === 'media-ports'
        ? createError('VCBOX_ERR_MEDIA_PORTS_FULL', { calls: refusal.ports })
        : refusal.refusal === 'locked-out'
        ? createError('VCBOX_ERR_ENTRY_LOCKED_OUT', { seconds })
        : refusal.refusal === 'meeting-locked-out'
          ? createError('VCBOX_ERR_MEETING_PIN_LOCKED_OUT', { number, seconds })
          : refusal.refusal === 'guest-access-off'
            ? createError('VCBOX_ERR_GUEST_ACCESS_OFF')
            : undefined;
  return error && `SIP;cause=${SIP_REFUSALS[refusal.refusal][0]};text="${error.message.replace(/"/g, "'")}"`;
}

/** Answers an INVITE the participant sessions service refused. */
export function sendRefusal(res: Srf.SrfResponse, number: string, refusal: Extract<Admission, { ok: false }>): void {
  const [status, reason] = SIP_REFUSALS[refusal.refusal];
  const phrase = reason
    .replace('{number}', number)
    .replace('{capacity}', String(refusal.target?.capacity ?? ''))
    .replace('{ports}', String(refusal.ports ?? ''))
    .replace('{seconds}', String(refusal.retryAfterSeconds ?? ''));
  const text = refusalReason(number, refusal);
  res.send(status, phrase, text ? { headers: { Reason: text } } : {});
}

/** The call-record outcome of a terminal's refusal of the box's INVITE (dial-out). */
function outcomeOfRefusal(status: number | undefined): CallOutcome {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 480 || status === 487) return 'no-answer';
  if (status === 603) return 'rejected';
  return 'failed';
}

/** The dialog's side of a participant in a meeting: what the session does not own. */
interface Leg {
  readonly dialog: Srf.Dialog;
  readonly session: ParticipantSession;
  healing: boolean;
  /** Forgets the call here without ending it (its timer stopped): the control plane is handing it over. */
  detach(): void;
}

/** The headers of the box's answers (to the INVITE and to each refresh) for a session timer: refresher=uac, Require: timer when the terminal supports it. */
function sessionHeadersOf(timer: SessionTimer | undefined): Record<string, string> {
  return timer ? { 'Session-Expires': `${timer.seconds};refresher=uac`, ...(timer.supported ? { Require: 'timer' } : {}) } : {};
}

export class MeetingCalls {
  readonly #options: MeetingCallsOptions;
  /** participant id → its call: the dialog and the participant's session. */
  readonly #legs = new Map<string, Leg>();

  constructor(options: MeetingCallsOptions) {
    this.#options = options;
  }

  /**
   * The media service ended a participant's media. After a worker died (`media-restart`) the
   * leg is re-attached: joined again to the meeting (rebuilt on a live worker) with the
   * terminal's last offer, and the terminal told the new address by a re-INVITE. Otherwise
   * (RTP timeout…) the call is ended.
   */
  mediaClosed(meeting: string, participantId: string, reason: string): void {
    const participant = this.#options.live.get(meeting)?.participants.get(participantId);
    if (!participant) return;
    if (reason === 'media-restart') {
      this.#reattach(meeting, participantId).catch((error: Error) => log.error({ meeting, participant: participantId, err: error }, 're-attaching the leg failed'));
      return;
    }
    participant.hangUp(reason === 'rtp-timeout' ? 'no media received (RTP timeout)' : `media ended (${reason})`);
  }

  /**
   * The media process came back after it died (its control channel connected again): every
   * meeting leg lost its media with it, and the new process knows no meeting. Each leg is
   * re-attached as after a worker's death — joined again with the terminal's last offer (the
   * meeting made anew on the new process), the terminal re-INVITEd to the new address.
   */
  mediaReturned(): void {
    if (this.#legs.size > 0) log.warn({ legs: this.#legs.size }, 'the media service restarted: re-attaching every meeting leg');
    for (const [participantId, leg] of this.#legs) {
      this.#reattach(leg.session.number, participantId).catch((error: Error) => log.error({ meeting: leg.session.number, participant: participantId, err: error }, 're-attaching the leg failed'));
    }
  }

  /**
   * Asks a terminal for a key frame the SIP way (INFO with a picture_fast_update media
   * control, RFC 5168), for terminals that ignore RTCP PLI/FIR: of its content when `streamId`
   * (its content line's label) is given, else of its video.
   */
  requestKeyFrame(meeting: string, participantId: string, streamId?: string): void {
    const leg = this.#legs.get(participantId);
    if (!leg) return;
    // srf's typings want a whole SrfRequest here; it takes {method, headers, body} at run time.
    const request = { method: 'INFO', headers: { 'Content-Type': 'application/media_control+xml' }, body: pictureFastUpdate(streamId) } as unknown as Srf.SrfRequest;
    leg.dialog
      .request(request)
      .catch((error: Error) => log.debug({ meeting, participant: participantId, err: error.message }, 'key frame INFO not accepted'));
  }

  /** Worker heal: the session joins the media again with its latest offer; the terminal gets the new answer by re-INVITE. */
  async #reattach(meeting: string, participantId: string): Promise<void> {
    const leg = this.#legs.get(participantId);
    if (!leg || leg.healing) return;
    leg.healing = true;
    const started = performance.now();
    try {
      const answer = await leg.session.rejoinSip();
      await leg.dialog.modify(answer.sdp);
      log.info({ meeting, participant: participantId, healMs: Math.round(performance.now() - started) }, 'leg re-attached after a media restart');
    } catch (error) {
      log.warn({ meeting, participant: participantId, err: (error as Error).message }, 'could not re-attach the leg after a media restart');
      this.#options.live.get(meeting)?.participants.get(participantId)?.hangUp('media ended (media-restart)');
    } finally {
      leg.healing = false;
    }
  }

  /** Answers an INVITE whose media join failed (the session closed itself). */
  #answerMediaFailure(res: Srf.SrfResponse, error: unknown): void {
    const err = error as Error & { code?: string; params?: { reason?: unknown } };
    const phrase = reasonPhrase(err);
    if (err.code === 'VCBOX_ERR_MEDIA_SDP') res.send(488, `Not Acceptable Here - ${phrase}`, { headers: sdpWarning(err) });
    else if (err.code === 'VCBOX_ERR_MEDIA_UNAVAILABLE') res.send(503, 'Service Unavailable - the media service is not running', { headers: { 'Retry-After': '10' } });
    else res.send(500, 'Server Internal Error - the meeting media failed', {});
  }

  /** Direct dial: an INVITE to a meeting number (or "meet now") that passed the SIP policy middleware. */
  handle = async (req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> => {
    const { dial: dialled, account } = inviteOf(req);
    if (dialled.kind !== 'meeting' && dialled.kind !== 'instant') {
      res.send(404, 'Not Found - dial a 4-digit account, or a meeting ID (ID**PIN)', {});
      return;
    }
    const dial: { number: string; pin?: string | undefined } = dialled.kind === 'meeting' ? { number: dialled.id, pin: dialled.pin } : { number: dialled.number };
    const { sessions } = this.#options;
    const entrant: Entrant = { way: 'sip', address: req.source_address, account };
    // "Meet now": the instant-meeting number creates a meeting for a registered account (the middleware authenticated it).
    if (dialled.kind === 'instant') {
      if (!account) throw new Error('"meet now" reached its handler unauthenticated');
      const name = this.#options.accountName(account) ?? account;
      const created = this.#options.meetings.create(
        { subject: `Instant meeting of ${name}`.slice(0, 128), start: new Date().toISOString(), durationMinutes: 120 },
        account,
        'instant',
      );
      log.info({ account, meeting: created.number }, 'instant meeting created by a terminal');
      dial.number = created.number;
      dial.pin = created.hostPin;
    }
    if (!req.body?.includes('m=')) {
      res.send(488, 'Not Acceptable Here - send an SDP offer in the INVITE', {});
      return;
    }
    // Session timers (RFC 4028): the caller refreshes; too short an interval gets 422 (before any admission).
    const minSession = this.#options.minSessionSeconds ?? 90;
    const sessionExpires = parseSessionExpires(req.get('Session-Expires') || req.get('x'));
    if (sessionExpires && sessionExpires.seconds < minSession) {
      res.send(422, 'Session Interval Too Small', { headers: { 'Min-SE': String(minSession) } });
      return;
    }
    const admission = sessions.admit(entrant, dial.number, dial.pin);
    if (!admission.ok) {
      sendRefusal(res, dial.number, admission);
      return;
    }
    const timerSupported = /(^|,)\s*timer\s*(,|$)/i.test(req.get('Supported') ?? '');
    const sessionTimer: SessionTimer | undefined = sessionExpires ? { seconds: sessionExpires.seconds, supported: timerSupported } : undefined;

    const from = callerOf(req);
    const caller = account ?? from.user;
    const displayName = (account && this.#options.accountName(account)) || from.displayName || caller;
    const session = sessions.open(admission, {
      callId: from.callId,
      caller,
      callee: dial.number,
      displayName,
      account,
      type: 'sip',
      source: from.source,
      transport: from.transport,
      address: req.source_address,
      sessionTimer,
    });
    const log2 = log.child({ meeting: dial.number, participant: session.id, caller, role: session.role });

    let answer: Awaited<ReturnType<ParticipantSession['joinSip']>>;
    try {
      answer = await session.joinSip(req.body);
    } catch (error) {
      log2.warn({ err: (error as Error).message, code: (error as { code?: string }).code }, 'could not join the meeting media');
      this.#answerMediaFailure(res, error);
      return;
    }
    let dialog: Srf.Dialog;
    try {
      dialog = await this.#options.srf.createUAS(req, res, { localSdp: answer.sdp, headers: sessionHeadersOf(sessionTimer) });
    } catch (error) {
      log2.info({ err: (error as Error).message }, 'caller left before the answer reached it');
      await session.close('canceled', 'canceled');
      return;
    }
    this.#attach(dialog, session);
    log2.info({ codec: answer.audioCodec, srtp: answer.srtp, audioOnly: session.audioOnly }, 'joined the meeting');
  };

  /**
   * The box invites a registered account into a live meeting (the console's "invite"): an
   * INVITE without SDP to the terminal's newest registration, whose 200 OK carries its offer;
   * the media service answers it and the ACK carries that answer (3pcc). The terminal joins as
   * a guest, like a caller, with a call record (meeting → account) from the INVITE on. Refused:
   * not live, full, not registered; the terminal's own refusal (busy, declined, no answer) comes
   * back in words and in the record's outcome.
   */
  async dialOut(number: string, account: string): Promise<{ participantId: string }> {
    const live = this.#options.live.get(number);
    if (!live) throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: number });
    const binding = this.#options.bindings?.(account).at(-1);
    if (!binding) throw createError('VCBOX_ERR_NOT_REGISTERED', { account });
    // The same way in as every caller: no PIN (the host invites), but lock, capacity and the licence's ports.
    const admission = this.#options.sessions.admit({ way: 'dial-out', address: binding.source.address, account }, number, undefined);
    if (!admission.ok) {
      if (admission.refusal === 'license-ports') throw createError('VCBOX_ERR_LICENSE_PORTS', { ports: admission.ports ?? 0 });
      if (admission.refusal === 'media-ports') throw createError('VCBOX_ERR_MEDIA_PORTS_FULL', { calls: admission.ports ?? 0 });
      if (admission.refusal === 'locked') throw createError('VCBOX_ERR_MEETING_LOCKED', { number });
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: admission.refusal === 'full' ? `the meeting is full (${admission.target?.capacity} participants)` : `the meeting is ${admission.refusal}` });
    }
    const realm = this.#options.settings.get('network.localDomain');
    const displayName = this.#options.accountName(account) ?? account;
    const participantId = randomUUID();
    const session = this.#options.sessions.open(admission, {
      participantId,
      callId: `dial-out-${participantId}`,
      caller: number,
      callee: account,
      displayName,
      account,
      type: 'sip',
      source: `${binding.source.address}:${binding.source.port}`,
      transport: binding.source.protocol,
      address: binding.source.address,
    });
    const log2 = log.child({ meeting: number, participant: participantId, account });
    let offered: { sdp: string; ack: (sdp: string) => Promise<Srf.Dialog> };
    try {
      offered = (await this.#options.srf.createUAC(binding.contact, {
        // The call record's Call-ID is the SIP one: a restarted control plane matches the two.
        headers: { 'Call-ID': `dial-out-${participantId}`, From: `"${live.subject.replace(/"/g, '')}" <sip:${number}@${realm}>`, To: `"${displayName.replace(/"/g, '')}" <sip:${account}@${realm}>`, Subject: live.subject },
        noAck: true,
      } as never)) as unknown as { sdp: string; ack: (sdp: string) => Promise<Srf.Dialog> };
    } catch (error) {
      const failure = error as { status?: number; reason?: string; message?: string };
      await session.close('not answered', outcomeOfRefusal(failure.status));
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: failure.status ? `${failure.status} ${failure.reason ?? ''}`.trim() : (failure.message ?? 'no answer') });
    }
    if (!offered.sdp) {
      await session.close('no offer', 'failed');
      // Complete the INVITE and hang up at once.
      void offered.ack('').then((dialog) => dialog.destroy()).catch(() => undefined);
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: 'its answer carried no SDP offer' });
    }
    let answer: Awaited<ReturnType<ParticipantSession['joinSip']>>;
    try {
      answer = await session.joinSip(offered.sdp);
    } catch (error) {
      // The session closed itself. Complete the INVITE (echoing its offer back) and hang up at once.
      void offered.ack(offered.sdp).then((dialog) => dialog.destroy()).catch(() => undefined);
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: (error as Error).message });
    }
    let dialog: Srf.Dialog;
    try {
      dialog = await offered.ack(answer.sdp);
    } catch (error) {
      await session.close('ack failed', 'failed');
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: (error as Error).message });
    }
    this.#attach(dialog, session);
    log2.info({ codec: answer.audioCodec }, 'invited into the meeting');
    return { participantId };
  }

  /**
   * A call the IVR answered, and the participant sessions service admitted, joins its meeting:
   * its session (call record from here) joins the meeting's media with the caller's offer, and
   * the call is moved there by a re-INVITE from the box — the same call, no new INVITE. Returns
   * whether that worked (if not, the session is closed and nothing is left behind).
   */
  async joinFromIvr(
    dialog: Srf.Dialog,
    admission: Extract<Admission, { ok: true }>,
    call: { number: string; offer: string; displayName: string; account: string | null; callId: string; source: string; address: string; transport: string },
  ): Promise<{ ok: true } | { ok: false; refusal: 'media' }> {
    const session = this.#options.sessions.open(admission, {
      callId: call.callId,
      caller: call.account ?? call.displayName,
      callee: call.number,
      displayName: call.displayName,
      account: call.account,
      type: 'sip',
      source: call.source,
      transport: call.transport,
      address: call.address,
    });
    try {
      // The box's re-INVITE offers what the media answered: the access number's call takes no
      // content (its lines stay declined); the terminal may add content by re-INVITE later.
      const answer = await session.joinSip(declineContent(call.offer));
      await dialog.modify(answer.sdp);
    } catch (error) {
      log.warn({ meeting: call.number, err: (error as Error).message }, 'could not move the IVR caller into the meeting');
      await session.close('failed', 'failed');
      return { ok: false, refusal: 'media' };
    }
    this.#attach(dialog, session);
    log.info({ meeting: call.number, participant: session.id, role: session.role }, 'IVR caller joined the meeting');
    return { ok: true };
  }

  /**
   * A call that outlived a control-plane restart, taken over (./call-takeover.ts): its dialog
   * (made again, ./adopted-dialog.ts) and its session (made again around the same record) go on
   * as any call from its answer on — a BYE from the terminal ends the leg and closes the record —
   * and its session timer (kept with the session: RFC 4028) is expected again: the box does not
   * know when the terminal last refreshed before the restart, so a whole interval counts from the
   * take-over (a call is never ended early; one whose terminal stopped refreshing ends at most one
   * interval later than without the restart).
   */
  resume(dialog: Srf.Dialog, session: ParticipantSession): void {
    this.#attach(dialog, session);
    log.info({ meeting: session.number, participant: session.id, role: session.role, sessionSeconds: session.sessionTimer?.seconds }, 'call taken over after a control-plane restart');
  }

  /** The participants with a SIP leg now. */
  participantIds(): string[] {
    return [...this.#legs.keys()];
  }

  /** Ends a participant's call from the box's side (BYE with `reason`, session closed). */
  hangUp(participantId: string, reason: string): void {
    const leg = this.#legs.get(participantId);
    if (leg) this.#options.live.get(leg.session.number)?.participants.get(participantId)?.hangUp(reason);
  }

  /** From the answer on: hang-ups, re-INVITEs and UPDATEs, INFO, session timer; the session enters the meeting. */
  #attach(dialog: Srf.Dialog, session: ParticipantSession): void {
    const { number, id: participantId } = session;
    const timer = session.sessionTimer;
    const sessionHeaders = sessionHeadersOf(timer);
    const log2 = log.child({ meeting: number, participant: participantId });
    let ended = false;
    const leg: Leg = {
      dialog,
      session,
      healing: false,
      detach: () => {
        ended = true;
        clearTimeout(sessionTimer);
      },
    };
    this.#legs.set(participantId, leg);
    const end = (reason: string, by: 'caller' | 'box') => {
      if (ended) return;
      ended = true;
      clearTimeout(sessionTimer);
      this.#legs.delete(participantId);
      if (by === 'box') void Promise.resolve(dialog.destroy({ headers: { Reason: `SIP;cause=200;text="${reason.replace(/"/g, "'")}"` } } as never)).catch(() => undefined);
      void session.close(by === 'caller' ? 'hangup' : reason);
      log2.info({ by, reason }, 'left the meeting');
    };
    // Without a refresh (re-INVITE or UPDATE) within the interval the session is over (§10).
    // (setTimeout runs on the monotonic clock: a jump of the wall clock neither fires nor delays it.)
    let sessionTimer: NodeJS.Timeout | undefined;
    const armSessionTimer = () => {
      if (!timer || ended) return;
      clearTimeout(sessionTimer);
      const grace = Math.min(32, timer.seconds / 3);
      sessionTimer = setTimeout(() => end('session timer expired (no refresh)', 'box'), (timer.seconds - grace) * 1000);
      sessionTimer.unref();
    };
    armSessionTimer();
    // The caller may have hung up already (its BYE read with the answer): ../dialog-end.ts.
    onDialogEnd(dialog, () => end('hangup', 'caller'));
    if (ended) return; // gone before it was in: the session is closed, nothing more to watch
    // A terminal whose decoder lost the picture asks for a key frame by SIP INFO (RFC 5168), as
    // many room systems do instead of RTCP PLI; any other INFO is acknowledged and ignored.
    dialog.on(
      'info',
      guardRequest('meeting INFO', (infoReq: Srf.SrfRequest, infoRes: Srf.SrfResponse) => {
        infoRes.send(200, {});
        if (!isPictureFastUpdate(infoReq.get('Content-Type') ?? '', infoReq.body ?? '')) return;
        // A stream_id naming the content line asks for a content key frame.
        void session.requestKeyFrame(pictureFastUpdateStream(infoReq.body ?? '')).catch((error: Error) => log2.debug({ err: error.message }, 'key frame request not served'));
      }),
    );
    dialog.on(
      'modify',
      guardRequest('meeting re-INVITE', async (modifyReq: Srf.SrfRequest, modifyRes: Srf.SrfResponse) => {
        armSessionTimer();
        if (!modifyReq.body) {
          modifyRes.send(200, { body: dialog.local.sdp, headers: sessionHeaders });
          return;
        }
        let sdp: string;
        try {
          sdp = await session.updateSip(modifyReq.body);
        } catch (error) {
          modifyRes.send(488, `Not Acceptable Here - ${reasonPhrase(error as Error & { params?: { reason?: unknown } })}`, { headers: sdpWarning(error as Error) });
          return;
        }
        modifyRes.send(200, { body: sdp, headers: sessionHeaders });
      }),
    );
    // An UPDATE refreshes the session as a re-INVITE does (RFC 4028 §7.4, many terminals refresh
    // this way); one with an offer changes the media like a re-INVITE.
    dialog.on(
      'update',
      guardRequest('meeting UPDATE', async (updateReq: Srf.SrfRequest, updateRes: Srf.SrfResponse) => {
        armSessionTimer();
        if (!updateReq.body) {
          updateRes.send(200, { headers: sessionHeaders });
          return;
        }
        let sdp: string;
        try {
          sdp = await session.updateSip(updateReq.body);
        } catch (error) {
          updateRes.send(488, `Not Acceptable Here - ${reasonPhrase(error as Error & { params?: { reason?: unknown } })}`, { headers: sdpWarning(error as Error) });
          return;
        }
        dialog.local.sdp = sdp;
        updateRes.send(200, { body: sdp, headers: { ...sessionHeaders, 'Content-Type': 'application/sdp' } });
      }),
    );
    session.enter((reason) => end(reason, 'box'));
  }

  /**
   * Ends every meeting call (the whole appliance stops): BYE to each terminal saying `reason`,
   * each session closed with it. Resolves once every BYE was answered or failed.
   */
  close(reason: string): Promise<unknown> {
    const ends: Promise<unknown>[] = [];
    for (const leg of this.#legs.values()) {
      leg.detach();
      ends.push(Promise.resolve(leg.dialog.destroy({ headers: { Reason: `SIP;cause=200;text="${reason.replace(/"/g, "'")}"` } } as never)).catch(() => undefined));
      ends.push(leg.session.close(reason));
    }
    this.#legs.clear();
    return Promise.allSettled(ends);
  }

  /**
   * The control plane stops alone (a restart, server/process/stop-intent.ts): every meeting call
   * is left as it is for the next control plane to take over (./call-takeover.ts) — no BYE, its
   * media leg in the meeting, its call record open, its live entry — and forgotten here (its
   * session timer with it; the successor arms it again). Returns how many were handed over.
   */
  handOver(): number {
    const count = this.#legs.size;
    for (const leg of this.#legs.values()) {
      leg.detach();
      leg.session.handOver();
    }
    this.#legs.clear();
    return count;
  }
}
