/**
 * SIP URIs and name-addr values (RFC 3261 §19.1, §25.1): `"Display" <sip:user@host:port;p=v>;tag=x`.
 * Parsing keeps the parts a proxy needs — scheme, user, host, port, URI parameters — and
 * `formatUri` writes them back. Header parameters (tag, expires…) stay text; read them with
 * `headerParam` from ./sip-message.ts.
 */

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user: string | undefined;
  host: string;
  port: number | undefined;
  /** URI parameters in order; a valueless parameter (`;lr`) has value ''. */
  params: [name: string, value: string][];
  /** Everything after `?`, undecoded, or ''. */
  headers: string;
}

export interface NameAddr {
  display: string | undefined;
  uri: string;
  /** Header parameters after the URI (`;tag=…;expires=…`), including the leading `;`, or ''. */
  params: string;
}

export function parseUri(text: string): SipUri | undefined {
  const match = /^(sips?|tel):(.*)$/i.exec(text.trim());
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase() as SipUri['scheme'];
  let rest = match[2] as string;
  let headers = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (scheme === 'tel') {
    const [number = '', ...params] = rest.split(';');
    return { scheme, user: number, host: '', port: undefined, params: params.map(splitParam), headers };
  }
  let user: string | undefined;
  const at = rest.lastIndexOf('@', rest.indexOf(';') >= 0 ? rest.indexOf(';') : rest.length);
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = user.indexOf(':');
    if (colon >= 0) user = user.slice(0, colon); // password part: never used
  }
  const [hostport = '', ...params] = rest.split(';');
  let host: string;
  let port: number | undefined;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return undefined;
    host = hostport.slice(0, end + 1);
    const after = hostport.slice(end + 1);
    if (after.startsWith(':')) port = Number(after.slice(1));
  } else {
    const colon = hostport.indexOf(':');
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    if (colon >= 0) port = Number(hostport.slice(colon + 1));
  }
  if (host === '' || (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))) return undefined;
  if (!/^[A-Za-z0-9.\-_[\]:]+$/.test(host)) return undefined;
  return { scheme, user, host: host.toLowerCase(), port, params: params.filter((p) => p !== '').map(splitParam), headers };
}

function splitParam(param: string): [string, string] {
  const eq = param.indexOf('=');
  return eq < 0 ? [param.toLowerCase(), ''] : [param.slice(0, eq).toLowerCase(), param.slice(eq + 1)];
}

export function uriParam(uri: SipUri, name: string): string | undefined {
  return uri.params.find(([n]) => n === name)?.[1];
}

export function formatUri(uri: SipUri): string {
  if (uri.scheme === 'tel') return `tel:${uri.user ?? ''}${uri.params.map(([n, v]) => (v === '' ? `;${n}` : `;${n}=${v}`)).join('')}`;
  const user = uri.user !== undefined ? `${uri.user}@` : '';
  const port = uri.port !== undefined ? `:${uri.port}` : '';
  const params = uri.params.map(([n, v]) => (v === '' ? `;${n}` : `;${n}=${v}`)).join('');
  return `${uri.scheme}:${user}${uri.host}${port}${params}${uri.headers ? `?${uri.headers}` : ''}`;
}

/** Splits a From/To/Contact/Route value into display name, URI and header parameters. */
export function parseNameAddr(value: string): NameAddr | undefined {
  const text = value.trim();
  const lt = text.indexOf('<');
  if (lt >= 0) {
    const gt = text.indexOf('>', lt);
    if (gt < 0) return undefined;
    const display = text.slice(0, lt).trim().replace(/^"(.*)"$/, '$1') || undefined;
    return { display, uri: text.slice(lt + 1, gt).trim(), params: text.slice(gt + 1).trim() };
  }
  // addr-spec form: parameters after the URI belong to the header, not the URI.
  const semi = text.indexOf(';');
  return semi < 0 ? { display: undefined, uri: text, params: '' } : { display: undefined, uri: text.slice(0, semi), params: text.slice(semi) };
}

export function formatNameAddr(nameAddr: NameAddr): string {
  const display = nameAddr.display ? `"${nameAddr.display.replace(/"/g, '\\"')}" ` : '';
  return `${display}<${nameAddr.uri}>${nameAddr.params}`;
}
