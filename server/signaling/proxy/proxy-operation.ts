/**
 * One request proxied statefully (RFC 3261 §16): the server transaction it came on, and one
 * branch (client transaction) per target — all at once (simultaneous forking) or one after the
 * other (serial). Each copy gets the target as Request-URI (an in-dialog request keeps its own),
 * Max-Forwards decremented, the box's Via on top, and Record-Route when asked. Provisional
 * responses are relayed upstream at once (100 excepted), 2xx at once too (every one, RFC 6026),
 * and the others cancelled; a 6xx cancels the others and wins; 3xx may be followed (their
 * Contacts become new targets); otherwise, once every branch is over, the best final response
 * goes upstream (§16.7 step 6: 6xx, else the lowest class; 503 becomes 500; none at all: 408 when
 * a branch timed out, else 480; a 401/407 carries every branch's challenge). A CANCEL from the
 * caller cancels every pending branch (a branch without a provisional response yet is cancelled
 * when one comes). Bounded: at most MAX_BRANCHES branches, redirects included. Sending and
 * resolving are the listener set's (../transports).
 */
import { randomUUID } from 'node:crypto';
import { getLogger } from '../../core/logger.ts';
import type { SignalingParts } from '../core/signaling-parts.ts';
import { tagOf } from '../dialogs/dialog-table.ts';
import { createResponse, SipRequest, type SipResponse } from '../sip/sip-message.ts';
import { parseNameAddr, parseUri, uriParam } from '../sip/sip-uri.ts';
import { buildCancel, type ClientTransaction } from '../transactions/client-transaction.ts';
import type { ServerTransaction } from '../transactions/server-transaction.ts';
import { TIMERS } from '../transactions/timers.ts';
import { responseDestination } from '../transactions/transaction-layer.ts';
import type { MessageSource } from '../transports/sip-transport.ts';

const log = getLogger('sip-proxy');

/** Branches one proxied request may open, targets from redirects included. */
export const MAX_BRANCHES = 20;

export interface ProxyPlan {
  /** Request-URIs to try, in order; for an in-dialog request, its own Request-URI (kept). */
  readonly targets: string[];
  /** Keep the Request-URI as received (in-dialog requests routed through the box). */
  readonly keepRequestUri?: boolean;
  readonly recordRoute: boolean;
  readonly followRedirects: boolean;
  readonly simultaneous: boolean;
  readonly provisionalTimeoutMs?: number | undefined;
  readonly finalTimeoutMs?: number | undefined;
  /** Extra headers for every forwarded copy. */
  readonly headers?: [string, string][];
}

export interface ProxyHooks {
  /** A final response received from a branch (as received), and where from. */
  branchFinal?(response: SipResponse, from: MessageSource): void;
  /** The outcome is settled (a 2xx passed, a 6xx came, or the best final response went upstream). */
  done?(): void;
  /**
   * A 1xx with a To tag (early dialog) or a 2xx to a record-routed request passed: the box stays
   * in that dialog.
   */
  dialog?(response: SipResponse): void;
  /** The operation is over: no branch is left (the owner forgets it). */
  finished?(operation: ProxyOperation): void;
}

interface Branch {
  readonly target: string;
  transaction: ClientTransaction | undefined;
  destination: MessageSource | undefined;
  provisional: boolean;
  /** Final status (received or made here); undefined while pending. */
  final: number | undefined;
  /** CANCEL it as soon as it has a provisional response. */
  cancelWanted: string | undefined;
  cancelled: boolean;
  timers: NodeJS.Timeout[];
}

/** Removes the first Via value (the box's own) from a response. */
function withoutTopVia(response: SipResponse): SipResponse {
  const index = response.headers.findIndex(([name]) => name === 'via');
  if (index >= 0) response.headers.splice(index, 1);
  return response;
}

function branchId(): string {
  return `z9hG4bK${randomUUID().replace(/-/g, '')}`;
}

export class ProxyOperation {
  readonly #p: SignalingParts;
  readonly #server: ServerTransaction;
  readonly #plan: ProxyPlan;
  readonly #hooks: ProxyHooks;
  readonly #targets: string[];
  readonly #branches: Branch[] = [];
  /** Final responses kept for the choice at the end: received ones, and the ones made here. */
  readonly #responses: { response: SipResponse; local: boolean }[] = [];
  /** No new branch any more (2xx, 6xx, CANCEL). */
  #settled = false;
  #doneSent = false;
  #answered2xx = false;
  #answeredFinal = false;
  #finished = false;
  /** The caller CANCELled: without any final response received, it gets 487. */
  #cancelledByCaller = false;
  #guard: NodeJS.Timeout | undefined;

  constructor(parts: SignalingParts, server: ServerTransaction, plan: ProxyPlan, hooks: ProxyHooks) {
    this.#p = parts;
    this.#server = server;
    this.#plan = plan;
    this.#hooks = hooks;
    this.#targets = [...plan.targets];
  }

  /** Opens the first branch (serial) or all of them (simultaneous). */
  start(): void {
    this.#next();
  }

  /** The caller CANCELled: cancel every pending branch; 487 upstream if they never answer. */
  cancel(reason?: string): void {
    this.#settled = true;
    this.#cancelledByCaller = true;
    this.#cancelPending(reason);
    this.#armGuard();
    this.#maybeFinish();
  }

  #next(): void {
    if (this.#settled) {
      this.#maybeFinish();
      return;
    }
    const running = () => this.#branches.filter((b) => b.final === undefined).length;
    while (this.#targets.length > 0 && this.#branches.length < MAX_BRANCHES && (this.#plan.simultaneous || running() === 0)) {
      this.#open(this.#targets.shift() as string);
    }
    this.#maybeFinish();
  }

  #open(target: string): void {
    const branch: Branch = { target, transaction: undefined, destination: undefined, provisional: false, final: undefined, cancelWanted: undefined, cancelled: false, timers: [] };
    this.#branches.push(branch);
    void this.#send(branch).catch((error: Error) => {
      log.info({ target, reason: error.message }, 'proxy branch could not be sent');
      this.#localFinal(branch, 480, 'Temporarily Unavailable');
    });
  }

  async #send(branch: Branch): Promise<void> {
    const { request, destination } = await forwardCopy(this.#p, this.#server.request, this.#plan.keepRequestUri ? undefined : branch.target);
    if (branch.final !== undefined) return; // given up while resolving
    if (branch.cancelWanted !== undefined) {
      this.#localFinal(branch, 487, 'Request Terminated'); // cancelled before it was sent: never sent
      return;
    }
    branch.destination = destination;
    for (const [name, value] of this.#plan.headers ?? []) request.set(name, value);
    const hostport = this.#p.listeners.hostport(destination.protocol, destination.address);
    if (this.#plan.recordRoute) {
      const transport = destination.protocol === 'udp' ? '' : `;transport=${destination.protocol}`;
      request.headers.unshift(['record-route', `<${destination.protocol === 'tls' ? 'sips' : 'sip'}:${hostport}${transport};lr>`]);
    }
    const id = branchId();
    request.headers.unshift(['via', `SIP/2.0/${destination.protocol.toUpperCase()} ${hostport};rport;branch=${id}`]);
    branch.transaction = this.#p.transactions.startClient(request, destination, id, {
      response: (response, _t, retransmission) => this.#onResponse(branch, response, retransmission),
      failed: (status) => this.#localFinal(branch, status, status === 408 ? 'Request Timeout' : 'Service Unavailable'),
    });
    const { provisionalTimeoutMs, finalTimeoutMs } = this.#plan;
    if (provisionalTimeoutMs !== undefined && request.method === 'INVITE') {
      branch.timers.push(setTimeout(() => !branch.provisional && this.#giveUp(branch), provisionalTimeoutMs));
    }
    if (finalTimeoutMs !== undefined) branch.timers.push(setTimeout(() => this.#giveUp(branch), finalTimeoutMs));
  }

  /** A branch timed out by the application's timeouts: cancelled, counted as 408, the next one tried. */
  #giveUp(branch: Branch): void {
    if (branch.final !== undefined) return;
    this.#cancelBranch(branch, undefined);
    this.#localFinal(branch, 408, 'Request Timeout');
  }

  #onResponse(branch: Branch, response: SipResponse, retransmission: boolean): void {
    const status = response.status;
    const isInvite = this.#server.isInvite;
    if (status === 100) return;
    if (status < 200) {
      branch.provisional = true;
      if (branch.cancelWanted !== undefined || branch.cancelled) {
        this.#cancelBranch(branch, branch.cancelWanted);
        return;
      }
      if (branch.final === undefined && !this.#answeredFinal) {
        if (this.#plan.recordRoute && tagOf(response.get('to')) !== '') this.#hooks.dialog?.(response);
        this.#server.respond(withoutTopVia(response));
      }
      return;
    }
    if (status < 300) {
      if (retransmission) {
        // 2xx retransmissions go end to end: passed on as they come.
        if (isInvite) this.#p.listeners.send(responseDestination(this.#server.request, this.#server.source), withoutTopVia(response).toBuffer());
        return;
      }
      const late = branch.final !== undefined;
      branch.final = status;
      this.#clearTimers(branch);
      if (branch.destination) this.#hooks.branchFinal?.(response, branch.destination);
      if (this.#plan.recordRoute) this.#hooks.dialog?.(response);
      this.#relay2xx(response);
      this.#settled = true;
      if (isInvite) this.#cancelPending('SIP;cause=200;text="Call completed elsewhere"');
      this.#sendDone();
      if (late) log.info({ callId: this.#server.request.callId }, 'a 2xx came on a branch given up on; relayed');
      this.#maybeFinish();
      return;
    }
    if (branch.final !== undefined) return; // a branch given up on: its late refusal changes nothing
    branch.final = status;
    this.#clearTimers(branch);
    if (branch.destination) this.#hooks.branchFinal?.(response, branch.destination);
    const contacts = status < 400 && this.#plan.followRedirects ? this.#redirectTargets(response) : [];
    if (contacts.length > 0) {
      this.#targets.push(...contacts);
    } else {
      this.#responses.push({ response: withoutTopVia(response), local: false });
    }
    if (status >= 600 && isInvite) {
      // Settled: the 6xx goes upstream once the others are cancelled; the application is told now.
      this.#settled = true;
      this.#cancelPending(undefined);
      this.#sendDone();
    }
    this.#next();
  }

  #redirectTargets(response: SipResponse): string[] {
    const targets: string[] = [];
    for (const contact of response.getAll('contact')) {
      const uri = parseNameAddr(contact)?.uri ?? '';
      const parsed = parseUri(uri);
      if (parsed && parsed.scheme !== 'tel' && !this.#branches.some((b) => b.target === uri) && !this.#targets.includes(uri)) targets.push(uri);
    }
    return targets.slice(0, Math.max(0, MAX_BRANCHES - this.#branches.length - this.#targets.length));
  }

  #relay2xx(response: SipResponse): void {
    const relayed = withoutTopVia(response);
    if (this.#answeredFinal && !this.#answered2xx) {
      log.warn({ callId: this.#server.request.callId }, 'a 2xx came after a refusal was sent upstream; not relayed');
      return;
    }
    if (!this.#answeredFinal) {
      this.#answeredFinal = true;
      this.#answered2xx = true;
      this.#server.respond(relayed, true);
      return;
    }
    // A second 2xx (another branch answered too): passed on as well (§16.7 step 5).
    if (this.#server.isInvite) this.#p.listeners.send(responseDestination(this.#server.request, this.#server.source), relayed.toBuffer());
  }

  /** A final status made here for a branch (timeout, transport failure, given up). */
  #localFinal(branch: Branch, status: number, reason: string): void {
    if (branch.final !== undefined) return;
    branch.final = status;
    this.#clearTimers(branch);
    this.#responses.push({ response: createResponse(this.#server.request, status, reason, this.#server.toTag), local: true });
    this.#next();
  }

  #cancelPending(reason: string | undefined): void {
    for (const branch of this.#branches) {
      if (branch.final === undefined) this.#cancelBranch(branch, reason);
    }
    this.#targets.length = 0;
  }

  /** RFC 3261 §9.1: CANCEL a pending INVITE branch once it has a provisional response. */
  #cancelBranch(branch: Branch, reason: string | undefined): void {
    const transaction = branch.transaction;
    if (branch.cancelled || !this.#server.isInvite) return;
    if (!branch.provisional || !transaction || !branch.destination) {
      branch.cancelWanted = reason ?? '';
      return;
    }
    if (transaction.finalStatus !== undefined) return;
    branch.cancelled = true;
    const cancel = buildCancel(transaction.request);
    if (reason) cancel.add('reason', reason);
    this.#p.transactions.startClient(cancel, branch.destination, transaction.branch, { response: () => undefined, failed: () => undefined });
  }

  /** Cancelled branches that never answer: the caller gets its 487 anyway after 64·T1. */
  #armGuard(): void {
    if (this.#guard) return;
    this.#guard = setTimeout(() => {
      for (const branch of this.#branches) {
        if (branch.final === undefined) this.#localFinal(branch, 487, 'Request Terminated');
      }
    }, TIMERS.transactionTimeout);
    this.#guard.unref();
  }

  #clearTimers(branch: Branch): void {
    for (const timer of branch.timers) clearTimeout(timer);
    branch.timers.length = 0;
  }

  #sendDone(): void {
    if (this.#doneSent) return;
    this.#doneSent = true;
    this.#hooks.done?.();
  }

  /** When no branch is pending and none can start: the best response upstream, and the end. */
  #maybeFinish(): void {
    if (this.#finished) return;
    const pending = this.#branches.some((b) => b.final === undefined);
    if (pending || (!this.#settled && this.#targets.length > 0 && this.#branches.length < MAX_BRANCHES)) return;
    this.#finished = true;
    clearTimeout(this.#guard);
    if (!this.#answeredFinal) {
      this.#answeredFinal = true;
      this.#server.respond(this.#best());
    }
    this.#sendDone();
    this.#hooks.finished?.(this);
  }

  /** §16.7 step 6. */
  #best(): SipResponse {
    const request = this.#server.request;
    const received = this.#responses.filter((r) => !r.local).map((r) => r.response);
    const made = this.#responses.filter((r) => r.local).map((r) => r.response);
    const sixxx = received.find((r) => r.status >= 600);
    let best = sixxx;
    if (!best && received.length > 0) {
      best = received.reduce((a, b) => (Math.floor(b.status / 100) < Math.floor(a.status / 100) ? b : a));
    }
    if (!best) {
      if (this.#cancelledByCaller || made.some((r) => r.status === 487)) return createResponse(request, 487, 'Request Terminated', this.#server.toTag);
      if (made.some((r) => r.status === 408)) return createResponse(request, 408, 'Request Timeout', this.#server.toTag);
      return createResponse(request, 480, 'Temporarily Unavailable', this.#server.toTag);
    }
    if (best.status === 503) return createResponse(request, 500, 'Server Internal Error', tagOf(best.get('to')) || this.#server.toTag);
    if (best.status === 401 || best.status === 407) {
      // §16.7 step 7: every branch's challenge goes upstream in the one response.
      for (const other of received) {
        if (other === best || (other.status !== 401 && other.status !== 407)) continue;
        for (const name of ['www-authenticate', 'proxy-authenticate']) for (const value of other.getAll(name)) best.add(name, value);
      }
    }
    return best;
  }

  /** Ends everything now (shutdown). */
  close(): void {
    this.#finished = true;
    clearTimeout(this.#guard);
    for (const branch of this.#branches) this.#clearTimers(branch);
  }
}

/** Max-Forwards of a request (70 when absent or unreadable). */
export function maxForwardsOf(request: SipRequest): number {
  const value = Number.parseInt(request.get('max-forwards') ?? '70', 10);
  return Number.isFinite(value) && value >= 0 ? value : 70;
}

/**
 * The copy of a request a proxy sends on (§16.6): the Request-URI replaced (or kept), a Route
 * naming the box taken off, Max-Forwards decremented; and where it goes — the next Route if one
 * is left (loose routing), else the Request-URI. Never the box itself. The caller adds its Via.
 */
export async function forwardCopy(parts: SignalingParts, original: SipRequest, requestUri: string | undefined): Promise<{ request: SipRequest; destination: MessageSource }> {
  const request = new SipRequest(original.method, requestUri ?? original.uri, original.headers.map(([n, v]) => [n, v]), original.body);
  const routes = request.getAll('route');
  request.remove('route');
  const remaining: string[] = [];
  for (const route of routes) {
    if (remaining.length === 0 && routeNamesSelf(parts, route)) continue;
    remaining.push(route);
  }
  for (const route of remaining) request.add('route', route);
  const firstRoute = remaining[0] ? parseNameAddr(remaining[0])?.uri : undefined;
  const nextHop = parseUri(firstRoute && /;lr\b/i.test(firstRoute) ? firstRoute : request.uri);
  if (!nextHop || nextHop.scheme === 'tel') throw new Error(`invalid next hop for ${request.uri.slice(0, 80)}`);
  const destination = await parts.listeners.resolve(nextHop, parts.registered);
  if (parts.listeners.isSelf(destination)) throw new Error('can not proxy a request to myself');
  request.set('max-forwards', String(Math.max(0, maxForwardsOf(original) - 1)));
  return { request, destination };
}

/** Whether a Route header value names one of the box's own listeners (§16.4). */
export function routeNamesSelf(parts: SignalingParts, route: string): boolean {
  const uri = parseUri(parseNameAddr(route)?.uri ?? '');
  if (!uri || uri.scheme === 'tel') return false;
  const transport = uriParam(uri, 'transport')?.toLowerCase();
  const protocol = uri.scheme === 'sips' || transport === 'tls' ? 'tls' : transport === 'tcp' ? 'tcp' : 'udp';
  const address = uri.host.replace(/^\[|\]$/g, '');
  return parts.listeners.isSelf({ protocol, address, port: uri.port ?? (protocol === 'tls' ? 5061 : 5060) });
}
