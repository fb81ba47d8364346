/**
 * What a SIP request dials: the user part of a URI (the Request-URI of an INVITE, the To of a
 * REGISTER), percent-decoded as RFC 3261 compares it (`ID%2A%2APIN` is `ID**PIN`), classified
 * by the one dial plan (server/dial-plan/dial-plan.ts). The dispatch, the meeting and
 * point-to-point handlers and the registrar all read numbers through here.
 */
import { classifyDial, type Dial, type DialContext, MAX_DIAL_LENGTH } from '../dial-plan/dial-plan.ts';
import { parseUri } from '../signaling/sip/sip-uri.ts';

export function dialOfUri(uri: string, context?: DialContext): Dial {
  const user = parseUri(uri)?.user ?? '';
  // Each dialled character is at most three when encoded (%2A); anything longer is refused undecoded.
  if (user.length > 3 * MAX_DIAL_LENGTH) return classifyDial(user, context);
  let decoded: string;
  try {
    decoded = decodeURIComponent(user);
  } catch {
    // Broken percent-encoding: classified as written ('%' is no digit).
    return classifyDial(user, context);
  }
  return classifyDial(decoded, context);
}
