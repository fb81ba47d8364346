/**
 * What the box tells Prometheus (GET /metrics, control-plane/routes/metrics.ts), gathered at
 * each scrape from where each figure lives:
 * - the control plane: registrations and registered accounts (the SIP application's location
 *   service), live meetings and their participants by kind (SIP, browser), HTTP answers by
 *   status class (`HttpCounters`, fed by the app's onResponse hook), its own uptime;
 * - the signaling service, over its control channel: SIP requests received by method,
 *   retransmissions, final responses sent by class, open transactions and dialogs, TCP/TLS
 *   connections, and errors (malformed, flood-dropped, scanners blocked, overload 503s,
 *   client transaction timeouts);
 * - the media process, over its control channel: per mediasoup worker its CPU seconds and
 *   routers, meetings with media, IVR calls;
 * - every Node process (control plane, signaling, media): how late its event loop ran over the
 *   last 10 s (server/core/event-loop-delay.ts);
 * - the TURN relay: whether it answers a STUN Binding request (not listed while turned off).
 * A process that does not answer within the scrape's time is reported `vcbox_service_up 0`
 * and its figures are left out (a missing series, not a made-up zero).
 */
import type { MediaControl } from '../../media/control/media-control-protocol.ts';
import type { LiveMeetings } from '../meetings/live-meetings.ts';
import type { SignalingControlClient, SignalingStatus } from '../signaling/signaling-control.ts';
import { stunProbe } from '../turn/stun-probe.ts';
import { type EventLoopDelayFigures, eventLoopDelay } from '../core/event-loop-delay.ts';
import { BUILD_INFO } from '../core/version.ts';
import type { MetricFamily } from './prometheus-text.ts';

/** HTTP answers of the control plane by status class, since it started. */
export class HttpCounters {
  readonly #byClass = new Map<string, number>();

  record(statusCode: number): void {
    const key = `${Math.floor(statusCode / 100)}xx`;
    this.#byClass.set(key, (this.#byClass.get(key) ?? 0) + 1);
  }

  counts(): [string, number][] {
    return [...this.#byClass.entries()].sort(([a], [b]) => a.localeCompare(b));
  }
}

export interface BoxMetricSources {
  /** Registered accounts with their bindings (location service). */
  readonly online: () => { account: string; bindings: readonly unknown[] }[];
  readonly live: LiveMeetings;
  readonly http: HttpCounters;
  readonly media?: MediaControl;
  readonly signaling?: Pick<SignalingControlClient, 'status'>;
  /** Where the TURN relay answers STUN now; undefined while it is turned off. */
  readonly turn?: () => { readonly host: string; readonly port: number } | undefined;
  /** How long each process may take to answer (default 1 s). */
  readonly timeoutMs?: number;
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.catch(() => undefined),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const gauge = (name: string, help: string, samples: MetricFamily['samples']): MetricFamily => ({ name, help, type: 'gauge', samples });
/** p50, p99 and the worst of one process's event-loop delay over the last 10 s. */
const delaySamples = (name: string, figures: EventLoopDelayFigures): MetricFamily['samples'] => [
  { labels: { process: name, quantile: '0.5' }, value: figures.p50Ms },
  { labels: { process: name, quantile: '0.99' }, value: figures.p99Ms },
  { labels: { process: name, quantile: '1' }, value: figures.maxMs },
];
const counter = (name: string, help: string, samples: MetricFamily['samples']): MetricFamily => ({ name, help, type: 'counter', samples });

function signalingFamilies(status: SignalingStatus): MetricFamily[] {
  const stats = status.stats;
  return [
    counter('vcbox_sip_requests_received_total', 'SIP requests received from the network, by method (retransmissions included)', Object.entries(stats.requestsReceived).map(([method, value]) => ({ labels: { method }, value }))),
    counter('vcbox_sip_retransmissions_received_total', 'SIP request retransmissions received (answered from the transaction layer)', [{ value: stats.retransmissionsReceived }]),
    counter('vcbox_sip_responses_sent_total', 'Final SIP responses the box sent, by status class', Object.entries(stats.responsesSent).map(([code, value]) => ({ labels: { code }, value }))),
    gauge('vcbox_sip_transactions', 'SIP transactions open now', [
      { labels: { role: 'server' }, value: stats.serverTransactions },
      { labels: { role: 'client' }, value: stats.clientTransactions },
    ]),
    gauge('vcbox_sip_dialogs', 'SIP dialogs (calls, subscriptions) open now', [{ value: stats.dialogs }]),
    gauge('vcbox_sip_orphan_dialogs', 'SIP calls kept with no application to take them over (after a restart)', [{ value: stats.orphanDialogs ?? 0 }]),
    gauge('vcbox_sip_connections', 'SIP stream connections open now', [
      { labels: { transport: 'tcp' }, value: stats.tcpConnections },
      { labels: { transport: 'tls' }, value: stats.tlsConnections },
    ]),
    counter('vcbox_sip_errors_total', 'SIP messages refused or lost, by kind', [
      { labels: { kind: 'malformed' }, value: stats.errors.malformed },
      { labels: { kind: 'flood_dropped' }, value: stats.errors.floodDropped },
      { labels: { kind: 'scanner_blocked' }, value: stats.errors.scannerBlocked },
      { labels: { kind: 'overload_503' }, value: stats.errors.overloaded },
      { labels: { kind: 'client_timeout' }, value: stats.errors.clientTimeouts },
      { labels: { kind: 'former_port_ignored' }, value: stats.errors.drainingDropped },
    ]),
    counter('vcbox_sip_overload_refused_total', 'New requests refused because the SIP application or the signaling process was saturated, by bound passed (loop_lag_dropped: dropped unanswered)', [
      { labels: { reason: 'in_flight' }, value: stats.overloadRefused.inFlight },
      { labels: { reason: 'queue_delay' }, value: stats.overloadRefused.queueDelay },
      { labels: { reason: 'loop_lag' }, value: stats.overloadRefused.loopLag },
      { labels: { reason: 'loop_lag_dropped' }, value: stats.overloadRefused.loopLagDropped },
    ]),
    gauge('vcbox_sip_application_pending', 'New requests the SIP application has not finally answered yet', [{ value: stats.awaitingApplication }]),
    gauge('vcbox_sip_loop_lag_ms', 'How late the signaling process\'s event loop runs (standing lag), ms', [{ value: stats.loopLagMs }]),
    gauge('vcbox_sip_application_delay_ms', 'Standing delay of the SIP application\'s answers to non-INVITE requests, ms', [{ value: stats.applicationQueueDelayMs }]),
    gauge('vcbox_sip_listener_port', 'Port each SIP listener is bound to now', [
      { labels: { transport: 'udp' }, value: status.ports.port },
      { labels: { transport: 'tcp' }, value: status.ports.port },
      { labels: { transport: 'tls' }, value: status.ports.tlsPort },
    ]),
  ];
}

export async function collectBoxMetrics(sources: BoxMetricSources): Promise<MetricFamily[]> {
  const timeoutMs = sources.timeoutMs ?? 1000;
  const turnTarget = sources.turn?.();
  const [signaling, media, turnAnswered] = await Promise.all([
    sources.signaling ? within(sources.signaling.status(), timeoutMs) : Promise.resolve(undefined),
    sources.media ? within(sources.media.stats(), timeoutMs) : Promise.resolve(undefined),
    // The probe gives up by itself after timeoutMs.
    turnTarget ? stunProbe(turnTarget.host, turnTarget.port, timeoutMs).then(() => true, () => false) : Promise.resolve(undefined),
  ]);
  const online = sources.online();
  const meetings = sources.live.list();
  const participants = { sip: 0, web: 0 };
  for (const meeting of meetings) for (const participant of meeting.participants.values()) participants[participant.type]++;

  const families: MetricFamily[] = [
    gauge('vcbox_build_info', 'The software version (always 1)', [{ labels: { version: BUILD_INFO.version }, value: 1 }]),
    gauge('vcbox_control_plane_uptime_seconds', 'Seconds since the control plane started', [{ value: Math.round(process.uptime()) }]),
    gauge('vcbox_service_up', 'Whether a process answered this scrape (1) or not (0)', [
      ...(sources.signaling ? [{ labels: { service: 'signaling' }, value: signaling ? 1 : 0 }] : []),
      ...(sources.media ? [{ labels: { service: 'media' }, value: media ? 1 : 0 }] : []),
      ...(turnTarget ? [{ labels: { service: 'turn' }, value: turnAnswered ? 1 : 0 }] : []),
    ]),
    gauge('vcbox_sip_registrations', 'Registered terminal contacts (bindings) now', [{ value: online.reduce((sum, entry) => sum + entry.bindings.length, 0) }]),
    gauge('vcbox_sip_registered_accounts', 'Accounts with at least one registered terminal now (online users)', [{ value: online.length }]),
    gauge('vcbox_meetings_live', 'Meetings with someone in them now', [{ value: meetings.length }]),
    gauge('vcbox_meeting_participants', 'Meeting participants now, by how they joined', [
      { labels: { type: 'sip' }, value: participants.sip },
      { labels: { type: 'web' }, value: participants.web },
    ]),
    gauge('vcbox_event_loop_delay_ms', "How late each Node process's event loop ran over the last 10 s, ms (quantile 1: the worst)", [
      ...delaySamples('control-plane', eventLoopDelay()),
      ...(signaling ? delaySamples('signaling', signaling.stats.eventLoopDelay) : []),
      ...(media ? delaySamples('media', media.eventLoopDelay) : []),
    ]),
    counter('vcbox_http_responses_total', 'HTTP answers of the console and API, by status class', sources.http.counts().map(([code, value]) => ({ labels: { code }, value }))),
  ];
  if (signaling) families.push(...signalingFamilies(signaling));
  if (media) {
    families.push(
      gauge('vcbox_media_workers', 'mediasoup workers running now (configured: the label)', [{ labels: { configured: media.configuredWorkers }, value: media.workers.length }]),
      counter('vcbox_media_worker_cpu_seconds_total', 'CPU seconds (user + system) each mediasoup worker has used', media.workers.map((w) => ({ labels: { worker: w.index, pid: w.pid }, value: w.cpuSeconds }))),
      gauge('vcbox_media_worker_routers', 'Routers (meetings, or parts of a spread meeting) on each mediasoup worker now', media.workers.map((w) => ({ labels: { worker: w.index, pid: w.pid }, value: w.routers }))),
      gauge('vcbox_media_meetings', 'Meetings whose media runs now', [{ value: media.meetings }]),
      gauge('vcbox_ivr_sessions', 'IVR calls in progress', [{ value: media.ivrSessions }]),
    );
  }
  return families;
}
