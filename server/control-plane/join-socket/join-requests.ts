/**
 * What a frame on the browser join WebSocket (`/join/ws`, server/control-plane/routes/join.ts)
 * may be: one JSON object {id, method, params}, and for each method one JSON schema for its
 * params — all of them here, in one table. A frame that is not such a request is refused in
 * words (VCBOX_ERR_JOIN_REQUEST, naming the field and the rule it broke) before any of it
 * reaches the meeting or the media service; the socket stays open for the next frame.
 *
 * The media-level objects (DTLS parameters, RTP parameters and capabilities) are checked here
 * for their outer shape and size only; mediasoup checks their inside and refuses what it cannot
 * use. What does not live here: how many of each request a participant may make
 * (./join-limits.ts) and what the methods do (the route).
 */
import { Ajv, type ErrorObject, type SchemaObject } from 'ajv';
import { createError } from '../../core/errors.ts';

/** A request that passed its schema. */
export interface JoinRequest {
  /** Echoed in the answer; the page numbers its requests. */
  readonly id: number | string | null;
  readonly method: JoinMethod;
  readonly params: Record<string, unknown>;
}

const ID = { type: ['integer', 'string', 'null'], maxLength: 64, description: 'a number or a string of at most 64 characters' };
const MEDIASOUP_ID = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$', description: 'an id of 1 to 64 letters, digits and dashes, as the join answer gave it' };
const MEDIA_OBJECT = (what: string, maxProperties: number) => ({ type: 'object', maxProperties, description: `an object (${what})` });
const RTP_CAPABILITIES = {
  type: 'object',
  description: "an object (the browser's RTP capabilities)",
  maxProperties: 8,
  properties: {
    codecs: { type: 'array', maxItems: 64, items: { type: 'object' }, description: 'a list of at most 64 codecs' },
    headerExtensions: { type: 'array', maxItems: 64, items: { type: 'object' }, description: 'a list of at most 64 header extensions' },
  },
};

/** The params of each method, with their rules in words (the `description`s). */
const METHOD_SCHEMAS = {
  // The friendlier rules (digits, lengths, per field) are the join handler's own; here only
  // the types and an outer bound.
  join: {
    type: 'object',
    additionalProperties: false,
    required: ['number', 'name'],
    properties: {
      number: { type: 'string', maxLength: 32, description: 'the meeting ID as a string of digits' },
      pin: { type: 'string', maxLength: 32, description: 'the PIN as a string of digits (or empty)' },
      name: { type: 'string', maxLength: 256, description: 'your name as a string' },
    },
  },
  connectTransport: {
    type: 'object',
    additionalProperties: false,
    required: ['transportId', 'dtlsParameters'],
    properties: {
      transportId: MEDIASOUP_ID,
      dtlsParameters: {
        type: 'object',
        description: "an object with the browser's DTLS role and fingerprints",
        required: ['fingerprints'],
        maxProperties: 4,
        properties: {
          role: { type: 'string', enum: ['auto', 'client', 'server'], description: 'auto, client or server' },
          fingerprints: {
            type: 'array',
            minItems: 1,
            maxItems: 8,
            description: 'a list of 1 to 8 fingerprints {algorithm, value}',
            items: {
              type: 'object',
              required: ['algorithm', 'value'],
              properties: { algorithm: { type: 'string', maxLength: 16 }, value: { type: 'string', maxLength: 256 } },
            },
          },
        },
      },
    },
  },
  produce: {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'rtpParameters'],
    properties: {
      kind: { type: 'string', enum: ['audio', 'video'], description: 'audio or video' },
      rtpParameters: MEDIA_OBJECT('the RTP parameters of what the browser sends', 16),
    },
  },
  consume: {
    type: 'object',
    additionalProperties: false,
    required: ['producerId', 'rtpCapabilities'],
    properties: { producerId: MEDIASOUP_ID, rtpCapabilities: RTP_CAPABILITIES },
  },
  consumeComposed: {
    type: 'object',
    additionalProperties: false,
    required: ['rtpCapabilities'],
    properties: { rtpCapabilities: RTP_CAPABILITIES },
  },
  resume: {
    type: 'object',
    additionalProperties: false,
    required: ['consumerId'],
    properties: { consumerId: MEDIASOUP_ID },
  },
  // Screen sharing: only the sharer's own content, so neither names a participant.
  shareContent: {
    type: 'object',
    additionalProperties: false,
    required: ['rtpParameters'],
    properties: { rtpParameters: MEDIA_OBJECT('the RTP parameters of the shared screen', 16) },
  },
  stopContent: { type: 'object', additionalProperties: false },
  leave: { type: 'object', additionalProperties: false },
} as const satisfies Record<string, SchemaObject>;

export type JoinMethod = keyof typeof METHOD_SCHEMAS;

const ENVELOPE = {
  type: 'object',
  additionalProperties: false,
  required: ['method'],
  properties: {
    id: ID,
    method: { type: 'string', maxLength: 32, description: 'the name of a method as a string' },
    params: { type: 'object', description: 'an object' },
  },
};

const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, allowUnionTypes: true });
const validateEnvelope = ajv.compile(ENVELOPE);
const validators = new Map(Object.entries(METHOD_SCHEMAS).map(([method, schema]) => [method, ajv.compile(schema)]));

/** One schema error in words: the field (a path under the frame) and its rule. */
function problemOf(error: ErrorObject | undefined, under: string): string {
  if (!error) return 'it does not match its schema';
  const path = [under, ...error.instancePath.split('/').filter(Boolean)].filter(Boolean).join('.');
  const field = path || 'the frame';
  if (error.keyword === 'required') return `${path ? `${path}.` : ''}${String(error.params.missingProperty)} is missing`;
  if (error.keyword === 'additionalProperties') return `${path ? `${path}.` : ''}${String(error.params.additionalProperty)} is not a field of this request`;
  const rule = (error.parentSchema as { description?: string } | undefined)?.description;
  return rule ? `${field} must be ${rule}` : `${field} ${error.message ?? 'is invalid'}`;
}

const refuse = (problem: string) => createError('VCBOX_ERR_JOIN_REQUEST', { problem });

/**
 * The request a frame carries, or a VCBOX_ERR_JOIN_REQUEST saying what is wrong with it.
 * `id` is whatever id could be read, so the refusal can still answer that request.
 */
export function parseJoinRequest(frame: Buffer | string): { id: JoinRequest['id']; request?: JoinRequest; error?: Error } {
  let message: unknown;
  try {
    message = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8'));
  } catch {
    return { id: null, error: refuse('the frame is not JSON') };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return { id: null, error: refuse(`the frame is ${message === null ? 'null' : Array.isArray(message) ? 'an array' : `a ${typeof message}`}, not an object`) };
  }
  const raw = (message as { id?: unknown }).id;
  const id = (typeof raw === 'number' && Number.isInteger(raw)) || (typeof raw === 'string' && raw.length <= 64) ? raw : null;
  if (!validateEnvelope(message)) return { id, error: refuse(problemOf(validateEnvelope.errors?.[0], '')) };
  const { method, params = {} } = message as { method: string; params?: Record<string, unknown> };
  // A Map, not an object: "constructor", "__proto__" and the like are no methods here.
  const validate = validators.get(method);
  if (!validate) return { id, error: refuse(`"${method.slice(0, 32)}" is not a method`) };
  if (!validate(params)) return { id, error: refuse(problemOf(validate.errors?.[0], 'params')) };
  return { id, request: { id, method: method as JoinMethod, params } };
}
