/**
 * A raw SIP peer on a UDP socket bound to a loopback address the test chooses (127.0.0.N): the
 * tests' stand-in for a terminal at that address, or for packets whose source an attacker
 * forged to be that address (sent without waiting for what comes back). Also the digest
 * answers a well-behaved library never writes: without qop (RFC 2069 style), with a chosen
 * algorithm or signed URI. Every wait is bounded; `close()` frees the socket.
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';

export class UdpSipPeer {
  readonly #socket = dgram.createSocket('udp4');
  readonly #inbox: string[] = [];
  #waiter: (() => void) | undefined;

  private constructor() {
    this.#socket.on('message', (msg) => {
      this.#inbox.push(msg.toString('latin1'));
      this.#waiter?.();
    });
  }

  /** A peer on `address` (any 127.0.0.0/8 address is on the loopback interface), on a free port. */
  static async open(address: string): Promise<UdpSipPeer> {
    const peer = new UdpSipPeer();
    await new Promise<void>((resolve, reject) => {
      peer.#socket.once('error', reject);
      peer.#socket.bind(0, address, () => resolve());
    });
    return peer;
  }

  get address(): string {
    return this.#socket.address().address;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Sends without waiting (a forged packet's sender never sees the answer). */
  send(port: number, message: string): void {
    this.#socket.send(message, port, '127.0.0.1');
  }

  /** Sends and waits for the final response (≥ 200) to it, or undefined after the timeout. */
  async request(port: number, message: string, timeoutMs = 5000): Promise<string | undefined> {
    this.#inbox.length = 0;
    this.send(port, message);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#inbox.findIndex((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m));
      if (index >= 0) return this.#inbox.splice(index, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}

/**
 * An Authorization value for a challenge with every part chosen: `qop` false answers the old
 * RFC 2069 way (no nc/cnonce), `algorithm` and `uri` may differ from what the challenge asked.
 */
export function digestAnswerWith(
  challenge: string,
  answer: { user: string; password: string; method: string; uri: string; algorithm?: 'MD5' | 'SHA-256'; qop?: boolean; nc?: number },
): string {
  const param = (name: string) => new RegExp(`${name}="?([^",]+)"?`, 'i').exec(challenge)?.[1] ?? '';
  const algorithm = answer.algorithm ?? ((param('algorithm') || 'MD5') as 'MD5' | 'SHA-256');
  const h = (text: string) => createHash(algorithm === 'SHA-256' ? 'sha256' : 'md5').update(text).digest('hex');
  const realm = param('realm');
  const nonce = param('nonce');
  const ha1 = h(`${answer.user}:${realm}:${answer.password}`);
  const ha2 = h(`${answer.method}:${answer.uri}`);
  const base = `Digest username="${answer.user}", realm="${realm}", nonce="${nonce}", uri="${answer.uri}", algorithm=${algorithm}`;
  if (answer.qop === false) return `${base}, response="${h(`${ha1}:${nonce}:${ha2}`)}"`;
  const nc = (answer.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = 'feedc0de';
  return `${base}, response="${h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}", qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}
