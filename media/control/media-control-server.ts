/**
 * The media service's end of the control channel (./media-control-protocol.ts): listens on
 * the Unix socket (server/core/line-json-ipc.ts), checks each request against the protocol's
 * shapes (an unknown method, a missing, extra or wrongly typed param is answered with an error
 * naming the method and the param), runs it on the MediaService and pushes the service's
 * events to every connected control plane. A malformed line is answered with an error, never
 * a crash.
 */
import { badRequest, ControlSocketServer } from '../../server/core/line-json-ipc.ts';
import type { MediaService, MediaServiceEvents } from '../media-service.ts';
import { MAX_LINE_BYTES, MEDIA_EVENTS, MEDIA_REQUEST_SHAPES, type MediaEvents, type MediaHandlers, type MediaMethod, type ParamShape } from './media-control-protocol.ts';

// The media service implements the protocol: its methods take the protocol's params and give
// its results, and its events are the protocol's (a drift is a compile error here).
const implementsProtocol = (service: MediaService): MediaHandlers => service;
const sameEvents = (events: MediaServiceEvents): MediaEvents => events;
const sameEventsBack = (events: MediaEvents): MediaServiceEvents => events;
void [implementsProtocol, sameEvents, sameEventsBack];

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function checkParam(where: string, shape: ParamShape, value: unknown): void {
  if (value === undefined || (value === null && shape.optional && !shape.nullable)) {
    if (shape.optional) return;
    throw badRequest(`${where} is missing`);
  }
  if (value === null) {
    if (shape.nullable) return;
    throw badRequest(`${where} must not be null`);
  }
  const fits =
    shape.kind === 'string'
      ? typeof value === 'string'
      : shape.kind === 'number'
        ? typeof value === 'number' && Number.isFinite(value)
        : shape.kind === 'boolean'
          ? typeof value === 'boolean'
          : shape.kind === 'strings'
            ? Array.isArray(value) && value.every((item) => typeof item === 'string')
            : typeof value === 'object' && !Array.isArray(value);
  const wanted = { string: 'a string', number: 'a number', boolean: 'true or false', strings: 'an array of strings', object: 'an object' }[shape.kind];
  if (!fits) throw badRequest(`${where} must be ${wanted}, got ${kindOf(value)}`);
  if (shape.oneOf && !shape.oneOf.includes(value as string)) throw badRequest(`${where} must be one of ${shape.oneOf.join(', ')}, got ${JSON.stringify(value).slice(0, 40)}`);
  for (const field of shape.fields ?? []) checkParam(`${where}.${field.name}`, field, (value as Record<string, unknown>)[field.name]);
  if (shape.exact) {
    const known = new Set((shape.fields ?? []).map((field) => field.name));
    const extra = Object.keys(value as object).filter((name) => !known.has(name));
    if (extra.length > 0) throw badRequest(`${where} has ${extra.length === 1 ? 'a field' : 'fields'} it does not take: ${extra.slice(0, 5).map((name) => JSON.stringify(name.slice(0, 60))).join(', ')}`);
  }
}

/**
 * The request as the protocol wants it, or a VCBOX_ERR_BAD_REQUEST saying what is wrong. An
 * optional param left out by the caller arrives as null (JSON has no undefined in an array):
 * it is handed to the service as missing, so the method's own default applies.
 */
export function checkMediaRequest(method: unknown, params: unknown[]): { method: MediaMethod; params: unknown[] } {
  if (typeof method !== 'string' || !Object.hasOwn(MEDIA_REQUEST_SHAPES, method)) {
    const named = method === undefined ? 'no method' : typeof method === 'string' ? `unknown method ${JSON.stringify(method.slice(0, 60))}` : `a method that is ${kindOf(method)}`;
    throw badRequest(`the request has ${named}; the media control protocol has ${Object.keys(MEDIA_REQUEST_SHAPES).join(', ')}`);
  }
  const shapes = MEDIA_REQUEST_SHAPES[method as MediaMethod] as readonly ParamShape[];
  if (params.length > shapes.length) throw badRequest(`${method}: takes at most ${shapes.length} params, got ${params.length}`);
  for (const [index, shape] of shapes.entries()) checkParam(`${method}: param ${index + 1} (${shape.name})`, shape, params[index]);
  const normalised = params.map((value, index) => (value === null && shapes[index]?.optional && !shapes[index]?.nullable ? undefined : value));
  return { method: method as MediaMethod, params: normalised };
}

export class MediaControlServer {
  readonly #service: MediaService;
  readonly #socket: ControlSocketServer;

  constructor(service: MediaService, socketPath: string) {
    this.#service = service;
    this.#socket = new ControlSocketServer(socketPath, { name: 'media control channel', maxLineBytes: MAX_LINE_BYTES, call: (method, params) => this.#call(method, params) });
    for (const event of MEDIA_EVENTS) {
      service.on(event, (...args: unknown[]) => this.#socket.broadcast({ event, args }));
    }
  }

  listen(): Promise<void> {
    return this.#socket.listen();
  }

  #call(requested: unknown, received: unknown[]): unknown {
    const { method, params } = checkMediaRequest(requested, received);
    if (method === 'ping') return { meetings: this.#service.meetingCount, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) };
    return (this.#service[method] as (...args: unknown[]) => unknown).apply(this.#service, params);
  }

  close(): void {
    this.#socket.close();
  }
}
