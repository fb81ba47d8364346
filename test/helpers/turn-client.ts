/**
 * A minimal TURN client (RFC 8656) for tests of the box's relay, over UDP or over a TCP
 * connection to the relay: Allocate (a UDP relay, or a TCP one as RFC 6062 asks for it) with
 * the long-term credential mechanism (the 401 challenge's realm and nonce, MESSAGE-INTEGRITY
 * keyed with MD5(user:realm:password)), CreatePermission for a peer address, and Send
 * indications (a datagram the relay is asked to send to a peer address and port). It answers
 * the relay's response class and error code.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const CREATE_PERMISSION = 0x0008;
const SEND_INDICATION = 0x0016;
const ATTR = { username: 0x0006, integrity: 0x0008, error: 0x0009, peer: 0x0012, data: 0x0013, realm: 0x0014, nonce: 0x0015, transport: 0x0019 } as const;
const PROTOCOL = { udp: 17, tcp: 6 } as const;

export interface TurnAnswer {
  readonly ok: boolean;
  /** The error code (401, 403, 438…) of an error response. */
  readonly code?: number;
  readonly reason?: string;
}

function attribute(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  const padding = Buffer.alloc((4 - (value.length % 4)) % 4);
  return Buffer.concat([header, value, padding]);
}

function xorPeer(address: string, port = 9): Buffer {
  const value = Buffer.alloc(8);
  value.writeUInt8(0x01, 1); // IPv4
  value.writeUInt16BE(port ^ (MAGIC >>> 16), 2); // XOR-ed; port 9 (discard) where it does not matter
  const parts = address.split('.').map(Number);
  value.writeUInt32BE(((((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) ^ MAGIC) >>> 0, 4);
  return value;
}

function parse(message: Buffer): { type: number; attributes: Map<number, Buffer> } {
  const attributes = new Map<number, Buffer>();
  let offset = 20;
  while (offset + 4 <= message.length) {
    const type = message.readUInt16BE(offset);
    const length = message.readUInt16BE(offset + 2);
    attributes.set(type, message.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length + ((4 - (length % 4)) % 4);
  }
  return { type: message.readUInt16BE(0), attributes };
}

export class TurnClient {
  readonly #host: string;
  readonly #port: number;
  readonly #udp: dgram.Socket | undefined;
  readonly #tcp: net.Socket | undefined;
  readonly #listeners = new Set<(message: Buffer) => void>();
  #received = Buffer.alloc(0);
  #realm = '';
  #nonce = '';
  #key: Buffer | undefined;
  #username = '';

  /** A client of the relay at host:port, talking to it over UDP (default) or one TCP connection. */
  constructor(host: string, port: number, over: 'udp' | 'tcp' = 'udp') {
    this.#host = host;
    this.#port = port;
    if (over === 'udp') {
      this.#udp = dgram.createSocket('udp4');
      this.#udp.on('message', (message) => this.#deliver(message));
    } else {
      this.#tcp = net.connect(port, host);
      this.#tcp.on('error', () => undefined);
      this.#tcp.on('data', (chunk: Buffer) => {
        // STUN over TCP: messages back to back, each 20 bytes of header plus its length.
        this.#received = Buffer.concat([this.#received, chunk]);
        while (this.#received.length >= 20 && this.#received.length >= 20 + this.#received.readUInt16BE(2)) {
          const length = 20 + this.#received.readUInt16BE(2);
          this.#deliver(this.#received.subarray(0, length));
          this.#received = this.#received.subarray(length);
        }
      });
    }
  }

  #deliver(message: Buffer): void {
    for (const listener of [...this.#listeners]) listener(message);
  }

  #write(message: Buffer): void {
    if (this.#udp) this.#udp.send(message, this.#port, this.#host);
    else this.#tcp?.write(message);
  }

  #request(method: number, attributes: Buffer[], sign: boolean): Promise<{ type: number; attributes: Map<number, Buffer> }> {
    const transaction = randomBytes(12);
    const body = Buffer.concat(attributes);
    const header = Buffer.alloc(20);
    header.writeUInt16BE(method, 0);
    header.writeUInt32BE(MAGIC, 4);
    transaction.copy(header, 8);
    let message: Buffer;
    if (sign && this.#key) {
      // The length counts MESSAGE-INTEGRITY itself (24 bytes) when the HMAC is computed.
      header.writeUInt16BE(body.length + 24, 2);
      const hmac = createHmac('sha1', this.#key).update(Buffer.concat([header, body])).digest();
      message = Buffer.concat([header, body, attribute(ATTR.integrity, hmac)]);
    } else {
      header.writeUInt16BE(body.length, 2);
      message = Buffer.concat([header, body]);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(onMessage);
        reject(new Error(`no TURN answer from ${this.#host}:${this.#port} within 3 s`));
      }, 3000);
      const onMessage = (answer: Buffer) => {
        if (answer.length < 20 || !answer.subarray(8, 20).equals(transaction)) return;
        clearTimeout(timer);
        this.#listeners.delete(onMessage);
        resolve(parse(answer));
      };
      this.#listeners.add(onMessage);
      this.#write(message);
    });
  }

  static #answer(response: { type: number; attributes: Map<number, Buffer> }): TurnAnswer {
    if ((response.type & 0x0110) === 0x0100) return { ok: true };
    const error = response.attributes.get(ATTR.error);
    return error ? { ok: false, code: (error.readUInt8(2) & 0x07) * 100 + error.readUInt8(3), reason: error.subarray(4).toString('utf8') } : { ok: false };
  }

  /**
   * Allocate a relay (UDP by default; `tcp` asks for an RFC 6062 TCP relay): the challenge
   * first, then the request signed with these credentials.
   */
  async allocate(username: string, password: string, relay: 'udp' | 'tcp' = 'udp'): Promise<TurnAnswer> {
    const transport = attribute(ATTR.transport, Buffer.from([PROTOCOL[relay], 0, 0, 0]));
    const challenge = await this.#request(ALLOCATE, [transport], false);
    const realm = challenge.attributes.get(ATTR.realm);
    const nonce = challenge.attributes.get(ATTR.nonce);
    if (!realm || !nonce) return TurnClient.#answer(challenge);
    this.#realm = realm.toString('utf8');
    this.#nonce = nonce.toString('utf8');
    this.#username = username;
    this.#key = createHash('md5').update(`${username}:${this.#realm}:${password}`).digest();
    return TurnClient.#answer(await this.#request(ALLOCATE, [transport, ...this.#credentials()], true));
  }

  /** Ask the relay to let `peer` (an IPv4 address) send to this allocation. */
  async permit(peer: string): Promise<TurnAnswer> {
    return TurnClient.#answer(await this.#request(CREATE_PERMISSION, [attribute(ATTR.peer, xorPeer(peer)), ...this.#credentials()], true));
  }

  /**
   * A Send indication: the relay is asked to send `data` from this allocation to peer:port
   * (after a permission for the peer). Indications have no answer; whether it arrived is the
   * peer's to say.
   */
  send(peer: string, port: number, data: Buffer): void {
    const body = Buffer.concat([attribute(ATTR.peer, xorPeer(peer, port)), attribute(ATTR.data, data)]);
    const header = Buffer.alloc(20);
    header.writeUInt16BE(SEND_INDICATION, 0);
    header.writeUInt16BE(body.length, 2);
    header.writeUInt32BE(MAGIC, 4);
    randomBytes(12).copy(header, 8);
    this.#write(Buffer.concat([header, body]));
  }

  get realm(): string {
    return this.#realm;
  }

  #credentials(): Buffer[] {
    return [attribute(ATTR.username, Buffer.from(this.#username)), attribute(ATTR.realm, Buffer.from(this.#realm)), attribute(ATTR.nonce, Buffer.from(this.#nonce))];
  }

  close(): void {
    this.#udp?.close();
    this.#tcp?.destroy();
  }
}
