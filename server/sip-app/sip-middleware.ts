/**
 * The SIP application's request policy as drachtio-srf middleware (`srf.use`), run in order
 * before any handler, so no handler re-checks it:
 *  1. `classifyInvite` — what an INVITE dials (the one dial plan, ./request-dial.ts), once.
 *  2. `entryPolicy` — who may go on: into a meeting or the IVR, an address locked out for wrong
 *     meeting IDs or PINs is refused first (before a digest challenge or the IVR's ports are
 *     spent on it; the participant sessions service decides); then digest authentication when
 *     an account is needed (a call to an account, "meet now", guest access off) or offered.
 *  3. `forDial(kinds, handler)` — the handler of those dial kinds (the IVR, meetings, accounts).
 *  4. `refuseUndeclared` — last: a request out of a dialog that no layer answered is refused
 *     with 501 (deny by default).
 * Handlers read what the policy settled with `inviteOf(req)`.
 */
import type Srf from 'drachtio-srf';
import type { Dial, DialContext } from '../dial-plan/dial-plan.ts';
import type { Entrant, ParticipantSessions } from '../meetings/participant-sessions/participant-sessions.ts';
import { sendRefusal } from './meetings/meeting-calls.ts';
import { dialOfUri } from './request-dial.ts';

/** What the policy settled about an INVITE: what it dials and who sends it (account: null for a guest). */
export interface InviteFacts {
  readonly dial: Dial;
  account: string | null;
}

const facts = new WeakMap<Srf.SrfRequest, InviteFacts>();

type Next = (error?: unknown) => void;
/** A layer; what it returns (a handler's promise) goes to the guard around it (../request-guard.ts). */
export type Middleware = (req: Srf.SrfRequest, res: Srf.SrfResponse, next: Next) => unknown;

/** What the policy settled about this INVITE (it always ran before a handler). */
export function inviteOf(req: Srf.SrfRequest): InviteFacts {
  const found = facts.get(req);
  if (!found) throw new Error('an INVITE reached its handler without the SIP application middleware');
  return found;
}

/** Layer 1: the dial of each INVITE, classified once. */
export function classifyInvite(context: () => DialContext): Middleware {
  return (req, _res, next) => {
    facts.set(req, { dial: dialOfUri(req.uri, context()), account: null });
    next();
  };
}

/** The way into a meeting an INVITE's dial is (undefined: a call to an account, or nothing). */
function wayOf(dial: Dial): { way: Entrant['way']; number: string } | undefined {
  if (dial.kind === 'ivr') return { way: 'ivr', number: dial.number };
  if (dial.kind === 'meeting') return { way: 'sip', number: dial.id };
  if (dial.kind === 'instant') return { way: 'sip', number: dial.number };
  return undefined;
}

/**
 * Layer 2: lock-out, then authentication. `authenticate` answers the challenge or refusal
 * itself and returns undefined then.
 */
export function entryPolicy(sessions: ParticipantSessions, authenticate: (req: Srf.SrfRequest, res: Srf.SrfResponse) => string | undefined): Middleware {
  return (req, res, next) => {
    const invite = inviteOf(req);
    const meeting = wayOf(invite.dial);
    if (meeting) {
      const lockedOut = sessions.lockedOut({ way: meeting.way, address: req.source_address });
      if (lockedOut) {
        sendRefusal(res, meeting.number, lockedOut);
        return;
      }
    }
    // An account is needed to call an account or to "meet now", and to enter a meeting when
    // guest access is off; credentials offered are checked in any case.
    const needed = !meeting || invite.dial.kind === 'instant' || sessions.accountRequired();
    if (needed || req.has('Proxy-Authorization')) {
      const account = authenticate(req, res);
      if (!account) return;
      invite.account = account;
    }
    next();
  };
}

/** Layer 3: `handler` takes the INVITEs that dial one of `kinds`; others go on down the stack. */
export function forDial(kinds: readonly Dial['kind'][], handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => unknown): Middleware {
  return (req, res, next) => {
    if (kinds.includes(inviteOf(req).dial.kind)) return handler(req, res);
    next();
    return undefined;
  };
}

/**
 * Last layer: a request out of any dialog that no handler took is refused with 501. Requests in
 * a dialog (ACK, PRACK, UPDATE, a BYE racing its dialog's end) keep drachtio-srf's own ending.
 */
export const refuseUndeclared: Middleware = (req, res, next) => {
  if (req.method === 'ACK' || /;\s*tag=/i.test(req.get('To') ?? '')) {
    next();
    return;
  }
  if (res.finalResponseSent) return;
  res.send(501, `Not Implemented - the box takes no ${String(req.method).slice(0, 20)} request here`, {});
};
