/**
 * The SIP signaling service: the box's SIP server, and a drachtio server for SIP applications.
 *
 * This file composes it; it knows nothing about meetings. The parts, one concern each: the
 * listener set keyed by transport (./transports/listener-set.ts: UDP, TCP, TLS; connections and
 * their per-address cap in ./transports/connection-registry.ts), the transaction layer
 * (./transactions/transaction-layer.ts), the dialog table (./dialogs/dialog-table.ts) with the
 * calls kept when their application goes away (./dialogs/orphan-dialogs.ts) and written to the
 * data directory for a restart of this process (./dialogs/dialog-snapshot.ts), and the
 * two sides that work on them: what terminals send (./network-side.ts) and what drachtio
 * applications send (./application-side.ts, wire protocol in ./drachtio), and the stateful
 * proxy applications may ask for (./proxy-side.ts, drachtio's `proxy` command). The duties split
 * follows shared/notes/drachtio-wire-protocol.md §11. Without any application routing OPTIONS,
 * OPTIONS is answered here (terminals' keep-alive); other methods get 503.
 *
 * Its settings apply while it runs (`reconfigure`): new ports are bound before the old ones are
 * let go — TCP/TLS connections already open stay, a former UDP port keeps carrying the dialogs
 * begun on it (and nothing new) until they end — and the flood limit, scanner blocking, terminal
 * logs and the TLS certificate change in place. Registrations live in the application, so none
 * is lost. `stats()` counts what went through (Prometheus metrics, via the control channel).
 */
import { eventLoopDelay } from '../core/event-loop-delay.ts';
import { getLogger } from '../core/logger.ts';
import type { StaticNat } from '../core/static-nat.ts';
import { BUILD_INFO } from '../core/version.ts';
import { ApplicationSide } from './application-side.ts';
import { LoopLag } from './core/loop-lag.ts';
import { OverloadGuard } from './core/overload-guard.ts';
import { SignalingCounters, type SignalingParts } from './core/signaling-parts.ts';
import { SourceGuard, type SourceGuardOptions } from './core/source-guard.ts';
import { TerminalLog } from './core/terminal-log.ts';
import { DialogSnapshot } from './dialogs/dialog-snapshot.ts';
import { DialogTable } from './dialogs/dialog-table.ts';
import { type EndedOrphan, type OrphanInfo, OrphanDialogs, type OrphanPolicy } from './dialogs/orphan-dialogs.ts';
import { type AppConnection, ApplicationServer } from './drachtio/application-server.ts';
import { createError } from '../core/errors.ts';
import { NetworkSide } from './network-side.ts';
import type { FastRegistrar } from './registrar/fast-registrar.ts';
import { ProxySide } from './proxy-side.ts';
import { TransactionLayer } from './transactions/transaction-layer.ts';
import { type ListenerFailure, ListenerSet } from './transports/listener-set.ts';
import { RegisteredConnections } from './transports/registered-connections.ts';
import type { StreamTransportOptions } from './transports/stream-transport.ts';

export { ALLOWED_METHODS } from './network-side.ts';
export type { ListenerFailure } from './transports/listener-set.ts';

const log = getLogger('signaling-service');

/** How soon after a call comes or goes the dialog snapshot is written (ms). */
const SNAPSHOT_DELAY_MS = 100;

/** What a running service can be changed to (server/signaling/main.ts reads it from the settings). */
export interface SignalingReconfiguration {
  readonly port: number;
  readonly tlsPort: number;
  readonly guard: SourceGuardOptions;
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
}

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
  /**
   * Standing delay of the applications' answers to non-INVITE requests past which new
   * out-of-dialog requests get 503 with Retry-After too (ms, default 500; ./core/overload-guard.ts).
   */
  readonly overloadQueueDelayMs?: number;
  /**
   * This process's own event-loop lag past which new out-of-dialog requests get 503 with
   * Retry-After from a partial parse, and past four times which they are dropped unread (ms,
   * default 50; ./core/overload-guard.ts).
   */
  readonly overloadLoopLagMs?: number;
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
  /**
   * Where the calls (confirmed INVITE dialogs) are written within 100 ms of a change, and
   * read back at start as orphans (./dialogs/dialog-snapshot.ts); omitted: not kept (tests).
   */
  readonly dialogSnapshotFile?: string;
  /** Bounds of the calls kept for an application to take over (./dialogs/orphan-dialogs.ts; tests shorten them). */
  readonly orphans?: Partial<OrphanPolicy>;
  /** The registrar's hot path, fed by the SIP application (./registrar/fast-registrar.ts); omitted: every REGISTER goes to the application. */
  readonly fastRegistrar?: FastRegistrar;
}

export class SignalingService {
  readonly #parts: SignalingParts;
  readonly #guard: SourceGuard;
  readonly #network: NetworkSide;
  readonly #application: ApplicationSide;
  readonly #proxy: ProxySide;
  /** Sweeps Timer J's cache, former UDP ports and orphans past their time, once a second. */
  readonly #sweeper: NodeJS.Timeout;
  readonly #snapshot: DialogSnapshot | undefined;
  #snapshotTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SignalingServiceOptions) {
    this.#guard = new SourceGuard(options.guard ?? { perSecond: 200, blockScanners: true });
    const awaitingApp: SignalingParts['awaitingApp'] = new Set();
    const listeners = new ListenerSet({
      ...options,
      onMessage: (transport, data, source) => this.#network.onMessage(transport, data, source),
      onFramingError: (transport, error, head, source) => this.#network.onBadMessage(transport, error, head, source),
    });
    const transactions = new TransactionLayer({
      send: (destination, data) => listeners.send(destination, data),
      serverTerminated: (t) => awaitingApp.delete(t),
      ackTimeout: (t) => this.#application.onAckTimeout(t),
    });
    const dialogs = new DialogTable();
    const orphans = new OrphanDialogs({
      table: dialogs,
      ...(options.orphans ? { policy: options.orphans } : {}),
      hangUp: (dialog, reason) => this.#application.hangUp(dialog, reason),
      respond: (transaction, status, reason, extra) => this.#network.respondHere(transaction, status, reason, extra),
      forward: (owner, held, dialog) => this.#network.deliverInDialog(owner as AppConnection, held, dialog),
    });
    const apps = options.application
      ? new ApplicationServer({ ...options.application, hostports: () => this.listeners().join(','), version: `v${BUILD_INFO.version}` })
      : undefined;
    this.#parts = {
      listeners,
      transactions,
      dialogs,
      orphans,
      registered: new RegisteredConnections(),
      fastRegistrar: options.fastRegistrar,
      apps,
      counts: new SignalingCounters(),
      awaitingApp,
      overload: new OverloadGuard({
        ...(options.overloadLimit === undefined ? {} : { inFlight: options.overloadLimit }),
        ...(options.overloadQueueDelayMs === undefined ? {} : { queueDelayMs: options.overloadQueueDelayMs }),
        ...(options.overloadLoopLagMs === undefined ? {} : { loopLagMs: options.overloadLoopLagMs }),
      }),
      loopLag: new LoopLag(),
      terminalLog: options.terminalLogDir ? new TerminalLog(options.terminalLogDir) : undefined,
      terminalLogsEnabled: options.terminalLogsEnabled ?? (() => true),
    };
    this.#proxy = new ProxySide(this.#parts);
    this.#network = new NetworkSide(this.#parts, this.#guard, this.#proxy);
    this.#application = new ApplicationSide(this.#parts);
    if (apps) {
      apps.on('sip', (connection, msgId, args, message) => this.#application.onSip(connection, msgId, args, message));
      apps.on('proxy', (connection, msgId, args, message) => this.#proxy.onCommand(connection, msgId, args, message));
      apps.on('closed', (connection) => this.#application.onClosed(connection));
    }
    this.#snapshot = options.dialogSnapshotFile ? new DialogSnapshot(options.dialogSnapshotFile) : undefined;
    // The snapshot follows the calls within SNAPSHOT_DELAY_MS of a change (one write per delay
    // at most, however many calls change): a restart neither loses a call nor ends a finished one again.
    if (this.#snapshot) {
      const snapshot = this.#snapshot;
      dialogs.onChange = () => {
        if (this.#snapshotTimer || this.#closed) return;
        this.#snapshotTimer = setTimeout(() => {
          this.#snapshotTimer = undefined;
          snapshot.write(dialogs.values());
        }, SNAPSHOT_DELAY_MS);
        this.#snapshotTimer.unref();
      };
    }
    let heartbeat = 0;
    this.#sweeper = setInterval(() => {
      transactions.sweep();
      listeners.sweepDraining((id) => this.#parts.dialogs.uses(id));
      orphans.sweep();
      // The snapshot is written again now and then, changed or not: its age says this process still ran.
      if (this.#snapshot && ++heartbeat % 60 === 0) this.#snapshot.write(dialogs.values());
    }, 1000);
    this.#sweeper.unref();
  }

  /** Binds every listener; if one fails, the others are closed again and the error thrown. */
  async start(): Promise<void> {
    try {
      await this.#parts.listeners.listen();
      // The calls of the process before this one: kept until the application takes them over.
      const restored = this.#snapshot?.read() ?? [];
      for (const dialog of restored) this.#parts.orphans.keep(dialog);
      if (restored.length > 0) log.warn({ dialogs: restored.length }, 'calls of the previous signaling process read back; kept for the application to take over');
      await this.#parts.apps?.listen();
    } catch (error) {
      await this.close();
      throw error;
    }
    log.info({ listeners: this.listeners(), application: this.#parts.apps?.local }, 'SIP listeners up');
  }

  /** The calls waiting for an application to take them over, and those their peers ended meanwhile. */
  orphans(): { orphans: OrphanInfo[]; ended: EndedOrphan[] } {
    return { orphans: this.#parts.orphans.list(), ended: this.#parts.orphans.ended() };
  }

  /**
   * The application connected now takes the orphans `ids` over (their held requests go to it).
   * Throws when no application is connected. Returns the ids taken.
   */
  adopt(ids: readonly string[]): string[] {
    const connection = this.#parts.apps?.connections[0];
    if (!connection) throw createError('VCBOX_ERR_SIGNALING_UNAVAILABLE', { reason: 'no SIP application is connected to take the calls over' });
    return this.#parts.orphans.adopt(ids, connection);
  }

  /** Ends an orphan with a BYE saying `reason`; false when there is no such orphan. */
  release(id: string, reason: string): boolean {
    return this.#parts.orphans.release(id, reason);
  }

  /** `proto/address:port` of each SIP listener, as drachtio reports them. */
  listeners(): string[] {
    return this.#parts.listeners.describe();
  }

  get applicationPort(): number | undefined {
    return this.#parts.apps?.local.port;
  }

  /** Resolves when pending terminal-log writes are done. */
  flushTerminalLogs(): Promise<void> {
    return this.#parts.terminalLog?.flush() ?? Promise.resolve();
  }

  /** Counts for health, metrics and tests: what is open now, and totals since the start. */
  stats() {
    const c = this.#parts.counts;
    return {
      serverTransactions: this.#parts.transactions.serverCount,
      clientTransactions: this.#parts.transactions.clientCount,
      dialogs: this.#parts.dialogs.size,
      /** Calls kept with no application (after the application went away, or a restart of this process). */
      orphanDialogs: this.#parts.orphans.size,
      /** Requests being proxied now, and dialogs the box stays in as a record-routing proxy. */
      proxyOperations: this.#proxy.operations,
      proxiedDialogs: this.#proxy.dialogs,
      applications: this.#parts.apps?.connections.length ?? 0,
      awaitingApplication: this.#parts.awaitingApp.size,
      /** Standing delay of the applications' answers (non-INVITE), ms: what the queue-delay bound compares. */
      applicationQueueDelayMs: Math.round(this.#parts.overload.standingDelayMs()),
      /** How late this process's event loop runs now, ms: what the loop-lag bound compares. */
      loopLagMs: Math.round(this.#parts.loopLag.lagMs()),
      /** This process's event-loop delay over the last 10 s (p50, p99, worst). */
      eventLoopDelay: eventLoopDelay(),
      overloadRefused: { ...this.#parts.overload.refused },
      /** REGISTERs the fast registrar answered here (401 challenges, 200 refreshes) and sent on; refreshes not yet taken by the application. */
      fastRegistrar: this.#parts.fastRegistrar
        ? { ...this.#parts.fastRegistrar.counts, pendingReports: this.#parts.fastRegistrar.cache.pendingReports, live: this.#parts.fastRegistrar.cache.live() }
        : undefined,
      tcpConnections: this.#parts.listeners.connectionCounts.tcp,
      tlsConnections: this.#parts.listeners.connectionCounts.tls,
      requestsReceived: Object.fromEntries(c.requests),
      retransmissionsReceived: c.retransmissions,
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
    return this.#parts.listeners.ports;
  }

  /** Former UDP ports still carrying the dialogs begun on them. */
  get drainingPorts(): number[] {
    return this.#parts.listeners.drainingPorts;
  }

  /**
   * Applies changed settings while running. Each listener moves on its own: one whose new port
   * cannot be bound stays where it was and is reported (nothing else is undone). Returns those
   * failures; an empty list means everything asked for is in force.
   */
  async reconfigure(next: SignalingReconfiguration): Promise<ListenerFailure[]> {
    if (this.#closed) return [];
    this.#guard.configure(next.guard);
    if (next.tls) this.#parts.listeners.setCertificate(next.tls);
    // Dialogs over UDP so far stay on the former port: the peers know the box there.
    return this.#parts.listeners.move(next, (drainingId) => this.#parts.dialogs.keepUdpPeersOn(drainingId));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#proxy.close();
    this.#parts.transactions.close();
    // A restart (the supervisor's, an upgrade's) finds the calls again.
    clearTimeout(this.#snapshotTimer);
    this.#snapshot?.write(this.#parts.dialogs.values(), undefined, true);
    this.#parts.orphans.clear();
    this.#parts.dialogs.clear();
    this.#guard.close();
    this.#parts.loopLag.close();
    clearInterval(this.#sweeper);
    await Promise.all([this.#parts.listeners.close(), this.#parts.apps?.close()]);
  }
}
