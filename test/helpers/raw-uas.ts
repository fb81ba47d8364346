/**
 * A called terminal on a raw UDP socket (127.0.0.1, a free port) that the test drives step by
 * step: every INVITE it gets is answered 180 at once and then waits — the test says when it
 * answers (200 with PCMU SDP, or a refusal), and when it hangs up (a BYE inside the dialog).
 * ACKs are noted, BYEs and CANCELs from the box answered (200; 487 for a cancelled INVITE).
 * Bounded waits only; `close()` frees the socket.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

export interface RawInvite {
  readonly callId: string;
  readonly text: string;
  readonly from: { address: string; port: number };
  readonly toTag: string;
  acked: boolean;
  /** The final status sent, once answered. */
  final?: number;
}

const header = (text: string, name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(text)?.[1]?.trim() ?? '';
const headers = (text: string, name: string): string[] => [...text.matchAll(new RegExp(`^${name}:[ \\t]*(.*)$`, 'gim'))].map((m) => (m[1] ?? '').trim());

export class RawUas {
  readonly #socket = dgram.createSocket('udp4');
  readonly invites: RawInvite[] = [];
  readonly #responses: string[] = [];

  private constructor() {
    this.#socket.on('message', (data, rinfo) => this.#onMessage(data.toString('latin1'), { address: rinfo.address, port: rinfo.port }));
  }

  static async open(): Promise<RawUas> {
    const uas = new RawUas();
    await new Promise<void>((resolve, reject) => {
      uas.#socket.once('error', reject);
      uas.#socket.bind(0, '127.0.0.1', () => resolve());
    });
    return uas;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  #send(text: string, to: { address: string; port: number }): void {
    this.#socket.send(text, to.port, to.address);
  }

  #response(request: string, status: number, reason: string, toTag: string, extra: string[] = [], body = ''): string {
    const to = header(request, 'To');
    return [
      `SIP/2.0 ${status} ${reason}`,
      ...headers(request, 'Via').map((via) => `Via: ${via}`),
      `From: ${header(request, 'From')}`,
      `To: ${/;tag=/i.test(to) || !toTag ? to : `${to};tag=${toTag}`}`,
      `Call-ID: ${header(request, 'Call-ID')}`,
      `CSeq: ${header(request, 'CSeq')}`,
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  }

  #onMessage(text: string, from: { address: string; port: number }): void {
    if (text.startsWith('SIP/2.0 ')) {
      this.#responses.push(text);
      return;
    }
    const method = text.slice(0, text.indexOf(' '));
    const callId = header(text, 'Call-ID');
    const invite = this.invites.find((i) => i.callId === callId);
    if (method === 'INVITE') {
      if (invite) return; // a retransmission: the 180 is on its way, the final comes when the test says
      const entry: RawInvite = { callId, text, from, toTag: randomBytes(5).toString('hex'), acked: false };
      this.invites.push(entry);
      this.#send(this.#response(text, 180, 'Ringing', entry.toTag, [`Contact: <sip:callee@127.0.0.1:${this.port}>`]), from);
    } else if (method === 'ACK') {
      if (invite) invite.acked = true;
    } else if (method === 'BYE') {
      this.#send(this.#response(text, 200, 'OK', invite?.toTag ?? ''), from);
    } else if (method === 'CANCEL') {
      this.#send(this.#response(text, 200, 'OK', invite?.toTag ?? ''), from);
      if (invite && invite.final === undefined) {
        invite.final = 487;
        this.#send(this.#response(invite.text, 487, 'Request Terminated', invite.toTag), invite.from);
      }
    }
  }

  /** Answers a ringing INVITE: 200 with an audio answer, or a refusal (486 Busy Here…). */
  answer(invite: RawInvite, status: 200 | 486, reason = status === 200 ? 'OK' : 'Busy Here'): void {
    invite.final = status;
    const sdp = ['v=0', `o=callee 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${this.port + 2} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
    const extra = status === 200 ? [`Contact: <sip:callee@127.0.0.1:${this.port}>`, 'Content-Type: application/sdp'] : [];
    this.#send(this.#response(invite.text, status, reason, invite.toTag, extra, status === 200 ? sdp : ''), invite.from);
  }

  /** Hangs up an answered call from this side (a request inside the dialog); resolves with the box's final response, or undefined after `timeoutMs`. */
  async bye(invite: RawInvite, timeoutMs = 10_000): Promise<string | undefined> {
    const contact = /<([^>]+)>/.exec(header(invite.text, 'Contact'))?.[1] ?? header(invite.text, 'Contact');
    const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
    const routes = headers(invite.text, 'Record-Route');
    const request = [
      `BYE ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`,
      ...routes.map((route) => `Route: ${route}`),
      `From: ${header(invite.text, 'To')};tag=${invite.toTag}`,
      `To: ${header(invite.text, 'From')}`,
      `Call-ID: ${invite.callId}`,
      'CSeq: 1 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const deadline = Date.now() + timeoutMs;
    let resent = 0;
    this.#send(request, invite.from);
    while (Date.now() < deadline) {
      const index = this.#responses.findIndex((r) => r.includes(branch) && /^SIP\/2\.0 [2-6]\d\d /.test(r));
      if (index >= 0) return this.#responses.splice(index, 1)[0];
      await new Promise((r) => setTimeout(r, 50));
      if (++resent % 10 === 0) this.#send(request, invite.from); // UDP: repeat every 0.5 s
    }
    return undefined;
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}
