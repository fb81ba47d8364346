/**
 * The signaling service's control channel: newline-delimited JSON over a Unix socket in the
 * data directory (`<dataDir>/run/signaling.sock`), one request and one answer per line.
 *   request  {"id":1,"method":"status"}     → {"id":1,"result":SignalingStatus}
 *   request  {"id":2,"method":"apply"}      → the settings re-read and applied now, then the status
 *   request  {"id":3,"method":"dialogs"}    → {"orphans":[…],"ended":[…]}: calls with no application
 *   request  {"id":4,"method":"adopt","params":[[id,…]]} → the ids the connected application took over
 *   request  {"id":5,"method":"release","params":[id,reason]} → true: that call ended with a BYE
 *   request  {"id":6,"method":"registrar","params":[RegistrarFeed]} → {synced, refreshes}: the refreshes
 *            the fast registrar answered since the last feed (./registrar/registrar-cache.ts)
 * The control plane uses it to tell an administrator what a SIP settings change did (listeners
 * moved, or why not), to read the service's counters for /metrics, and after a restart (its own
 * or this service's) to take its calls over again (./dialogs/orphan-dialogs.ts). Who may use it:
 * whoever can open the socket — the box's own processes (the socket lives in the data directory,
 * which only the service account reads). The service also follows
 * the settings by itself (server/signaling/main.ts), so nothing depends on this channel being
 * used. Both ends are here: `SignalingControlServer` (signaling process; the socket itself is
 * server/core/line-json-ipc.ts) and `SignalingControlClient` (control plane; server/core/request-client.ts). Not the drachtio wire protocol: that one is the SIP
 * application's, and drachtio-server has no such commands.
 */
import { createError } from '../core/errors.ts';
import { badRequest, ControlSocketServer } from '../core/line-json-ipc.ts';
import { RequestClient } from '../core/request-client.ts';
import type { ListenerFailure, SignalingService } from './signaling-service.ts';
import { MAX_CACHED_BINDINGS, MAX_FEED_ACCOUNTS, MAX_FEED_LOCKOUTS, type FeedAnswer, type RegistrarFeed } from './registrar/registrar-cache.ts';

/** Longest line either side accepts: the orphan list of 2000 calls fits; a giant line is refused, not buffered. */
const MAX_LINE = 4 * 1024 * 1024;
/** Ids one `adopt` takes at most. */
const MAX_ADOPT = 5000;

/** Where a port comes from when the process configuration fixes it (it then overrides the stored setting). */
export interface PinnedPorts {
  readonly port?: string;
  readonly tlsPort?: string;
}

export interface SignalingStatus {
  readonly pid: number;
  readonly uptimeSeconds: number;
  /** `proto/address:port` of each listener now. */
  readonly listeners: string[];
  /** Ports bound now. */
  readonly ports: { readonly port: number; readonly tlsPort: number };
  /** Ports the stored settings ask for. */
  readonly stored: { readonly port: number; readonly tlsPort: number };
  /** Ports the process configuration fixes for this run, by the name of what fixes them. */
  readonly pinned: PinnedPorts;
  /** Listeners that could not move at the last apply (they stayed on their port). */
  readonly failures: ListenerFailure[];
  /** Former UDP ports still carrying calls begun on them. */
  readonly drainingPorts: number[];
  readonly stats: ReturnType<SignalingService['stats']>;
}

export type OrphanList = ReturnType<SignalingService['orphans']>;

type Handlers = {
  status(): SignalingStatus;
  apply(): Promise<SignalingStatus>;
  orphans(): OrphanList;
  adopt(ids: readonly string[]): string[];
  release(id: string, reason: string): boolean;
  /** Absent: the service has no fast registrar (the method is refused). */
  registrar?(feed: RegistrarFeed): FeedAnswer;
};

const isText = (value: unknown, max = 512): value is string => typeof value === 'string' && value.length <= max;
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isBinding = (b: unknown): boolean => {
  if (typeof b !== 'object' || b === null) return false;
  const { contact, instance, protocol, address, port, expiresAt, ...rest } = b as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 && isText(contact) && (instance === undefined || isText(instance)) && ['udp', 'tcp', 'tls'].includes(protocol as string) &&
    isText(address, 64) && Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536 && isTime(expiresAt)
  );
};

/** The shape of a registrar feed, checked whole before any of it is used. */
export function checkRegistrarFeed(value: unknown): RegistrarFeed {
  const refuse = (what: string) => badRequest(`registrar: ${what}`);
  if (typeof value !== 'object' || value === null) throw refuse('params must be [feed]');
  const { minExpires, maxExpires, lockouts, accounts, full, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw refuse(`unknown field ${String(Object.keys(rest)[0]).slice(0, 40)}`);
  if (!Number.isInteger(minExpires) || !Number.isInteger(maxExpires) || (minExpires as number) < 1 || (maxExpires as number) < (minExpires as number)) throw refuse('minExpires/maxExpires must be whole seconds, min ≤ max');
  if (typeof full !== 'boolean') throw refuse('full must be true or false');
  if (!Array.isArray(lockouts) || lockouts.length > MAX_FEED_LOCKOUTS || !lockouts.every((l) => Array.isArray(l) && l.length === 2 && isText(l[0], 64) && isTime(l[1]))) throw refuse(`lockouts must be [[address, until], …] (at most ${MAX_FEED_LOCKOUTS})`);
  if (
    !Array.isArray(accounts) || accounts.length > MAX_FEED_ACCOUNTS ||
    !accounts.every((a) => Array.isArray(a) && a.length === 3 && isText(a[0], 32) && isTime(a[1]) && Array.isArray(a[2]) && a[2].length <= MAX_CACHED_BINDINGS && a[2].every(isBinding))
  ) {
    throw refuse(`accounts must be [[account, changedAt, [binding, …]], …] (at most ${MAX_FEED_ACCOUNTS})`);
  }
  return value as unknown as RegistrarFeed;
}

export class SignalingControlServer {
  readonly #socket: ControlSocketServer;

  constructor(handlers: Handlers, socketPath: string) {
    this.#socket = new ControlSocketServer(socketPath, {
      name: 'signaling control channel',
      maxLineBytes: MAX_LINE,
      call: (method, params) => {
        if (method === 'status') return handlers.status();
        if (method === 'apply') return handlers.apply();
        if (method === 'dialogs') return handlers.orphans();
        if (method === 'adopt') {
          const [ids] = params;
          if (!Array.isArray(ids) || ids.length > MAX_ADOPT || !ids.every((id) => typeof id === 'string' && id.length < 4096)) throw badRequest(`adopt: params must be [[dialog id, …]] (at most ${MAX_ADOPT})`);
          return handlers.adopt(ids as string[]);
        }
        if (method === 'release') {
          const [id, reason] = params;
          if (typeof id !== 'string' || typeof reason !== 'string' || reason.length > 200) throw badRequest('release: params must be [dialog id, reason (at most 200 characters)]');
          return handlers.release(id, reason);
        }
        if (method === 'registrar' && handlers.registrar) return handlers.registrar(checkRegistrarFeed(params[0]));
        throw badRequest(`unknown method ${String(method)}`);
      },
    });
  }

  listen(): Promise<void> {
    return this.#socket.listen();
  }

  close(): void {
    this.#socket.close();
  }
}

/**
 * The control plane's end, on the shared request client (server/core/request-client.ts): a call
 * connects when there is no connection and keeps it for the next one. Throws
 * VCBOX_ERR_SIGNALING_UNAVAILABLE when the service does not answer (not running, gone
 * mid-call, or busy past the timeout).
 */
export class SignalingControlClient {
  readonly #client: RequestClient;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.#client = new RequestClient(socketPath, {
      peer: 'the signaling service',
      maxLineBytes: MAX_LINE,
      timeoutMs: options.timeoutMs ?? 5000,
      unavailable: (reason) => createError('VCBOX_ERR_SIGNALING_UNAVAILABLE', { reason }),
    });
  }

  status(): Promise<SignalingStatus> {
    return this.#client.call('status') as Promise<SignalingStatus>;
  }

  /** Has the service re-read its settings and applied them; its status afterwards. */
  apply(): Promise<SignalingStatus> {
    return this.#client.call('apply') as Promise<SignalingStatus>;
  }

  /** The calls waiting for an application to take them over, and those their peers ended meanwhile. */
  orphans(): Promise<OrphanList> {
    return this.#client.call('dialogs') as Promise<OrphanList>;
  }

  /** The application connected now takes these calls over; the ids taken. */
  adopt(ids: readonly string[]): Promise<string[]> {
    return this.#client.call('adopt', [ids]) as Promise<string[]>;
  }

  /** Ends a call no application will take over (BYE with `reason`). */
  release(id: string, reason: string): Promise<boolean> {
    return this.#client.call('release', [id, reason]) as Promise<boolean>;
  }

  /** Feeds the fast registrar (./registrar/registrar-cache.ts); the refreshes it answered since the last feed. */
  registrar(feed: RegistrarFeed): Promise<FeedAnswer> {
    return this.#client.call('registrar', [feed]) as Promise<FeedAnswer>;
  }

  /** Drops the connection. Safe to call twice. */
  close(): void {
    this.#client.close();
  }
}
