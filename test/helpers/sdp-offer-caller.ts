/**
 * The SDP offer corpus (test/fixtures/sdp-offers/*.sdp) as a terminal on loopback sends it: a
 * file's `#` comment lines dropped, every IPv4 address but 0.0.0.0 turned into 127.0.0.1 and
 * every IPv6 one into ::1, each m-line with a port pointed at a UDP socket of the test's own
 * (a=rtcp too). And a raw UDP SIP caller that sends one INVITE with such a body and ends the
 * dialog again (ACK, BYE) — every wait bounded.
 */
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const CORPUS_DIR = path.join(import.meta.dirname, '..', 'fixtures', 'sdp-offers');

export interface CorpusOffer {
  readonly file: string;
  /** What the file models (its first comment line). */
  readonly models: string;
  /** The offer as written in the file, comments dropped (LF line ends). */
  readonly text: string;
  /** Whether the file uses LF line ends on the wire (its name ends in -lf.sdp); others go with CRLF. */
  readonly lf: boolean;
}

export function corpus(): CorpusOffer[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.sdp'))
    .sort()
    .map((file) => {
      const lines = readFileSync(path.join(CORPUS_DIR, file), 'utf8').split('\n');
      const models = (lines.find((l) => l.startsWith('#')) ?? '').replace(/^#\s*/, '');
      const text = lines.filter((l) => !l.startsWith('#')).join('\n');
      return { file, models, text, lf: file.endsWith('-lf.sdp') };
    });
}

/** UDP sockets standing in for a terminal's media ports (one per m-line with a port). */
export async function mediaSockets(t: { teardown(fn: () => unknown): void }, count: number): Promise<dgram.Socket[]> {
  const sockets: dgram.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = dgram.createSocket('udp4');
    socket.on('message', () => undefined);
    t.teardown(() => socket.close());
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    sockets.push(socket);
  }
  return sockets;
}

/** The offer on loopback: addresses to 127.0.0.1 / ::1, m= and a=rtcp ports to `ports` in m-line order. */
export function onLoopback(offer: CorpusOffer, ports: readonly number[]): string {
  let index = -1;
  const lines = offer.text.split('\n').map((line) => {
    let out = line.replace(/\b(?!0\.0\.0\.0\b)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g, '127.0.0.1');
    out = out.replace(/IN(\s+)IP6(\s+)\S+/g, 'IN$1IP6$2::1');
    const m = /^m=(\S+)(\s+)(\d+)/.exec(out);
    if (m) {
      index++;
      if (m[3] !== '0') out = out.replace(/^m=(\S+)(\s+)\d+/, `m=$1$2${ports[index] ?? 9}`);
    }
    if (/^a=rtcp:\d+/.test(out) && index >= 0) out = out.replace(/^a=rtcp:\d+/, `a=rtcp:${ports[index] ?? 9}`);
    if (/^a=candidate:/.test(out) && index >= 0) out = out.replace(/( (?:UDP|udp) \d+ 127\.0\.0\.1 )\d+/, `$1${ports[index] ?? 9}`);
    return out;
  });
  const body = lines.join('\n').replace(/\n+$/, '\n');
  return offer.lf ? body : body.replace(/\n/g, '\r\n');
}

/** Count of m-lines with a port other than 0. */
export function activeMediaLines(text: string): number {
  return text.split('\n').filter((l) => /^m=\S+\s+[1-9]/.test(l)).length;
}

export interface InviteOutcome {
  readonly status: number;
  readonly response: string;
  readonly callId: string;
  /** The 200's SDP body ('' otherwise). */
  readonly answer: string;
  header(name: string): string | undefined;
  /** With `reinvite`: the final response to the in-dialog re-INVITE. */
  readonly reinvite?: { readonly status: number; readonly response: string; header(name: string): string | undefined };
  /** After a 200: the status the box answered the BYE with (200 while the call was still up). */
  readonly bye?: number;
}

const headerOf = (response: string) => (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(response.split('\r\n\r\n')[0] ?? '')?.[1]?.trim();

/**
 * Sends one INVITE to `dial` at the box's UDP port; ACKs the final answer and, after a 200,
 * sends the re-INVITE with `reinvite` as its offer when given, then hangs up with BYE.
 */
export async function inviteOnce(boxPort: number, dial: string, body: string, options: { reinvite?: string; timeoutMs?: number } = {}): Promise<InviteOutcome> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const socket = dgram.createSocket('udp4');
  const inbox: string[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (msg) => {
    inbox.push(msg.toString('latin1'));
    wake?.();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const local = `127.0.0.1:${socket.address().port}`;
  const callId = `${randomUUID()}@corpus`;
  const fromTag = randomUUID().slice(0, 8);
  const branch = `z9hG4bK${randomUUID().slice(0, 12)}`;
  const uri = `sip:${dial}@127.0.0.1:${boxPort}`;
  const common = (method: string, cseq: number, via: string, to: string) =>
    [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${via};rport`,
      'Max-Forwards: 70',
      `From: "Corpus" <sip:corpus@127.0.0.1>;tag=${fromTag}`,
      `To: ${to}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:corpus@${local}>`,
    ];
  const invite = [...common('INVITE', 1, branch, `<${uri}>`), 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
  const send = (text: string) => socket.send(text, boxPort, '127.0.0.1');
  const waitFinal = async (method: string, cseq: number, resend?: string): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = inbox.findIndex((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m) && new RegExp(`^CSeq:\\s*${cseq} ${method}`, 'im').test(m));
      if (index >= 0) return inbox.splice(index, 1)[0] as string;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no final response to ${method} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      // Retransmit like a UDP UAC would (the box may drop a request while busy).
      if (resend && !inbox.some((m) => /^SIP\/2\.0 1\d\d /.test(m) && new RegExp(`^CSeq:\\s*${cseq} `, 'im').test(m))) send(resend);
    }
  };
  try {
    send(invite);
    const response = await waitFinal('INVITE', 1, invite);
    const status = Number(response.slice(8, 11));
    const header = headerOf(response);
    const toHeader = header('To') ?? `<${uri}>`;
    if (status >= 300) {
      send([...common('ACK', 1, branch, toHeader), 'Content-Length: 0', '', ''].join('\r\n'));
    } else {
      const contact = /<([^>]+)>/.exec(header('Contact') ?? '')?.[1] ?? uri;
      const inDialog = (method: string, cseq: number, branchId = `z9hG4bK${randomUUID().slice(0, 12)}`, sdp = '') =>
        [
          `${method} ${contact} SIP/2.0`,
          `Via: SIP/2.0/UDP ${local};branch=${branchId};rport`,
          'Max-Forwards: 70',
          `From: "Corpus" <sip:corpus@127.0.0.1>;tag=${fromTag}`,
          `To: ${toHeader}`,
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} ${method}`,
          `Contact: <sip:corpus@${local}>`,
          ...(sdp ? ['Content-Type: application/sdp'] : []),
          `Content-Length: ${Buffer.byteLength(sdp)}`,
          '',
          sdp,
        ].join('\r\n');
      send(inDialog('ACK', 1));
      let reinvite: InviteOutcome['reinvite'];
      if (options.reinvite) {
        const reBranch = `z9hG4bK${randomUUID().slice(0, 12)}`;
        const reInvite = inDialog('INVITE', 2, reBranch, options.reinvite);
        send(reInvite);
        const reResponse = await waitFinal('INVITE', 2, reInvite);
        const reStatus = Number(reResponse.slice(8, 11));
        send(reStatus >= 300 ? inDialog('ACK', 2, reBranch) : inDialog('ACK', 2));
        reinvite = { status: reStatus, response: reResponse, header: headerOf(reResponse) };
      }
      send(inDialog('BYE', 3));
      const byeResponse = await waitFinal('BYE', 3).catch(() => undefined);
      const answer = status === 200 ? response.split('\r\n\r\n').slice(1).join('\r\n\r\n') : '';
      return { status, response, callId, answer, header, ...(reinvite ? { reinvite } : {}), ...(byeResponse ? { bye: Number(byeResponse.slice(8, 11)) } : {}) };
    }
    return { status, response, callId, answer: '', header };
  } finally {
    socket.close();
  }
}
