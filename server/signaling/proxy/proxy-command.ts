/**
 * The drachtio `proxy` command an application sends to have a request it received proxied
 * (shared/notes/drachtio-wire-protocol.md §7): its tokens read and checked here, refusals in
 * words. `<txnId>|<remainInDialog|''>|<fullResponse|''>|<followRedirects|''>|<simultaneous|serial>
 * |<provisionalTimeout>|<finalTimeout>|<dest1>|<dest2>…` and a SIP message whose headers (beyond
 * the ones a proxy must leave alone) are added to every forwarded copy. Bounded: at most
 * MAX_DESTINATIONS destinations, each a SIP URI.
 */
import { canonicalHeaderName } from '../sip/sip-message.ts';
import { parseUri } from '../sip/sip-uri.ts';

/** Destinations one `proxy` command may name. */
export const MAX_DESTINATIONS = 10;

/** Headers a proxy must not take from the application: the transaction's and routing's own. */
const KEPT_HEADERS = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type', 'route', 'record-route', 'contact']);

export interface ProxyCommand {
  readonly transactionId: string;
  readonly recordRoute: boolean;
  readonly followRedirects: boolean;
  readonly simultaneous: boolean;
  /** Cancel a branch that has no provisional response after this long (ms). */
  readonly provisionalTimeoutMs: number | undefined;
  /** Cancel a branch that has no final response after this long (ms). */
  readonly finalTimeoutMs: number | undefined;
  readonly destinations: string[];
  /** Headers the application asked to add (opts.headers), lower-case names. */
  readonly headers: [string, string][];
}

/** `2s`, `1500ms`, `1500` (ms) or '' (none). */
function parseTimeout(name: string, text: string): number | undefined {
  if (text === '') return undefined;
  const match = /^(\d{1,7})(ms|s)?$/.exec(text.trim());
  if (!match) throw new Error(`invalid ${name} '${text.slice(0, 20)}': give a duration such as 2s or 1500ms`);
  const value = Number(match[1]) * (match[2] === 's' ? 1000 : 1);
  if (value <= 0) throw new Error(`invalid ${name} '${text.slice(0, 20)}': it must be more than 0`);
  return value;
}

/** Reads a `proxy` command; throws an Error whose message says what is wrong. */
export function parseProxyCommand(args: readonly string[], raw: Buffer | undefined): ProxyCommand {
  const [transactionId = '', remainInDialog = '', , followRedirects = '', forking = '', provisional = '', final = '', ...destinations] = args;
  if (!transactionId) throw new Error('transaction id missing');
  if (forking !== 'simultaneous' && forking !== 'serial') throw new Error(`invalid forking '${forking.slice(0, 20)}': simultaneous or serial`);
  const targets = destinations.filter((d) => d !== '');
  if (targets.length === 0) throw new Error('no destination to proxy to: give at least one SIP URI');
  if (targets.length > MAX_DESTINATIONS) throw new Error(`too many destinations (${targets.length}): at most ${MAX_DESTINATIONS}`);
  for (const target of targets) {
    const uri = parseUri(target);
    if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips') || uri.host === '') {
      throw new Error(`invalid destination '${target.slice(0, 80)}': a SIP URI such as sip:host[:port] is needed`);
    }
  }
  return {
    transactionId,
    recordRoute: remainInDialog === 'remainInDialog',
    followRedirects: followRedirects === 'followRedirects',
    simultaneous: forking === 'simultaneous',
    provisionalTimeoutMs: parseTimeout('provisionalTimeout', provisional),
    finalTimeoutMs: parseTimeout('finalTimeout', final),
    destinations: targets,
    headers: extraHeaders(raw),
  };
}

/** The headers of the command's SIP message that a forwarded request may carry. */
function extraHeaders(raw: Buffer | undefined): [string, string][] {
  if (!raw) return [];
  const end = raw.indexOf('\r\n\r\n');
  const lines = (end < 0 ? raw : raw.subarray(0, end)).toString('utf8').split('\r\n').slice(1);
  const headers: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const written = line.slice(0, colon).trim();
    if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(written)) continue;
    const name = canonicalHeaderName(written);
    if (KEPT_HEADERS.has(name)) continue;
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  return headers;
}
