/**
 * The libre-based BFCP client (test/interop/bfcp-client, built by scripts/build-bfcp-client.sh
 * at test set-up) driven from a test: one process per floor participant, commands written to
 * its stdin, every message it receives read back as a JSON line. `waitFor` finds an event
 * already seen or coming (bounded by a timeout); `close()` ends the process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const BFCP_CLIENT = path.resolve(import.meta.dirname, '../interop/bfcp-client/build/bfcp-client');

export interface BfcpAttributeJson {
  readonly type: string;
  readonly code: number;
  readonly m: boolean;
  readonly id?: number;
  readonly status?: string;
  readonly qpos?: number;
  readonly error?: number;
  readonly text?: string;
  readonly primitives?: string[];
  readonly attributes?: number[];
  readonly children?: BfcpAttributeJson[];
}

export interface BfcpClientEvent {
  readonly event: string;
  readonly request?: string;
  readonly prim?: string;
  readonly ver?: number;
  readonly r?: boolean;
  readonly confid?: number;
  readonly tid?: number;
  readonly userid?: number;
  readonly attrs?: BfcpAttributeJson[];
  readonly errno?: number;
  readonly command?: string;
  readonly tls?: boolean;
  readonly verified?: boolean;
}

/** Every attribute of this type, nested ones included. */
export function findAttributes(attrs: readonly BfcpAttributeJson[] | undefined, type: string): BfcpAttributeJson[] {
  const found: BfcpAttributeJson[] = [];
  const walk = (list: readonly BfcpAttributeJson[]) => {
    for (const a of list) {
      if (a.type === type) found.push(a);
      if (a.children) walk(a.children);
    }
  };
  walk(attrs ?? []);
  return found;
}

/** The overall REQUEST-STATUS of a FloorRequestStatus (inside OVERALL-REQUEST-STATUS). */
export function overallStatus(event: BfcpClientEvent): string | undefined {
  const overall = findAttributes(event.attrs, 'OVERALL-REQUEST-STATUS')[0];
  return overall?.children?.find((a) => a.type === 'REQUEST-STATUS')?.status;
}

/** The floor request ID of a FloorRequestStatus. */
export function floorRequestId(event: BfcpClientEvent): number | undefined {
  return findAttributes(event.attrs, 'FLOOR-REQUEST-INFORMATION')[0]?.id;
}

/** The ERROR-CODE of an Error. */
export function errorCode(event: BfcpClientEvent): number | undefined {
  return findAttributes(event.attrs, 'ERROR-CODE')[0]?.error;
}

export class BfcpClient {
  readonly #child: ChildProcess;
  readonly events: BfcpClientEvent[] = [];
  readonly #waiters: { match: (e: BfcpClientEvent) => boolean; resolve: (e: BfcpClientEvent) => void }[] = [];
  #stderr = '';
  #exited = false;
  readonly exit: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          this.#onEvent(JSON.parse(line) as BfcpClientEvent);
        } catch {
          this.#stderr += `unparsed output: ${line}\n`;
        }
      }
    });
    child.stderr?.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    this.exit = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.#exited = true;
        resolve(code);
      }),
    );
  }

  #onEvent(event: BfcpClientEvent): void {
    this.events.push(event);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i];
      if (waiter?.match(event)) {
        this.#waiters.splice(i, 1);
        waiter.resolve(event);
      }
    }
  }

  /** The first event (from `from` on, default all) matching, or a rejection after the timeout. */
  waitFor(match: (e: BfcpClientEvent) => boolean, what: string, timeoutMs = 10_000, from = 0): Promise<BfcpClientEvent> {
    const seen = this.events.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.findIndex((w) => w.resolve === done);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new Error(`bfcp-client: no ${what} within ${timeoutMs} ms; got:\n${this.events.map((e) => JSON.stringify(e)).join('\n')}\n${this.#stderr}`));
      }, timeoutMs);
      const done = (event: BfcpClientEvent) => {
        clearTimeout(timer);
        resolve(event);
      };
      this.#waiters.push({ match: (e) => this.events.indexOf(e) >= from && match(e), resolve: done });
    });
  }

  /** Sends a command and waits for the response to it (the next response to that request name). */
  async request(command: string, requestName: string, timeoutMs = 10_000): Promise<BfcpClientEvent> {
    const from = this.events.length;
    this.send(command);
    return this.waitFor((e) => (e.event === 'response' && e.request === requestName) || e.event === 'timeout' || (e.event === 'error' && e.command !== undefined), `${requestName} response`, timeoutMs, from);
  }

  /** The next notification (from now) matching. */
  nextNotification(match: (e: BfcpClientEvent) => boolean, what: string, timeoutMs = 10_000): Promise<BfcpClientEvent> {
    return this.waitFor((e) => e.event === 'notification' && match(e), what, timeoutMs, this.events.length);
  }

  send(command: string): void {
    this.#child.stdin?.write(`${command}\n`);
  }

  get exited(): boolean {
    return this.#exited;
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    this.#child.stdin?.end('quit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
    await this.exit;
    clearTimeout(timer);
  }

  /** Starts a client; over TLS `ca` is the certificate file the server's must chain to. */
  static async start(options: {
    transport: 'tcp' | 'tls' | 'udp';
    port: number;
    conferenceId: number;
    userId: number;
    floorId?: number;
    host?: string;
    ca?: string;
  }): Promise<BfcpClient> {
    if (!existsSync(BFCP_CLIENT)) throw new Error(`${BFCP_CLIENT} is missing: run the test set-up (scripts/setup.sh test) to build it`);
    const args = [
      '--transport',
      options.transport,
      '--server',
      `${options.host ?? '127.0.0.1'}:${options.port}`,
      '--conf',
      String(options.conferenceId),
      '--user',
      String(options.userId),
      '--floor',
      String(options.floorId ?? 1),
      ...(options.ca ? ['--ca', options.ca] : []),
    ];
    const client = new BfcpClient(spawn(BFCP_CLIENT, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    await client.waitFor((e) => e.event === 'ready' || e.event === 'error', 'ready');
    if (options.transport !== 'udp') await client.waitFor((e) => e.event === 'connected' || e.event === 'closed', 'connected');
    return client;
  }
}
