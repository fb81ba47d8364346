/**
 * What the two sides of the signaling service share: the network side (../network-side.ts,
 * messages from terminals) and the application side (../application-side.ts, messages from
 * drachtio applications) both work on the one listener set, transaction layer and dialog table
 * the service composes (../signaling-service.ts), and count into the same counters. Also the
 * drachtio call detail events (§8), which both sides emit.
 */
import type { DialogTable } from '../dialogs/dialog-table.ts';
import type { OrphanDialogs } from '../dialogs/orphan-dialogs.ts';
import type { ApplicationServer } from '../drachtio/application-server.ts';
import { wireTime } from '../drachtio/wire-frames.ts';
import type { SipMessage } from '../sip/sip-message.ts';
import type { ServerTransaction } from '../transactions/server-transaction.ts';
import type { TransactionLayer } from '../transactions/transaction-layer.ts';
import type { ListenerSet } from '../transports/listener-set.ts';
import type { RegisteredConnections } from '../transports/registered-connections.ts';
import type { FastRegistrar } from '../registrar/fast-registrar.ts';
import type { LoopLag } from './loop-lag.ts';
import type { OverloadGuard } from './overload-guard.ts';
import type { TerminalLog } from './terminal-log.ts';

/** What went through, for metrics: plain counters, cheap on the hot path. */
export class SignalingCounters {
  readonly requests = new Map<string, number>();
  retransmissions = 0;
  /** Final responses the box sent (the application's and its own), by class: 2xx … 6xx. */
  readonly responses = new Map<string, number>();
  malformed = 0;
  floodDropped = 0;
  scannerBlocked = 0;
  overloaded = 0;
  clientTimeouts = 0;
  drainingDropped = 0;

  count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  countResponse(status: number): void {
    this.count(this.responses, `${Math.floor(status / 100)}xx`);
  }
}

export interface SignalingParts {
  readonly listeners: ListenerSet;
  readonly transactions: TransactionLayer;
  readonly dialogs: DialogTable;
  /** Calls whose application went away, kept for the next one to take over. */
  readonly orphans: OrphanDialogs;
  readonly registered: RegisteredConnections;
  /** The registrar's hot path (../registrar/fast-registrar.ts); undefined: every REGISTER goes to the application. */
  readonly fastRegistrar: FastRegistrar | undefined;
  /** The application port; undefined: no applications (tests). */
  readonly apps: ApplicationServer | undefined;
  readonly counts: SignalingCounters;
  /** New requests forwarded to an application and not finally answered yet. */
  readonly awaitingApp: Set<ServerTransaction>;
  /** Whether the applications are saturated (in flight, answer delay): new requests then get 503. */
  readonly overload: OverloadGuard;
  /** How late this process's event loop runs (the loop-lag bound of the overload guard). */
  readonly loopLag: LoopLag;
  readonly terminalLog: TerminalLog | undefined;
  /** Whether terminal logs are on right now (the setting, read per message). */
  readonly terminalLogsEnabled: () => boolean;
}

/** drachtio §8: a call detail event to one application that routed `cdr:<event>`. */
export function sendCdr(
  apps: ApplicationServer | undefined,
  event: 'attempt' | 'start' | 'stop',
  source: 'network' | 'application',
  detail: string | undefined,
  message: SipMessage,
): void {
  const connection = apps?.pick(`cdr:${event}`);
  if (!connection) return;
  connection.send([`cdr:${event}`, source, wireTime(), ...(detail === undefined ? [] : [detail])], message.toBuffer());
}
