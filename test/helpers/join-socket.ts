/**
 * A client of the browser join WebSocket (`/api/v1/join/ws`) for tests: opens it from a chosen
 * local address and with a chosen Origin (or none), sends requests {id, method, params} or any
 * raw frame, and hands back answers by id. A refused handshake is answered with its HTTP
 * status and body (the refusal in words); the close code and reason are kept.
 */
import http from 'node:http';
import WebSocket from 'ws';

export interface JoinAnswer {
  readonly id: unknown;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: string; readonly message: string; readonly refusal?: string; readonly field?: string };
}

export interface JoinSocketOptions {
  /** The local address the connection comes from (a 127.0.0.0/8 address). */
  readonly localAddress?: string;
  /** The Origin header; none when absent (as from a non-browser client). */
  readonly origin?: string;
}

export type Opened = { readonly ok: true; readonly socket: JoinSocket } | { readonly ok: false; readonly status: number; readonly body: { code?: string; message?: string } };

export class JoinSocket {
  readonly #ws: WebSocket;
  readonly #answers: JoinAnswer[] = [];
  readonly #waiters = new Set<() => void>();
  #nextId = 1;
  /** The close code and reason, once the socket is closed. */
  closed: { code: number; reason: string } | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      this.#answers.push(JSON.parse(data.toString('utf8')) as JoinAnswer);
      for (const wake of [...this.#waiters]) wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      for (const wake of [...this.#waiters]) wake();
    });
    ws.on('error', () => undefined);
  }

  /** Opens the join socket of the console at `base` (http://host:port). */
  static open(base: string, options: JoinSocketOptions = {}): Promise<Opened> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/join/ws`, {
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
    });
    return new Promise<Opened>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('the join socket neither opened nor was refused within 10 s'));
      }, 10_000);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve({ ok: true, socket: new JoinSocket(ws) });
      });
      ws.once('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        response.on('end', () => {
          clearTimeout(timer);
          ws.terminate();
          resolve({ ok: false, status: response.statusCode ?? 0, body: text ? JSON.parse(text) : {} });
        });
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Opens it and fails the test's promise when the handshake was refused. */
  static async connect(base: string, options: JoinSocketOptions = {}): Promise<JoinSocket> {
    const opened = await JoinSocket.open(base, options);
    if (!opened.ok) throw new Error(`the join socket was refused: ${opened.status} ${JSON.stringify(opened.body)}`);
    return opened.socket;
  }

  /** Sends any frame as it is (text, or binary for a Buffer). */
  sendRaw(frame: string | Buffer): void {
    this.#ws.send(frame, { binary: Buffer.isBuffer(frame) });
  }

  /** Sends a request and waits (bounded) for the answer with its id. */
  async request(method: string, params: Record<string, unknown> = {}): Promise<JoinAnswer> {
    const id = this.#nextId++;
    this.sendRaw(JSON.stringify({ id, method, params }));
    return this.answer((answer) => answer.id === id);
  }

  /** The first answer (already received or still to come) that `matches`; bounded by 10 s. */
  answer(matches: (answer: JoinAnswer) => boolean, timeoutMs = 10_000): Promise<JoinAnswer> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.#answers.findIndex((a) => matches(a));
        if (index >= 0) {
          done();
          resolve(this.#answers.splice(index, 1)[0] as JoinAnswer);
        } else if (this.closed) {
          done();
          reject(new Error(`the join socket closed (${this.closed.code} ${this.closed.reason}) before the answer came`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no answer on the join socket within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves once the socket is closed (bounded by 10 s). */
  whenClosed(): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        resolve(this.closed);
        return;
      }
      const timer = setTimeout(() => reject(new Error('the join socket did not close within 10 s')), 10_000);
      this.#ws.once('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.#ws.close();
  }
}

/**
 * The join page's `join` {number, pin, name} from a chosen loopback address (so a lock-out test
 * keeps its address to itself): the answer, then the socket closes (a browser that joined
 * leaves the meeting with it).
 */
export async function joinFromAddress(base: string, address: string, join: { number: string; pin?: string; name: string }): Promise<JoinAnswer> {
  const socket = await JoinSocket.connect(base, { localAddress: address });
  try {
    return await socket.request('join', join);
  } finally {
    socket.close();
  }
}

/** GET /api/v1/join/:number from `address`: its status and JSON body. */
export function lookUpFromAddress(base: string, address: string, number: string): Promise<{ status: number; body: { code?: string; refusal?: string; message?: string; subject?: string } }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${base}/api/v1/join/${number}`, { localAddress: address }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error('no answer to the join look-up within 10 s')));
  });
}

/** RTP parameters mediasoup takes for an H.264 screen share (`shareContent`; no packet need ever come). */
export const screenRtpParameters = (ssrc: number) => ({
  mid: '2',
  codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 }, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc }],
  rtcp: { cname: `screen-${ssrc}` },
});
