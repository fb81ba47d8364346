/**
 * The SIP listeners, keyed by transport: UDP (./udp-transport.ts), TCP and TLS
 * (./stream-transport.ts). Everything the service does per transport goes through here — bind
 * and close, send to a destination, the host:port and Contact the box puts in a message for a
 * peer (static NAT and 0.0.0.0 resolved), resolving a URI to a destination (reusing a
 * terminal's own or registered connection), and moving to new ports while running (UDP's former
 * port drains). Adding a transport (WS/WSS) is adding one entry to the table built in the
 * constructor and its module. What arrives is handed to `onMessage` / `onFramingError`.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import { getLogger } from '../../core/logger.ts';
import { natAddressFor, type StaticNat } from '../../core/static-nat.ts';
import type { SipParseError } from '../sip/sip-message.ts';
import { type parseUri, uriParam } from '../sip/sip-uri.ts';
import { TIMERS } from '../transactions/timers.ts';
import type { RegisteredConnections } from './registered-connections.ts';
import type { MessageSource, SipTransport, TransportProtocol } from './sip-transport.ts';
import { StreamTransport, type StreamTransportOptions } from './stream-transport.ts';
import { UdpTransport } from './udp-transport.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('sip-listener-set');

/** Former UDP ports are let go at the latest this long after a port change. */
const DRAIN_MAX_MS = 4 * 60 * 60_000;

/** A listener that could not move to the port asked for (it stays where it was). */
export interface ListenerFailure {
  readonly transport: TransportProtocol;
  readonly port: number;
  readonly reason: string;
}

export interface ListenerSetOptions {
  readonly host: string;
  /** UDP and TCP port. */
  readonly port: number;
  readonly tlsPort: number;
  readonly tls: { readonly key: Buffer; readonly cert: Buffer };
  /** Static NAT in force (read at every message): peers outside the LAN get the public IP in Via/Contact. */
  readonly nat?: () => StaticNat | undefined;
  /** TCP/TLS limits (./stream-transport.ts, ./connection-registry.ts). */
  readonly streamLimits?: Pick<StreamTransportOptions, 'maxConnectionsPerAddress' | 'firstMessageTimeoutMs' | 'partialMessageTimeoutMs'>;
  /** A framed message arrived on `transport`. */
  readonly onMessage: (transport: SipTransport, data: Buffer, source: MessageSource) => void;
  /** A stream could not be framed (the transport closes the connection after this). */
  readonly onFramingError: (transport: SipTransport, error: SipParseError, head: Buffer, source: MessageSource) => void;
}

/** The primary IPv4 address of the box (for Via/Contact when listening on 0.0.0.0). */
function primaryAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}

export class ListenerSet {
  readonly #udp: UdpTransport;
  readonly #tcp: StreamTransport;
  readonly #tls: StreamTransport;
  /** Every listener by its transport; iteration order is the order drachtio reports them. */
  readonly #byProtocol: ReadonlyMap<TransportProtocol, SipTransport>;
  readonly #nat: (() => StaticNat | undefined) | undefined;

  constructor(options: ListenerSetOptions) {
    this.#nat = options.nat;
    this.#udp = new UdpTransport({ host: options.host, port: options.port });
    this.#tcp = new StreamTransport({ ...options.streamLimits, host: options.host, port: options.port });
    this.#tls = new StreamTransport({ ...options.streamLimits, host: options.host, port: options.tlsPort, tls: options.tls });
    this.#byProtocol = new Map<TransportProtocol, SipTransport>([
      ['udp', this.#udp],
      ['tcp', this.#tcp],
      ['tls', this.#tls],
    ]);
    for (const transport of this.#byProtocol.values()) {
      transport.on('message', (data, source) => options.onMessage(transport, data, source));
      transport.on('framingError', (error, head, source) => options.onFramingError(transport, error, head, source));
    }
  }

  /** Binds every listener in turn (the first failure is thrown; the caller closes the set). */
  async listen(): Promise<void> {
    for (const transport of this.#byProtocol.values()) await transport.listen();
  }

  /** `proto/address:port` of each listener, as drachtio reports them. */
  describe(): string[] {
    return [...this.#byProtocol.values()].map((t) => `${t.protocol}/${t.local.address}:${t.local.port}`);
  }

  get(protocol: TransportProtocol): SipTransport {
    return this.#byProtocol.get(protocol) as SipTransport;
  }

  /** The ports bound now: UDP and TCP (one setting), TLS. */
  get ports(): { port: number; tlsPort: number } {
    return { port: this.#udp.local.port, tlsPort: this.#tls.local.port };
  }

  get connectionCounts(): { tcp: number; tls: number } {
    return { tcp: this.#tcp.connectionCount, tls: this.#tls.connectionCount };
  }

  /** Former UDP ports still carrying the dialogs begun on them. */
  get drainingPorts(): number[] {
    return this.#udp.draining.map((d) => d.port);
  }

  /** Whether `connectionId` names a former UDP port still draining. */
  isDraining(connectionId: string): boolean {
    return this.#udp.draining.some((d) => d.id === connectionId);
  }

  /** Whether a stream connection is still open (a UDP destination has none). */
  hasConnection(destination: MessageSource): boolean {
    const transport = this.#byProtocol.get(destination.protocol);
    return destination.connectionId !== undefined && transport instanceof StreamTransport && transport.hasConnection(destination.connectionId);
  }

  send(destination: MessageSource, data: Buffer): boolean {
    return this.get(destination.protocol).send(data, destination);
  }

  /** host:port this box puts in Via/Contact for a peer reached over `protocol`. */
  hostport(protocol: TransportProtocol, peerAddress: string): string {
    const transport = this.get(protocol);
    const publicIp = natAddressFor(this.#nat?.(), peerAddress);
    if (publicIp) return `${net.isIPv6(publicIp) ? `[${publicIp}]` : publicIp}:${transport.local.port}`;
    let host = transport.local.address;
    if (host === '0.0.0.0' || host === '::') host = peerAddress.startsWith('127.') || peerAddress === '::1' ? '127.0.0.1' : primaryAddress();
    return `${net.isIPv6(host) ? `[${host}]` : host}:${transport.local.port}`;
  }

  /**
   * The Contact header value of the box for a peer reached over `protocol`: a `sips:` URI over
   * TLS unless `sips` is false (an answer to a request that did not ask for SIPS, RFC 3261
   * §12.1.1: then `sip:…;transport=tls`, which clients without SIPS support — baresip 1.0 —
   * can still send their ACK and BYE to).
   */
  contactFor(protocol: TransportProtocol, peerAddress: string, user?: string, sips = protocol === 'tls'): string {
    const scheme = protocol === 'tls' && sips ? 'sips' : 'sip';
    const transport = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `<${scheme}:${user ? `${user}@` : ''}${this.hostport(protocol, peerAddress)}${transport}>`;
  }

  /** Whether a destination is one of the box's own listeners. */
  isSelf(destination: MessageSource): boolean {
    const local = this.get(destination.protocol).local;
    if (destination.port !== local.port) return false;
    return destination.address === local.address || ((local.address === '0.0.0.0' || local.address === '::') && (destination.address.startsWith('127.') || destination.address === primaryAddress()));
  }

  /** Resolves a URI to where to send: transport, address, port, and a reusable connection. */
  async resolve(uri: NonNullable<ReturnType<typeof parseUri>>, registered?: RegisteredConnections): Promise<MessageSource> {
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
    const known = registered?.lookup(uri);
    if (known && known.protocol === protocol && transport.hasConnection(known.connectionId)) {
      return { protocol, address: host, port, connectionId: known.connectionId };
    }
    const existing = transport.findConnection(host, port);
    if (existing) return { protocol, address: host, port, connectionId: existing };
    try {
      return { protocol, address: host, port, connectionId: await transport.connect(host, port) };
    } catch (error) {
      throw new Error(`error connecting to ${protocol}/${host}:${port}: ${(error as Error).message}`);
    }
  }

  /**
   * Moves the listeners to new ports. Each moves on its own: one whose new port cannot be bound
   * stays where it was and is reported (nothing else is undone). UDP and TCP share one setting:
   * both move, or neither. `udpMoved` gets the id of the former UDP port now draining.
   */
  async move(next: { readonly port: number; readonly tlsPort: number }, udpMoved: (drainingId: string) => void): Promise<ListenerFailure[]> {
    const failures: ListenerFailure[] = [];
    const failed = (transport: TransportProtocol, port: number, error: unknown) => {
      const reason = ((error as { cause?: Error }).cause ?? (error as Error)).message;
      log.error({ transport, port, err: reason }, 'SIP listener could not move; it stays on its port');
      failures.push({ transport, port, reason });
    };
    // UDP's former socket is still bound while it drains, so it can be taken back.
    const udpBefore = this.#udp.local.port;
    if (next.port !== udpBefore) {
      try {
        await this.#udp.rebind(next.port);
        try {
          await this.#tcp.rebind(next.port);
          log.info({ from: udpBefore, to: next.port }, 'SIP UDP/TCP listeners moved');
          const drainingId = this.#udp.draining.find((d) => d.port === udpBefore)?.id;
          if (drainingId) udpMoved(drainingId);
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

  /** TLS handshakes from now on present this certificate. */
  setCertificate(certificate: { readonly key: Buffer; readonly cert: Buffer }): void {
    this.#tls.setCertificate(certificate);
  }

  /** Lets go of former UDP ports no dialog uses any more (after Timer J at least), or that drained too long. */
  sweepDraining(inUse: (connectionId: string) => boolean, now = monotonicMs()): void {
    for (const draining of this.#udp.draining) {
      const age = now - draining.since;
      if (age < TIMERS.transactionTimeout) continue;
      if (age < DRAIN_MAX_MS && inUse(draining.id)) continue;
      this.#udp.closeDraining(draining.id);
      log.info({ port: draining.port }, 'former SIP UDP port closed: its dialogs are over');
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byProtocol.values()].map((t) => t.close()));
  }
}
