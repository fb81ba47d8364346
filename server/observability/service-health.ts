/**
 * Service status for the dashboard (spec "Dashboard & status": the service table) — what "up"
 * means for each of the three processes, as seen from the control plane:
 * - control-plane: up whenever it can answer (it is the one answering); pid and uptime are its own.
 * - signaling: up while the SIP application holds an authenticated connection to the
 *   signaling service's application port (the link every SIP message goes through); the
 *   uptime given is the link's. A signaling process that hangs with its socket still open
 *   reads as up until the socket drops.
 * - media: up when the control socket is connected and the media process answers a `ping`
 *   within `probeTimeoutMs` (1 s); the answer brings its pid, uptime and meeting count.
 *   Connected but silent = down ("not answering"), not connected = down.
 * - turn: up when the TURN relay answers a STUN Binding request on its port within
 *   `probeTimeoutMs` (server/turn/stun-probe.ts); `off` when turned off in the settings. Listed
 *   only when this process knows where the relay is (the control plane of a whole box).
 * A service this process was built without (tests, a control plane run alone) is `unknown`.
 * The routes are in control-plane/routes/dashboard.ts.
 */
import { getLogger } from '../core/logger.ts';
import { stunProbe } from '../turn/stun-probe.ts';

const log = getLogger('service-health');

export type ServiceState = 'up' | 'down' | 'off' | 'unknown';

export interface ServiceStatus {
  readonly name: 'control-plane' | 'signaling' | 'media' | 'turn';
  readonly status: ServiceState;
  readonly pid: number | null;
  readonly uptimeSeconds: number | null;
  /** Why it is down, or what was seen. */
  readonly detail: string;
  /** Media: meetings it carries. */
  readonly meetings?: number;
  /** Media: round-trip of the ping. */
  readonly rttMs?: number;
}

/** The media control channel as the control plane's MediaClient exposes it. */
export interface MediaProbeTarget {
  readonly connected: boolean;
  readonly media: { ping(): Promise<{ meetings: number; pid?: number; uptimeSeconds?: number }> };
}

export interface ServiceHealthOptions {
  /** When the SIP application's link to the signaling service came up (null: no link). */
  readonly signaling?: () => Date | null;
  readonly media?: MediaProbeTarget;
  /** Where the TURN relay answers STUN now (the settings may change it), or undefined when off. */
  readonly turn?: () => { readonly host: string; readonly port: number } | undefined;
  readonly probeTimeoutMs?: number;
}

export class ServiceHealth {
  readonly #options: ServiceHealthOptions;
  readonly #probeTimeoutMs: number;
  /** Last state per service, to log changes (not every poll). */
  readonly #last = new Map<string, ServiceState>();

  constructor(options: ServiceHealthOptions) {
    this.#options = options;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 1000;
  }

  async status(): Promise<ServiceStatus[]> {
    const statuses: ServiceStatus[] = [
      { name: 'control-plane', status: 'up', pid: process.pid, uptimeSeconds: Math.round(process.uptime()), detail: 'answering' },
      this.#signaling(),
      await this.#media(),
      ...(this.#options.turn ? [await this.#turn(this.#options.turn())] : []),
    ];
    for (const s of statuses) {
      const before = this.#last.get(s.name);
      if (before !== undefined && before !== s.status) log.warn({ service: s.name, from: before, to: s.status, detail: s.detail }, 'service status changed');
      this.#last.set(s.name, s.status);
    }
    return statuses;
  }

  #signaling(): ServiceStatus {
    if (!this.#options.signaling) return { name: 'signaling', status: 'unknown', pid: null, uptimeSeconds: null, detail: 'no SIP application in this process' };
    const since = this.#options.signaling();
    return since
      ? { name: 'signaling', status: 'up', pid: null, uptimeSeconds: Math.max(0, Math.round((Date.now() - since.getTime()) / 1000)), detail: 'SIP application connected' }
      : { name: 'signaling', status: 'down', pid: null, uptimeSeconds: null, detail: 'SIP application not connected to the signaling service' };
  }

  async #media(): Promise<ServiceStatus> {
    const target = this.#options.media;
    if (!target) return { name: 'media', status: 'unknown', pid: null, uptimeSeconds: null, detail: 'no media client in this process' };
    if (!target.connected) return { name: 'media', status: 'down', pid: null, uptimeSeconds: null, detail: 'media control socket not connected' };
    const begun = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        target.media.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer to ping within ${this.#probeTimeoutMs} ms`)), this.#probeTimeoutMs);
        }),
      ]);
      return {
        name: 'media',
        status: 'up',
        pid: answer.pid ?? null,
        uptimeSeconds: answer.uptimeSeconds ?? null,
        detail: 'answers ping',
        meetings: answer.meetings,
        rttMs: Math.round((performance.now() - begun) * 10) / 10,
      };
    } catch (error) {
      return { name: 'media', status: 'down', pid: null, uptimeSeconds: null, detail: `not answering: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  async #turn(target: { host: string; port: number } | undefined): Promise<ServiceStatus> {
    if (!target) return { name: 'turn', status: 'off', pid: null, uptimeSeconds: null, detail: 'turned off in the settings (turn.enabled)' };
    try {
      const rttMs = await stunProbe(target.host, target.port, this.#probeTimeoutMs);
      return { name: 'turn', status: 'up', pid: null, uptimeSeconds: null, detail: `answers STUN on port ${target.port}`, rttMs };
    } catch (error) {
      return { name: 'turn', status: 'down', pid: null, uptimeSeconds: null, detail: `not answering: ${(error as Error).message}` };
    }
  }
}
