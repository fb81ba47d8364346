/**
 * A SIP terminal over UDP written out by hand, for the fault tests: it joins a meeting (INVITE
 * with an SDP pointing at the test's own RTP socket, ACK) and then does what the test says,
 * when it says — an in-dialog request (BYE, INFO) sent after a process of the box was killed,
 * or nothing at all (a terminal that vanished). A scripted peer (sipp) runs on its own clock;
 * this one waits for the test. Requests from the box are answered 200 and kept: its BYE (with
 * the Reason header), a re-INVITE moving the media (answered with the terminal's own SDP, the
 * new port noted). Every wait is bounded; `close()` frees the socket.
 */
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { waitFor } from './meeting-terminal.ts';

const headerOf = (message: string, name: string): string | undefined => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(message.split('\r\n\r\n')[0] ?? '')?.[1]?.trim();
const bodyOf = (message: string): string => message.split('\r\n\r\n').slice(1).join('\r\n\r\n');

export class DialogTerminal {
  readonly #socket = dgram.createSocket('udp4');
  readonly #responses: string[] = [];
  /** Requests the box sent in the dialog, in order of arrival (retransmissions once). */
  readonly requests: string[] = [];
  readonly #name: string;
  readonly #callId = `${randomUUID()}@fault-test`;
  readonly #fromTag = randomUUID().slice(0, 8);
  #cseq = 1;
  #boxPort = 0;
  #requestUri = '';
  #to = '';
  #offer = '';
  /** The audio port the box answered (after a re-INVITE from the box: the newest). */
  answeredPort = 0;
  /** The box's 200 OK to the INVITE. */
  answer = '';

  private constructor(name: string) {
    this.#name = name;
    this.#socket.on('message', (data) => {
      const message = data.toString('latin1');
      if (message.startsWith('SIP/2.0 ')) this.#responses.push(message);
      else this.#answer(message);
    });
  }

  static async open(name: string): Promise<DialogTerminal> {
    const terminal = new DialogTerminal(name);
    await new Promise<void>((resolve) => terminal.#socket.bind(0, '127.0.0.1', resolve));
    return terminal;
  }

  get callId(): string {
    return this.#callId;
  }

  get #local(): string {
    return `127.0.0.1:${this.#socket.address().port}`;
  }

  /** Answers a request from the box with 200 (a re-INVITE with the terminal's SDP) and keeps it. */
  #answer(request: string): void {
    const cseq = headerOf(request, 'CSeq') ?? '';
    const method = request.slice(0, request.indexOf(' '));
    if (method === 'ACK') return;
    if (!this.requests.some((r) => headerOf(r, 'CSeq') === cseq && headerOf(r, 'Via') === headerOf(request, 'Via'))) {
      this.requests.push(request);
      const moved = method === 'INVITE' ? /^m=audio (\d+) /m.exec(bodyOf(request))?.[1] : undefined;
      if (moved) this.answeredPort = Number(moved);
    }
    const sdp = method === 'INVITE' ? this.#offer : '';
    const response = [
      'SIP/2.0 200 OK',
      ...request
        .split('\r\n\r\n')[0]
        ?.split('\r\n')
        .filter((line) => /^(Via|From|To|Call-ID|CSeq):/i.test(line)) ?? [],
      `Contact: <sip:${this.#name}@${this.#local}>`,
      ...(sdp ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n');
    this.#socket.send(response, this.#boxPort, '127.0.0.1');
  }

  #request(method: string, cseq: number, uri: string, to: string, extra: string[] = [], body = '', branch = `z9hG4bK${randomUUID().slice(0, 12)}`): string {
    return [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.#local};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: "${this.#name}" <sip:${this.#name.toLowerCase()}@vcbox.local>;tag=${this.#fromTag}`,
      `To: ${to}`,
      `Call-ID: ${this.#callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:${this.#name.toLowerCase()}@${this.#local}>`,
      ...extra,
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  }

  /** Sends `message` (again every 500 ms until a provisional or final answer) and waits for its final response, or undefined after `timeoutMs`. */
  async #transaction(message: string, method: string, cseq: number, timeoutMs: number): Promise<string | undefined> {
    const matches = (m: string) => new RegExp(`^CSeq:\\s*${cseq} ${method}`, 'im').test(m);
    this.#socket.send(message, this.#boxPort, '127.0.0.1');
    const deadline = Date.now() + timeoutMs;
    let resendAt = Date.now() + 500;
    for (;;) {
      const index = this.#responses.findIndex((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m) && matches(m));
      if (index >= 0) return this.#responses.splice(index, 1)[0];
      if (Date.now() > deadline) return undefined;
      if (Date.now() > resendAt && !this.#responses.some(matches)) {
        this.#socket.send(message, this.#boxPort, '127.0.0.1');
        resendAt = Date.now() + 500;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Calls `dial` at the box's UDP port with these SDP media lines (and `extra` headers in the
   * INVITE); resolves with the 200 once ACKed (throws on anything else). The 200 is kept: `answer`.
   */
  async join(boxPort: number, dial: string, media: string, timeoutMs = 15_000, extra: string[] = []): Promise<void> {
    this.#boxPort = boxPort;
    const uri = `sip:${dial}@vcbox.local`;
    this.#offer = ['v=0', 'o=terminal 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', ...media.split('\n'), ''].join('\r\n');
    const branch = `z9hG4bK${randomUUID().slice(0, 12)}`;
    const response = await this.#transaction(this.#request('INVITE', 1, uri, `<${uri}>`, extra, this.#offer, branch), 'INVITE', 1, timeoutMs);
    if (!response) throw new Error(`${this.#name}: no final answer to the INVITE within ${timeoutMs} ms`);
    const status = Number(response.slice(8, 11));
    this.#to = headerOf(response, 'To') ?? `<${uri}>`;
    if (status !== 200) {
      this.#socket.send(this.#request('ACK', 1, uri, this.#to, [], '', branch), boxPort, '127.0.0.1');
      throw new Error(`${this.#name}: the INVITE was answered ${response.split('\r\n')[0]}`);
    }
    this.answer = response;
    this.#requestUri = /<([^>]+)>/.exec(headerOf(response, 'Contact') ?? '')?.[1] ?? uri;
    this.answeredPort = Number(/^m=audio (\d+) /m.exec(bodyOf(response))?.[1] ?? 0);
    this.#socket.send(this.#request('ACK', 1, this.#requestUri, this.#to), boxPort, '127.0.0.1');
  }

  /** An in-dialog request (BYE, INFO…); resolves with the final response's status, or undefined when none came within `timeoutMs`. */
  async inDialog(method: string, timeoutMs = 10_000, extra: string[] = []): Promise<{ status: number | undefined; response: string | undefined }> {
    const cseq = ++this.#cseq;
    const response = await this.#transaction(this.#request(method, cseq, this.#requestUri, this.#to, extra), method, cseq, timeoutMs);
    return { status: response ? Number(response.slice(8, 11)) : undefined, response };
  }

  /** Waits for the box's BYE (answered 200 already); resolves with it. */
  byeFromBox(timeoutMs: number): Promise<string> {
    return waitFor(`${this.#name}: a BYE from the box`, timeoutMs, () => this.requests.find((r) => r.startsWith('BYE ')));
  }

  /** Waits for the box's `n`-th re-INVITE (a heal moving the media; answered already); resolves with the audio port it names. */
  async reInvited(n: number, timeoutMs: number): Promise<number> {
    await waitFor(`${this.#name}: re-INVITE ${n} from the box`, timeoutMs, () => this.requests.filter((r) => r.startsWith('INVITE ')).length >= n);
    return this.answeredPort;
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}
