/**
 * The one dial plan: what a dialled string is. Accounts are exactly 4 digits (SPEC "Accounts");
 * meetings and VMRs take 5 to 12 digits and are dialled `ID` or `ID**PIN` (SPEC "Rooms and
 * meetings"); the IVR access number (setting call.ivrAccessNumber) is dialled alone; the
 * instant-meeting number (call.instantMeetingNumber, a terminal's "meet now") starts a meeting,
 * any PIN dialled after it ignored. `classifyDial` answers with a tagged result; the stores'
 * number checks, the SIP dispatch and handlers, the IVR and the console routes all ask it, and
 * the API schemas use the patterns here. Pure: no storage, no settings read (the caller passes
 * the two reserved numbers in).
 *
 * Only ASCII digits count (a full-width or Arabic-Indic digit is refused, not folded), and
 * anything longer than a dial string can be is refused before it is looked at.
 */
import { randomInt } from 'node:crypto';

/** An account number: exactly this many digits. */
export const ACCOUNT_DIGITS = 4;
/** A meeting or VMR number: this many digits. */
export const MEETING_DIGITS = { min: 5, max: 12 } as const;
/** A PIN dialled after `**` (or keyed into the IVR): 1 to this many digits; a wrong one is counted, not refused here. */
export const DIALLED_PIN_MAX_DIGITS = 16;
/** A PIN a meeting or VMR is given (host or guest). */
export const STORED_PIN_DIGITS = { min: 4, max: 8 } as const;
/** What separates a meeting ID from its PIN. */
export const PIN_SEPARATOR = '**';
/** The longest string that can be a dial string (`ID**PIN`). */
export const MAX_DIAL_LENGTH = MEETING_DIGITS.max + PIN_SEPARATOR.length + DIALLED_PIN_MAX_DIGITS;

/** The API schemas' patterns of the same shapes (JSON Schema / OpenAPI). */
export const ACCOUNT_NUMBER_PATTERN = `^[0-9]{${ACCOUNT_DIGITS}}$`;
export const MEETING_NUMBER_PATTERN = `^[0-9]{${MEETING_DIGITS.min},${MEETING_DIGITS.max}}$`;
export const STORED_PIN_PATTERN = `^[0-9]{${STORED_PIN_DIGITS.min},${STORED_PIN_DIGITS.max}}$`;
/** A guest PIN may also be empty (no guest PIN). */
export const OPTIONAL_PIN_PATTERN = `^([0-9]{${STORED_PIN_DIGITS.min},${STORED_PIN_DIGITS.max}})?$`;

/** The numbers the box's settings reserve (call.ivrAccessNumber, call.instantMeetingNumber). */
export interface DialContext {
  readonly ivrAccessNumber: string;
  readonly instantMeetingNumber: string;
}

/** Why a string is no number of the dial plan. */
export type DialProblem =
  | 'empty'
  | 'id-empty'
  | 'too-long'
  | 'not-digits'
  | 'too-short'
  | 'account-with-pin'
  | 'pin-empty'
  | 'pin-not-digits'
  | 'pin-too-long';

export type Dial =
  | { readonly kind: 'account'; readonly number: string }
  | { readonly kind: 'meeting'; readonly id: string; readonly pin?: string }
  | { readonly kind: 'ivr'; readonly number: string }
  | { readonly kind: 'instant'; readonly number: string }
  | { readonly kind: 'invalid'; readonly reason: DialProblem; readonly message: string };

const PROBLEMS: Record<DialProblem, string> = {
  empty: 'nothing was dialled',
  'id-empty': `dial the meeting ID before ${PIN_SEPARATOR}PIN`,
  'too-long': `a dial string has at most ${MAX_DIAL_LENGTH} characters: a meeting ID of ${MEETING_DIGITS.min} to ${MEETING_DIGITS.max} digits, ${PIN_SEPARATOR}, and a PIN of at most ${DIALLED_PIN_MAX_DIGITS} digits`,
  'not-digits': `dial digits 0-9 only: an account of ${ACCOUNT_DIGITS} digits or a meeting ID of ${MEETING_DIGITS.min} to ${MEETING_DIGITS.max} digits (ID${PIN_SEPARATOR}PIN)`,
  'too-short': `an account has ${ACCOUNT_DIGITS} digits and a meeting ID ${MEETING_DIGITS.min} to ${MEETING_DIGITS.max} digits`,
  'account-with-pin': `an account (${ACCOUNT_DIGITS} digits) is dialled without a PIN; ID${PIN_SEPARATOR}PIN is for meetings`,
  'pin-empty': `a PIN follows ${PIN_SEPARATOR}: dial ID${PIN_SEPARATOR}PIN, or the ID alone`,
  'pin-not-digits': 'a PIN is digits 0-9 only',
  'pin-too-long': `a PIN has at most ${DIALLED_PIN_MAX_DIGITS} digits`,
};

const invalid = (reason: DialProblem): Dial => ({ kind: 'invalid', reason, message: PROBLEMS[reason] });

/** Only the ASCII digits 0-9 (no Unicode digit classes). */
function isAsciiDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/**
 * What `input` dials (already percent-decoded: the SIP layer decodes the Request-URI user part).
 * Without a context the reserved numbers are not known and classify as meetings.
 */
export function classifyDial(input: string, context?: DialContext): Dial {
  if (typeof input !== 'string' || input.length === 0) return invalid('empty');
  if (input.length > MAX_DIAL_LENGTH) return invalid('too-long');
  const separator = input.indexOf(PIN_SEPARATOR);
  const id = separator < 0 ? input : input.slice(0, separator);
  const pin = separator < 0 ? undefined : input.slice(separator + PIN_SEPARATOR.length);
  if (!isAsciiDigits(id)) return invalid(id.length === 0 ? 'id-empty' : 'not-digits');
  if (id.length < ACCOUNT_DIGITS || (id.length > ACCOUNT_DIGITS && id.length < MEETING_DIGITS.min)) return invalid('too-short');
  if (id.length > MEETING_DIGITS.max) return invalid('too-long');
  if (pin !== undefined) {
    if (id.length === ACCOUNT_DIGITS) return invalid('account-with-pin');
    if (pin.length === 0) return invalid('pin-empty');
    if (!isAsciiDigits(pin)) return invalid('pin-not-digits');
    if (pin.length > DIALLED_PIN_MAX_DIGITS) return invalid('pin-too-long');
  }
  if (id.length === ACCOUNT_DIGITS) return { kind: 'account', number: id };
  if (context && pin === undefined && id === context.ivrAccessNumber) return { kind: 'ivr', number: id };
  if (context && id === context.instantMeetingNumber) return { kind: 'instant', number: id };
  return pin === undefined ? { kind: 'meeting', id } : { kind: 'meeting', id, pin };
}

/** An account number (exactly 4 ASCII digits). */
export function isAccountNumber(text: unknown): text is string {
  return typeof text === 'string' && classifyDial(text).kind === 'account';
}

/** A meeting/VMR number (5 to 12 ASCII digits, no PIN). Reserved numbers have this shape too. */
export function isMeetingNumber(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const dial = classifyDial(text);
  return dial.kind === 'meeting' && dial.pin === undefined;
}

/** Reads the two reserved numbers (the settings store has this shape). */
export interface ReservedNumberSource {
  get(key: 'call.ivrAccessNumber' | 'call.instantMeetingNumber'): string;
}

/** The dial context the settings give now. */
export function dialContextOf(settings: ReservedNumberSource): DialContext {
  return { ivrAccessNumber: settings.get('call.ivrAccessNumber'), instantMeetingNumber: settings.get('call.instantMeetingNumber') };
}

/** A PIN as dialled or keyed (1 to 16 ASCII digits). */
export function isDialledPin(text: unknown): text is string {
  return typeof text === 'string' && text.length <= DIALLED_PIN_MAX_DIGITS && isAsciiDigits(text);
}

/** A PIN a meeting or VMR can be given (4 to 8 ASCII digits). */
export function isStoredPin(text: unknown): text is string {
  return typeof text === 'string' && text.length >= STORED_PIN_DIGITS.min && text.length <= STORED_PIN_DIGITS.max && isAsciiDigits(text);
}

/** The user part a terminal dials for a meeting: `ID`, or `ID**PIN` with a PIN. */
export function formatDial(id: string, pin?: string): string {
  return pin ? `${id}${PIN_SEPARATOR}${pin}` : id;
}

/** Random digits, the first not 0 (generated numbers and PINs). */
export function randomDigits(length: number): string {
  return Array.from({ length }, (_, i) => String(randomInt(i === 0 ? 1 : 0, 10))).join('');
}
