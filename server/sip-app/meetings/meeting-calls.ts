/**
 * Calls into meetings (drachtio-srf INVITE handler for numbers of 5-12 digits): a terminal
 * dials a VMR or a scheduled/instant meeting as `ID` or `ID**PIN` (`ID%2A%2APIN` too). The
 * caller is challenged for digest when guest access is off, then admitted by the participant
 * sessions service (server/meetings/participant-sessions: lock-outs for wrong IDs and PINs,
 * guest access, PIN and role, the scheduled window with early join, lock ("call rejected"),
 * capacity, licence) — the same path as the IVR, the browser and dial-out — and answered with the media service's SDP (a PlainTransport of the
 * meeting's router). Hang-ups either way, re-INVITE/UPDATE (hold, moved address), removal
 * from the console and media-side ends (RTP timeout, media restart) all end the leg cleanly
 * and write its call record. When the licence allows no video (expired, revoked: the admission
 * says `audioOnly`), every offer from the terminal reaches the media service with its video
 * declined (`m=video 0`), so the answer rejects video as RFC 3264 wants and the call is audio.
 */
import { randomUUID } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { SrtpPolicy } from '../../../media/meetings/meeting-media.ts';
import type { CallRecords, CallType } from '../../cdr/call-records.ts';
import { dialContextOf } from '../../dial-plan/dial-plan.ts';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import type { LiveMeetings } from '../../meetings/live-meetings.ts';
import type { Admission, Entrant, ParticipantSessions, RefusalKind } from '../../meetings/participant-sessions/participant-sessions.ts';
import type { MeetingStore } from '../../meetings/meeting-store.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { callerOf, reasonPhrase, sdpWarning } from '../calls/caller.ts';
import type { Binding } from '../registrar/location-service.ts';
import { dialOfUri } from '../request-dial.ts';
import { guardRequest } from '../request-guard.ts';

const log = getLogger('meeting-calls');

export interface MeetingCallsOptions {
  readonly srf: Srf;
  readonly media: MediaControl;
  readonly live: LiveMeetings;
  /** The one way into a meeting: every caller is admitted there. */
  readonly sessions: ParticipantSessions;
  /** Where "meet now" calls create their instant meeting. */
  readonly meetings: MeetingStore;
  readonly settings: SettingsStore;
  readonly records: CallRecords;
  /** Digest check of a caller (answers the challenge itself; undefined then). */
  readonly authenticate: (req: Srf.SrfRequest, res: Srf.SrfResponse) => string | undefined;
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

const PICTURE_FAST_UPDATE =
  '<?xml version="1.0" encoding="utf-8" ?>\r\n<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive></media_control>\r\n';

/** A SIP INFO body asking for a key frame: application/media_control+xml with picture_fast_update. */
export function isPictureFastUpdate(contentType: string, body: string): boolean {
  return /application\/media_control\+xml/i.test(contentType) && /<picture_fast_update\s*\/?>/i.test(body);
}

/**
 * The offer with its video streams declined (port 0), for a call that may take audio only: the
 * media service then answers video with port 0 and sets up audio alone.
 */
export function declineVideo(sdp: string): string {
  return sdp.replace(/^m=video [0-9]+ /gm, 'm=video 0 ');
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

export class MeetingCalls {
  readonly #options: MeetingCallsOptions;
  /** participant id → its call: the dialog and the terminal's latest offer (to re-attach it). */
  readonly #legs = new Map<string, { dialog: Srf.Dialog; offer: string; displayName: string; remoteAddress: string; healing: boolean }>();

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
   * Asks a terminal for a key frame the SIP way (INFO with a picture_fast_update media
   * control, RFC 5168), for terminals that ignore RTCP PLI/FIR.
   */
  requestKeyFrame(meeting: string, participantId: string): void {
    const leg = this.#legs.get(participantId);
    if (!leg) return;
    // srf's typings want a whole SrfRequest here; it takes {method, headers, body} at run time.
    const request = { method: 'INFO', headers: { 'Content-Type': 'application/media_control+xml' }, body: PICTURE_FAST_UPDATE } as unknown as Srf.SrfRequest;
    leg.dialog
      .request(request)
      .catch((error: Error) => log.debug({ meeting, participant: participantId, err: error.message }, 'key frame INFO not accepted'));
  }

  async #reattach(meeting: string, participantId: string): Promise<void> {
    const leg = this.#legs.get(participantId);
    if (!leg || leg.healing) return;
    leg.healing = true;
    const started = performance.now();
    try {
      const answer = await this.#options.media.joinSip(meeting, {
        participantId,
        displayName: leg.displayName,
        offer: leg.offer,
        srtp: this.#options.settings.get('call.srtp') as SrtpPolicy,
        remoteAddress: leg.remoteAddress,
      });
      await leg.dialog.modify(answer.sdp);
      log.info({ meeting, participant: participantId, healMs: Math.round(performance.now() - started) }, 'leg re-attached after a media restart');
    } catch (error) {
      log.warn({ meeting, participant: participantId, err: (error as Error).message }, 'could not re-attach the leg after a media restart');
      this.#options.live.get(meeting)?.participants.get(participantId)?.hangUp('media ended (media-restart)');
    } finally {
      leg.healing = false;
    }
  }

  handle = async (req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> => {
    const dialled = dialOfUri(req.uri, dialContextOf(this.#options.settings));
    if (dialled.kind === 'account' || dialled.kind === 'invalid') {
      res.send(404, 'Not Found - dial a 4-digit account, or a meeting ID (ID**PIN)', {});
      return;
    }
    const dial: { number: string; pin?: string | undefined } = dialled.kind === 'meeting' ? { number: dialled.id, pin: dialled.pin } : { number: dialled.number };
    const { sessions } = this.#options;
    const lockedOut = sessions.lockedOut({ way: 'sip', address: req.source_address });
    if (lockedOut) {
      sendRefusal(res, dial.number, lockedOut);
      return;
    }
    let account: string | undefined;
    // "Meet now": the instant-meeting number creates a meeting for a registered account.
    const meetNow = dialled.kind === 'instant';
    if (meetNow || sessions.accountRequired() || req.has('Proxy-Authorization')) {
      account = this.#options.authenticate(req, res);
      if (!account) return;
    }
    const entrant: Entrant = { way: 'sip', address: req.source_address, account: account ?? null };
    if (meetNow && account) {
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
    const admission = sessions.admit(entrant, dial.number, dial.pin);
    if (!admission.ok) {
      sendRefusal(res, dial.number, admission);
      return;
    }
    const { target, role, audioOnly } = admission;
    const offer = audioOnly ? declineVideo(req.body) : req.body;

    // Session timers (RFC 4028): the caller refreshes; too short an interval gets 422.
    const minSession = this.#options.minSessionSeconds ?? 90;
    const sessionExpires = parseSessionExpires(req.get('Session-Expires') || req.get('x'));
    if (sessionExpires && sessionExpires.seconds < minSession) {
      this.#options.sessions.abandon(dial.number);
      res.send(422, 'Session Interval Too Small', { headers: { 'Min-SE': String(minSession) } });
      return;
    }
    const timerSupported = /(^|,)\s*timer\s*(,|$)/i.test(req.get('Supported') ?? '');
    const sessionHeaders: Record<string, string> = sessionExpires
      ? { 'Session-Expires': `${sessionExpires.seconds};refresher=uac`, ...(timerSupported ? { Require: 'timer' } : {}) }
      : {};

    const participantId = randomUUID();
    const from = callerOf(req);
    const callId = from.callId;
    const caller = account ?? from.user;
    const displayName = (account && this.#options.accountName(account)) || from.displayName || caller;
    const type: CallType = target.kind;
    const record = this.#options.records.start(type, callId, caller, dial.number);
    const log2 = log.child({ meeting: dial.number, participant: participantId, caller, role });

    let answer: Awaited<ReturnType<MediaControl['joinSip']>>;
    try {
      answer = await this.#options.media.joinSip(dial.number, {
        participantId,
        displayName,
        offer,
        srtp: this.#options.settings.get('call.srtp') as SrtpPolicy,
        remoteAddress: req.source_address,
      });
    } catch (error) {
      const err = error as Error & { code?: string; params?: { reason?: unknown } };
      this.#options.records.ended(record, err.code === 'VCBOX_ERR_MEDIA_SDP' ? 'rejected' : 'failed');
      this.#options.sessions.abandon(dial.number);
      log2.warn({ err: err.message, code: err.code }, 'could not join the meeting media');
      const phrase = reasonPhrase(err);
      if (err.code === 'VCBOX_ERR_MEDIA_SDP') res.send(488, `Not Acceptable Here - ${phrase}`, { headers: sdpWarning(err) });
      else if (err.code === 'VCBOX_ERR_MEDIA_UNAVAILABLE') res.send(503, 'Service Unavailable - the media service is not running', { headers: { 'Retry-After': '10' } });
      else res.send(500, 'Server Internal Error - the meeting media failed', {});
      return;
    }

    let dialog: Srf.Dialog;
    try {
      dialog = await this.#options.srf.createUAS(req, res, { localSdp: answer.sdp, headers: sessionHeaders });
    } catch (error) {
      log2.info({ err: (error as Error).message }, 'caller left before the answer reached it');
      await this.#options.media.leave(dial.number, participantId, 'canceled').catch(() => undefined);
      this.#options.records.ended(record, 'canceled');
      this.#options.sessions.abandon(dial.number);
      return;
    }
    this.#attach(dialog, {
      number: dial.number,
      participantId,
      displayName,
      account: account ?? null,
      role,
      callId,
      source: from.source,
      address: from.address,
      transport: from.transport,
      offer,
      audioOnly,
      record,
      sessionSeconds: sessionExpires?.seconds,
      sessionHeaders,
    });
    log2.info({ codec: answer.audioCodec, srtp: answer.srtp, audioOnly }, 'joined the meeting');
  };

  /**
   * The box invites a registered account into a live meeting (the console's "invite"): an
   * INVITE without SDP to the terminal's newest registration, whose 200 OK carries its offer;
   * the media service answers it and the ACK carries that answer (3pcc). The terminal joins as
   * a guest, like a caller, with a call record (meeting → account). Refused: not live, full,
   * not registered; the terminal's own refusal (busy, declined, no answer) comes back in words.
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
      if (admission.refusal === 'locked') throw createError('VCBOX_ERR_MEETING_LOCKED', { number });
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: admission.refusal === 'full' ? `the meeting is full (${admission.target?.capacity} participants)` : `the meeting is ${admission.refusal}` });
    }
    const { target, audioOnly } = admission;
    const realm = this.#options.settings.get('network.localDomain');
    const displayName = this.#options.accountName(account) ?? account;
    const participantId = randomUUID();
    const log2 = log.child({ meeting: number, participant: participantId, account });
    let offered: { sdp: string; ack: (sdp: string) => Promise<Srf.Dialog> };
    try {
      offered = (await this.#options.srf.createUAC(binding.contact, {
        headers: { From: `"${live.subject.replace(/"/g, '')}" <sip:${number}@${realm}>`, To: `"${displayName.replace(/"/g, '')}" <sip:${account}@${realm}>`, Subject: live.subject },
        noAck: true,
      } as never)) as unknown as { sdp: string; ack: (sdp: string) => Promise<Srf.Dialog> };
    } catch (error) {
      this.#options.sessions.abandon(number);
      const failure = error as { status?: number; reason?: string; message?: string };
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: failure.status ? `${failure.status} ${failure.reason ?? ''}`.trim() : (failure.message ?? 'no answer') });
    }
    if (!offered.sdp) {
      this.#options.sessions.abandon(number);
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: 'its answer carried no SDP offer' });
    }
    const offer = audioOnly ? declineVideo(offered.sdp) : offered.sdp;
    const callId = `dial-out-${participantId}`;
    const record = this.#options.records.start(target.kind, callId, number, account);
    let answer: Awaited<ReturnType<MediaControl['joinSip']>>;
    try {
      answer = await this.#options.media.joinSip(number, {
        participantId,
        displayName,
        offer,
        srtp: this.#options.settings.get('call.srtp') as SrtpPolicy,
        remoteAddress: binding.source.address,
      });
    } catch (error) {
      this.#options.records.ended(record, 'failed');
      this.#options.sessions.abandon(number);
      // Complete the INVITE (echoing its offer back) and hang up at once.
      void offered.ack(offered.sdp).then((dialog) => dialog.destroy()).catch(() => undefined);
      throw createError('VCBOX_ERR_INVITE_FAILED', { account, reason: (error as Error).message });
    }
    const dialog = await offered.ack(answer.sdp);
    this.#attach(dialog, {
      number,
      participantId,
      displayName,
      account,
      role: 'guest',
      callId,
      source: `${binding.source.address}:${binding.source.port}`,
      address: binding.source.address,
      transport: binding.source.protocol,
      offer,
      audioOnly,
      record,
      sessionSeconds: undefined,
      sessionHeaders: {},
    });
    log2.info({ codec: answer.audioCodec }, 'invited into the meeting');
    return { participantId };
  }

  /**
   * A call the IVR answered, and the participant sessions service admitted, joins its meeting:
   * joined to the meeting's media with the caller's offer, and moved there by a re-INVITE from
   * the box — the same call, no new INVITE. Returns whether that worked.
   */
  async joinFromIvr(
    dialog: Srf.Dialog,
    admission: Extract<Admission, { ok: true }>,
    call: { number: string; offer: string; displayName: string; account: string | null; callId: string; source: string; address: string; transport: string },
  ): Promise<{ ok: true } | { ok: false; refusal: 'media' }> {
    const offer = admission.audioOnly ? declineVideo(call.offer) : call.offer;
    const participantId = randomUUID();
    const record = this.#options.records.start(admission.target.kind, call.callId, call.account ?? call.displayName, call.number);
    try {
      const answer = await this.#options.media.joinSip(call.number, {
        participantId,
        displayName: call.displayName,
        offer,
        srtp: this.#options.settings.get('call.srtp') as SrtpPolicy,
        remoteAddress: call.address,
      });
      await dialog.modify(answer.sdp);
    } catch (error) {
      log.warn({ meeting: call.number, err: (error as Error).message }, 'could not move the IVR caller into the meeting');
      await this.#options.media.leave(call.number, participantId, 'failed').catch(() => undefined);
      this.#options.records.ended(record, 'failed');
      this.#options.sessions.abandon(call.number);
      return { ok: false, refusal: 'media' };
    }
    this.#attach(dialog, { ...call, offer, audioOnly: admission.audioOnly, participantId, role: admission.role, record, sessionSeconds: undefined, sessionHeaders: {} });
    log.info({ meeting: call.number, participant: participantId, role: admission.role }, 'IVR caller joined the meeting');
    return { ok: true };
  }

  /** From the answer on: hang-ups, re-INVITEs, session timer, removal, the live registry. */
  #attach(
    dialog: Srf.Dialog,
    call: {
      number: string;
      participantId: string;
      displayName: string;
      account: string | null;
      role: 'host' | 'guest';
      callId: string;
      source: string;
      /** The caller's address (static NAT: which address the box gives it). */
      address: string;
      transport: string;
      offer: string;
      /** Video declined in every offer of this call (the licence). */
      audioOnly: boolean;
      record: number;
      sessionSeconds: number | undefined;
      sessionHeaders: Record<string, string>;
    },
  ): void {
    const { number, participantId, record, sessionHeaders } = call;
    const log2 = log.child({ meeting: number, participant: participantId });
    this.#options.records.answered(record);
    const leg = { dialog, offer: call.offer, displayName: call.displayName, remoteAddress: call.address, healing: false };
    this.#legs.set(participantId, leg);
    let ended = false;
    const end = (reason: string, by: 'caller' | 'box') => {
      if (ended) return;
      ended = true;
      clearTimeout(sessionTimer);
      this.#legs.delete(participantId);
      if (by === 'box') void Promise.resolve(dialog.destroy({ headers: { Reason: `SIP;cause=200;text="${reason.replace(/"/g, "'")}"` } } as never)).catch(() => undefined);
      void this.#options.media.leave(number, participantId, by === 'caller' ? 'hangup' : reason).catch(() => undefined);
      this.#options.records.ended(record, 'answered');
      this.#options.live.remove(number, participantId, reason);
      log2.info({ by, reason }, 'left the meeting');
    };
    // Without a refresh (re-INVITE or UPDATE) within the interval the session is over (§10).
    let sessionTimer: NodeJS.Timeout | undefined;
    const armSessionTimer = () => {
      if (!call.sessionSeconds) return;
      clearTimeout(sessionTimer);
      const grace = Math.min(32, call.sessionSeconds / 3);
      sessionTimer = setTimeout(() => end('session timer expired (no refresh)', 'box'), (call.sessionSeconds - grace) * 1000);
      sessionTimer.unref();
    };
    armSessionTimer();
    dialog.on('destroy', () => end('hangup', 'caller'));
    // A terminal whose decoder lost the picture asks for a key frame by SIP INFO (RFC 5168), as
    // many room systems do instead of RTCP PLI; any other INFO is acknowledged and ignored.
    dialog.on(
      'info',
      guardRequest('meeting INFO', (infoReq: Srf.SrfRequest, infoRes: Srf.SrfResponse) => {
        infoRes.send(200, {});
        if (!isPictureFastUpdate(infoReq.get('Content-Type') ?? '', infoReq.body ?? '')) return;
        void this.#options.media.requestKeyFrame(number, participantId).catch((error: Error) => log2.debug({ err: error.message }, 'key frame request not served'));
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
        const offer = call.audioOnly ? declineVideo(modifyReq.body) : modifyReq.body;
        let sdp: string;
        try {
          sdp = await this.#options.media.updateSip(number, participantId, offer);
        } catch (error) {
          modifyRes.send(488, `Not Acceptable Here - ${reasonPhrase(error as Error & { params?: { reason?: unknown } })}`, { headers: sdpWarning(error as Error) });
          return;
        }
        leg.offer = offer;
        modifyRes.send(200, { body: sdp, headers: sessionHeaders });
      }),
    );
    this.#options.live.add(number, {
      id: participantId,
      displayName: call.displayName,
      account: call.account,
      role: call.role,
      type: 'sip',
      callId: call.callId,
      source: call.source,
      transport: call.transport,
      joinedAt: new Date(),
      hangUp: (reason) => end(reason, 'box'),
    });
  }

  /** Ends every meeting call (the application is closing). */
  close(): void {
    for (const leg of this.#legs.values()) void Promise.resolve(leg.dialog.destroy()).catch(() => undefined);
    this.#legs.clear();
  }
}
