/**
 * The access number's IVR (drachtio-srf INVITE handler for the `call.ivrAccessNumber`
 * setting): an adapter over the participant sessions service (server/meetings/participant-
 * sessions), which decides every entry — as for a direct dial, the SIP application's
 * middleware (../sip-middleware.ts) refuses an address locked out for wrong meeting IDs or PINs
 * before the IVR answers, and with guest access off has the caller authenticate (digest) first. The box answers with IVR media (media/ivr, the IVR port
 * range), greets the caller in the `call.ivrLanguage` language and asks for the meeting ID
 * followed by #, then — when the meeting has a guest PIN — for the PIN; a wrong entry is said
 * so and asked again (3 tries, then goodbye and hang-up; each wrong one counted by the service,
 * which may lock the address or the meeting's PIN entry out: "too many attempts", goodbye); a
 * meeting not started yet, locked or full is said so before hanging up. On success it says "you are joining the meeting" (and "you are the first
 * participant" when alone) and moves the caller into the meeting by a re-INVITE — the same
 * call, with the participant's session (call record, media, live entry) from then on, as a
 * direct caller's. Digits come as RFC 4733 events (media side) or SIP INFO (dtmf-relay or dtmf); `*`
 * starts the entry again; inter-digit and overall timeouts end an entry.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { MediaServiceEvents } from '../../../media/media-service.ts';
import { DIALLED_PIN_MAX_DIGITS, isMeetingNumber } from '../../dial-plan/dial-plan.ts';
import { getLogger } from '../../core/logger.ts';
import type { Entrant, MeetingTarget, ParticipantSessions, RefusalKind } from '../../meetings/participant-sessions/participant-sessions.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { callerOf, reasonPhrase, sdpWarning } from '../calls/caller.ts';
import type { MeetingCalls } from '../meetings/meeting-calls.ts';
import { onDialogEnd } from '../dialog-end.ts';
import { inviteOf } from '../sip-middleware.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('ivr-calls');

export interface IvrTimeouts {
  /** Longest pause between two digits. */
  readonly interDigitMs: number;
  /** Longest time for one whole entry. */
  readonly entryMs: number;
}

export interface IvrCallsOptions {
  readonly srf: Srf;
  readonly media: MediaControl;
  readonly mediaEvents?: Pick<EventEmitter<MediaServiceEvents>, 'on'>;
  readonly settings: SettingsStore;
  /** The one way into a meeting: the IVR asks it for the meeting, the PIN and the admission. */
  readonly sessions: ParticipantSessions;
  readonly meetingCalls: MeetingCalls;
  readonly timeouts?: IvrTimeouts;
}

/** Digits of one IVR call, as they come; `next()` waits for one (or undefined at the timeout). */
class DigitQueue {
  readonly #digits: string[] = [];
  #waiter: ((digit: string | undefined) => void) | undefined;
  #closed = false;

  push(digit: string): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(digit);
    } else this.#digits.push(digit);
  }

  next(timeoutMs: number): Promise<string | undefined> {
    const queued = this.#digits.shift();
    if (queued !== undefined || this.#closed) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (digit) => {
        clearTimeout(timer);
        resolve(digit);
      };
    });
  }

  get pending(): boolean {
    return this.#digits.length > 0;
  }

  close(): void {
    this.#closed = true;
    this.#waiter?.(undefined);
    this.#waiter = undefined;
  }
}

/** The digit of a SIP INFO body: application/dtmf-relay (`Signal=5`) or application/dtmf (`5`). */
export function infoDigit(contentType: string, body: string): string | undefined {
  const type = contentType.toLowerCase();
  const value = type.includes('dtmf-relay') ? /signal\s*=\s*([0-9*#A-Da-d]|1[0-1])/i.exec(body)?.[1] : type.includes('application/dtmf') ? body.trim() : undefined;
  if (value === '10') return '*';
  if (value === '11') return '#';
  return value && /^[0-9*#A-Da-d]$/.test(value) ? value.toUpperCase() : undefined;
}

export class IvrCalls {
  readonly #options: IvrCallsOptions;
  readonly #queues = new Map<string, DigitQueue>();
  /** The calls in the IVR now (answered, not in a meeting yet): how each is ended from the box's side. */
  readonly #active = new Map<string, (reason: string) => Promise<unknown>>();

  constructor(options: IvrCallsOptions) {
    this.#options = options;
    options.mediaEvents?.on('ivrdigit', (id, digit) => this.#queues.get(id)?.push(digit));
  }

  handle = async (req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> => {
    const id = randomUUID();
    const { media, sessions } = this.#options;
    // Lock-out and digest were settled by the SIP application's middleware (../sip-middleware.ts).
    const { account } = inviteOf(req);
    const entrant: Entrant = { way: 'ivr', address: req.source_address, account };
    if (!req.body?.includes('m=')) {
      res.send(488, 'Not Acceptable Here - send an SDP offer in the INVITE', {});
      return;
    }
    let answer: { sdp: string; codec: string };
    try {
      answer = await media.ivrStart(id, req.body, req.source_address);
    } catch (error) {
      const err = error as Error & { code?: string; params?: { reason?: unknown } };
      if (err.code === 'VCBOX_ERR_MEDIA_SDP') res.send(488, `Not Acceptable Here - ${reasonPhrase(err)}`, { headers: sdpWarning(err) });
      else res.send(503, 'Service Unavailable - the media service is not running', { headers: { 'Retry-After': '10' } });
      return;
    }
    let dialog: Srf.Dialog;
    try {
      dialog = await this.#options.srf.createUAS(req, res, { localSdp: answer.sdp });
    } catch {
      void media.ivrStop(id).catch(() => undefined);
      return;
    }
    const queue = new DigitQueue();
    this.#queues.set(id, queue);
    let active = true;
    const stop = () => {
      active = false;
      queue.close();
      this.#queues.delete(id);
      this.#active.delete(id);
      void media.ivrStop(id).catch(() => undefined);
    };
    // An IVR call has no meeting leg to be taken over by a restarted control plane: the box's stop ends it.
    this.#active.set(id, (reason) => {
      dialog.off('destroy', stop);
      stop();
      return Promise.resolve(dialog.destroy({ headers: { Reason: `SIP;cause=200;text="${reason.replace(/"/g, "'")}"` } } as never)).catch(() => undefined);
    });
    // The caller may have hung up already (its BYE read with the answer): ../dialog-end.ts.
    onDialogEnd(dialog, stop);
    if (!active) return; // the caller left with the answer: nothing to ask
    const onInfo = (infoReq: Srf.SrfRequest, infoRes: Srf.SrfResponse) => {
      const digit = infoDigit(infoReq.get('Content-Type') ?? '', infoReq.body ?? '');
      infoRes.send(digit ? 200 : 415, {});
      // Through the media side (barge-in there), which reports it back like a tone.
      if (digit) void media.ivrDigit(id, digit).catch(() => undefined);
    };
    dialog.on('info', onInfo);
    const from = callerOf(req);
    const caller = from.user;
    const call = {
      offer: req.body,
      displayName: from.displayName ?? caller,
      account,
      callId: from.callId || id,
      source: from.source,
      address: from.address,
      transport: from.transport,
    };
    const language = this.#options.settings.get('call.ivrLanguage');
    const timeouts = this.#options.timeouts ?? { interDigitMs: 5000, entryMs: 20_000 };
    const log2 = log.child({ ivr: id, caller, codec: answer.codec });
    log2.info({ language }, 'IVR call answered');

    const say = async (...prompts: string[]) => {
      if (!active) return;
      await media.ivrPlay(id, language, prompts).catch(() => 'interrupted');
    };
    const hangUp = async (...prompts: string[]) => {
      await say(...prompts, 'goodbye');
      if (active) void Promise.resolve(dialog.destroy()).catch(() => undefined);
      stop();
    };
    /** One entry: digits until #, * starts over; undefined when nothing usable came in time. */
    const entry = async (): Promise<string | undefined> => {
      let value = '';
      const deadline = monotonicMs() + timeouts.entryMs;
      while (active) {
        const digit = await queue.next(Math.min(timeouts.interDigitMs, Math.max(0, deadline - monotonicMs())));
        if (digit === undefined) return value || undefined;
        if (digit === '#') return value;
        if (digit === '*') value = '';
        else if (value.length < DIALLED_PIN_MAX_DIGITS) value += digit;
      }
      return undefined;
    };

    /** The prompt that says why the service refused (before goodbye). */
    const refusalPrompt = (refusal: RefusalKind): string =>
      refusal === 'locked-out' || refusal === 'meeting-locked-out'
        ? 'too-many-attempts'
        : refusal === 'locked' || refusal === 'not-started'
          ? refusal
          : refusal === 'full' || refusal === 'license-ports' || refusal === 'media-ports'
            ? 'full'
            : refusal === 'wrong-pin' || refusal === 'pin-required'
              ? 'invalid-pin'
              : 'invalid-id';

    // 1. The meeting ID (a number that names no meeting is counted as a wrong ID).
    let number: string | undefined;
    let target: MeetingTarget | undefined;
    for (let attempt = 0; attempt < 3 && active && !target; attempt++) {
      if (!queue.pending) await say(...(attempt === 0 ? ['welcome'] : ['invalid-id', 'welcome']));
      number = await entry();
      if (!number || !isMeetingNumber(number)) continue;
      const found = sessions.findMeeting(entrant, number);
      if (!('ok' in found)) target = found;
      else if (found.refusal !== 'not-found' && found.refusal !== 'ended') return hangUp(refusalPrompt(found.refusal));
    }
    if (!target || !number) return hangUp('invalid-id');

    // 2. The PIN, when the meeting has a guest PIN (the host PIN is accepted too); each wrong one counted.
    let pin: string | undefined;
    if (target.guestPin !== '') {
      let valid = false;
      for (let attempt = 0; attempt < 3 && active && !valid; attempt++) {
        await say(...(attempt === 0 ? ['enter-pin'] : ['invalid-pin', 'enter-pin']));
        pin = await entry();
        const role = sessions.checkPin(entrant, target, pin);
        valid = typeof role === 'string';
        if (typeof role !== 'string' && role.refusal !== 'wrong-pin' && role.refusal !== 'pin-required') return hangUp(refusalPrompt(role.refusal));
      }
      if (!valid) return hangUp('invalid-pin');
    }
    if (!active) return;

    // 3. Into the meeting: admitted by the service (every rule again: lock, capacity, licence).
    const admission = sessions.admit(entrant, number, pin);
    if (!admission.ok) {
      log2.info({ refusal: admission.refusal }, 'IVR caller could not join');
      return hangUp(refusalPrompt(admission.refusal));
    }
    const first = admission.live.participants.size === 0;
    await say(...(first ? ['joining', 'first'] : ['joining']));
    if (!active) {
      sessions.abandon(number);
      return;
    }
    // From here the meeting answers the call's INFO requests (key frame requests), not the IVR.
    dialog.off('info', onInfo);
    const joined = await this.#options.meetingCalls.joinFromIvr(dialog, admission, { number, ...call });
    if (!joined.ok) {
      log2.info({ refusal: joined.refusal }, 'IVR caller could not join');
      return hangUp('invalid-id');
    }
    // The caller's media is the meeting's now: the IVR's ports are free again.
    dialog.off('destroy', stop);
    active = false;
    queue.close();
    this.#queues.delete(id);
    this.#active.delete(id);
    void media.ivrStop(id).catch(() => undefined);
    log2.info({ meeting: number }, 'IVR caller moved into the meeting');
  };

  /** Ends every call still in the IVR (the control plane stops): BYE saying `reason`; resolves once each BYE was answered or failed. */
  close(reason: string): Promise<unknown> {
    const ends = [...this.#active.values()].map((end) => end(reason));
    this.#active.clear();
    return Promise.allSettled(ends);
  }
}
