/**
 * The SIP signaling service: the box's SIP server, and a drachtio server for SIP applications.
 *
 * It owns the UDP, TCP and TLS listeners, parsing, the transaction layer (./transactions),
 * dialog tracking (./dialogs), rport/received, and connection reuse; it knows nothing about
 * meetings. Requests from the network go to the application connection that routed their
 * method (drachtio wire protocol, ./drachtio); what the application sends back is completed
 * (Via, tags, Contact, CSeq, route set — ./core/app-message.ts) and put on the wire. The duties
 * split follows shared/notes/drachtio-wire-protocol.md §11. Without any application routing
 * OPTIONS, OPTIONS is answered here (terminals' keep-alive); other methods get 503.
 *
 * Its settings apply while it runs (`reconfigure`): new ports are bound before the old ones are
 * let go — TCP/TLS connections already open stay, a former UDP port keeps carrying the dialogs
 * begun on it (and nothing new) until they end — and the flood limit, scanner blocking, terminal
 * logs and the TLS certificate change in place. Registrations live in the application, so none
 * is lost. `stats()` counts what went through (Prometheus metrics, via the control channel).
 */
import { randomUUID } from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import { getLogger } from '../logging/logger.ts';
import { BUILD_INFO, USER_AGENT } from '../version.ts';
import { applyBody, copyAppHeaders, replaceLocalhost } from './core/app-message.ts';
import { SourceGuard, type SourceGuardOptions } from './core/source-guard.ts';
import { TERMINAL_LOG_METHODS, TerminalLog } from './core/terminal-log.ts';
import { type Dialog, dialogIdOf, newDialog } from './dialogs/dialog.ts';
import { type AppConnection, ApplicationServer } from './drachtio/application-server.ts';
import { wireTime } from './drachtio/wire-frames.ts';
import {
  type SipMessage,
  type SipParseError,
  SipRequest,
  SipResponse,
  createResponse,
  headerParam,
  MAX_MESSAGE_BYTES,
  parseMessage,
} from './sip/sip-message.ts';
import { formatNameAddr, parseNameAddr, parseUri, uriParam } from './sip/sip-uri.ts';
import { ClientTransaction } from './transactions/client-transaction.ts';
import { ServerTransaction } from './transactions/server-transaction.ts';
import { TIMERS } from './transactions/timers.ts';
import type { MessageSource, SipTransport, TransportProtocol } from './transports/sip-transport.ts';
import { StreamTransport, type StreamTransportOptions } from './transports/stream-transport.ts';
import { UdpTransport } from './transports/udp-transport.ts';
import { natAddressFor, type StaticNat } from '../network/static-nat.ts';

const log = getLogger('signaling-service');

export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'PRACK'];
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE']);

/** What a running service can be changed to (server/signaling/main.ts reads it from the settings). */
export interface SignalingReconfiguration {
  readonly port: number;
  readonly tlsPort: number;
  readonly guard: SourceGuardOptions;
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
}

/** A listener that could not move to the port asked for (it stays where it was). */
export interface ListenerFailure {
  readonly transport: TransportProtocol;
  readonly port: number;
  readonly reason: string;
}

/** Longest header value a refusal echoes back (longer ones are replaced, see #onBadMessage). */
const ECHO_MAX_BYTES = 1024;

/** Former UDP ports are let go at the latest this long after a port change. */
const DRAIN_MAX_MS = 4 * 60 * 60_000;

export interface SignalingServiceOptions {
  readonly host: string;
  /** UDP and TCP port. */
  readonly port: number;
  readonly tlsPort: number;
  readonly tls: { readonly key: Buffer; readonly cert: Buffer };
  /** The application port (drachtio wire protocol); omitted: no applications (tests). */
  readonly application?: { readonly host: string; readonly port: number; readonly secret: string };
  /** Flood limit and scanner blocking (defaults: 200 messages/s per address, scanners blocked). */
  readonly guard?: SourceGuardOptions;
  /**
   * New requests the applications may have unanswered at once; past it new out-of-dialog
   * requests get 503 with Retry-After at once, so an overload sheds load instead of letting
   * retransmissions pile up (default 1000).
   */
  readonly overloadLimit?: number;
  /** Where per-terminal REGISTER/SUBSCRIBE logs go; omitted: terminal logs off. */
  readonly terminalLogDir?: string;
  /** Whether terminal logs are on now (read at every message; default: on when a folder is given). */
  readonly terminalLogsEnabled?: () => boolean;
  /** Static NAT in force (read at every message): peers outside the LAN get the public IP in Via/Contact. */
  readonly nat?: () => StaticNat | undefined;
  /**
   * TCP/TLS limits against a hostile LAN (defaults in ./transports/stream-transport.ts: 64
   * connections per address, 10 s to the first message, 30 s to complete a begun message).
   */
  readonly streamLimits?: Pick<StreamTransportOptions, 'maxConnectionsPerAddress' | 'firstMessageTimeoutMs' | 'partialMessageTimeoutMs'>;
}

interface Destination extends MessageSource {}

/** How a registered terminal's stream connection is found again: `user@host:port` of its Contact. */
function contactKey(uri: { user: string | undefined; host: string; port: number | undefined }): string {
  return `${uri.user ?? ''}@${uri.host}:${uri.port ?? ''}`;
}

function randomTag(): string {
  return randomUUID().replace(/-/g, '').slice(0, 10);
}

function branch(): string {
  return `z9hG4bK${randomUUID().replace(/-/g, '')}`;
}

/**
 * The URI of a Contact header value; undefined when there is none or it is empty (a 1xx/2xx
 * without Contact must neither leave a dialog without a remote target nor erase a good one).
 */
function contactTarget(value: string | undefined): string | undefined {
  const uri = parseNameAddr(value ?? '')?.uri.trim();
  return uri || undefined;
}

function tagOf(value: string | undefined): string {
  return headerParam(value ?? '', 'tag') ?? '';
}

/** The primary IPv4 address of the box (for Via/Contact when listening on 0.0.0.0). */
function primaryAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}

export class SignalingService {
  readonly #udp: UdpTransport;
  readonly #tcp: StreamTransport;
  readonly #tls: StreamTransport;
  readonly #apps: ApplicationServer | undefined;
  readonly #guard: SourceGuard;
  readonly #terminalLog: TerminalLog | undefined;
  /** What went through, for metrics: plain counters, cheap on the hot path. */
  readonly #counts = {
    requests: new Map<string, number>(),
    retransmissions: 0,
    responses: new Map<string, number>(),
    malformed: 0,
    floodDropped: 0,
    scannerBlocked: 0,
    overloaded: 0,
    clientTimeouts: 0,
    drainingDropped: 0,
  };
  /** Whether terminal logs are on right now (the setting, read per message); default on. */
  readonly #terminalLogsEnabled: () => boolean;
  /**
   * Final responses of completed non-INVITE transactions over UDP, by transaction key, kept for
   * Timer J (64·T1) to answer request retransmissions — compact, swept once a second.
   */
  readonly #completed = new Map<string, { data: Buffer; destination: Destination; until: number }>();
  readonly #completedSweeper: NodeJS.Timeout;
  /** New requests forwarded to an application and not finally answered yet. */
  readonly #awaitingApp = new Set<ServerTransaction>();
  readonly #overloadLimit: number;
  readonly #nat: (() => StaticNat | undefined) | undefined;
  #lastOverloadLog = 0;
  readonly #serverByKey = new Map<string, ServerTransaction>();
  readonly #serverById = new Map<string, ServerTransaction>();
  readonly #clientByKey = new Map<string, ClientTransaction>();
  readonly #clientById = new Map<string, ClientTransaction>();
  readonly #dialogs = new Map<string, Dialog>();
  /** Stream connections of registered terminals, by Contact `user@host:port`. */
  readonly #registeredConnections = new Map<string, { protocol: 'tcp' | 'tls'; connectionId: string; until: number }>();
  #registrationsSinceSweep = 0;
  #closed = false;

  constructor(options: SignalingServiceOptions) {
    this.#nat = options.nat;
    this.#guard = new SourceGuard(options.guard ?? { perSecond: 200, blockScanners: true });
    this.#terminalLog = options.terminalLogDir ? new TerminalLog(options.terminalLogDir) : undefined;
    this.#terminalLogsEnabled = options.terminalLogsEnabled ?? (() => true);
    this.#overloadLimit = options.overloadLimit ?? 1000;
    this.#completedSweeper = setInterval(() => {
      const now = Date.now();
      // Insertion order is expiry order: stop at the first entry still needed.
      for (const [key, entry] of this.#completed) {
        if (entry.until > now) break;
        this.#completed.delete(key);
      }
      this.#sweepDraining(now);
    }, 1000);
    this.#completedSweeper.unref();
    this.#udp = new UdpTransport({ host: options.host, port: options.port });
    this.#tcp = new StreamTransport({ ...options.streamLimits, host: options.host, port: options.port });
    this.#tls = new StreamTransport({ ...options.streamLimits, host: options.host, port: options.tlsPort, tls: options.tls });
    for (const transport of this.#transports) {
      transport.on('message', (data, source) => this.#onNetworkMessage(transport, data, source));
      transport.on('framingError', (error, head, source) => this.#onBadMessage(transport, error, head, source));
    }
    if (options.application) {
      this.#apps = new ApplicationServer({
        ...options.application,
        hostports: () => this.listeners().join(','),
        version: `v${BUILD_INFO.version}`,
      });
      this.#apps.on('sip', (connection, msgId, args, message) => this.#onAppSip(connection, msgId, args, message));
      this.#apps.on('proxy', (connection, msgId) => connection.reply(msgId, ['NOK', 'proxy is not supported by this server']));
      this.#apps.on('closed', (connection) => this.#onAppClosed(connection));
    }
  }

  get #transports(): SipTransport[] {
    return [this.#udp, this.#tcp, this.#tls];
  }

  /** Binds every listener; if one fails, the others are closed again and the error thrown. */
  async start(): Promise<void> {
    try {
      for (const transport of this.#transports) await transport.listen();
      await this.#apps?.listen();
    } catch (error) {
      await this.close();
      throw error;
    }
    log.info({ listeners: this.listeners(), application: this.#apps?.local }, 'SIP listeners up');
  }

  /** `proto/address:port` of each SIP listener, as drachtio reports them. */
  listeners(): string[] {
    return this.#transports.map((t) => `${t.protocol}/${t.local.address}:${t.local.port}`);
  }

  get applicationPort(): number | undefined {
    return this.#apps?.local.port;
  }

  /** Resolves when pending terminal-log writes are done. */
  flushTerminalLogs(): Promise<void> {
    return this.#terminalLog?.flush() ?? Promise.resolve();
  }

  /** Counts for health, metrics and tests: what is open now, and totals since the start. */
  stats() {
    const c = this.#counts;
    return {
      serverTransactions: this.#serverById.size,
      clientTransactions: this.#clientById.size,
      dialogs: this.#dialogs.size,
      applications: this.#apps?.connections.length ?? 0,
      awaitingApplication: this.#awaitingApp.size,
      tcpConnections: this.#tcp.connectionCount,
      tlsConnections: this.#tls.connectionCount,
      requestsReceived: Object.fromEntries(c.requests),
      retransmissionsReceived: c.retransmissions,
      /** Final responses the box sent (the application's and its own), by class: 2xx … 6xx. */
      responsesSent: Object.fromEntries(c.responses),
      errors: {
        malformed: c.malformed,
        floodDropped: c.floodDropped,
        scannerBlocked: c.scannerBlocked,
        overloaded: c.overloaded,
        clientTimeouts: c.clientTimeouts,
        drainingDropped: c.drainingDropped,
      },
    };
  }

  /** The ports bound now: UDP and TCP (one setting), TLS. */
  get ports(): { port: number; tlsPort: number } {
    return { port: this.#udp.local.port, tlsPort: this.#tls.local.port };
  }

  /** Former UDP ports still carrying the dialogs begun on them. */
  get drainingPorts(): number[] {
    return this.#udp.draining.map((d) => d.port);
  }

  /**
   * Applies changed settings while running. Each listener moves on its own: one whose new port
   * cannot be bound stays where it was and is reported (nothing else is undone). Returns those
   * failures; an empty list means everything asked for is in force.
   */
  async reconfigure(next: SignalingReconfiguration): Promise<ListenerFailure[]> {
    if (this.#closed) return [];
    this.#guard.configure(next.guard);
    if (next.tls) this.#tls.setCertificate(next.tls);
    const failures: ListenerFailure[] = [];
    const failed = (transport: TransportProtocol, port: number, error: unknown) => {
      const reason = ((error as { cause?: Error }).cause ?? (error as Error)).message;
      log.error({ transport, port, err: reason }, 'SIP listener could not move; it stays on its port');
      failures.push({ transport, port, reason });
    };
    // UDP and TCP share one setting: both move, or neither (UDP's former socket is still
    // bound while it drains, so it can be taken back).
    const udpBefore = this.#udp.local.port;
    if (next.port !== udpBefore) {
      try {
        await this.#udp.rebind(next.port);
        try {
          await this.#tcp.rebind(next.port);
          log.info({ from: udpBefore, to: next.port }, 'SIP UDP/TCP listeners moved');
          // Dialogs over UDP so far stay on the former port: the peers know the box there.
          const drainingId = this.#udp.draining.find((d) => d.port === udpBefore)?.id;
          for (const dialog of this.#dialogs.values()) {
            if (drainingId && dialog.peer.protocol === 'udp' && dialog.peer.connectionId === undefined) dialog.peer = { ...dialog.peer, connectionId: drainingId };
          }
        } catch (error) {
          await this.#udp.rebind(udpBefore);
          const abandoned = this.#udp.draining.find((d) => d.port === next.port);
          if (abandoned) this.#udp.closeDraining(abandoned.id);
          failed('tcp', next.port, error);
        }
      } catch (error) {
        failed('udp', next.port, error);
      }
    }
    const tlsBefore = this.#tls.local.port;
    if (next.tlsPort !== tlsBefore) {
      try {
        await this.#tls.rebind(next.tlsPort);
        log.info({ from: tlsBefore, to: next.tlsPort }, 'SIP TLS listener moved');
      } catch (error) {
        failed('tls', next.tlsPort, error);
      }
    }
    return failures;
  }

  /** Lets go of former UDP ports whose dialogs are over (after Timer J at least), or that drained too long. */
  #sweepDraining(now: number): void {
    for (const draining of this.#udp.draining) {
      const age = now - draining.since;
      if (age < TIMERS.transactionTimeout) continue;
      let inUse = false;
      if (age < DRAIN_MAX_MS) {
        for (const dialog of this.#dialogs.values()) {
          if (dialog.peer.connectionId === draining.id) {
            inUse = true;
            break;
          }
        }
      }
      if (inUse) continue;
      this.#udp.closeDraining(draining.id);
      log.info({ port: draining.port }, 'former SIP UDP port closed: its dialogs are over');
    }
  }

  // ---------------------------------------------------------------- network side

  #transportFor(protocol: TransportProtocol): SipTransport {
    return protocol === 'udp' ? this.#udp : protocol === 'tcp' ? this.#tcp : this.#tls;
  }

  /** host:port this box puts in Via/Contact for a peer reached over `protocol`. */
  #hostport(protocol: TransportProtocol, peerAddress: string): string {
    const transport = this.#transportFor(protocol);
    const publicIp = natAddressFor(this.#nat?.(), peerAddress);
    if (publicIp) return `${net.isIPv6(publicIp) ? `[${publicIp}]` : publicIp}:${transport.local.port}`;
    let host = transport.local.address;
    if (host === '0.0.0.0' || host === '::') host = peerAddress.startsWith('127.') || peerAddress === '::1' ? '127.0.0.1' : primaryAddress();
    return `${net.isIPv6(host) ? `[${host}]` : host}:${transport.local.port}`;
  }

  #contactFor(protocol: TransportProtocol, peerAddress: string, user?: string): string {
    const scheme = protocol === 'tls' ? 'sips' : 'sip';
    const transport = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `<${scheme}:${user ? `${user}@` : ''}${this.#hostport(protocol, peerAddress)}${transport}>`;
  }

  #send(destination: Destination, data: Buffer): boolean {
    return this.#transportFor(destination.protocol).send(data, destination);
  }

  #onNetworkMessage(transport: SipTransport, data: Buffer, source: MessageSource): void {
    if (!this.#guard.admit(source.address)) {
      this.#counts.floodDropped++;
      return;
    }
    let message: SipMessage;
    try {
      message = parseMessage(data);
    } catch (error) {
      this.#onBadMessage(transport, error as SipParseError, data, source);
      return;
    }
    if (this.#guard.isScanner(message.get('user-agent'))) {
      this.#counts.scannerBlocked++;
      log.debug({ source, userAgent: message.get('user-agent') }, 'scanner blocked');
      return;
    }
    // A former UDP port (a port change drains it) only finishes what was begun there: answers,
    // ACK/CANCEL and requests inside a dialog. Anything new is ignored, as a closed port would.
    if (source.protocol === 'udp' && source.connectionId !== undefined && message.type === 'request' && !['ACK', 'CANCEL'].includes(message.method) && tagOf(message.get('to')) === '') {
      this.#counts.drainingDropped++;
      return;
    }
    try {
      if (message.type === 'response') this.#onNetworkResponse(message, source);
      else this.#onNetworkRequest(message, source);
    } catch (error) {
      log.error({ err: error, source }, 'error while handling a SIP message');
    }
  }

  /** RFC 3581 / 3261 §18.2.1: note where the request really came from in its top Via. */
  #stampVia(request: SipRequest, source: MessageSource): void {
    const top = request.headers.find(([name]) => name === 'via');
    if (!top) return;
    let via = top[1];
    const sentBy = /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
    const sentHost = sentBy.startsWith('[') ? sentBy.slice(0, sentBy.indexOf(']') + 1) : sentBy.split(':')[0];
    if (headerParam(via, 'received') === undefined && sentHost !== source.address) via += `;received=${source.address}`;
    if (headerParam(via, 'rport') === '') via = via.replace(/;\s*rport(?=;|$)/i, `;rport=${source.port}`);
    top[1] = via;
  }

  /** Where responses to a request go (RFC 3261 §18.2.2, RFC 3581). */
  #responseDestination(request: SipRequest, source: MessageSource): Destination {
    if (source.protocol !== 'udp') return source;
    const via = request.get('via') ?? '';
    if (headerParam(via, 'rport') !== undefined) return source;
    const sentBy = /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
    return { ...source, port: Number(/:(\d+)$/.exec(sentBy)?.[1] ?? 5060) };
  }

  #serverKey(request: SipRequest, method = request.method): string {
    const via = request.get('via') ?? '';
    const branchParam = headerParam(via, 'branch') ?? '';
    const sentBy = /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
    return `${branchParam}|${sentBy}|${method}`;
  }

  #newServerTransaction(request: SipRequest, source: MessageSource): ServerTransaction {
    const destination = this.#responseDestination(request, source);
    const key = this.#serverKey(request);
    const transaction = new ServerTransaction(request, source, {
      send: (data) => this.#send(destination, data),
      terminated: (t) => {
        this.#awaitingApp.delete(t);
        this.#serverById.delete(t.id);
        if (this.#serverByKey.get(key) === t) this.#serverByKey.delete(key);
      },
      ackTimeout: (t) => this.#onAckTimeout(t),
      completedNonInvite: (_t, data) => {
        this.#completed.delete(key); // re-insert: keeps the map in expiry order
        this.#completed.set(key, { data, destination, until: Date.now() + TIMERS.transactionTimeout });
        return true;
      },
    });
    this.#serverByKey.set(key, transaction);
    this.#serverById.set(transaction.id, transaction);
    return transaction;
  }

  /** Answers a request from the box itself (no application involved). */
  #respondLocally(request: SipRequest, source: MessageSource, status: number, reason: string, extra: [string, string][] = []): void {
    if (request.method === 'ACK') return;
    const transaction = this.#serverByKey.get(this.#serverKey(request)) ?? this.#newServerTransaction(request, source);
    const response = createResponse(request, status, reason, transaction.toTag);
    for (const [name, value] of extra) response.add(name, value);
    response.add('server', USER_AGENT);
    if (transaction.respond(response) && status >= 200) this.#countResponse(status);
  }

  #count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  #countResponse(status: number): void {
    this.#count(this.#counts.responses, `${Math.floor(status / 100)}xx`);
  }

  #onNetworkRequest(request: SipRequest, source: MessageSource): void {
    this.#count(this.#counts.requests, ALLOWED_METHODS.includes(request.method) ? request.method : 'other');
    this.#stampVia(request, source);
    if (this.#terminalLog && TERMINAL_LOG_METHODS.has(request.method) && this.#terminalLogsEnabled()) this.#terminalLog.record(source.address, 'in', request.toBuffer());

    if (request.method === 'ACK') {
      this.#onNetworkAck(request, source);
      return;
    }
    const key = this.#serverKey(request);
    const existing = this.#serverByKey.get(key);
    if (existing) {
      this.#counts.retransmissions++;
      existing.retransmission();
      return;
    }
    const completed = this.#completed.get(key);
    if (completed && completed.until > Date.now()) {
      this.#counts.retransmissions++;
      this.#send(completed.destination, completed.data); // retransmitted request: repeat the answer
      return;
    }
    if (request.method === 'CANCEL') {
      this.#onNetworkCancel(request, source);
      return;
    }
    const toTag = tagOf(request.get('to'));
    if (toTag !== '') {
      this.#onNetworkInDialogRequest(request, source, toTag);
      return;
    }

    if (request.method === 'REGISTER') {
      const reason = this.#screenRegister(request);
      if (reason) {
        this.#respondLocally(request, source, 400, 'Bad Request', [['warning', `399 vcbox "${reason}"`]]);
        return;
      }
    }
    const connection = this.#apps?.pick(request.method.toLowerCase());
    if (!connection) {
      if (request.method === 'OPTIONS') {
        this.#respondLocally(request, source, 200, 'OK', [
          ['allow', ALLOWED_METHODS.join(', ')],
          ['accept', 'application/sdp'],
          ['supported', 'path, outbound, gruu, timer'],
        ]);
      } else {
        this.#respondLocally(request, source, 503, 'Service Unavailable', [['retry-after', '30']]);
      }
      return;
    }
    if (this.#awaitingApp.size >= this.#overloadLimit) {
      const now = Date.now();
      if (now - this.#lastOverloadLog > 1000) {
        this.#lastOverloadLog = now;
        log.warn({ awaiting: this.#awaitingApp.size, limit: this.#overloadLimit }, 'overloaded: new requests answered 503 until the application catches up');
      }
      this.#counts.overloaded++;
      this.#respondLocally(request, source, 503, 'Service Unavailable', [['retry-after', '5']]);
      return;
    }
    const transaction = this.#newServerTransaction(request, source);
    transaction.owner = connection;
    this.#awaitingApp.add(transaction);
    if (transaction.isInvite) {
      transaction.respond(createResponse(request, 100, 'Trying'));
      this.#cdr('attempt', 'network', undefined, request);
    }
    this.#forwardRequest(connection, request, source, transaction.id, '');
  }

  /** drachtio §10(f): what the server refuses before any application sees a REGISTER. */
  #screenRegister(request: SipRequest): string | undefined {
    for (const contact of request.getAll('contact')) {
      if (contact.trim() === '*') {
        if ((request.get('expires') ?? '').trim() !== '0') return 'Contact: * is only allowed with Expires: 0';
        continue;
      }
      const nameAddr = parseNameAddr(contact);
      if (!nameAddr || !/^[a-z][a-z0-9+.-]*:/i.test(nameAddr.uri)) return `Contact without a URI scheme: ${contact.slice(0, 60)}`;
    }
    return undefined;
  }

  #forwardRequest(connection: AppConnection, request: SipRequest, source: MessageSource, transactionId: string, dialogId: string): void {
    const data = request.toBuffer();
    const local = this.#transportFor(source.protocol).local;
    connection.send(
      ['sip', 'network', String(data.length), source.protocol, source.address, String(source.port), wireTime(), transactionId, dialogId, local.address, String(local.port), ''],
      data,
    );
  }

  #findDialog(callId: string, fromTag: string, toTag: string): Dialog | undefined {
    const byFrom = this.#dialogs.get(dialogIdOf(callId, fromTag));
    if (byFrom && byFrom.remoteTag === fromTag) return byFrom;
    const byTo = this.#dialogs.get(dialogIdOf(callId, toTag));
    if (byTo && byTo.localTag === toTag) return byTo;
    return undefined;
  }

  #onNetworkAck(request: SipRequest, source: MessageSource): void {
    const invite = this.#serverByKey.get(this.#serverKey(request, 'INVITE'));
    if (invite && invite.state === 'completed') {
      invite.ack(); // ACK for a non-2xx: ours, never the application's
      return;
    }
    const dialog = this.#findDialog(request.callId, tagOf(request.get('from')), tagOf(request.get('to')));
    if (!dialog) return;
    dialog.pendingAck?.acknowledged2xx();
    dialog.pendingAck = undefined;
    dialog.state = 'confirmed';
    dialog.peer = source;
    const connection = dialog.owner as AppConnection;
    if (connection.open) this.#forwardRequest(connection, request, source, randomUUID(), dialog.id);
  }

  #onNetworkCancel(request: SipRequest, source: MessageSource): void {
    const invite = this.#serverByKey.get(this.#serverKey(request, 'INVITE'));
    if (!invite) {
      this.#respondLocally(request, source, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    this.#respondLocally(request, source, 200, 'OK');
    if (!invite.pending) return;
    invite.respond(createResponse(invite.request, 487, 'Request Terminated', invite.toTag));
    this.#awaitingApp.delete(invite);
    this.#cdr('stop', 'network', 'call-canceled', request);
    const connection = invite.owner as AppConnection | undefined;
    if (connection?.open) this.#forwardRequest(connection, request, source, invite.id, invite.dialogId);
  }

  #onNetworkInDialogRequest(request: SipRequest, source: MessageSource, toTag: string): void {
    const dialog = this.#findDialog(request.callId, tagOf(request.get('from')), toTag);
    const connection = dialog?.owner as AppConnection | undefined;
    if (!dialog || !connection?.open) {
      this.#respondLocally(request, source, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    const seq = request.cseq.seq;
    if (seq < dialog.remoteSeq && request.method !== 'PRACK') {
      this.#respondLocally(request, source, 500, 'Server Internal Error', [['warning', '399 vcbox "CSeq out of order"']]);
      return;
    }
    dialog.remoteSeq = Math.max(dialog.remoteSeq, seq);
    dialog.peer = source;
    if (request.method === 'PRACK') {
      // RFC 3262: the RAck names the reliable 1xx (RSeq) and the INVITE (CSeq) it acknowledges.
      const [rseq = '', cseq = ''] = (request.get('rack') ?? '').trim().split(/\s+/);
      for (const invite of this.#serverById.values()) {
        if (invite.isInvite && invite.dialogId === dialog.id && String(invite.request.cseq.seq) === cseq) invite.prack(Number(rseq));
      }
    }
    const transaction = this.#newServerTransaction(request, source);
    transaction.owner = connection;
    transaction.dialogId = dialog.id;
    if (transaction.isInvite) transaction.respond(createResponse(request, 100, 'Trying'));
    if (request.method === 'BYE') {
      this.#dialogs.delete(dialog.id);
      if (dialog.method === 'INVITE') this.#cdr('stop', 'network', 'normal-release', request);
    }
    this.#forwardRequest(connection, request, source, transaction.id, dialog.id);
  }

  #onNetworkResponse(response: SipResponse, source: MessageSource): void {
    const via = response.get('via') ?? '';
    const key = `${headerParam(via, 'branch') ?? ''}|${response.cseq.method}`;
    const transaction = this.#clientByKey.get(key);
    if (transaction) {
      transaction.onResponse(response);
      return;
    }
    // A 2xx to INVITE retransmitted after our transaction ended: repeat the dialog's ACK.
    if (response.cseq.method === 'INVITE' && response.status >= 200 && response.status < 300) {
      const dialog = this.#findDialog(response.callId, tagOf(response.get('from')), tagOf(response.get('to')));
      if (dialog?.lastAck) this.#send(dialog.peer, dialog.lastAck);
    }
    log.debug({ status: response.status, source }, 'response matching no transaction dropped');
  }

  // ---------------------------------------------------------------- application side

  #onAppSip(connection: AppConnection, msgId: string, args: string[], raw: Buffer | undefined): void {
    const [transactionId = '', dialogId = '', proxyUri = ''] = args;
    let message: SipMessage;
    try {
      if (!raw) throw new Error('no SIP message in the frame');
      message = parseAppMessage(raw);
    } catch (error) {
      connection.reply(msgId, ['NOK', `invalid SIP message: ${(error as Error).message}`]);
      return;
    }
    try {
      if (message.type === 'response') {
        if (!transactionId) {
          connection.reply(msgId, ['NO', 'transaction id missing']);
          return;
        }
        this.#onAppResponse(connection, msgId, transactionId, message);
      } else if (dialogId) {
        this.#onAppInDialogRequest(connection, msgId, dialogId, message);
      } else if (transactionId && message.method === 'CANCEL') {
        this.#onAppCancel(connection, msgId, transactionId, message);
      } else {
        void this.#onAppNewRequest(connection, msgId, message, proxyUri);
      }
    } catch (error) {
      log.error({ err: error }, 'error while handling an application message');
      connection.reply(msgId, ['NOK', `Server error: ${(error as Error).message}`]);
    }
  }

  #onAppResponse(connection: AppConnection, msgId: string, transactionId: string, appResponse: SipResponse): void {
    const transaction = this.#serverById.get(transactionId);
    if (!transaction?.pending) {
      connection.reply(msgId, ['NOK', 'Response not sent due to unknown transaction']);
      return;
    }
    const request = transaction.request;
    if (request.method === 'CANCEL') {
      connection.reply(msgId, ['NOK', '200 OK to incoming CANCEL is automatically generated by the stack']);
      return;
    }
    const status = appResponse.status;
    const appToTag = tagOf(appResponse.get('to'));
    const response = createResponse(request, status, appResponse.reason, status > 100 ? appToTag || transaction.toTag : undefined);
    const hostport = this.#hostport(transaction.source.protocol, transaction.source.address);
    copyAppHeaders(appResponse, response, hostport);
    const untyped = applyBody(appResponse, response);
    if (untyped) {
      connection.reply(msgId, ['NOK', untyped]);
      return;
    }
    const createsDialog = DIALOG_METHODS.has(request.method) && status > 100 && status < 300;
    if (createsDialog && !response.has('contact')) response.add('contact', this.#contactFor(transaction.source.protocol, transaction.source.address));
    if (createsDialog) for (const rr of request.getAll('record-route')) response.add('record-route', rr);
    if (!response.has('server') && !response.has('user-agent')) response.add('server', USER_AGENT);

    let dialogId = transaction.dialogId;
    if (createsDialog && !dialogId) {
      dialogId = dialogIdOf(request.callId, tagOf(request.get('from')));
      transaction.dialogId = dialogId;
    }
    if (createsDialog) this.#upsertUasDialog(transaction, response, connection);
    if (status >= 300 && dialogId && this.#dialogs.get(dialogId)?.state === 'early') this.#dialogs.delete(dialogId);
    if (request.method === 'REGISTER' && status >= 200 && status < 300) this.#rememberRegisteredConnection(transaction, response);

    if (status >= 200) this.#awaitingApp.delete(transaction);
    const reliable = status > 100 && status < 200 && /\b100rel\b/i.test(appResponse.get('require') ?? '');
    if (reliable) {
      const offered = `${request.get('supported') ?? ''},${request.get('require') ?? ''}`;
      if (!/\b100rel\b/i.test(offered)) {
        connection.reply(msgId, ['NOK', 'Remote endpoint does not support 100rel']);
        return;
      }
      const rseq = transaction.takeRseq();
      response.set('rseq', String(rseq));
    }
    const sent = reliable ? transaction.respondReliably(response, Number(response.get('rseq'))) : transaction.respond(response);
    if (sent && status >= 200) this.#countResponse(status);
    if (sent && this.#terminalLog && TERMINAL_LOG_METHODS.has(request.method) && this.#terminalLogsEnabled()) this.#terminalLog.record(transaction.source.address, 'out', response.toBuffer());
    if (sent && request.method === 'INVITE' && tagOf(request.get('to')) === '') {
      if (status >= 200 && status < 300) this.#cdr('start', 'application', 'uas', response);
      else if (status >= 300) this.#cdr('stop', 'application', 'call-rejected', response);
    }
    if (!sent) {
      connection.reply(msgId, ['NOK', 'transport for response has been shutdown or closed']);
      return;
    }
    const data = response.toBuffer();
    const destination = this.#responseDestination(request, transaction.source);
    connection.reply(
      msgId,
      ['OK', 'application', String(data.length), destination.protocol, destination.address, String(destination.port), wireTime(), transaction.id, dialogId, '', 'Msg sent:', ''],
      data,
    );
  }

  #upsertUasDialog(transaction: ServerTransaction, response: SipResponse, connection: AppConnection): void {
    const request = transaction.request;
    const id = transaction.dialogId;
    const existing = this.#dialogs.get(id);
    const confirmed = response.status >= 200;
    if (existing) {
      if (confirmed) existing.state = 'confirmed';
      if (confirmed && transaction.isInvite) existing.pendingAck = transaction;
      return;
    }
    const dialog = newDialog({
      id,
      role: 'uas',
      callId: request.callId,
      local: response.get('to') ?? '',
      remote: request.get('from') ?? '',
      localTag: tagOf(response.get('to')),
      remoteTag: tagOf(request.get('from')),
      localSeq: Math.floor(Math.random() * 10_000) + 1,
      remoteSeq: request.cseq.seq,
      // Without a Contact (RFC 3261 requires one), the From URI is where the peer is.
      remoteTarget: contactTarget(request.get('contact')) ?? parseNameAddr(request.get('from') ?? '')?.uri ?? request.uri,
      routeSet: request.getAll('record-route'),
      peer: transaction.source,
      owner: connection,
      method: request.method,
      state: confirmed ? 'confirmed' : 'early',
      inviteSeq: request.cseq.seq,
      pendingAck: confirmed && transaction.isInvite ? transaction : undefined,
    });
    this.#dialogs.set(id, dialog);
  }

  /** drachtio §10(f): requests to a terminal registered over TCP/TLS reuse its connection. */
  #rememberRegisteredConnection(transaction: ServerTransaction, response: SipResponse): void {
    const source = transaction.source;
    if (source.protocol === 'udp' || !source.connectionId) return;
    // The 200 lists every binding of the account; only the ones this REGISTER carried live on
    // this connection (another device's contact must not be routed here).
    const own = new Set(transaction.request.getAll('contact').map((value) => parseNameAddr(value)?.uri));
    for (const value of transaction.request.getAll('contact')) {
      const nameAddr = parseNameAddr(value);
      const uri = nameAddr ? parseUri(nameAddr.uri) : undefined;
      const expires = headerParam(nameAddr?.params ?? '', 'expires') ?? transaction.request.get('expires');
      if (uri && expires?.trim() === '0') this.#registeredConnections.delete(contactKey(uri));
    }
    for (const value of response.getAll('contact')) {
      const nameAddr = parseNameAddr(value);
      const uri = nameAddr && own.has(nameAddr.uri) ? parseUri(nameAddr.uri) : undefined;
      if (!nameAddr || !uri) continue;
      const expires = Number(headerParam(nameAddr.params, 'expires') ?? response.get('expires') ?? 3600);
      const key = contactKey(uri);
      if (expires === 0) this.#registeredConnections.delete(key);
      else this.#registeredConnections.set(key, { protocol: source.protocol, connectionId: source.connectionId, until: Date.now() + expires * 1000 });
    }
    // Forget registrations that lapsed (terminals that went away without un-registering).
    if (this.#registeredConnections.size > 1000 && ++this.#registrationsSinceSweep >= 1000) {
      this.#registrationsSinceSweep = 0;
      const now = Date.now();
      for (const [key, entry] of this.#registeredConnections) if (entry.until < now) this.#registeredConnections.delete(key);
    }
  }

  #onAckTimeout(transaction: ServerTransaction): void {
    const dialog = this.#dialogs.get(transaction.dialogId);
    if (!dialog || dialog.pendingAck !== transaction) return;
    log.warn({ dialog: dialog.id }, 'no ACK for the 2xx within 64*T1; ending the call');
    this.#dialogs.delete(dialog.id);
    const bye = this.#buildInDialogRequest(dialog, 'BYE', undefined);
    bye.add('reason', 'SIP ;cause=200 ;text="ACK timeout"');
    this.#cdr('stop', 'application', 'system-initiated-termination', bye);
    const connection = dialog.owner as AppConnection;
    void this.#dialogDestination(dialog).then(
      (destination) => {
        const byeBranch = branch();
        bye.headers.unshift(['via', `SIP/2.0/${destination.protocol.toUpperCase()} ${this.#hostport(destination.protocol, destination.address)};rport;branch=${byeBranch}`]);
        this.#startClientTransaction(bye, destination, byeBranch, undefined, '');
        if (!connection.open) return;
        const data = bye.toBuffer();
        connection.send(['sip', 'application', String(data.length), destination.protocol, destination.address, String(destination.port), wireTime(), 'unsolicited', dialog.id, ''], data);
      },
      (error: Error) => log.warn({ dialog: dialog.id, err: error.message }, 'could not send the ACK-timeout BYE'),
    );
  }

  /** Builds a request inside `dialog` (RFC 3261 §12.2.1.1). */
  #buildInDialogRequest(dialog: Dialog, method: string, appRequest: SipRequest | undefined): SipRequest {
    const appSeq = appRequest?.has('cseq') ? appRequest.cseq.seq : undefined;
    let seq: number;
    if (method === 'ACK' || method === 'CANCEL') seq = dialog.inviteSeq;
    else if (appSeq !== undefined && appSeq > dialog.localSeq) seq = appSeq;
    else seq = ++dialog.localSeq;
    dialog.localSeq = Math.max(dialog.localSeq, seq);
    if (method === 'INVITE') dialog.inviteSeq = seq;
    const useAppUri = appRequest && method !== 'ACK' && !appRequest.uri.includes('placeholder');
    const request = new SipRequest(method, useAppUri ? appRequest.uri : dialog.remoteTarget);
    for (const route of dialog.routeSet) request.add('route', route);
    request.add('max-forwards', '70');
    request.add('from', dialog.local);
    request.add('to', dialog.remote);
    request.add('call-id', dialog.callId);
    request.add('cseq', `${seq} ${method}`);
    return request;
  }

  #onAppInDialogRequest(connection: AppConnection, msgId: string, dialogId: string, appRequest: SipRequest): void {
    const dialog = this.#dialogs.get(dialogId);
    if (!dialog) {
      connection.reply(msgId, ['NOK', 'Server error: unable to find dialog for dialog id provided']);
      return;
    }
    const method = appRequest.method;
    if (method === 'ACK') {
      if (dialog.lastInviteFinal !== undefined && dialog.lastInviteFinal >= 300) {
        connection.reply(msgId, ['NOK', 'Server error: ACK for non-success final response is automatically generated by server']);
        return;
      }
    }
    const request = this.#buildInDialogRequest(dialog, method, appRequest);
    const hostport = this.#hostport(dialog.peer.protocol, dialog.peer.address);
    copyAppHeaders(appRequest, request, hostport, { skip: new Set(['max-forwards']) });
    if ((method === 'INVITE' || method === 'SUBSCRIBE' || method === 'REFER') && !request.has('contact')) {
      request.add('contact', this.#contactFor(dialog.peer.protocol, dialog.peer.address));
    }
    const untyped = applyBody(appRequest, request);
    if (untyped && method !== 'ACK') {
      connection.reply(msgId, ['NOK', untyped]);
      return;
    }
    void this.#sendAppRequest(connection, msgId, request, dialog, undefined);
  }

  #onAppCancel(connection: AppConnection, msgId: string, transactionId: string, appRequest: SipRequest): void {
    const invite = this.#clientById.get(transactionId);
    if (!invite?.isInvite || invite.finalStatus !== undefined) {
      connection.reply(msgId, ['NOK', `unable to cancel unknown transaction id: ${transactionId}`]);
      return;
    }
    const request = new SipRequest('CANCEL', invite.request.uri);
    request.add('via', invite.request.get('via') ?? '');
    for (const route of invite.request.getAll('route')) request.add('route', route);
    request.add('max-forwards', '70');
    request.add('from', invite.request.get('from') ?? '');
    request.add('to', invite.request.get('to') ?? '');
    request.add('call-id', invite.request.callId);
    request.add('cseq', `${invite.request.cseq.seq} CANCEL`);
    copyAppHeaders(appRequest, request, '', { skip: new Set(['max-forwards', 'contact']) });
    const destination = (invite.owner as { destination?: Destination } | undefined)?.destination;
    if (!destination) {
      connection.reply(msgId, ['NOK', `unable to cancel unknown transaction id: ${transactionId}`]);
      return;
    }
    const transaction = this.#startClientTransaction(request, destination, invite.branch, undefined, '');
    const data = request.toBuffer();
    connection.reply(
      msgId,
      ['OK', 'application', String(data.length), destination.protocol, destination.address, String(destination.port), wireTime(), transaction.id, 'Msg sent:', ''],
      data,
    );
  }

  async #onAppNewRequest(connection: AppConnection, msgId: string, appRequest: SipRequest, proxyUri: string): Promise<void> {
    const method = appRequest.method;
    const target = parseUri(proxyUri || appRequest.uri);
    if (!target || target.scheme === 'tel') {
      connection.reply(msgId, ['NOK', `invalid request-uri: ${appRequest.uri}`]);
      return;
    }
    let destination: Destination;
    try {
      destination = await this.#resolve(target);
    } catch (error) {
      connection.reply(msgId, ['NOK', (error as Error).message]);
      return;
    }
    if (this.#isSelf(destination)) {
      connection.reply(msgId, ['NOK', 'can not send request to myself']);
      return;
    }
    const hostport = this.#hostport(destination.protocol, destination.address);
    const request = new SipRequest(method, appRequest.uri);
    request.add('max-forwards', '70');
    const from = appRequest.get('from');
    let fromValue = from ? replaceLocalhost(from, hostport) : `<sip:${hostport}>`;
    if (!/^\s*</.test(fromValue) && !fromValue.includes('"')) {
      const nameAddr = parseNameAddr(fromValue);
      if (nameAddr) fromValue = formatNameAddr(nameAddr);
    }
    if (tagOf(fromValue) === '') fromValue += `;tag=${randomTag()}`;
    request.add('from', fromValue);
    const to = appRequest.get('to');
    request.add('to', to ? replaceLocalhost(to, hostport) : `<${appRequest.uri}>`);
    request.add('call-id', appRequest.get('call-id') ?? randomUUID());
    const appSeq = appRequest.has('cseq') ? appRequest.cseq.seq : undefined;
    request.add('cseq', `${appSeq ?? Math.floor(Math.random() * 10_000) + 1} ${method}`);
    copyAppHeaders(appRequest, request, hostport, { skip: new Set(['max-forwards']) });
    if (DIALOG_METHODS.has(method) && !request.has('contact')) request.add('contact', this.#contactFor(destination.protocol, destination.address));
    if (!request.has('user-agent')) request.add('user-agent', USER_AGENT);
    const untyped = applyBody(appRequest, request);
    if (untyped) {
      connection.reply(msgId, ['NOK', untyped]);
      return;
    }
    await this.#sendAppRequest(connection, msgId, request, undefined, destination);
  }

  /** Resolves a URI to where to send: transport, address, port, and a reusable connection. */
  async #resolve(uri: NonNullable<ReturnType<typeof parseUri>>): Promise<Destination> {
    const transportParam = uriParam(uri, 'transport')?.toLowerCase();
    const protocol: TransportProtocol = uri.scheme === 'sips' || transportParam === 'tls' ? 'tls' : transportParam === 'tcp' ? 'tcp' : 'udp';
    if (transportParam && !['udp', 'tcp', 'tls'].includes(transportParam)) throw new Error('requested protocol/transport not available');
    let host = uri.host.replace(/^\[|\]$/g, '');
    if (!net.isIP(host)) {
      try {
        host = (await dns.lookup(host, { family: 4 })).address;
      } catch {
        throw new Error(`invalid request-uri: cannot resolve ${uri.host}`);
      }
    }
    const port = uri.port ?? (protocol === 'tls' ? 5061 : 5060);
    if (protocol === 'udp') return { protocol, address: host, port };
    const transport = protocol === 'tcp' ? this.#tcp : this.#tls;
    const registered = this.#registeredConnections.get(contactKey(uri));
    if (registered && registered.protocol === protocol && registered.until > Date.now() && transport.hasConnection(registered.connectionId)) {
      return { protocol, address: host, port, connectionId: registered.connectionId };
    }
    const existing = transport.findConnection(host, port);
    if (existing) return { protocol, address: host, port, connectionId: existing };
    try {
      return { protocol, address: host, port, connectionId: await transport.connect(host, port) };
    } catch (error) {
      throw new Error(`error connecting to ${protocol}/${host}:${port}: ${(error as Error).message}`);
    }
  }

  #isSelf(destination: Destination): boolean {
    const local = this.#transportFor(destination.protocol).local;
    if (destination.port !== local.port) return false;
    return destination.address === local.address || ((local.address === '0.0.0.0' || local.address === '::') && (destination.address.startsWith('127.') || destination.address === primaryAddress()));
  }

  async #sendAppRequest(connection: AppConnection, msgId: string, request: SipRequest, dialog: Dialog | undefined, known: Destination | undefined): Promise<void> {
    let destination = known;
    if (!destination && dialog) {
      destination = await this.#dialogDestination(dialog).catch((error: Error) => {
        connection.reply(msgId, ['NOK', error.message]);
        return undefined;
      });
      if (!destination) return;
    }
    if (!destination) throw new Error('no destination');
    const hostport = this.#hostport(destination.protocol, destination.address);
    const newBranch = branch();
    request.headers.unshift(['via', `SIP/2.0/${destination.protocol.toUpperCase()} ${hostport};rport;branch=${newBranch}`]);

    if (request.method === 'ACK') {
      const data = request.toBuffer();
      if (!this.#send(destination, data)) {
        connection.reply(msgId, ['NOK', 'transport for request has been shutdown or closed']);
        return;
      }
      if (dialog) dialog.lastAck = data;
      connection.reply(msgId, ['OK', 'application', String(data.length), destination.protocol, destination.address, String(destination.port), wireTime(), randomUUID(), 'Msg sent:', ''], data);
      return;
    }
    const dialogId = dialog?.id ?? (DIALOG_METHODS.has(request.method) ? dialogIdOf(request.callId, tagOf(request.get('from'))) : '');
    const transaction = this.#startClientTransaction(request, destination, newBranch, connection, dialogId);
    if (request.method === 'INVITE' && !dialog) this.#cdr('attempt', 'application', undefined, request);
    if (request.method === 'BYE' && dialog?.method === 'INVITE') this.#cdr('stop', 'application', 'normal-release', request);
    if (dialog && request.method === 'BYE') transaction.owner = { connection, destination, byeOf: dialog.id };
    const data = request.toBuffer();
    connection.reply(msgId, ['OK', 'application', String(data.length), destination.protocol, destination.address, String(destination.port), wireTime(), transaction.id, 'Msg sent:', ''], data);
  }

  async #dialogDestination(dialog: Dialog): Promise<Destination> {
    const firstRoute = dialog.routeSet[0];
    const routeUri = firstRoute ? parseNameAddr(firstRoute)?.uri : undefined;
    const uri = parseUri(routeUri && /;lr\b/i.test(routeUri) ? routeUri : dialog.remoteTarget);
    if (!uri) throw new Error(`invalid remote target ${dialog.remoteTarget}`);
    // Prefer the connection the peer uses with us (NAT and TCP/TLS terminals).
    if (dialog.peer.connectionId && this.#transportFor(dialog.peer.protocol) !== this.#udp) {
      const transport = dialog.peer.protocol === 'tcp' ? this.#tcp : this.#tls;
      if (transport.hasConnection(dialog.peer.connectionId)) return dialog.peer;
    }
    const resolved = await this.#resolve(uri);
    // A dialog begun on a former UDP port goes on from that port while it drains.
    const drainingId = dialog.peer.protocol === 'udp' ? dialog.peer.connectionId : undefined;
    if (resolved.protocol === 'udp' && drainingId && this.#udp.draining.some((d) => d.id === drainingId)) return { ...resolved, connectionId: drainingId };
    return resolved;
  }

  #startClientTransaction(request: SipRequest, destination: Destination, branchId: string, connection: AppConnection | undefined, dialogId: string): ClientTransaction {
    const key = `${branchId}|${request.method}`;
    const transaction = new ClientTransaction(request, branchId, destination.protocol !== 'udp', {
      send: (data) => this.#send(destination, data),
      response: (response, t, retransmission) => this.#onClientResponse(t, response, retransmission),
      failed: (status, t) => {
        if (status === 408) this.#counts.clientTimeouts++;
        this.#onClientResponse(t, createResponse(t.request, status, status === 408 ? 'Request Timeout' : 'Service Unavailable'), false);
      },
      terminated: (t) => {
        this.#clientById.delete(t.id);
        if (this.#clientByKey.get(key) === t) this.#clientByKey.delete(key);
      },
    });
    transaction.owner = { connection, destination };
    transaction.dialogId = dialogId;
    this.#clientByKey.set(key, transaction);
    this.#clientById.set(transaction.id, transaction);
    transaction.start();
    return transaction;
  }

  #onClientResponse(transaction: ClientTransaction, response: SipResponse, retransmission: boolean): void {
    const owner = transaction.owner as { connection?: AppConnection; destination: Destination; byeOf?: string };
    const request = transaction.request;
    const status = response.status;
    if (request.method === 'INVITE' && status === 100) return;
    const dialogId = transaction.dialogId;
    if (request.method === 'INVITE' || request.method === 'SUBSCRIBE') {
      const remoteTag = tagOf(response.get('to'));
      if (status > 100 && status < 300 && remoteTag) {
        const existing = this.#dialogs.get(dialogId);
        if (!existing) this.#createUacDialog(transaction, response, owner);
        else if (status >= 200 && existing.state === 'early') {
          existing.state = 'confirmed';
          existing.remoteTag = remoteTag;
          existing.remote = response.get('to') ?? existing.remote;
          existing.remoteTarget = contactTarget(response.get('contact')) ?? existing.remoteTarget;
        }
      } else if (status >= 300 && this.#dialogs.get(dialogId)?.state === 'early') {
        this.#dialogs.delete(dialogId);
      }
    }
    if (owner.byeOf && status >= 200 && status !== 401 && status !== 407) this.#dialogs.delete(owner.byeOf);
    if (request.method === 'INVITE' && status >= 200) {
      const dialog = this.#dialogs.get(dialogId);
      if (dialog) dialog.lastInviteFinal = status;
    }
    if (request.method === 'INVITE' && !retransmission && tagOf(request.get('to')) === '') {
      if (status >= 200 && status < 300) this.#cdr('start', 'network', 'uac', response);
      else if (status >= 300) this.#cdr('stop', 'network', 'call-rejected', response);
    }
    if (retransmission) {
      const dialog = this.#dialogs.get(dialogId);
      if (dialog?.lastAck) {
        this.#send(dialog.peer, dialog.lastAck);
        return;
      }
    }
    const connection = owner.connection;
    if (!connection?.open) return;
    const data = response.toBuffer();
    const from = owner.destination;
    connection.send(['sip', 'network', String(data.length), from.protocol, from.address, String(from.port), wireTime(), transaction.id, dialogId, ''], data);
  }

  #createUacDialog(transaction: ClientTransaction, response: SipResponse, owner: { connection?: AppConnection; destination: Destination }): void {
    const request = transaction.request;
    const dialog = newDialog({
      id: transaction.dialogId,
      role: 'uac',
      callId: request.callId,
      local: request.get('from') ?? '',
      remote: response.get('to') ?? '',
      localTag: tagOf(request.get('from')),
      remoteTag: tagOf(response.get('to')),
      localSeq: request.cseq.seq,
      remoteSeq: 0,
      // Without a Contact the request URI stands in (RFC 3261 §12.1.2 needs one; some send none on a 1xx).
      remoteTarget: contactTarget(response.get('contact')) ?? request.uri,
      routeSet: response.getAll('record-route').reverse(),
      peer: owner.destination,
      owner: owner.connection,
      method: request.method,
      state: response.status >= 200 ? 'confirmed' : 'early',
      inviteSeq: request.cseq.seq,
      lastInviteFinal: response.status >= 200 ? response.status : undefined,
    });
    this.#dialogs.set(dialog.id, dialog);
  }

  #onAppClosed(connection: AppConnection): void {
    for (const [id, dialog] of this.#dialogs) if (dialog.owner === connection) this.#dialogs.delete(id);
    for (const transaction of this.#serverById.values()) {
      if (transaction.owner === connection && transaction.pending) {
        transaction.respond(createResponse(transaction.request, 503, 'Service Unavailable', transaction.toTag));
      }
    }
  }

  /** drachtio §8: call detail events to one application that routed `cdr:<event>`. */
  #cdr(event: 'attempt' | 'start' | 'stop', source: 'network' | 'application', detail: string | undefined, message: SipMessage): void {
    const connection = this.#apps?.pick(`cdr:${event}`);
    if (!connection) return;
    connection.send([`cdr:${event}`, source, wireTime(), ...(detail === undefined ? [] : [detail])], message.toBuffer());
  }

  // ---------------------------------------------------------------- malformed input

  /**
   * A message that cannot be parsed: when its routing headers can still be read, it gets a
   * 400 whose Warning says what was wrong; otherwise it is dropped (UDP) — on a stream the
   * transport closes the connection after this.
   */
  #onBadMessage(transport: SipTransport, error: SipParseError, data: Buffer, source: MessageSource): void {
    this.#counts.malformed++;
    log.debug({ reason: error.message, source }, 'malformed SIP message');
    const head = data.subarray(0, MAX_MESSAGE_BYTES).toString('latin1');
    if (head.startsWith('SIP/2.0')) return; // never answer a response
    // A header too long to echo (the reason for the refusal, maybe) is sent back as a stand-in
    // with its tag: the client matches the response by Via branch and CSeq (RFC 3261 §17.1.3).
    const header = (names: string) => {
      const value = new RegExp(`^(?:${names})[ \\t]*:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim();
      if (value === undefined || value.length <= ECHO_MAX_BYTES) return value;
      const tag = headerParam(value.slice(-ECHO_MAX_BYTES), 'tag');
      return `<sip:too-long.invalid>${tag ? `;tag=${tag}` : ''}`;
    };
    const via = header('via|v');
    const from = header('from|f');
    const to = header('to|t');
    const callId = header('call-id|i');
    const cseq = header('cseq');
    if (!via || !from || !to || !callId || !cseq || /^(ACK)\b/.test(head)) return;
    const response = error.status === 513 ? new SipResponse(513, 'Message Too Large') : new SipResponse(400, 'Bad Request');
    response.add('via', via).add('from', from).add('to', to).add('call-id', callId).add('cseq', cseq);
    response.add('warning', `399 ${USER_AGENT.split('/')[0]} "${error.message.replace(/["\\\r\n]/g, "'")}"`);
    response.add('server', USER_AGENT);
    transport.send(response.toBuffer(), source);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const transaction of [...this.#serverById.values()]) transaction.close();
    for (const transaction of [...this.#clientById.values()]) transaction.close();
    this.#dialogs.clear();
    this.#guard.close();
    clearInterval(this.#completedSweeper);
    this.#completed.clear();
    await Promise.all([...this.#transports.map((t) => t.close()), this.#apps?.close()]);
  }
}

/**
 * Parses a message an application sent. srf may omit Via and the dialog headers, so only the
 * start line and the header syntax are checked here; the body is everything after the headers.
 */
function parseAppMessage(raw: Buffer): SipMessage {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('utf8');
  const body = end < 0 ? Buffer.alloc(0) : Buffer.from(raw.subarray(end + 4));
  const lines = head.split('\r\n');
  const start = lines.shift() ?? '';
  const headers: [string, string][] = [];
  for (const line of lines) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && headers.length > 0) {
      const last = headers[headers.length - 1] as [string, string];
      last[1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`header line without a name: "${line.slice(0, 60)}"`);
    headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const status = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(start);
  if (status) return new SipResponse(Number(status[1]), status[2] || 'OK', normalize(headers), body);
  const request = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(start);
  if (!request) throw new Error(`invalid start line "${start.slice(0, 80)}"`);
  return new SipRequest((request[1] as string).toUpperCase(), request[2] as string, normalize(headers), body);
}

function normalize(headers: [string, string][]): [string, string][] {
  const compact: Record<string, string> = { f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type', v: 'via' };
  return headers.map(([name, value]) => [compact[name] ?? name, value]);
}
