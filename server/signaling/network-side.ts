/**
 * The network side of the signaling service: what terminals send. Every message passes the
 * source guard (flood limit, scanners), is parsed (a malformed request gets 400/513 when its
 * routing headers can be read), and then: a response goes to its client transaction; a request
 * is absorbed as a retransmission, matched as ACK/CANCEL to its INVITE, matched to its dialog
 * (in-dialog requests: our To tag required; a call whose application went away is an orphan,
 * ./dialogs/orphan-dialogs.ts, whose requests are held for the next application), or opens a
 * server transaction and goes to the application that routed
 * its method (drachtio wire protocol). Without one, OPTIONS is answered here; the rest gets
 * 405 with Allow when applications are connected but none takes the method, 503 with
 * Retry-After when none is connected. A request of a dialog the box record-routed as a proxy
 * goes to the proxy side (./proxy-side.ts), as does a CANCEL of a proxied INVITE. While the applications are saturated
 * (./core/overload-guard.ts: too many requests unanswered, or their answers queued too long)
 * new out-of-dialog requests get 503 with Retry-After here, before any application sees them —
 * never ACK, CANCEL, BYE, PRACK or a request inside a dialog, which finish what was begun. The application side is
 * ./application-side.ts; the parts both use, ./core/signaling-parts.ts.
 */
import { randomUUID } from 'node:crypto';
import { getLogger } from '../core/logger.ts';
import { USER_AGENT } from '../core/version.ts';
import { sendCdr, type SignalingParts } from './core/signaling-parts.ts';
import type { SourceGuard } from './core/source-guard.ts';
import { TERMINAL_LOG_METHODS } from './core/terminal-log.ts';
import type { Dialog } from './dialogs/dialog.ts';
import { tagOf } from './dialogs/dialog-table.ts';
import type { AppConnection } from './drachtio/application-server.ts';
import type { ProxySide } from './proxy-side.ts';
import { wireTime } from './drachtio/wire-frames.ts';
import {
  createResponse,
  headerParam,
  MAX_MESSAGE_BYTES,
  parseMessage,
  type SipMessage,
  type SipParseError,
  type SipRequest,
  SipResponse,
} from './sip/sip-message.ts';
import { parseNameAddr } from './sip/sip-uri.ts';
import type { ServerTransaction } from './transactions/server-transaction.ts';
import type { MessageSource, SipTransport } from './transports/sip-transport.ts';
import { monotonicMs } from '../core/clock.ts';

const log = getLogger('signaling-service');

export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'PRACK'];
/** Methods answered without an application routing them: within a dialog or transaction, or OPTIONS here. */
const IN_DIALOG_OR_LOCAL = new Set(['ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK']);

/** Longest header value a refusal echoes back (longer ones are replaced, see onBadMessage). */
const ECHO_MAX_BYTES = 1024;

/** Out-of-dialog requests that are never shed: they end or finish something already begun. */
const NEVER_SHED = new Set(['ACK', 'CANCEL', 'BYE', 'PRACK']);

/** Compact header names (RFC 3261 §7.3.3) of the routing headers. */
const ROUTING_NAMES: Record<string, 'via' | 'from' | 'to' | 'callId' | 'cseq'> = {
  via: 'via', v: 'via', from: 'from', f: 'from', to: 'to', t: 'to', 'call-id': 'callId', i: 'callId', cseq: 'cseq',
};

/**
 * The routing headers of a message head (request line and headers, latin1) read line by line
 * without parsing the rest: the top Via, From, To, Call-ID, CSeq — or undefined when one is
 * missing or folded over lines (the full parser then decides).
 */
export function routingHeaders(head: string): { via: string; from: string; to: string; callId: string; cseq: string } | undefined {
  const found: Partial<Record<'via' | 'from' | 'to' | 'callId' | 'cseq', string>> = {};
  let start = head.indexOf('\r\n') + 2;
  if (start < 2) return undefined;
  while (start < head.length) {
    let end = head.indexOf('\r\n', start);
    if (end < 0) end = head.length;
    const first = head.charCodeAt(start);
    if (first === 32 || first === 9) return undefined; // a folded line
    const colon = head.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = ROUTING_NAMES[head.slice(start, colon).trim().toLowerCase()];
      if (key && found[key] === undefined) {
        // The top Via is the first value of the first Via line.
        let value = head.slice(colon + 1, end).trim();
        if (key === 'via') value = value.split(',')[0]?.trim() ?? '';
        found[key] = value;
      }
    }
    start = end + 2;
  }
  const { via, from, to, callId, cseq } = found;
  return via && from && to && callId && cseq ? { via, from, to, callId, cseq } : undefined;
}

export class NetworkSide {
  readonly #p: SignalingParts;
  readonly #guard: SourceGuard;
  readonly #proxy: ProxySide | undefined;
  #lastOverloadLog = 0;

  constructor(parts: SignalingParts, guard: SourceGuard, proxy?: ProxySide) {
    this.#p = parts;
    this.#guard = guard;
    this.#proxy = proxy;
  }

  /** A framed message from the network (flood limit, parsing, scanners, draining ports first). */
  onMessage(transport: SipTransport, data: Buffer, source: MessageSource): void {
    if (!this.#guard.admit(source.address)) {
      this.#p.counts.floodDropped++;
      return;
    }
    // The process itself runs late: what it reads now waited in the socket buffer. New requests
    // are refused (or dropped) from a partial parse, before they cost a full one.
    const lag = this.#p.loopLag.lagMs();
    if (lag > this.#p.overload.loopLagMs && this.#shedEarly(transport, data, source, lag)) return;
    let message: SipMessage;
    try {
      message = parseMessage(data);
    } catch (error) {
      this.onBadMessage(transport, error as SipParseError, data, source);
      return;
    }
    if (this.#guard.isScanner(message.get('user-agent'))) {
      this.#p.counts.scannerBlocked++;
      log.debug({ source, userAgent: message.get('user-agent') }, 'scanner blocked');
      return;
    }
    // A former UDP port (a port change drains it) only finishes what was begun there: answers,
    // ACK/CANCEL and requests inside a dialog. Anything new is ignored, as a closed port would.
    if (source.protocol === 'udp' && source.connectionId !== undefined && message.type === 'request' && !['ACK', 'CANCEL'].includes(message.method) && tagOf(message.get('to')) === '') {
      this.#p.counts.drainingDropped++;
      return;
    }
    try {
      if (message.type === 'response') this.#onNetworkResponse(message, source);
      else this.#onNetworkRequest(message, source);
    } catch (error) {
      log.error({ err: error, source }, 'error while handling a SIP message');
    }
  }

  /**
   * Sheds a new out-of-dialog request read while the loop runs `lag` ms late (returns true):
   * 503 Retry-After built from its routing headers alone, or, far past the bound, nothing.
   * Anything else — a response, ACK/CANCEL/BYE/PRACK, a request with a To tag, a retransmission
   * of a request already taken on, a message whose headers are not all there — returns false
   * and takes the ordinary path.
   */
  #shedEarly(transport: SipTransport, data: Buffer, source: MessageSource, lag: number): boolean {
    const how = this.#p.overload.early(lag);
    if (!how) return false;
    const end = data.indexOf('\r\n\r\n');
    const head = data.toString('latin1', 0, end < 0 ? data.length : end);
    const space = head.indexOf(' ');
    const method = head.slice(0, space);
    if (space <= 0 || method === 'SIP/2.0' || NEVER_SHED.has(method)) return false;
    const routing = routingHeaders(head);
    if (!routing || headerParam(routing.to, 'tag') !== undefined) return false;
    // Nothing longer is echoed than a refusal of a malformed message would (onBadMessage).
    if (Object.values(routing).some((value) => value.length > ECHO_MAX_BYTES)) return false;
    if (this.#p.transactions.knows(routing.via, method)) return false;
    this.#p.overload.shed(how);
    const now = monotonicMs();
    if (now - this.#lastOverloadLog > 1000) {
      this.#lastOverloadLog = now;
      log.warn({ reason: 'loop-lag', lagMs: Math.round(lag), loopLagMs: this.#p.overload.loopLagMs, dropped: how === 'drop' }, 'overloaded: this process runs late; new requests refused before parsing');
    }
    if (how === 'drop') return true;
    const response = new SipResponse(503, 'Service Unavailable');
    response.add('via', routing.via).add('from', routing.from).add('to', routing.to).add('call-id', routing.callId).add('cseq', routing.cseq);
    response.add('retry-after', '5').add('server', USER_AGENT);
    // RFC 3261 §18.2.2 / RFC 3581: over UDP without rport, to the port the Via names.
    const port = source.protocol === 'udp' && headerParam(routing.via, 'rport') === undefined ? viaSentByPort(routing.via) : source.port;
    transport.send(response.toBuffer(), port === source.port ? source : { ...source, port });
    this.#p.counts.overloaded++;
    this.#p.counts.countResponse(503);
    return true;
  }

  /** RFC 3581 / 3261 §18.2.1: note where the request really came from in its top Via. */
  #stampVia(request: SipRequest, source: MessageSource): void {
    const top = request.headers.find(([name]) => name === 'via');
    if (!top) return;
    let via = top[1];
    const sentBy = /^SIP\/2\.0\/\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
    const sentHost = sentBy.startsWith('[') ? sentBy.slice(0, sentBy.indexOf(']') + 1) : sentBy.split(':')[0];
    if (headerParam(via, 'received') === undefined && sentHost !== source.address) via += `;received=${source.address}`;
    if (headerParam(via, 'rport') === '') via = via.replace(/;\s*rport(?=;|$)/i, `;rport=${source.port}`);
    top[1] = via;
  }

  /** Answers a request from the box itself (no application involved). */
  #respondLocally(request: SipRequest, source: MessageSource, status: number, reason: string, extra: [string, string][] = []): void {
    if (request.method === 'ACK') return;
    const transaction = this.#p.transactions.matchServer(request) ?? this.#p.transactions.createServer(request, source);
    const response = createResponse(request, status, reason, transaction.toTag);
    for (const [name, value] of extra) response.add(name, value);
    response.add('server', USER_AGENT);
    if (transaction.respond(response) && status >= 200) this.#p.counts.countResponse(status);
  }

  /** A REGISTER answered by the fast registrar: as an application's answer would be (terminal log, connection reuse). */
  #answerRegister(request: SipRequest, source: MessageSource, status: number, reason: string, extra: [string, string][]): SipResponse {
    const transaction = this.#p.transactions.createServer(request, source);
    const response = createResponse(request, status, reason, transaction.toTag);
    for (const [name, value] of extra) response.add(name, value);
    response.add('server', USER_AGENT);
    const sent = transaction.respond(response);
    if (sent) this.#p.counts.countResponse(status);
    if (sent && this.#p.terminalLog && this.#p.terminalLogsEnabled()) this.#p.terminalLog.record(source.address, 'out', response.toBuffer());
    if (sent && status >= 200 && status < 300) this.#p.registered.remember(request, response, source);
    return response;
  }

  #onNetworkRequest(request: SipRequest, source: MessageSource): void {
    this.#p.counts.count(this.#p.counts.requests, ALLOWED_METHODS.includes(request.method) ? request.method : 'other');
    this.#stampVia(request, source);
    if (this.#p.terminalLog && TERMINAL_LOG_METHODS.has(request.method) && this.#p.terminalLogsEnabled()) this.#p.terminalLog.record(source.address, 'in', request.toBuffer());

    if (request.method === 'ACK') {
      if (this.#proxy?.routeInDialog(request, source)) return;
      this.#onNetworkAck(request, source);
      return;
    }
    if (this.#p.transactions.absorbRetransmission(request)) {
      this.#p.counts.retransmissions++;
      return;
    }
    if (request.method === 'CANCEL') {
      this.#onNetworkCancel(request, source);
      return;
    }
    const toTag = tagOf(request.get('to'));
    if (toTag !== '') {
      if (this.#proxy?.routeInDialog(request, source)) return;
      this.#onNetworkInDialogRequest(request, source, toTag);
      return;
    }

    if (request.method === 'REGISTER') {
      const reason = this.#screenRegister(request);
      if (reason) {
        this.#respondLocally(request, source, 400, 'Bad Request', [['warning', `399 vcbox "${reason}"`]]);
        return;
      }
    }
    const connection = this.#p.apps?.pick(request.method.toLowerCase());
    if (!connection) {
      if (request.method === 'OPTIONS') {
        this.#respondLocally(request, source, 200, 'OK', [
          ['allow', ALLOWED_METHODS.join(', ')],
          ['accept', 'application/sdp'],
          ['supported', 'path, outbound, gruu, timer'],
        ]);
      } else if ((this.#p.apps?.connections.length ?? 0) > 0) {
        // Deny by default: the applications are up and none takes this method (MESSAGE,
        // SUBSCRIBE, … on this box) — a final refusal naming what is taken, not "try later".
        const routed = new Set(this.#p.apps?.connections.flatMap((c) => [...c.routes].map((verb) => verb.toUpperCase())));
        const allow = ALLOWED_METHODS.filter((method) => routed.has(method) || IN_DIALOG_OR_LOCAL.has(method));
        this.#respondLocally(request, source, 405, 'Method Not Allowed', [['allow', allow.join(', ')]]);
      } else {
        // No application connected (it is starting or restarting): try again shortly.
        this.#respondLocally(request, source, 503, 'Service Unavailable', [['retry-after', '30']]);
      }
      return;
    }
    // The registrar's hot path: challenges and refreshes answered here, before the overload
    // bounds (they measure the application, which these never reach).
    if (request.method === 'REGISTER' && this.#p.fastRegistrar?.handle(request, source, (status, reason, extra) => this.#answerRegister(request, source, status, reason, extra))) return;
    const overload = NEVER_SHED.has(request.method) ? undefined : this.#p.overload.refusal(this.#p.awaitingApp.size);
    if (overload) {
      const now = monotonicMs();
      if (now - this.#lastOverloadLog > 1000) {
        this.#lastOverloadLog = now;
        const { inFlight, queueDelayMs } = this.#p.overload;
        log.warn({ reason: overload, awaiting: this.#p.awaitingApp.size, inFlight, delayMs: Math.round(this.#p.overload.standingDelayMs()), queueDelayMs }, 'overloaded: new requests answered 503 until the application catches up');
      }
      this.#p.counts.overloaded++;
      this.#respondLocally(request, source, 503, 'Service Unavailable', [['retry-after', '5']]);
      return;
    }
    const transaction = this.#p.transactions.createServer(request, source);
    transaction.owner = connection;
    this.#p.awaitingApp.add(transaction);
    this.#p.overload.forwarded(transaction);
    if (transaction.isInvite) {
      transaction.respond(createResponse(request, 100, 'Trying'));
      sendCdr(this.#p.apps, 'attempt', 'network', undefined, request);
    }
    this.#forwardRequest(connection, request, source, transaction.id, '');
  }

  /** drachtio §10(f): what the server refuses before any application sees a REGISTER. */
  #screenRegister(request: SipRequest): string | undefined {
    for (const contact of request.getAll('contact')) {
      if (contact.trim() === '*') {
        if ((request.get('expires') ?? '').trim() !== '0') return 'Contact: * is only allowed with Expires: 0';
        continue;
      }
      const nameAddr = parseNameAddr(contact);
      if (!nameAddr || !/^[a-z][a-z0-9+.-]*:/i.test(nameAddr.uri)) return `Contact without a URI scheme: ${contact.slice(0, 60)}`;
    }
    return undefined;
  }

  #forwardRequest(connection: AppConnection, request: SipRequest, source: MessageSource, transactionId: string, dialogId: string): void {
    const data = request.toBuffer();
    const local = this.#p.listeners.get(source.protocol).local;
    connection.send(
      ['sip', 'network', String(data.length), source.protocol, source.address, String(source.port), wireTime(), transactionId, dialogId, local.address, String(local.port), ''],
      data,
    );
  }

  #onNetworkAck(request: SipRequest, source: MessageSource): void {
    const invite = this.#p.transactions.matchServer(request, 'INVITE');
    if (invite && invite.state === 'completed') {
      invite.ack(); // ACK for a non-2xx: ours, never the application's
      return;
    }
    const dialog = this.#p.dialogs.find(request.callId, tagOf(request.get('from')), tagOf(request.get('to')));
    if (!dialog) return;
    dialog.pendingAck?.acknowledged2xx();
    dialog.pendingAck = undefined;
    dialog.state = 'confirmed';
    dialog.peer = source;
    const connection = dialog.owner as AppConnection | undefined;
    if (connection?.open) this.#forwardRequest(connection, request, source, randomUUID(), dialog.id);
  }

  #onNetworkCancel(request: SipRequest, source: MessageSource): void {
    const invite = this.#p.transactions.matchServer(request, 'INVITE');
    if (!invite) {
      this.#respondLocally(request, source, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    this.#respondLocally(request, source, 200, 'OK');
    if (!invite.pending) return;
    // A proxied INVITE: its branches are cancelled, and their 487 goes upstream.
    if (this.#proxy?.cancel(invite)) return;
    invite.respond(createResponse(invite.request, 487, 'Request Terminated', invite.toTag));
    this.#p.awaitingApp.delete(invite);
    sendCdr(this.#p.apps, 'stop', 'network', 'call-canceled', request);
    const connection = invite.owner as AppConnection | undefined;
    if (connection?.open) this.#forwardRequest(connection, request, source, invite.id, invite.dialogId);
  }

  #onNetworkInDialogRequest(request: SipRequest, source: MessageSource, toTag: string): void {
    const dialog = this.#p.dialogs.find(request.callId, tagOf(request.get('from')), toTag);
    const connection = dialog?.owner as AppConnection | undefined;
    const orphan = dialog !== undefined && !connection?.open && this.#p.orphans.has(dialog.id);
    if (!dialog || (!connection?.open && !orphan)) {
      this.#respondLocally(request, source, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    const seq = request.cseq.seq;
    if (seq < dialog.remoteSeq && request.method !== 'PRACK') {
      this.#respondLocally(request, source, 500, 'Server Internal Error', [['warning', '399 vcbox "CSeq out of order"']]);
      return;
    }
    dialog.remoteSeq = Math.max(dialog.remoteSeq, seq);
    dialog.peer = source;
    if (request.method === 'PRACK') {
      // RFC 3262: the RAck names the reliable 1xx (RSeq) and the INVITE (CSeq) it acknowledges.
      const [rseq = '', cseq = ''] = (request.get('rack') ?? '').trim().split(/\s+/);
      for (const invite of this.#p.transactions.servers()) {
        if (invite.isInvite && invite.dialogId === dialog.id && String(invite.request.cseq.seq) === cseq) invite.prack(Number(rseq));
      }
    }
    const transaction = this.#p.transactions.createServer(request, source);
    transaction.dialogId = dialog.id;
    if (transaction.isInvite) transaction.respond(createResponse(request, 100, 'Trying'));
    // A call whose application went away: held until the next one takes it over (or answered there).
    if (!connection?.open) {
      this.#p.orphans.hold(dialog, request, source, transaction);
      return;
    }
    this.deliverInDialog(connection, { request, source, transaction }, dialog);
  }

  /** An in-dialog request goes to the application that owns its dialog (a held one, once adopted). */
  deliverInDialog(connection: AppConnection, held: { request: SipRequest; source: MessageSource; transaction: ServerTransaction }, dialog: Dialog): void {
    const { request, source, transaction } = held;
    transaction.owner = connection;
    if (request.method === 'BYE') {
      this.#p.dialogs.delete(dialog.id);
      if (dialog.method === 'INVITE') sendCdr(this.#p.apps, 'stop', 'network', 'normal-release', request);
    }
    this.#forwardRequest(connection, request, source, transaction.id, dialog.id);
  }

  /** Answers a request here (an orphan's held request, when no application took it). */
  respondHere(transaction: ServerTransaction, status: number, reason: string, extra: [string, string][] = []): void {
    const response = createResponse(transaction.request, status, reason, transaction.toTag);
    for (const [name, value] of extra) response.add(name, value);
    response.add('server', USER_AGENT);
    if (transaction.respond(response) && status >= 200) this.#p.counts.countResponse(status);
  }

  #onNetworkResponse(response: SipResponse, source: MessageSource): void {
    const transaction = this.#p.transactions.matchResponse(response);
    if (transaction) {
      transaction.onResponse(response);
      return;
    }
    // A 2xx to INVITE retransmitted after our transaction ended: repeat the dialog's ACK.
    if (response.cseq.method === 'INVITE' && response.status >= 200 && response.status < 300) {
      const dialog = this.#p.dialogs.find(response.callId, tagOf(response.get('from')), tagOf(response.get('to')));
      if (dialog?.lastAck) this.#p.listeners.send(dialog.peer, dialog.lastAck);
    }
    log.debug({ status: response.status, source }, 'response matching no transaction dropped');
  }

  /**
   * A message that cannot be parsed: when its routing headers can still be read, it gets a
   * 400 whose Warning says what was wrong; otherwise it is dropped (UDP) — on a stream the
   * transport closes the connection after this.
   */
  onBadMessage(transport: SipTransport, error: SipParseError, data: Buffer, source: MessageSource): void {
    this.#p.counts.malformed++;
    log.debug({ reason: error.message, source }, 'malformed SIP message');
    const head = data.subarray(0, MAX_MESSAGE_BYTES).toString('latin1');
    if (head.startsWith('SIP/2.0')) return; // never answer a response
    // A header too long to echo (the reason for the refusal, maybe) is sent back as a stand-in
    // with its tag: the client matches the response by Via branch and CSeq (RFC 3261 §17.1.3).
    const header = (names: string) => {
      const value = new RegExp(`^(?:${names})[ \\t]*:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim();
      if (value === undefined || value.length <= ECHO_MAX_BYTES) return value;
      const tag = headerParam(value.slice(-ECHO_MAX_BYTES), 'tag');
      return `<sip:too-long.invalid>${tag ? `;tag=${tag}` : ''}`;
    };
    const via = header('via|v');
    const from = header('from|f');
    const to = header('to|t');
    const callId = header('call-id|i');
    const cseq = header('cseq');
    if (!via || !from || !to || !callId || !cseq || /^(ACK)\b/.test(head)) return;
    const response = error.status === 513 ? new SipResponse(513, 'Message Too Large') : new SipResponse(400, 'Bad Request');
    response.add('via', via).add('from', from).add('to', to).add('call-id', callId).add('cseq', cseq);
    response.add('warning', `399 ${USER_AGENT.split('/')[0]} "${error.message.replace(/["\\\r\n]/g, "'")}"`);
    response.add('server', USER_AGENT);
    transport.send(response.toBuffer(), source);
  }

}

/** The port of a Via's sent-by (`SIP/2.0/UDP host:port;…`), 5060 when it names none; linear. */
function viaSentByPort(via: string): number {
  const sentBy = (via.split(';')[0] ?? '').trim();
  const digits = sentBy.slice(sentBy.lastIndexOf(':') + 1);
  return sentBy.includes(':') && /^\d{1,5}$/.test(digits) ? Number(digits) : 5060;
}
