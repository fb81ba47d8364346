/**
 * The link to one remote syslog collector: UDP (RFC 5426, one message per datagram), TCP
 * (RFC 6587, octet-counting frames) or TLS (RFC 5425, the collector's certificate verified
 * against the system's and the admin's trusted CAs). Takes already-formatted messages
 * (./syslog-message.ts) and never blocks or throws at its caller: over TCP/TLS messages wait in
 * a bounded queue while the collector is unreachable — the oldest dropped first, drops counted
 * and announced to the collector once it is back — and the connection is retried with
 * exponential back-off. What was handed to a connection that then breaks may be lost (plain
 * syslog over TCP has no acknowledgements; RELP would be the answer).
 * Which messages to send, and when the target changes, is ./remote-syslog-link.ts's business.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { getLogger } from './logger.ts';
import { octetCounted } from './syslog-message.ts';

const log = getLogger('syslog');

export type SyslogProtocol = 'udp' | 'tcp' | 'tls';

export interface SyslogTarget {
  readonly host: string;
  readonly port: number;
  readonly protocol: SyslogProtocol;
  /** CA certificates for TLS (undefined: Node's defaults, the public CAs). */
  readonly ca?: readonly string[] | undefined;
}

export interface SyslogForwarderOptions {
  /** Messages kept while the collector is unreachable (TCP/TLS) or sends are pending (UDP). Default 1000. */
  readonly bufferLimit?: number;
  /** First wait before reconnecting; doubles per failure up to `maxBackoffMs`. Default 500 ms. */
  readonly minBackoffMs?: number;
  /** Default 30 s. */
  readonly maxBackoffMs?: number;
  /** A connection attempt that takes longer is abandoned. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Formats the message telling the collector how many messages were dropped. */
  readonly dropNotice?: (count: number) => Buffer;
}

/**
 * `connecting`: a connection attempt is under way; `connected`: messages flow (UDP: always,
 * there is no connection); `waiting`: the collector could not be reached, the next attempt is
 * scheduled; `closed`: close() was called.
 */
export type SyslogLinkState = 'connecting' | 'connected' | 'waiting' | 'closed';

export interface SyslogLinkStatus {
  readonly target: string;
  readonly state: SyslogLinkState;
  /** Messages waiting for the collector. */
  readonly queued: number;
  /** Messages handed to the network since the link was made. */
  readonly sent: number;
  /** Messages dropped (queue full, or a UDP send failed) since the link was made. */
  readonly dropped: number;
  readonly lastError: string | undefined;
}

export class SyslogForwarder {
  readonly #target: SyslogTarget;
  readonly #bufferLimit: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #connectTimeoutMs: number;
  readonly #dropNotice: ((count: number) => Buffer) | undefined;
  readonly #queue: Buffer[] = [];
  #state: SyslogLinkState = 'connecting';
  #stream: net.Socket | undefined;
  #udp: dgram.Socket | undefined;
  #udpPending = 0;
  /** The stream's buffer is full: wait for 'drain' before writing more. */
  #blocked = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #sent = 0;
  #dropped = 0;
  /** Drops the collector has not been told about yet. */
  #unreported = 0;
  #lastError: string | undefined;
  /** Whether the current outage was logged already (one warning per outage, not per retry). */
  #outageLogged = false;

  constructor(target: SyslogTarget, options: SyslogForwarderOptions = {}) {
    this.#target = target;
    this.#bufferLimit = Math.max(1, options.bufferLimit ?? 1000);
    this.#minBackoffMs = options.minBackoffMs ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#dropNotice = options.dropNotice;
    this.#backoffMs = this.#minBackoffMs;
    if (target.protocol === 'udp') this.#openUdp();
    else this.#connect();
  }

  get target(): SyslogTarget {
    return this.#target;
  }

  status(): SyslogLinkStatus {
    const { protocol, host, port } = this.#target;
    return {
      target: `${protocol}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
      state: this.#state,
      queued: this.#queue.length,
      sent: this.#sent,
      dropped: this.#dropped,
      lastError: this.#lastError,
    };
  }

  /** Queues one formatted message; sends it at once when the link is up. Never throws. */
  send(message: Buffer): void {
    if (this.#state === 'closed') return;
    if (this.#udp) {
      this.#sendUdp(message);
      return;
    }
    this.#queue.push(message);
    while (this.#queue.length > this.#bufferLimit) {
      this.#queue.shift();
      this.#drop(1);
    }
    this.#flush();
  }

  /** Takes the messages still waiting (for a new link when the target changes). */
  takeQueued(): Buffer[] {
    return this.#queue.splice(0);
  }

  /** Stops for good: what is queued is written if the link is up, then the socket is ended. Safe to call twice. */
  close(): void {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#udp) {
      const udp = this.#udp;
      this.#udp = undefined;
      try {
        udp.close();
      } catch {
        // already closed
      }
    }
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream) {
      if (wasConnected) {
        for (const message of this.#queue.splice(0)) stream.write(octetCounted(message));
        stream.end();
        // A collector that does not read cannot hold the socket open for ever.
        setTimeout(() => stream.destroy(), 2000).unref();
      } else {
        stream.destroy();
      }
    }
  }

  #drop(count: number): void {
    this.#dropped += count;
    this.#unreported += count;
  }

  /** The notice of drops not yet reported, if there are any (counted as reported from now). */
  #takeDropNotice(): Buffer | undefined {
    if (this.#unreported === 0 || !this.#dropNotice) return undefined;
    const notice = this.#dropNotice(this.#unreported);
    this.#unreported = 0;
    return notice;
  }

  #openUdp(): void {
    const socket = dgram.createSocket(net.isIPv6(this.#target.host) ? 'udp6' : 'udp4');
    // An ICMP error or a failed name lookup surfaces here or in a send callback; neither may crash the process.
    socket.on('error', (error) => this.#udpFailed(error));
    socket.unref();
    this.#udp = socket;
    this.#state = 'connected';
  }

  #sendUdp(message: Buffer): void {
    const socket = this.#udp;
    if (!socket) return;
    const notice = this.#udpPending === 0 ? this.#takeDropNotice() : undefined;
    for (const datagram of notice ? [notice, message] : [message]) {
      // Sends wait for a name lookup; never more than the buffer limit of them.
      if (this.#udpPending >= this.#bufferLimit) {
        this.#drop(1);
        continue;
      }
      this.#udpPending++;
      socket.send(datagram, this.#target.port, this.#target.host, (error) => {
        this.#udpPending--;
        if (error) {
          this.#drop(1);
          this.#udpFailed(error);
        } else {
          this.#sent++;
          if (this.#outageLogged) log.info({ target: this.status().target }, 'remote syslog: sending again');
          this.#outageLogged = false;
          this.#lastError = undefined;
        }
      });
    }
  }

  #udpFailed(error: Error): void {
    this.#lastError = error.message;
    if (!this.#outageLogged) log.warn({ target: this.status().target, err: error.message }, 'remote syslog: cannot send to the collector; messages are dropped until it works again');
    this.#outageLogged = true;
  }

  #connect(): void {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    this.#blocked = false;
    const { host, port, protocol, ca } = this.#target;
    const socket =
      protocol === 'tls'
        ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...(ca ? { ca: [...ca] } : {}), minVersion: 'TLSv1.2' })
        : net.connect({ host, port });
    this.#stream = socket;
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${this.#connectTimeoutMs / 1000} s`)), this.#connectTimeoutMs);
    timer.unref();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on(protocol === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      if (this.#stream !== socket) return;
      this.#state = 'connected';
      this.#backoffMs = this.#minBackoffMs;
      this.#lastError = undefined;
      log.info({ target: this.status().target }, 'remote syslog: connected to the collector');
      this.#outageLogged = false;
      // The drops happened before what is queued now: the notice goes first.
      const notice = this.#takeDropNotice();
      if (notice) this.#queue.unshift(notice);
      this.#flush();
    });
    // A collector has nothing to say; reading keeps TLS alerts and the peer's FIN flowing.
    socket.on('data', () => {});
    socket.on('error', (error) => {
      this.#lastError = error.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#stream !== socket) return;
      this.#stream = undefined;
      if (this.#state === 'closed') return;
      const wasConnected = this.#state === 'connected';
      this.#state = 'waiting';
      const reason = this.#lastError ?? 'the collector closed the connection';
      if (!this.#outageLogged) {
        log.warn(
          { target: this.status().target, err: reason, queued: this.#queue.length, bufferLimit: this.#bufferLimit },
          wasConnected ? 'remote syslog: connection to the collector lost; buffering and reconnecting' : 'remote syslog: cannot connect to the collector; buffering and retrying',
        );
        this.#outageLogged = true;
      }
      if (wasConnected && !this.#lastError) this.#lastError = reason;
      // Jitter keeps several processes of the box from reconnecting in step.
      const wait = Math.round(this.#backoffMs * (0.75 + Math.random() * 0.5));
      this.#backoffMs = Math.min(this.#backoffMs * 2, this.#maxBackoffMs);
      log.debug({ waitMs: wait }, 'remote syslog: next connection attempt');
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#connect();
      }, wait);
      this.#retryTimer.unref();
    });
  }

  #flush(): void {
    const socket = this.#stream;
    if (this.#state !== 'connected' || !socket || this.#blocked) return;
    while (this.#queue.length > 0) {
      const message = this.#queue.shift() as Buffer;
      this.#sent++;
      if (!socket.write(octetCounted(message))) {
        this.#blocked = true;
        socket.once('drain', () => {
          this.#blocked = false;
          if (this.#stream === socket) this.#flush();
        });
        return;
      }
    }
  }
}
