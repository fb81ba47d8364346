/**
 * The SIP signaling service: owns the UDP, TCP and TLS listeners, parses what arrives, answers
 * what it can answer statelessly, and (with the signaling issue) hands the rest to the SIP
 * application over drachtio's wire protocol. Today it answers OPTIONS with 200 (the keep-alive
 * and health probe every terminal and monitor sends), refuses other methods with 501, absorbs
 * ACKs, drops stray responses, and answers malformed requests with 400 saying what was wrong
 * (dropped instead on UDP when not even the routing headers could be read).
 */
import { getLogger } from '../logging/logger.ts';
import { USER_AGENT } from '../version.ts';
import {
  type SipParseError,
  type SipRequest,
  SipResponse,
  createResponse,
  headerParam,
  parseMessage,
} from './sip/sip-message.ts';
import type { MessageSource, SipTransport } from './transports/sip-transport.ts';
import { StreamTransport } from './transports/stream-transport.ts';
import { UdpTransport } from './transports/udp-transport.ts';

const log = getLogger('signaling-service');

export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'PRACK'];

export interface SignalingServiceOptions {
  readonly host: string;
  /** UDP and TCP port; 0 picks a free one (tests). */
  readonly port: number;
  readonly tlsPort: number;
  readonly tls: { readonly key: Buffer; readonly cert: Buffer };
}

export class SignalingService {
  readonly #transports: SipTransport[];
  #closed = false;

  constructor(options: SignalingServiceOptions) {
    this.#transports = [
      new UdpTransport({ host: options.host, port: options.port }),
      new StreamTransport({ host: options.host, port: options.port }),
      new StreamTransport({ host: options.host, port: options.tlsPort, tls: options.tls }),
    ];
    for (const transport of this.#transports) {
      transport.on('message', (data, source) => this.#onMessage(transport, data, source));
      transport.on('framingError', (error, head, source) => this.#onBadMessage(transport, error, head, source));
    }
  }

  /** Binds every listener; if one fails, the others are closed again and the error thrown. */
  async start(): Promise<void> {
    try {
      for (const transport of this.#transports) await transport.listen();
    } catch (error) {
      await this.close();
      throw error;
    }
    log.info({ listeners: this.listeners() }, 'SIP listeners up');
  }

  /** `proto/address:port` of each listener, as drachtio reports them. */
  listeners(): string[] {
    return this.#transports.map((t) => `${t.protocol}/${t.local.address}:${t.local.port}`);
  }

  #onMessage(transport: SipTransport, data: Buffer, source: MessageSource): void {
    let message: ReturnType<typeof parseMessage>;
    try {
      message = parseMessage(data);
    } catch (error) {
      this.#onBadMessage(transport, error as SipParseError, data, source);
      return;
    }
    if (message.type === 'response') {
      log.debug({ status: message.status, source }, 'stray response dropped');
      return;
    }
    this.#stampVia(message, source);
    switch (message.method) {
      case 'ACK':
        return;
      case 'OPTIONS': {
        const response = createResponse(message, 200, 'OK', randomTag());
        response.add('allow', ALLOWED_METHODS.join(', '));
        response.add('accept', 'application/sdp');
        response.add('supported', 'path, outbound, gruu, timer');
        response.add('server', USER_AGENT);
        this.#reply(transport, response, message, source);
        return;
      }
      default: {
        const response = createResponse(message, 501, 'Not Implemented', randomTag());
        response.add('allow', 'OPTIONS');
        response.add('server', USER_AGENT);
        this.#reply(transport, response, message, source);
      }
    }
  }

  /** RFC 3581 / 3261 §18.2.1: note where the request really came from in its top Via. */
  #stampVia(request: SipRequest, source: MessageSource): void {
    const vias = request.headers.filter(([name]) => name === 'via');
    const top = vias[0];
    if (!top) return;
    let via = top[1];
    const sentBy = /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
    const sentHost = sentBy.startsWith('[') ? sentBy.slice(0, sentBy.indexOf(']') + 1) : sentBy.split(':')[0];
    if (headerParam(via, 'received') === undefined && sentHost !== source.address) via += `;received=${source.address}`;
    if (headerParam(via, 'rport') === '') via = via.replace(/;\s*rport(?=;|$)/i, `;rport=${source.port}`);
    top[1] = via;
  }

  #reply(transport: SipTransport, response: SipResponse, request: SipRequest, source: MessageSource): void {
    let destination = source;
    if (source.protocol === 'udp') {
      // RFC 3581: with rport, back to the source port; without, to the port in the Via.
      const via = request.get('via') ?? '';
      if (headerParam(via, 'rport') === undefined) {
        const sentBy = /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
        const port = Number(/:(\d+)$/.exec(sentBy)?.[1] ?? 5060);
        destination = { ...source, port };
      }
    }
    transport.send(response.toBuffer(), destination);
  }

  /**
   * A message that cannot be parsed: when its routing headers can still be read, it gets a
   * 400 whose Warning says what was wrong; otherwise it is dropped (UDP) — on a stream the
   * transport closes the connection after this.
   */
  #onBadMessage(transport: SipTransport, error: SipParseError, data: Buffer, source: MessageSource): void {
    log.debug({ reason: error.message, source }, 'malformed SIP message');
    const head = data.subarray(0, 8192).toString('latin1');
    if (head.startsWith('SIP/2.0')) return; // never answer a response
    const header = (names: string) => new RegExp(`^(?:${names})[ \\t]*:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim();
    const via = header('via|v');
    const from = header('from|f');
    const to = header('to|t');
    const callId = header('call-id|i');
    const cseq = header('cseq');
    if (!via || !from || !to || !callId || !cseq || /^(ACK)\b/.test(head)) return;
    const response = new SipResponse(400, 'Bad Request');
    response.add('via', via).add('from', from).add('to', to).add('call-id', callId).add('cseq', cseq);
    response.add('warning', `399 ${USER_AGENT.split('/')[0]} "${error.message.replace(/["\\\r\n]/g, "'")}"`);
    response.add('server', USER_AGENT);
    transport.send(response.toBuffer(), source);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#transports.map((t) => t.close()));
  }
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 12);
}
