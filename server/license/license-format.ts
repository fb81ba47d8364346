/**
 * The licence as text: what the vendor signs and the administrator pastes.
 *
 * A licence is an Ed25519 signature (node:crypto) over a canonical payload — compact JSON with
 * its keys in one fixed order: `v`, `serial`, `boxId`, `ports`, `validFrom`, `validUntil`
 * (null = perpetual), `issuedAt` — written as
 *
 *     Serial: …            (informative lines before BEGIN are ignored)
 *     -----BEGIN VCBOX LICENSE-----
 *     base64url(payload).base64url(signature)   (wrapped at 64 columns)
 *     -----END VCBOX LICENSE-----
 *
 * The signature covers the payload bytes exactly as sent, and a payload that is not in the
 * canonical form is refused, so one licence has one text. Here: parsing, checking the fields,
 * signing (for the vendor script) and verifying against the trusted keys. What is NOT here:
 * which keys are trusted (./license-keys.ts), whether the licence is for this box, expired or
 * revoked (./license-store.ts).
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { createError } from '../core/errors.ts';

export const LICENSE_BEGIN = '-----BEGIN VCBOX LICENSE-----';
export const LICENSE_END = '-----END VCBOX LICENSE-----';
/** The longest licence text the API takes (a licence is about 400 characters). */
export const MAX_LICENSE_TEXT = 8192;

export interface LicensePayload {
  /** Format version (1). */
  readonly v: 1;
  readonly serial: string;
  /** The box the licence is for (./box-identity.ts). */
  readonly boxId: string;
  /** Concurrent participants, box-wide, in all meetings together. */
  readonly ports: number;
  /** ISO 8601 UTC times. */
  readonly validFrom: string;
  readonly validUntil: string | null;
  readonly issuedAt: string;
}

/** A licence whose signature one of the trusted keys made. */
export interface VerifiedLicense {
  readonly payload: LicensePayload;
  /** The licence text as pasted (kept to show it again). */
  readonly text: string;
  /** Name of the key that signed it (`vendor` or `test`). */
  readonly key: string;
}

export interface TrustedKey {
  readonly name: string;
  readonly key: KeyObject;
}

export const SERIAL_PATTERN = /^[A-Z0-9][A-Z0-9-]{3,63}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const MAX_PORTS = 10_000;

/** The canonical payload bytes: compact JSON, keys in the fixed order. */
export function canonicalPayload(payload: LicensePayload): Buffer {
  const { v, serial, boxId, ports, validFrom, validUntil, issuedAt } = payload;
  return Buffer.from(JSON.stringify({ v, serial, boxId, ports, validFrom, validUntil, issuedAt }), 'utf8');
}

const malformed = (reason: string) => createError('VCBOX_ERR_LICENSE_MALFORMED', { reason, field: 'license' });

/** The payload's fields as the vendor must write them, or the first broken one. */
export function checkPayload(value: unknown): LicensePayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('the content is not a licence record');
  const p = value as Record<string, unknown>;
  if (p.v !== 1) throw malformed(`licence format version ${JSON.stringify(p.v)} is not known to this software`);
  if (typeof p.serial !== 'string' || !SERIAL_PATTERN.test(p.serial)) throw malformed('the serial is missing or not 4-64 capital letters, digits and dashes');
  if (typeof p.boxId !== 'string' || p.boxId.length < 4 || p.boxId.length > 64) throw malformed('the box ID is missing');
  if (typeof p.ports !== 'number' || !Number.isInteger(p.ports) || p.ports < 1 || p.ports > MAX_PORTS) throw malformed(`the port count is not a whole number from 1 to ${MAX_PORTS}`);
  for (const field of ['validFrom', 'issuedAt'] as const) {
    if (typeof p[field] !== 'string' || !ISO_TIME.test(p[field] as string)) throw malformed(`${field} is not an ISO 8601 UTC time`);
  }
  if (p.validUntil !== null && (typeof p.validUntil !== 'string' || !ISO_TIME.test(p.validUntil))) throw malformed('validUntil is neither an ISO 8601 UTC time nor null (perpetual)');
  if (p.validUntil !== null && Date.parse(p.validUntil as string) <= Date.parse(p.validFrom as string)) throw malformed('validUntil is not after validFrom');
  return {
    v: 1,
    serial: p.serial,
    boxId: p.boxId,
    ports: p.ports,
    validFrom: p.validFrom as string,
    validUntil: p.validUntil as string | null,
    issuedAt: p.issuedAt as string,
  };
}

/** Signs a payload with the vendor's (or the test) private key: the licence text. */
export function issueLicense(payload: LicensePayload, privateKey: KeyObject): string {
  const checked = checkPayload(payload);
  const bytes = canonicalPayload(checked);
  const signature = sign(null, bytes, privateKey);
  const body = `${bytes.toString('base64url')}.${signature.toString('base64url')}`;
  const lines = body.match(/.{1,64}/g) ?? [];
  const until = checked.validUntil ?? 'perpetual';
  return [
    `Serial: ${checked.serial}`,
    `Box: ${checked.boxId}`,
    `Ports: ${checked.ports}`,
    `Valid: ${checked.validFrom} - ${until}`,
    LICENSE_BEGIN,
    ...lines,
    LICENSE_END,
    '',
  ].join('\n');
}

/**
 * Reads a pasted licence and checks its signature against the trusted keys. Throws
 * VCBOX_ERR_LICENSE_MALFORMED (not a licence text, or its content unreadable) or
 * VCBOX_ERR_LICENSE_TAMPERED (well-formed, but no trusted key signed these bytes).
 */
export function verifyLicense(text: string, keys: readonly TrustedKey[]): VerifiedLicense {
  if (text.length > MAX_LICENSE_TEXT) throw malformed(`the text is longer than ${MAX_LICENSE_TEXT} characters`);
  const begin = text.indexOf(LICENSE_BEGIN);
  const end = text.indexOf(LICENSE_END);
  if (begin < 0 || end < begin) throw malformed(`the lines ${LICENSE_BEGIN} and ${LICENSE_END} were not found`);
  const body = text.slice(begin + LICENSE_BEGIN.length, end).replace(/\s+/g, '');
  const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(body);
  if (!match?.[1] || !match[2]) throw malformed('the part between the BEGIN and END lines is not payload.signature in base64url');
  const bytes = Buffer.from(match[1], 'base64url');
  const signature = Buffer.from(match[2], 'base64url');
  if (signature.length !== 64) throw malformed('the signature is not 64 bytes long (the text is cut or garbled)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    // Unreadable content under a well-formed envelope: changed bytes, most likely.
    throw createError('VCBOX_ERR_LICENSE_TAMPERED', { field: 'license' });
  }
  const signer = keys.find((k) => verify(null, bytes, k.key, signature));
  if (!signer) throw createError('VCBOX_ERR_LICENSE_TAMPERED', { field: 'license' });
  const payload = checkPayload(parsed);
  if (!canonicalPayload(payload).equals(bytes)) throw malformed('the content is not in the canonical form the vendor signs');
  return { payload, text: text.trim(), key: signer.name };
}
