/**
 * The proxy side of the signaling service: drachtio's `proxy` command (srf's proxyRequest,
 * shared/notes/drachtio-wire-protocol.md §7). An application asks for one of its own pending
 * requests (a new one, outside any dialog) to be proxied to one or more SIP URIs; the request is
 * then no longer the application's to answer. The proxying itself is ./proxy/proxy-operation.ts;
 * the application gets one `continue` frame per final response of a branch and `done` when the
 * outcome is settled. With Record-Route (remainInDialog) the box stays in the dialog: a request
 * of a dialog it record-routed (./proxy/proxied-dialogs.ts) that names the box in its top Route
 * is proxied on without the application — ACK for 2xx statelessly, the rest statefully. A Route
 * naming the box on any other request proxies nothing (deny by default: no open relay).
 */
import { randomUUID } from 'node:crypto';
import { getLogger } from '../core/logger.ts';
import type { SignalingParts } from './core/signaling-parts.ts';
import { tagOf } from './dialogs/dialog-table.ts';
import type { AppConnection } from './drachtio/application-server.ts';
import { wireTime } from './drachtio/wire-frames.ts';
import { parseProxyCommand } from './proxy/proxy-command.ts';
import { ProxiedDialogs } from './proxy/proxied-dialogs.ts';
import { forwardCopy, maxForwardsOf, ProxyOperation, routeNamesSelf } from './proxy/proxy-operation.ts';
import { createResponse, type SipRequest } from './sip/sip-message.ts';
import type { ServerTransaction } from './transactions/server-transaction.ts';
import type { MessageSource } from './transports/sip-transport.ts';

const log = getLogger('sip-proxy');

const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE']);

export class ProxySide {
  readonly #p: SignalingParts;
  /** Operations under way, by the id of the server transaction they proxy. */
  readonly #operations = new Map<string, ProxyOperation>();
  readonly #dialogs = new ProxiedDialogs();

  constructor(parts: SignalingParts) {
    this.#p = parts;
  }

  get operations(): number {
    return this.#operations.size;
  }

  get dialogs(): number {
    return this.#dialogs.size;
  }

  /** A `proxy` command from an authenticated application. */
  onCommand(connection: AppConnection, msgId: string, args: string[], raw: Buffer | undefined): void {
    let command: ReturnType<typeof parseProxyCommand>;
    try {
      command = parseProxyCommand(args, raw);
    } catch (error) {
      connection.reply(msgId, ['NOK', (error as Error).message]);
      return;
    }
    const transaction = this.#p.transactions.server(command.transactionId);
    // Only the application's own pending request; one that was answered or proxied already is unknown.
    if (!transaction?.pending || transaction.owner !== connection) {
      connection.reply(msgId, ['NOK', `Unknown transaction id: ${command.transactionId.slice(0, 80)}`]);
      return;
    }
    const request = transaction.request;
    if (transaction.dialogId !== '' || tagOf(request.get('to')) !== '') {
      connection.reply(msgId, ['NOK', 'only a new request outside a dialog can be proxied; answer requests inside a dialog instead']);
      return;
    }
    this.#p.overload.answered(transaction);
    this.#p.awaitingApp.delete(transaction);
    if (maxForwardsOf(request) === 0) {
      transaction.respond(createResponse(request, 483, 'Too Many Hops', transaction.toTag));
      connection.reply(msgId, ['NOK', 'Rejected with 483 Too Many Hops']);
      return;
    }
    const callId = request.callId;
    const fromTag = tagOf(request.get('from'));
    /** To tags of early dialogs (1xx) and of the answered ones: an early one never answered is forgotten at the end. */
    const early = new Set<string>();
    const answered = new Set<string>();
    const operation = new ProxyOperation(this.#p, transaction, { ...command, targets: command.destinations }, {
      branchFinal: (response, from) => {
        const data = response.toBuffer();
        connection.reply(msgId, ['OK', 'network', String(data.length), from.protocol, from.address, String(from.port), wireTime(), '', '', 'continue'], data);
      },
      done: () => connection.reply(msgId, ['OK', 'done']),
      dialog: (response) => {
        if (!DIALOG_METHODS.has(request.method)) return;
        const toTag = tagOf(response.get('to'));
        (response.status < 200 ? early : answered).add(toTag);
        this.#dialogs.add(callId, fromTag, toTag);
      },
      finished: () => {
        this.#operations.delete(transaction.id);
        for (const toTag of early) if (!answered.has(toTag)) this.#dialogs.delete(callId, fromTag, toTag);
      },
    });
    transaction.owner = operation; // the application no longer answers it, nor does its going away
    this.#operations.set(transaction.id, operation);
    log.debug({ callId: request.callId, targets: command.destinations, recordRoute: command.recordRoute }, 'proxying');
    operation.start();
  }

  /** The caller CANCELled an INVITE being proxied (its 200 was sent): true when it was one. */
  cancel(invite: ServerTransaction): boolean {
    const operation = this.#operations.get(invite.id);
    if (!operation) return false;
    operation.cancel();
    return true;
  }

  /**
   * A request inside a dialog the box record-routed, naming the box in its top Route: proxied
   * on (true). Anything else is not the proxy's (false).
   */
  routeInDialog(request: SipRequest, source: MessageSource): boolean {
    const top = request.getAll('route')[0];
    if (top === undefined || !routeNamesSelf(this.#p, top)) return false;
    const fromTag = tagOf(request.get('from'));
    const toTag = tagOf(request.get('to'));
    if (!this.#dialogs.has(request.callId, fromTag, toTag)) return false;
    if (request.method === 'ACK') {
      void this.#forwardAck(request);
      return true;
    }
    const transaction = this.#p.transactions.createServer(request, source);
    if (maxForwardsOf(request) === 0) {
      transaction.respond(createResponse(request, 483, 'Too Many Hops', transaction.toTag));
      return true;
    }
    if (transaction.isInvite) transaction.respond(createResponse(request, 100, 'Trying'));
    const operation = new ProxyOperation(
      this.#p,
      transaction,
      { targets: [request.uri], keepRequestUri: true, recordRoute: false, followRedirects: false, simultaneous: false },
      {
        branchFinal: (response) => {
          if (request.method === 'BYE' && response.status >= 200) this.#dialogs.delete(request.callId, fromTag, toTag);
        },
        finished: () => this.#operations.delete(transaction.id),
      },
    );
    transaction.owner = operation;
    this.#operations.set(transaction.id, operation);
    operation.start();
    return true;
  }

  /** ACK for a 2xx: end to end, no transaction (RFC 3261 §16.11 style, stateless). */
  async #forwardAck(request: SipRequest): Promise<void> {
    try {
      if (maxForwardsOf(request) === 0) return;
      const { request: ack, destination } = await forwardCopy(this.#p, request, undefined);
      const hostport = this.#p.listeners.hostport(destination.protocol, destination.address);
      ack.headers.unshift(['via', `SIP/2.0/${destination.protocol.toUpperCase()} ${hostport};rport;branch=z9hG4bK${randomUUID().replace(/-/g, '')}`]);
      this.#p.listeners.send(destination, ack.toBuffer());
    } catch (error) {
      log.info({ callId: request.callId, reason: (error as Error).message }, 'ACK not proxied');
    }
  }

  close(): void {
    for (const operation of this.#operations.values()) operation.close();
    this.#operations.clear();
    this.#dialogs.clear();
  }
}
