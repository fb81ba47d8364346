/**
 * Point-to-point calls between registered accounts (drachtio-srf INVITE handler): the caller
 * authenticates (407 digest challenge), the dialled 4-digit account's registered terminals
 * are called all at once, the first to answer wins and the others are cancelled; busy, no
 * answer, caller hang-up before answer and failures end cleanly with the fitting status. The
 * box stays in the call as a B2BUA (so hang-ups and re-INVITEs are relayed) and writes one
 * call record (type p2p) per call.
 */
import type Srf from 'drachtio-srf';
import { onDialogEnd } from '../dialog-end.ts';
import type { AccountStore } from '../../accounts/account-store.ts';
import type { CallOutcome, CallRecords } from '../../cdr/call-records.ts';
import { monotonicMs } from '../../core/clock.ts';
import { getLogger } from '../../core/logger.ts';
import type { AuthLockout } from '../registrar/auth-lockout.ts';
import type { DigestAlgorithm, DigestAuthenticator } from '../registrar/digest-auth.ts';
import type { LocationService } from '../registrar/location-service.ts';
import { dialOfUri } from '../request-dial.ts';
import { inviteOf } from '../sip-middleware.ts';
import { guardRequest } from '../request-guard.ts';

const log = getLogger('p2p-calls');

export interface PointToPointOptions {
  readonly srf: Srf;
  readonly accounts: AccountStore;
  readonly location: LocationService;
  readonly digest: DigestAuthenticator;
  readonly records: CallRecords;
  readonly realm: () => string;
  readonly algorithms: () => readonly DigestAlgorithm[];
  /** Addresses that keep failing authentication (shared with REGISTER). */
  readonly lockout: AuthLockout;
  /** How long the callee's terminals ring before the caller hears "no answer" (480). */
  readonly noAnswerTimeoutMs?: number;
}

interface SipFailure {
  status?: number;
}

export class PointToPointCalls {
  readonly #options: PointToPointOptions;
  /** The answered calls now: how each is ended from the box's side. */
  readonly #active = new Set<(reason: string) => Promise<unknown>>();

  constructor(options: PointToPointOptions) {
    this.#options = options;
  }

  /** Authenticates the caller; answers the challenge/refusal itself and returns undefined then. */
  authenticate(req: Srf.SrfRequest, res: Srf.SrfResponse): string | undefined {
    if (this.#options.lockout.isLocked(req.source_address)) {
      res.send(403, 'Too many failed authentications; try again later', {});
      return undefined;
    }
    const realm = this.#options.realm();
    const source = req.source_address;
    const algorithms = this.#options.algorithms();
    const header = req.get('Proxy-Authorization');
    const challenge = (stale: boolean) =>
      res.send(407, { headers: { 'Proxy-Authenticate': this.#options.digest.challenges(realm, algorithms, source, stale).join(', ') } });
    if (!header) {
      challenge(false);
      return undefined;
    }
    const result = this.#options.digest.verify(header, { method: 'INVITE', uri: req.uri, source }, realm, algorithms, (username) =>
      this.#options.accounts.credentials(username, realm),
    );
    // Only a wrong password against a nonce issued to this address counts towards lock-out.
    if (result.outcome === 'challenge') {
      log.debug({ source, reason: result.reason }, 'INVITE challenged again');
      challenge(result.stale);
      return undefined;
    }
    if (result.outcome === 'refused') {
      log.debug({ source, reason: result.reason }, 'INVITE refused');
      res.send(403, `Forbidden - ${result.reason}`, {});
      return undefined;
    }
    if (result.outcome === 'failed') {
      this.#options.lockout.failed(source, result.username ?? '', 'INVITE', result.reason);
      res.send(403, 'Forbidden - wrong account or password', {});
      return undefined;
    }
    this.#options.lockout.succeeded(req.source_address);
    return result.username;
  }

  /** An INVITE to an account; its caller authenticated already (the SIP application's middleware, ../sip-middleware.ts). */
  handle = async (req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> => {
    const caller = inviteOf(req).account;
    if (!caller) throw new Error('a call to an account reached its handler unauthenticated');
    const dial = dialOfUri(req.uri);
    if (dial.kind === 'invalid') {
      res.send(404, `Not Found - ${dial.message}`, {});
      return;
    }
    const callee = dial.kind === 'account' ? dial.number : '';
    const realm = this.#options.realm();
    if (!callee || !this.#options.accounts.findByNumber(callee)) {
      res.send(404, 'Not Found - no such account', {});
      return;
    }
    const bindings = this.#options.location.lookup(callee);
    if (bindings.length === 0) {
      res.send(480, 'Temporarily Unavailable - not registered', {});
      return;
    }
    const callerAccount = this.#options.accounts.findByNumber(caller);
    const callerName = callerAccount?.name ?? caller;
    const record = this.#options.records.start('p2p', req.get('Call-ID') ?? '', caller, callee);
    const log2 = log.child({ caller, callee, record });
    log2.info({ contacts: bindings.length }, 'calling');

    const pending = new Map<string, Srf.SrfRequest>();
    let settled = false;
    let canceled = false;
    let timedOut = false;
    let ringing = false;
    const cancelOthers = (keep?: string) => {
      for (const [contact, sent] of pending) {
        if (contact === keep) continue;
        try {
          sent.cancel(() => undefined);
        } catch (error) {
          log.warn({ contact, err: (error as Error).message }, 'could not cancel a forked INVITE');
        }
      }
    };
    req.on('cancel', () => {
      canceled = true;
      cancelOthers();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      cancelOthers();
    }, this.#options.noAnswerTimeoutMs ?? 60_000);

    const fromHeader = `"${callerName.replace(/"/g, '')}" <sip:${caller}@${realm}>`;
    const attempts = bindings.map((binding) =>
      this.#options.srf
        .createUAC(
          binding.contact,
          { localSdp: req.body, headers: { From: fromHeader, To: `<sip:${callee}@${realm}>`, Subject: req.get('Subject') ?? '' } },
          {
            cbRequest: requestCallback((sent) => pending.set(binding.contact, sent)),
            cbProvisional: (provisional) => {
              if (ringing || settled || (provisional.status !== 180 && provisional.status !== 183)) return;
              ringing = true;
              res.send(180, {});
            },
          },
        )
        .then((uac) => {
          pending.delete(binding.contact);
          if (settled || canceled || timedOut) {
            uac.destroy();
            return undefined;
          }
          settled = true;
          cancelOthers(binding.contact);
          return uac;
        })
        .catch((error: SipFailure) => {
          pending.delete(binding.contact);
          return error.status ?? 500;
        }),
    );

    // The first answer wins; if none answers, every attempt ends with a status.
    const winner = await new Promise<Srf.Dialog | number[]>((resolve) => {
      const statuses: number[] = [];
      for (const attempt of attempts) {
        void attempt.then((outcome) => {
          if (typeof outcome === 'object') resolve(outcome);
          else statuses.push(outcome ?? 487);
          if (statuses.length === attempts.length) resolve(statuses);
        });
      }
    });
    clearTimeout(timer);

    if (Array.isArray(winner)) {
      const outcome: CallOutcome = canceled ? 'canceled' : timedOut ? 'no-answer' : winner.some((s) => s === 486 || s === 600) ? 'busy' : winner.some((s) => s === 603) ? 'rejected' : 'failed';
      this.#options.records.ended(record, outcome);
      log2.info({ outcome, statuses: winner }, 'call not answered');
      if (canceled) return; // the signaling service already answered 487
      if (outcome === 'busy') res.send(486, 'Busy Here', {});
      else if (outcome === 'rejected') res.send(603, 'Decline', {});
      else if (outcome === 'no-answer') res.send(480, 'Temporarily Unavailable - no answer', {});
      else res.send(winner.includes(408) ? 408 : 480, {});
      return;
    }

    const uac = winner;
    let uas: Srf.Dialog;
    try {
      uas = await this.#options.srf.createUAS(req, res, { localSdp: uac.remote.sdp });
    } catch (error) {
      log2.info({ err: (error as Error).message }, 'caller left before the answer reached it');
      uac.destroy();
      this.#options.records.ended(record, 'canceled');
      return;
    }
    this.#options.records.answered(record);
    // The record's duration is measured on the monotonic clock (server/core/clock.ts).
    const answeredAt = monotonicMs();
    const seconds = () => (monotonicMs() - answeredAt) / 1000;
    log2.info('call answered');
    const hangUp = (by: 'caller' | 'callee') => {
      this.#options.records.ended(record, 'answered', new Date(), undefined, seconds());
      this.#active.delete(endByBox);
      log2.info({ by }, 'call ended');
    };
    const onUasGone = () => {
      uac.destroy();
      hangUp('caller');
    };
    const onUacGone = () => {
      uas.destroy();
      hangUp('callee');
    };
    // The box's stop ends the call: BYE to both terminals saying why, the record closed with it.
    const endByBox = (reason: string): Promise<unknown> => {
      uas.off('destroy', onUasGone);
      uac.off('destroy', onUacGone);
      this.#active.delete(endByBox);
      this.#options.records.ended(record, 'answered', new Date(), reason, seconds());
      log2.info({ reason }, 'call ended by the box');
      const bye = { headers: { Reason: `SIP;cause=200;text="${reason.replace(/"/g, "'")}"` } } as never;
      return Promise.allSettled([Promise.resolve(uas.destroy(bye)), Promise.resolve(uac.destroy(bye))]);
    };
    this.#active.add(endByBox);
    // Either side may have hung up already (its BYE read with the answer): ./dialog-end.ts.
    onDialogEnd(uas, onUasGone);
    if (this.#active.has(endByBox)) onDialogEnd(uac, onUacGone);
    const relayModify = (from: Srf.Dialog, to: Srf.Dialog) =>
      from.on(
        'modify',
        guardRequest('p2p re-INVITE', async (modifyReq: Srf.SrfRequest, modifyRes: Srf.SrfResponse) => {
          let sdp: string;
          try {
            sdp = await to.modify(modifyReq.body);
          } catch (error) {
            modifyRes.send((error as SipFailure).status ?? 488, {});
            return;
          }
          modifyRes.send(200, { body: sdp });
        }),
      );
    relayModify(uas, uac);
    relayModify(uac, uas);
  };

  /**
   * Ends every answered call (the control plane stops; a point-to-point call is not taken over
   * by a restarted one, docs/operations.md says why): BYE to both terminals saying `reason`, each
   * record closed with it. Resolves once every BYE was answered or failed.
   */
  close(reason: string): Promise<unknown> {
    const ends = [...this.#active].map((end) => end(reason));
    this.#active.clear();
    return Promise.allSettled(ends);
  }
}

/**
 * srf calls `cbRequest(err, req)`, while its typings declare `(req)`: adapt a handler of the
 * request sent to the real signature.
 */
function requestCallback(handler: (sent: Srf.SrfRequest) => void): (req: Srf.SrfRequest) => void {
  const adapted = (error: unknown, sent: Srf.SrfRequest | undefined) => {
    if (!error && sent) handler(sent);
  };
  return adapted as unknown as (req: Srf.SrfRequest) => void;
}
