/**
 * Qualify (keep-alive) of registered terminals: every `sip.qualifySeconds` the box sends each
 * registered contact an OPTIONS (over the terminal's own connection for TCP/TLS, like any
 * request to it) and notes whether it answered — any final response counts — and how fast.
 * The console's online users show reachable / unreachable and the round-trip time; a terminal
 * that no longer answers is visible long before its registration expires.
 */
import type Srf from 'drachtio-srf';
import { getLogger } from '../../core/logger.ts';
import { sendOutOfDialog } from '../out-of-dialog-request.ts';
import type { LocationService } from './location-service.ts';

const log = getLogger('qualifier');

export interface Reachability {
  readonly reachable: boolean;
  /** Round-trip time of the last answered OPTIONS, ms. */
  readonly rttMs: number | null;
  readonly checkedAt: string;
}

export interface QualifyOptions {
  /** Time between rounds; 0 switches qualify off. */
  readonly intervalMs: () => number;
  /** An OPTIONS unanswered this long marks the contact unreachable. */
  readonly timeoutMs?: number;
}

export class Qualifier {
  readonly #srf: Srf;
  readonly #location: LocationService;
  readonly #options: QualifyOptions;
  readonly #status = new Map<string, Reachability>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(srf: Srf, location: LocationService, options: QualifyOptions) {
    this.#srf = srf;
    this.#location = location;
    this.#options = options;
  }

  start(): void {
    if (this.#timer || this.#closed) return; // the application may connect again: one loop
    const schedule = () => {
      if (this.#closed) return;
      const interval = this.#options.intervalMs();
      this.#timer = setTimeout(
        () => {
          if (interval > 0) this.#round();
          schedule();
        },
        interval > 0 ? interval : 60_000,
      );
      this.#timer.unref();
    };
    schedule();
  }

  /** The last qualify result of one contact of an account. */
  status(account: string, contact: string): Reachability | undefined {
    return this.#status.get(`${account}|${contact}`);
  }

  #round(): void {
    const live = new Set<string>();
    for (const { account, bindings } of this.#location.online()) {
      for (const binding of bindings) {
        const key = `${account}|${binding.contact}`;
        live.add(key);
        this.#probe(key, binding.contact);
      }
    }
    for (const key of this.#status.keys()) if (!live.has(key)) this.#status.delete(key);
  }

  #probe(key: string, contact: string): void {
    const started = performance.now();
    void sendOutOfDialog(this.#srf, contact, { method: 'OPTIONS', headers: { 'Max-Forwards': '70' }, timeoutMs: this.#options.timeoutMs ?? 5000 }).then((outcome) => {
      const reachable = 'status' in outcome && outcome.status !== 408 && outcome.status !== 503;
      const previous = this.#status.get(key);
      this.#status.set(key, { reachable, rttMs: reachable ? Math.round((performance.now() - started) * 10) / 10 : null, checkedAt: new Date().toISOString() });
      if (previous && previous.reachable !== reachable) log.info({ contact, reachable }, reachable ? 'terminal answers again' : 'terminal stopped answering OPTIONS');
    }).catch((error: Error) => log.error({ contact, err: error }, 'qualify bookkeeping failed'));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
