/**
 * The signaling service's control channel: newline-delimited JSON over a Unix socket in the
 * data directory (`<dataDir>/run/signaling.sock`), one request and one answer per line.
 *   request  {"id":1,"method":"status"}     → {"id":1,"result":SignalingStatus}
 *   request  {"id":2,"method":"apply"}      → the settings re-read and applied now, then the status
 * The control plane uses it to tell an administrator what a SIP settings change did (listeners
 * moved, or why not) and to read the service's counters for /metrics. The service also follows
 * the settings by itself (server/signaling/main.ts), so nothing depends on this channel being
 * used. Both ends are here: `SignalingControlServer` (signaling process; the socket itself is
 * server/core/line-json-ipc.ts) and `SignalingControlClient` (control plane). Not the drachtio wire protocol: that one is the SIP
 * application's, and drachtio-server has no such commands.
 */
import net from 'node:net';
import { createError } from '../core/errors.ts';
import { badRequest, ControlSocketServer, readLines } from '../core/line-json-ipc.ts';
import type { ListenerFailure, SignalingService } from './signaling-service.ts';

/** Longest line either side accepts. */
const MAX_LINE = 64 * 1024;

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

type Handlers = { status(): SignalingStatus; apply(): Promise<SignalingStatus> };

export class SignalingControlServer {
  readonly #socket: ControlSocketServer;

  constructor(handlers: Handlers, socketPath: string) {
    this.#socket = new ControlSocketServer(socketPath, {
      name: 'signaling control channel',
      maxLineBytes: MAX_LINE,
      call: (method) => {
        if (method === 'status') return handlers.status();
        if (method === 'apply') return handlers.apply();
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
 * The control plane's end: each call opens the socket, asks, and closes. Throws
 * VCBOX_ERR_SIGNALING_UNAVAILABLE when the service does not answer (not running, or busy past
 * the timeout).
 */
export class SignalingControlClient {
  readonly #socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.#socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  status(): Promise<SignalingStatus> {
    return this.#call('status');
  }

  /** Has the service re-read its settings and applied them; its status afterwards. */
  apply(): Promise<SignalingStatus> {
    return this.#call('apply');
  }

  #call(method: 'status' | 'apply'): Promise<SignalingStatus> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.#socketPath);
      const fail = (reason: string) => {
        clearTimeout(timer);
        socket.destroy();
        reject(createError('VCBOX_ERR_SIGNALING_UNAVAILABLE', { reason }));
      };
      const timer = setTimeout(() => fail(`no answer to "${method}" within ${this.#timeoutMs} ms`), this.#timeoutMs);
      socket.on('connect', () => socket.write(`${JSON.stringify({ id: 1, method })}\n`));
      socket.on('error', (error: NodeJS.ErrnoException) => fail(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? 'the signaling service is not running' : error.message));
      readLines(socket, MAX_LINE, (line) => {
        clearTimeout(timer);
        socket.end();
        try {
          const answer = JSON.parse(line) as { result?: SignalingStatus; error?: { message: string } };
          if (answer.result) resolve(answer.result);
          else reject(createError('VCBOX_ERR_SIGNALING_UNAVAILABLE', { reason: answer.error?.message ?? 'empty answer' }));
        } catch (error) {
          reject(createError('VCBOX_ERR_SIGNALING_UNAVAILABLE', { reason: `unreadable answer: ${(error as Error).message}` }));
        }
      }, () => socket.destroy());
    });
  }
}
