/**
 * SIP messages (RFC 3261 §7): parsing bytes into requests and responses, and writing them back.
 *
 * Parsing handles what terminals really send: compact header names, line folding, header names
 * in any case, several values of one header on separate lines or comma-joined, a body sized by
 * Content-Length. Everything malformed throws `SipParseError` saying what was wrong, so the
 * transport can answer 400 with that reason. Framing over streams is in ./stream-framer.ts;
 * transactions and dialogs are not here.
 */

/** Largest message accepted on any transport. Bigger ones are refused, not buffered. */
export const MAX_MESSAGE_BYTES = 65_535;

/**
 * Longest header line accepted (folded lines joined). Real terminals' longest headers (a Via or
 * Record-Route set, a Contact with its parameters) stay well under 2 KiB; the bound keeps every
 * later parse of one header value (here, in drachtio-srf's parser and in the SIP application)
 * working on a few KiB at most, whatever an attacker sends.
 */
export const MAX_HEADER_BYTES = 8192;

/** Most header lines accepted in one message (each lookup walks them). */
export const MAX_HEADER_LINES = 256;

const COMPACT: Readonly<Record<string, string>> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type',
  k: 'supported', s: 'subject', e: 'content-encoding', o: 'event', r: 'refer-to', b: 'referred-by',
  u: 'allow-events', x: 'session-expires', a: 'accept-contact', j: 'reject-contact', d: 'request-disposition',
  y: 'identity', n: 'identity-info',
};

/** How a header name is written on the wire, for the ones whose usual spelling is not Title-Case. */
const SPELLING: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID', cseq: 'CSeq', rseq: 'RSeq', rack: 'RAck', 'www-authenticate': 'WWW-Authenticate', 'mime-version': 'MIME-Version',
};

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const SIP_VERSION = 'SIP/2.0';

export class SipParseError extends Error {
  /** The SIP status a request refused for this gets: 400, or 513 (Message Too Large, RFC 3261 §21.5.14). */
  readonly status: 400 | 513;

  constructor(message: string, status: 400 | 513 = 400) {
    super(message);
    this.name = 'SipParseError';
    this.status = status;
  }
}

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

const spelled = new Map<string, string>();

export function headerSpelling(name: string): string {
  let spelling = spelled.get(name);
  if (spelling === undefined) {
    spelling = SPELLING[name] ?? name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    if (spelled.size < 1000) spelled.set(name, spelling);
  }
  return spelling;
}

/** Splits a header value on commas that are not inside quotes or angle brackets. */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depthAngle++;
    else if (c === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (c === ',' && depthAngle === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v !== '');
}

/** Headers whose comma-separated values are separate entries (RFC 3261 §7.3.1). */
const MULTI_VALUE = new Set(['via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require', 'accept']);

abstract class SipMessageBase {
  /** Header entries in order, names canonical lower-case. */
  readonly headers: [name: string, value: string][];
  body: Buffer;

  constructor(headers: [string, string][], body: Buffer) {
    this.headers = headers;
    this.body = body;
  }

  get(name: string): string | undefined {
    const key = canonicalHeaderName(name);
    return this.headers.find(([n]) => n === key)?.[1];
  }

  getAll(name: string): string[] {
    const key = canonicalHeaderName(name);
    return this.headers.filter(([n]) => n === key).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, value: string): this {
    this.remove(name);
    this.headers.push([canonicalHeaderName(name), value]);
    return this;
  }

  add(name: string, value: string): this {
    this.headers.push([canonicalHeaderName(name), value]);
    return this;
  }

  remove(name: string): this {
    const key = canonicalHeaderName(name);
    for (let i = this.headers.length - 1; i >= 0; i--) if (this.headers[i]?.[0] === key) this.headers.splice(i, 1);
    return this;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): { seq: number; method: string } {
    const [seq = '', method = ''] = (this.get('cseq') ?? '').trim().split(/\s+/);
    return { seq: Number(seq), method: method.toUpperCase() };
  }

  protected abstract startLine(): string;

  toBuffer(): Buffer {
    const lines = [this.startLine()];
    for (const [name, value] of this.headers) {
      if (name === 'content-length') continue;
      lines.push(`${headerSpelling(name)}: ${value}`);
    }
    lines.push(`Content-Length: ${this.body.length}`);
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), this.body]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipRequest extends SipMessageBase {
  readonly type = 'request' as const;
  method: string;
  uri: string;

  constructor(method: string, uri: string, headers: [string, string][] = [], body: Buffer = Buffer.alloc(0)) {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  protected startLine(): string {
    return `${this.method} ${this.uri} ${SIP_VERSION}`;
  }
}

export class SipResponse extends SipMessageBase {
  readonly type = 'response' as const;
  status: number;
  reason: string;

  constructor(status: number, reason: string, headers: [string, string][] = [], body: Buffer = Buffer.alloc(0)) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }

  protected startLine(): string {
    return `${SIP_VERSION} ${this.status} ${this.reason}`;
  }
}

export type SipMessage = SipRequest | SipResponse;

/** Byte offset just past the CRLFCRLF that ends the headers, or -1. */
export function headerEnd(data: Buffer, from = 0): number {
  const at = data.indexOf('\r\n\r\n', from, 'latin1');
  return at < 0 ? -1 : at + 4;
}

/** Whether text holds a control character other than HTAB (none may appear in a header, RFC 3261 §25.1). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}
/** Runs of blanks (any Unicode white space: also U+3000 and U+00A0). */
const BLANK_RUN = /\s{2,}/g;

/**
 * A header value as the rest of the box sees it: trimmed, control characters refused, and each
 * run of white space made one space (RFC 3261 §7.3.1: LWS is equivalent to a single SP). Long
 * blank runs are what makes regular expressions further on (drachtio-srf's parser, the SIP
 * application) backtrack polynomially; inside a quoted display name they only ever were layout.
 */
function normalizeValue(value: string, name: string): string {
  if (hasControl(value)) throw new SipParseError(`control character in ${name === 'reason phrase' ? 'the reason phrase' : `the ${headerSpelling(name.slice(0, 40))} header`}`);
  return value.trim().replace(BLANK_RUN, ' ');
}

/**
 * Parses one complete message. On datagram transports the body is what follows the headers
 * (Content-Length, when present, may only shorten it); stream framing has already cut it.
 */
export function parseMessage(data: Buffer): SipMessage {
  if (data.length > MAX_MESSAGE_BYTES) throw new SipParseError(`message larger than ${MAX_MESSAGE_BYTES} bytes`, 513);
  const end = headerEnd(data);
  if (end < 0) throw new SipParseError('no empty line after the headers');
  const head = data.subarray(0, end - 4).toString('utf8');
  const rawLines = head.split('\r\n');
  const startLine = rawLines.shift() ?? '';

  if (startLine.length > MAX_HEADER_BYTES) throw new SipParseError(`start line longer than ${MAX_HEADER_BYTES} bytes`, 513);
  if (rawLines.length > MAX_HEADER_LINES) throw new SipParseError(`more than ${MAX_HEADER_LINES} header lines`, 513);

  const headers: [string, string][] = [];
  const tooLong = (name: string) => new SipParseError(`header ${name.slice(0, 40)} longer than ${MAX_HEADER_BYTES} bytes; send it shorter`, 513);
  for (const line of rawLines) {
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      const last = headers.at(-1);
      if (!last) throw new SipParseError('a folded line before any header');
      if (last[1].length + line.length > MAX_HEADER_BYTES) throw tooLong(last[0]);
      last[1] = normalizeValue(`${last[1]} ${line}`, last[0]);
      continue;
    }
    if (line.length > MAX_HEADER_BYTES) throw tooLong(line.slice(0, Math.max(0, line.indexOf(':'))) || 'line');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`header line without a name: "${line.slice(0, 60)}"`);
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) throw new SipParseError(`invalid header name "${rawName.slice(0, 60)}"`);
    const name = canonicalHeaderName(rawName);
    const value = normalizeValue(line.slice(colon + 1), name);
    if (MULTI_VALUE.has(name) && value.includes(',')) {
      for (const v of splitHeaderValues(value)) headers.push([name, v]);
    } else {
      headers.push([name, value]);
    }
  }

  let body = data.subarray(end);
  const lengthHeader = headers.find(([n]) => n === 'content-length')?.[1];
  if (lengthHeader !== undefined) {
    if (!/^\d{1,9}$/.test(lengthHeader)) throw new SipParseError(`invalid Content-Length "${lengthHeader.slice(0, 20)}"`);
    const length = Number(lengthHeader);
    if (length > body.length) throw new SipParseError(`Content-Length ${length} is larger than the body (${body.length} bytes)`);
    body = body.subarray(0, length);
  }

  let message: SipMessage;
  if (startLine.startsWith(`${SIP_VERSION} `)) {
    const match = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(startLine);
    if (!match) throw new SipParseError(`invalid status line "${startLine.slice(0, 80)}"`);
    const status = Number(match[1]);
    if (status < 100 || status > 699) throw new SipParseError(`status code ${status} out of range`);
    message = new SipResponse(status, normalizeValue(match[2] ?? '', 'reason phrase'), headers, Buffer.from(body));
  } else {
    const match = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/.exec(startLine);
    if (!match) throw new SipParseError(`invalid request line "${startLine.slice(0, 80)}"`);
    message = new SipRequest((match[1] as string).toUpperCase(), match[2] as string, headers, Buffer.from(body));
  }

  for (const required of ['via', 'from', 'to', 'call-id', 'cseq'] as const) {
    if (!message.has(required)) throw new SipParseError(`missing ${headerSpelling(required)} header`);
  }
  const cseq = message.cseq;
  if (!Number.isInteger(cseq.seq) || cseq.seq < 0 || cseq.seq > 2 ** 31 - 1 || !TOKEN.test(cseq.method)) {
    throw new SipParseError(`invalid CSeq "${message.get('cseq')?.slice(0, 40)}"`);
  }
  if (message.type === 'request' && cseq.method !== message.method && message.method !== 'ACK' && message.method !== 'CANCEL') {
    throw new SipParseError(`CSeq method ${cseq.method} does not match the request method ${message.method}`);
  }
  return message;
}

/** A header parameter such as `;tag=abc` or `;rport`; undefined when absent, '' when valueless. */
export function headerParam(value: string, param: string): string | undefined {
  // A value is a token or a quoted string (RFC 3261 §25.1: `+sip.instance="<urn:uuid:…>"` holds `>`).
  const match = new RegExp(`;\\s*${param}(?:=("(?:[^"\\\\]|\\\\.)*"|[^;,\\s>]*))?(?=[;,\\s>]|$)`, 'i').exec(value);
  return match ? (match[1] ?? '') : undefined;
}

/** Builds a response to `request` with the headers RFC 3261 §8.2.6.2 copies. */
export function createResponse(request: SipRequest, status: number, reason: string, toTag?: string): SipResponse {
  const response = new SipResponse(status, reason);
  for (const via of request.getAll('via')) response.add('via', via);
  response.add('from', request.get('from') ?? '');
  let to = request.get('to') ?? '';
  if (toTag && status > 100 && headerParam(to, 'tag') === undefined) to = `${to};tag=${toTag}`;
  response.add('to', to);
  response.add('call-id', request.callId);
  response.add('cseq', request.get('cseq') ?? '');
  return response;
}
