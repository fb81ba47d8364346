/**
 * BFCP message encode/decode (RFC 8855, "BFCPbis", which keeps RFC 4582's wire format): the
 * 12-octet common header (version 1 over TCP, 2 over UDP; R and F bits; primitive; payload
 * length in 4-octet units; conference, transaction and user IDs; the fragment offset and length
 * when F is set) and the TLV attributes (7-bit type, M bit, length without padding, padded to 4
 * octets), grouped ones included.
 *
 * Decoding is strict and bounded: a message larger than MAX_MESSAGE_BYTES, attributes nested
 * deeper than MAX_NESTING or more than MAX_ATTRIBUTES of them, a length that disagrees with the
 * bytes, or an attribute value of the wrong size throws a BfcpDecodeError carrying the BFCP
 * error code (RFC 8855 §5.2.6) the floor control server answers with. These are protocol
 * errors (like SIP status codes), not appliance errors, so they do not live in
 * server/core/errors.ts. Unknown attributes decode as `UNKNOWN` (the server refuses unknown
 * mandatory ones); unknown primitives decode (the server answers "Unknown Primitive").
 */

/** Primitives (RFC 8855 §5.1). */
export const Primitive = {
  FloorRequest: 1,
  FloorRelease: 2,
  FloorRequestQuery: 3,
  FloorRequestStatus: 4,
  UserQuery: 5,
  UserStatus: 6,
  FloorQuery: 7,
  FloorStatus: 8,
  ChairAction: 9,
  ChairActionAck: 10,
  Hello: 11,
  HelloAck: 12,
  Error: 13,
  FloorRequestStatusAck: 14,
  FloorStatusAck: 15,
  Goodbye: 16,
  GoodbyeAck: 17,
} as const;

const PRIMITIVE_NAMES = new Map<number, string>(Object.entries(Primitive).map(([name, value]) => [value, name]));

/** The primitive's name for logs and test output ("Unknown(42)" for one outside the RFC). */
export function primitiveName(primitive: number): string {
  return PRIMITIVE_NAMES.get(primitive) ?? `Unknown(${primitive})`;
}

/** Attribute types (RFC 8855 §5.2). */
export const AttributeType = {
  BENEFICIARY_ID: 1,
  FLOOR_ID: 2,
  FLOOR_REQUEST_ID: 3,
  PRIORITY: 4,
  REQUEST_STATUS: 5,
  ERROR_CODE: 6,
  ERROR_INFO: 7,
  PARTICIPANT_PROVIDED_INFO: 8,
  STATUS_INFO: 9,
  SUPPORTED_ATTRIBUTES: 10,
  SUPPORTED_PRIMITIVES: 11,
  USER_DISPLAY_NAME: 12,
  USER_URI: 13,
  BENEFICIARY_INFORMATION: 14,
  FLOOR_REQUEST_INFORMATION: 15,
  REQUESTED_BY_INFORMATION: 16,
  FLOOR_REQUEST_STATUS: 17,
  OVERALL_REQUEST_STATUS: 18,
} as const;

/** Request status values (REQUEST-STATUS, RFC 8855 §5.2.5). */
export const RequestStatus = {
  Pending: 1,
  Accepted: 2,
  Granted: 3,
  Denied: 4,
  Cancelled: 5,
  Released: 6,
  Revoked: 7,
} as const;

/** Error codes (ERROR-CODE, RFC 8855 §5.2.6). */
export const ErrorCode = {
  ConferenceDoesNotExist: 1,
  UserDoesNotExist: 2,
  UnknownPrimitive: 3,
  UnknownMandatoryAttribute: 4,
  UnauthorizedOperation: 5,
  InvalidFloorId: 6,
  FloorRequestIdDoesNotExist: 7,
  MaxFloorRequestsReached: 8,
  UseTls: 9,
  ParseError: 10,
  UseDtls: 11,
  UnsupportedVersion: 12,
  IncorrectMessageLength: 13,
  GenericError: 14,
} as const;

export type IdAttributeName = 'BENEFICIARY-ID' | 'FLOOR-ID' | 'FLOOR-REQUEST-ID';
export type TextAttributeName = 'ERROR-INFO' | 'PARTICIPANT-PROVIDED-INFO' | 'STATUS-INFO' | 'USER-DISPLAY-NAME' | 'USER-URI';
export type GroupedAttributeName =
  | 'BENEFICIARY-INFORMATION'
  | 'FLOOR-REQUEST-INFORMATION'
  | 'REQUESTED-BY-INFORMATION'
  | 'FLOOR-REQUEST-STATUS'
  | 'OVERALL-REQUEST-STATUS';

/** One attribute; `mandatory` (the M bit) defaults to true when encoding. */
export type Attribute = { mandatory?: boolean } & (
  | { name: IdAttributeName; id: number }
  | { name: 'PRIORITY'; priority: number }
  | { name: 'REQUEST-STATUS'; status: number; queuePosition: number }
  | { name: 'ERROR-CODE'; code: number; details?: Buffer }
  | { name: TextAttributeName; text: string }
  | { name: 'SUPPORTED-ATTRIBUTES'; types: number[] }
  | { name: 'SUPPORTED-PRIMITIVES'; primitives: number[] }
  | { name: GroupedAttributeName; id: number; children: Attribute[] }
  | { name: 'UNKNOWN'; type: number; value: Buffer }
);

export interface BfcpMessage {
  /** 1 over reliable transports (TCP, TLS), 2 over unreliable ones (UDP). */
  readonly version: number;
  /** The R bit: set in a response to a request. */
  readonly responder: boolean;
  readonly primitive: number;
  readonly conferenceId: number;
  readonly transactionId: number;
  readonly userId: number;
  readonly attributes: readonly Attribute[];
  /** Present on a fragment (F bit set; UDP only): offset and length in 4-octet units. */
  readonly fragment?: { readonly offset: number; readonly length: number };
}

/** Largest message accepted or produced (header included). Real floor control needs a few hundred octets. */
export const MAX_MESSAGE_BYTES = 8192;
/** Deepest nesting of grouped attributes accepted (the RFC's deepest is 3). */
export const MAX_NESTING = 4;
/** Most attributes accepted in one message, nested ones included. */
export const MAX_ATTRIBUTES = 128;
export const HEADER_BYTES = 12;
export const FRAGMENT_HEADER_BYTES = 16;

const TYPE_BY_NAME: Record<Exclude<Attribute['name'], 'UNKNOWN'>, number> = {
  'BENEFICIARY-ID': 1,
  'FLOOR-ID': 2,
  'FLOOR-REQUEST-ID': 3,
  PRIORITY: 4,
  'REQUEST-STATUS': 5,
  'ERROR-CODE': 6,
  'ERROR-INFO': 7,
  'PARTICIPANT-PROVIDED-INFO': 8,
  'STATUS-INFO': 9,
  'SUPPORTED-ATTRIBUTES': 10,
  'SUPPORTED-PRIMITIVES': 11,
  'USER-DISPLAY-NAME': 12,
  'USER-URI': 13,
  'BENEFICIARY-INFORMATION': 14,
  'FLOOR-REQUEST-INFORMATION': 15,
  'REQUESTED-BY-INFORMATION': 16,
  'FLOOR-REQUEST-STATUS': 17,
  'OVERALL-REQUEST-STATUS': 18,
};
const NAME_BY_TYPE = new Map<number, Exclude<Attribute['name'], 'UNKNOWN'>>(
  Object.entries(TYPE_BY_NAME).map(([name, type]) => [type, name as Exclude<Attribute['name'], 'UNKNOWN'>]),
);
const ID_ATTRIBUTES = new Set<string>(['BENEFICIARY-ID', 'FLOOR-ID', 'FLOOR-REQUEST-ID']);
const TEXT_ATTRIBUTES = new Set<string>(['ERROR-INFO', 'PARTICIPANT-PROVIDED-INFO', 'STATUS-INFO', 'USER-DISPLAY-NAME', 'USER-URI']);
const GROUPED_ATTRIBUTES = new Set<string>([
  'BENEFICIARY-INFORMATION',
  'FLOOR-REQUEST-INFORMATION',
  'REQUESTED-BY-INFORMATION',
  'FLOOR-REQUEST-STATUS',
  'OVERALL-REQUEST-STATUS',
]);

/** The type number of an attribute (its own for UNKNOWN). */
export function attributeType(attribute: Attribute): number {
  return attribute.name === 'UNKNOWN' ? attribute.type : TYPE_BY_NAME[attribute.name];
}

/** A message that cannot be decoded, with the BFCP error code to answer it with. */
export class BfcpDecodeError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'BfcpDecodeError';
    this.code = code;
  }
}

/** The common header, read before the whole message is there (TCP framing) or decoded. */
export interface BfcpHeader {
  readonly version: number;
  readonly responder: boolean;
  readonly fragmented: boolean;
  readonly primitive: number;
  /** Payload length in octets (the header field × 4). */
  readonly payloadBytes: number;
  readonly conferenceId: number;
  readonly transactionId: number;
  readonly userId: number;
  /** Header size: 12, or 16 with the fragment fields. */
  readonly headerBytes: number;
}

/** The identifiers in the first 12 octets (whatever else is wrong), to address an Error to. */
export function readIds(buffer: Buffer): MessageIds {
  if (buffer.length < HEADER_BYTES) throw new RangeError('fewer than 12 octets');
  return { primitive: buffer.readUInt8(1), conferenceId: buffer.readUInt32BE(4), transactionId: buffer.readUInt16BE(8), userId: buffer.readUInt16BE(10) };
}

/** Reads the common header; the buffer must hold at least 12 octets (16 when F is set). */
export function decodeHeader(buffer: Buffer): BfcpHeader {
  if (buffer.length < HEADER_BYTES) {
    throw new BfcpDecodeError(ErrorCode.ParseError, `message of ${buffer.length} octets is shorter than the ${HEADER_BYTES}-octet BFCP header`);
  }
  const first = buffer.readUInt8(0);
  const fragmented = (first & 0x08) !== 0;
  const headerBytes = fragmented ? FRAGMENT_HEADER_BYTES : HEADER_BYTES;
  if (buffer.length < headerBytes) {
    throw new BfcpDecodeError(ErrorCode.ParseError, 'fragmented message shorter than its 16-octet header');
  }
  return {
    version: first >> 5,
    responder: (first & 0x10) !== 0,
    fragmented,
    primitive: buffer.readUInt8(1),
    payloadBytes: buffer.readUInt16BE(2) * 4,
    conferenceId: buffer.readUInt32BE(4),
    transactionId: buffer.readUInt16BE(8),
    userId: buffer.readUInt16BE(10),
    headerBytes,
  };
}

/**
 * Decodes one whole message: `buffer` must be exactly the message (a UDP datagram, or one
 * frame cut from a TCP stream by its header's length).
 */
export function decodeMessage(buffer: Buffer): BfcpMessage {
  if (buffer.length > MAX_MESSAGE_BYTES) {
    throw new BfcpDecodeError(ErrorCode.IncorrectMessageLength, `message of ${buffer.length} octets exceeds the limit of ${MAX_MESSAGE_BYTES}`);
  }
  const header = decodeHeader(buffer);
  if (header.version !== 1 && header.version !== 2) {
    throw new BfcpDecodeError(ErrorCode.UnsupportedVersion, `BFCP version ${header.version} is not supported (1 over TCP, 2 over UDP)`);
  }
  let fragment: BfcpMessage['fragment'];
  let bodyBytes = header.payloadBytes;
  if (header.fragmented) {
    if (header.version !== 2) throw new BfcpDecodeError(ErrorCode.ParseError, 'the F bit is allowed over UDP (version 2) only');
    fragment = { offset: buffer.readUInt16BE(12), length: buffer.readUInt16BE(14) };
    bodyBytes = fragment.length * 4;
    if ((fragment.offset + fragment.length) * 4 > header.payloadBytes) {
      throw new BfcpDecodeError(ErrorCode.IncorrectMessageLength, 'fragment runs past the payload length');
    }
  }
  if (buffer.length !== header.headerBytes + bodyBytes) {
    throw new BfcpDecodeError(
      ErrorCode.IncorrectMessageLength,
      `header announces ${bodyBytes} payload octets but ${buffer.length - header.headerBytes} arrived`,
    );
  }
  const body = buffer.subarray(header.headerBytes);
  // A fragment's payload is a slice of the attributes, decodable only once reassembled.
  const attributes = fragment ? [] : decodeAttributes(body, 0, { count: 0 });
  const message: BfcpMessage = {
    version: header.version,
    responder: header.responder,
    primitive: header.primitive,
    conferenceId: header.conferenceId,
    transactionId: header.transactionId,
    userId: header.userId,
    attributes,
  };
  return fragment ? { ...message, fragment } : message;
}

/** Decodes the attributes of a reassembled payload (for fragments, see the UDP transport). */
export function decodePayload(payload: Buffer): Attribute[] {
  return decodeAttributes(payload, 0, { count: 0 });
}

function decodeAttributes(buffer: Buffer, depth: number, budget: { count: number }): Attribute[] {
  if (depth > MAX_NESTING) throw new BfcpDecodeError(ErrorCode.ParseError, `grouped attributes nested deeper than ${MAX_NESTING}`);
  const attributes: Attribute[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    if (buffer.length - offset < 2) throw new BfcpDecodeError(ErrorCode.ParseError, 'truncated attribute header');
    const type = buffer.readUInt8(offset) >> 1;
    const mandatory = (buffer.readUInt8(offset) & 1) === 1;
    const length = buffer.readUInt8(offset + 1);
    if (length < 2) throw new BfcpDecodeError(ErrorCode.ParseError, `attribute type ${type} has length ${length}, below its 2-octet header`);
    if (offset + length > buffer.length) {
      throw new BfcpDecodeError(ErrorCode.ParseError, `attribute type ${type} of ${length} octets runs past the end of the message`);
    }
    if (++budget.count > MAX_ATTRIBUTES) throw new BfcpDecodeError(ErrorCode.ParseError, `more than ${MAX_ATTRIBUTES} attributes`);
    const value = buffer.subarray(offset + 2, offset + length);
    attributes.push(decodeAttribute(type, mandatory, value, depth, budget));
    // Padding to 4 octets; a grouped attribute's length may leave out its last child's padding
    // (the group itself is padded then), so a missing pad at the very end is accepted.
    offset += (length + 3) & ~3;
  }
  return attributes;
}

function decodeAttribute(type: number, mandatory: boolean, value: Buffer, depth: number, budget: { count: number }): Attribute {
  const name = NAME_BY_TYPE.get(type);
  const wrongSize = (expected: string) =>
    new BfcpDecodeError(ErrorCode.ParseError, `attribute ${name} has ${value.length} value octets, expected ${expected}`);
  if (name === undefined) return { name: 'UNKNOWN', type, mandatory, value: Buffer.from(value) };
  if (ID_ATTRIBUTES.has(name)) {
    if (value.length !== 2) throw wrongSize('2');
    return { name: name as IdAttributeName, mandatory, id: value.readUInt16BE(0) };
  }
  if (TEXT_ATTRIBUTES.has(name)) {
    return { name: name as TextAttributeName, mandatory, text: value.toString('utf8') };
  }
  if (GROUPED_ATTRIBUTES.has(name)) {
    if (value.length < 2) throw wrongSize('2 or more');
    // Header (2) + ID (2) end on a 4-octet boundary: the children follow directly.
    const children = decodeAttributes(value.subarray(2), depth + 1, budget);
    return { name: name as GroupedAttributeName, mandatory, id: value.readUInt16BE(0), children };
  }
  switch (name) {
    case 'PRIORITY':
      if (value.length !== 2) throw wrongSize('2');
      return { name, mandatory, priority: value.readUInt8(0) >> 5 };
    case 'REQUEST-STATUS':
      if (value.length !== 2) throw wrongSize('2');
      return { name, mandatory, status: value.readUInt8(0), queuePosition: value.readUInt8(1) };
    case 'ERROR-CODE':
      if (value.length < 1) throw wrongSize('1 or more');
      return { name, mandatory, code: value.readUInt8(0), details: Buffer.from(value.subarray(1)) };
    case 'SUPPORTED-ATTRIBUTES':
      return { name, mandatory, types: [...value].map((b) => b >> 1) };
    case 'SUPPORTED-PRIMITIVES':
      return { name, mandatory, primitives: [...value] };
    default:
      return { name: 'UNKNOWN', type, mandatory, value: Buffer.from(value) };
  }
}

/** Encodes a whole message (no fragmentation: the floor control messages are far below any MTU). */
export function encodeMessage(message: BfcpMessage): Buffer {
  if (message.version < 1 || message.version > 7) throw new RangeError(`BFCP version ${message.version} does not fit 3 bits`);
  const payload = Buffer.concat(message.attributes.map((a) => encodeAttribute(a)));
  if (payload.length % 4 !== 0) throw new RangeError('BFCP payload is not a multiple of 4 octets');
  if (HEADER_BYTES + payload.length > MAX_MESSAGE_BYTES) {
    throw new RangeError(`BFCP message of ${HEADER_BYTES + payload.length} octets exceeds the limit of ${MAX_MESSAGE_BYTES}`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8((message.version << 5) | (message.responder ? 0x10 : 0), 0);
  header.writeUInt8(message.primitive, 1);
  header.writeUInt16BE(payload.length / 4, 2);
  header.writeUInt32BE(message.conferenceId >>> 0, 4);
  header.writeUInt16BE(message.transactionId, 8);
  header.writeUInt16BE(message.userId, 10);
  return Buffer.concat([header, payload]);
}

function pad(length: number): Buffer {
  return Buffer.alloc(((length + 3) & ~3) - length);
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value, 0);
  return b;
}

/** Encodes one attribute with its padding; a grouped attribute's length covers its children. */
export function encodeAttribute(attribute: Attribute): Buffer {
  let value: Buffer;
  switch (attribute.name) {
    case 'BENEFICIARY-ID':
    case 'FLOOR-ID':
    case 'FLOOR-REQUEST-ID':
      value = u16(attribute.id);
      break;
    case 'PRIORITY':
      value = Buffer.from([(attribute.priority & 0x07) << 5, 0]);
      break;
    case 'REQUEST-STATUS':
      value = Buffer.from([attribute.status, attribute.queuePosition]);
      break;
    case 'ERROR-CODE':
      value = Buffer.concat([Buffer.from([attribute.code]), attribute.details ?? Buffer.alloc(0)]);
      break;
    case 'ERROR-INFO':
    case 'PARTICIPANT-PROVIDED-INFO':
    case 'STATUS-INFO':
    case 'USER-DISPLAY-NAME':
    case 'USER-URI':
      value = Buffer.from(attribute.text, 'utf8');
      break;
    case 'SUPPORTED-ATTRIBUTES':
      value = Buffer.from(attribute.types.map((t) => (t << 1) & 0xff));
      break;
    case 'SUPPORTED-PRIMITIVES':
      value = Buffer.from(attribute.primitives);
      break;
    case 'BENEFICIARY-INFORMATION':
    case 'FLOOR-REQUEST-INFORMATION':
    case 'REQUESTED-BY-INFORMATION':
    case 'FLOOR-REQUEST-STATUS':
    case 'OVERALL-REQUEST-STATUS': {
      // ID then padding to a 4-octet boundary (header 2 + ID 2 = 4), then the children.
      value = Buffer.concat([u16(attribute.id), ...attribute.children.map((c) => encodeAttribute(c))]);
      break;
    }
    case 'UNKNOWN':
      value = attribute.value;
      break;
  }
  const length = 2 + value.length;
  if (length > 255) throw new RangeError(`BFCP attribute ${attribute.name} of ${length} octets exceeds 255`);
  const mandatory = attribute.mandatory ?? true;
  const head = Buffer.from([((attributeType(attribute) & 0x7f) << 1) | (mandatory ? 1 : 0), length]);
  return Buffer.concat([head, value, pad(length)]);
}

/** The first attribute of this name among `attributes` (not nested). */
export function findAttribute<N extends Attribute['name']>(
  attributes: readonly Attribute[],
  name: N,
): (Attribute & { name: N }) | undefined {
  return attributes.find((a) => a.name === name) as (Attribute & { name: N }) | undefined;
}

/** Every attribute of this name among `attributes` (not nested). */
export function findAttributes<N extends Attribute['name']>(attributes: readonly Attribute[], name: N): (Attribute & { name: N })[] {
  return attributes.filter((a) => a.name === name) as (Attribute & { name: N })[];
}

/** The identifiers of a message an answer goes back to (a decoded message or just its header). */
export interface MessageIds {
  readonly primitive: number;
  readonly conferenceId: number;
  readonly transactionId: number;
  readonly userId: number;
}

/** An Error response (R bit set) to `request`: ERROR-CODE, and ERROR-INFO saying what was wrong. */
export function errorResponse(request: MessageIds, version: number, code: number, info: string, details?: Buffer): BfcpMessage {
  // ERROR-INFO is one attribute (at most 253 octets of text): long reasons are cut.
  let text = info;
  while (Buffer.byteLength(text, 'utf8') > 253) text = text.slice(0, -1);
  return {
    version,
    responder: true,
    primitive: Primitive.Error,
    conferenceId: request.conferenceId,
    transactionId: request.transactionId,
    userId: request.userId,
    attributes: [
      details ? { name: 'ERROR-CODE', code, details } : { name: 'ERROR-CODE', code },
      { name: 'ERROR-INFO', text },
    ],
  };
}
