/**
 * The box's BFCP floor control server (RFC 8855): one floor per meeting ("conference"), the
 * participants that may use it ("users", with the IDs the SDP hands out, RFC 8856), the floor
 * requests and who holds the floor.
 *
 * Primitives: Hello → HelloAck; FloorRequest → FloorRequestStatus Pending, then Granted (one
 * holder at a time: a new request takes the floor over — the holder gets Revoked — or waits in
 * the queue, by the conference's policy); FloorRelease → Released (Cancelled while pending);
 * FloorRequestQuery, UserQuery; FloorQuery subscribes to FloorStatus sent on every change;
 * Goodbye → GoodbyeAck. A wrong conference or user ID, a user speaking from another transport
 * than the one it is bound to, an unknown primitive or mandatory attribute get an Error and
 * change nothing. Chair actions (give the floor, revoke it) are methods, for the console; over
 * BFCP they are refused. Users that do not speak BFCP (browsers) request and release the floor
 * through methods (`requestFloor`, `releaseFloor`) under the same rules. Emits `presenter` when
 * the holder changes, for the meeting code.
 *
 * Transports (./bfcp-tcp-listener.ts for TCP and TLS, ./bfcp-udp-listener.ts) decode and hand messages to
 * `receive`, which never throws.
 */
import { EventEmitter } from 'node:events';
import { getLogger } from '../core/logger.ts';
import type { BfcpEndpoint, BfcpReceiver } from './bfcp-endpoint.ts';
import {
  type Attribute,
  AttributeType,
  type BfcpMessage,
  ErrorCode,
  errorResponse,
  findAttribute,
  findAttributes,
  Primitive,
  primitiveName,
  RequestStatus,
} from './bfcp-message.ts';
import { BfcpTcpListener, type BfcpTlsCredentials } from './bfcp-tcp-listener.ts';
import { BfcpUdpListener } from './bfcp-udp-listener.ts';

const log = getLogger('bfcp');

/** What happens to a floor request while someone else holds the floor. */
export type FloorPolicy = 'take-over' | 'queue';

export interface PresenterChange {
  readonly conferenceId: number;
  readonly floorId: number;
  /** The new holder, or null when the floor is free. */
  readonly userId: number | null;
  readonly previousUserId: number | null;
  readonly reason: 'granted' | 'released' | 'taken-over' | 'left' | 'chair-given' | 'chair-revoked';
}

export interface FloorControlEvents {
  presenter: [PresenterChange];
}

export interface ConferenceOptions {
  readonly floorId: number;
  /** Default 'take-over', as room systems expect; a function is asked at each request (a setting the administrator may change). */
  readonly policy?: FloorPolicy | (() => FloorPolicy);
}

export interface ListenOptions {
  readonly transport: 'tcp' | 'tls' | 'udp';
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** For 'tls': the key and certificate to present (the box's, server/tls). */
  readonly credentials?: BfcpTlsCredentials;
}

export interface BfcpListener {
  readonly transport: 'tcp' | 'tls' | 'udp';
  readonly port: number;
  /** TLS: the key and certificate new handshakes get (absent on UDP). */
  useCredentials?(credentials: BfcpTlsCredentials): void;
  close(): Promise<void>;
}

interface FloorRequestEntry {
  readonly id: number;
  readonly userId: number;
  status: number;
}

interface UserState {
  endpoint: BfcpEndpoint | undefined;
  subscribed: boolean;
}

interface Conference {
  readonly id: number;
  readonly floorId: number;
  /** Asked at each request that finds the floor held. */
  readonly policy: () => FloorPolicy;
  readonly users: Map<number, UserState>;
  /** The holder (Granted) first if any, then the waiting ones (Pending) in order. */
  readonly requests: FloorRequestEntry[];
  nextRequestId: number;
}

const SUPPORTED_PRIMITIVES = [
  Primitive.FloorRequest,
  Primitive.FloorRelease,
  Primitive.FloorRequestQuery,
  Primitive.FloorRequestStatus,
  Primitive.UserQuery,
  Primitive.UserStatus,
  Primitive.FloorQuery,
  Primitive.FloorStatus,
  Primitive.Hello,
  Primitive.HelloAck,
  Primitive.Error,
  Primitive.FloorRequestStatusAck,
  Primitive.FloorStatusAck,
  Primitive.Goodbye,
  Primitive.GoodbyeAck,
];
const SUPPORTED_ATTRIBUTES = Object.values(AttributeType);
const KNOWN_ATTRIBUTE_TYPES = new Set<number>(SUPPORTED_ATTRIBUTES);

function isActive(entry: FloorRequestEntry): boolean {
  return entry.status === RequestStatus.Pending || entry.status === RequestStatus.Granted;
}

export class FloorControlServer extends EventEmitter<FloorControlEvents> implements BfcpReceiver {
  readonly #conferences = new Map<number, Conference>();
  readonly #listeners = new Set<BfcpListener>();
  #closed = false;

  /** Opens a conference (a meeting's floor). Its ID must be new; IDs are 32-bit, floor IDs 16-bit. */
  addConference(conferenceId: number, options: ConferenceOptions): void {
    if (!Number.isInteger(conferenceId) || conferenceId < 1 || conferenceId > 0xffffffff) {
      throw new RangeError(`BFCP conference ID ${conferenceId} must be an integer from 1 to 4294967295`);
    }
    if (!Number.isInteger(options.floorId) || options.floorId < 1 || options.floorId > 0xffff) {
      throw new RangeError(`BFCP floor ID ${options.floorId} must be an integer from 1 to 65535`);
    }
    if (this.#conferences.has(conferenceId)) throw new RangeError(`BFCP conference ${conferenceId} exists already`);
    const policy = options.policy;
    this.#conferences.set(conferenceId, {
      id: conferenceId,
      floorId: options.floorId,
      policy: typeof policy === 'function' ? policy : () => policy ?? 'take-over',
      users: new Map(),
      requests: [],
      nextRequestId: 1,
    });
  }

  /** Ends a conference: its floor and users are forgotten (nobody is notified: the meeting ended). */
  removeConference(conferenceId: number): void {
    const conference = this.#conferences.get(conferenceId);
    if (!conference) return;
    const holder = this.#holder(conference);
    this.#conferences.delete(conferenceId);
    if (holder) this.#emitPresenter(conference, null, holder.userId, 'left');
  }

  /** Lets a user (a participant's BFCP user ID from its SDP) use the conference's floor. */
  addUser(conferenceId: number, userId: number): void {
    const conference = this.#conference(conferenceId);
    if (!Number.isInteger(userId) || userId < 1 || userId > 0xffff) {
      throw new RangeError(`BFCP user ID ${userId} must be an integer from 1 to 65535`);
    }
    if (!conference.users.has(userId)) conference.users.set(userId, { endpoint: undefined, subscribed: false });
  }

  /** A participant left: its floor requests end (the floor is released) and it is forgotten. */
  removeUser(conferenceId: number, userId: number): void {
    const conference = this.#conferences.get(conferenceId);
    if (!conference?.users.has(userId)) return;
    this.#userLeft(conference, userId);
    conference.users.delete(userId);
  }

  /** Whether `userId` may use the conference's floor (added and not removed). */
  hasUser(conferenceId: number, userId: number): boolean {
    return this.#conferences.get(conferenceId)?.users.has(userId) ?? false;
  }

  /** The user holding the conference's floor, or null. */
  presenter(conferenceId: number): number | null {
    const conference = this.#conferences.get(conferenceId);
    return (conference && this.#holder(conference)?.userId) ?? null;
  }

  /** Chair action: gives the floor to `userId` (the holder, if another, is revoked). */
  giveFloor(conferenceId: number, userId: number): void {
    const conference = this.#conference(conferenceId);
    if (!conference.users.has(userId)) throw new RangeError(`BFCP user ${userId} is not in conference ${conferenceId}`);
    const holder = this.#holder(conference);
    if (holder?.userId === userId) return;
    if (holder) this.#end(conference, holder, RequestStatus.Revoked, true);
    let entry = conference.requests.find((r) => r.userId === userId && isActive(r));
    if (entry) conference.requests.splice(conference.requests.indexOf(entry), 1);
    else entry = this.#newRequest(conference, userId);
    conference.requests.unshift(entry);
    this.#grant(conference, entry, holder?.userId ?? null, 'chair-given');
  }

  /** Chair action: takes the floor from its holder (the next waiting request, if any, gets it). */
  revokeFloor(conferenceId: number): void {
    const conference = this.#conference(conferenceId);
    const holder = this.#holder(conference);
    if (!holder) return;
    this.#end(conference, holder, RequestStatus.Revoked, true);
    this.#afterHolderLeft(conference, holder.userId, 'chair-revoked');
  }

  /**
   * A floor request of a user that does not speak BFCP (a browser presenting from the join
   * page): as a FloorRequest over BFCP — the floor granted when free, taken over from its
   * holder (who gets Revoked, and subscribers FloorStatus) or queued, by the conference's
   * policy. A user that has a request already keeps it. Says where the request stands now.
   */
  requestFloor(conferenceId: number, userId: number): 'granted' | 'pending' {
    const conference = this.#conference(conferenceId);
    if (!conference.users.has(userId)) throw new RangeError(`BFCP user ${userId} is not in conference ${conferenceId}`);
    let entry = conference.requests.find((r) => r.userId === userId && isActive(r));
    if (!entry) {
      entry = this.#newRequest(conference, userId);
      conference.requests.push(entry);
      this.#place(conference, entry);
    }
    return entry.status === RequestStatus.Granted ? 'granted' : 'pending';
  }

  /** The same user's FloorRelease: its request ends (Released when it held the floor, else Cancelled); nothing when it has none. */
  releaseFloor(conferenceId: number, userId: number): void {
    const conference = this.#conferences.get(conferenceId);
    if (!conference) return;
    const holder = this.#holder(conference);
    let changed = false;
    for (const entry of [...conference.requests]) {
      if (entry.userId !== userId) continue;
      this.#end(conference, entry, entry.status === RequestStatus.Granted ? RequestStatus.Released : RequestStatus.Cancelled, false);
      changed = true;
    }
    if (holder?.userId === userId) this.#afterHolderLeft(conference, userId, 'released');
    else if (changed) this.#publishFloorStatus(conference);
  }

  /** Opens a listener handing its messages to this server; closed with the server. */
  async listen(options: ListenOptions): Promise<BfcpListener> {
    if (this.#closed) throw new Error('the BFCP floor control server is closed');
    if (options.transport === 'tls' && !options.credentials) throw new Error('a BFCP TLS listener needs the box key and certificate (credentials)');
    const listener =
      options.transport === 'udp'
        ? await BfcpUdpListener.open(this, options.host, options.port)
        : await BfcpTcpListener.open(this, options.host, options.port, options.transport === 'tls' ? options.credentials : undefined);
    this.#listeners.add(listener);
    return listener;
  }

  /** Closes every listener; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    await Promise.all(listeners.map((l) => l.close()));
    this.#conferences.clear();
    this.removeAllListeners();
  }

  /** A decoded message from `endpoint`. Never throws: a failure is logged and answered with an Error. */
  receive(message: BfcpMessage, endpoint: BfcpEndpoint): void {
    try {
      this.#receive(message, endpoint);
    } catch (error) {
      log.error({ err: error, peer: endpoint.peer, primitive: primitiveName(message.primitive) }, 'BFCP message handling failed');
      if (!message.responder) {
        this.#error(endpoint, message, ErrorCode.GenericError, 'the floor control server failed to handle this message');
      }
    }
  }

  /** The transport association went away: its users leave the floor (as with Goodbye). */
  endpointClosed(endpoint: BfcpEndpoint): void {
    for (const conference of this.#conferences.values()) {
      for (const [userId, user] of conference.users) {
        if (user.endpoint !== endpoint) continue;
        log.info({ conferenceId: conference.id, userId, peer: endpoint.peer }, 'BFCP client went away');
        this.#userLeft(conference, userId);
      }
    }
  }

  isBound(endpoint: BfcpEndpoint): boolean {
    for (const conference of this.#conferences.values()) {
      for (const user of conference.users.values()) if (user.endpoint === endpoint) return true;
    }
    return false;
  }

  #conference(conferenceId: number): Conference {
    const conference = this.#conferences.get(conferenceId);
    if (!conference) throw new RangeError(`BFCP conference ${conferenceId} does not exist`);
    return conference;
  }

  #holder(conference: Conference): FloorRequestEntry | undefined {
    const first = conference.requests[0];
    return first?.status === RequestStatus.Granted ? first : undefined;
  }

  #receive(message: BfcpMessage, endpoint: BfcpEndpoint): void {
    // Acknowledgements are the transport's business; other responses from a client answer nothing here.
    if (message.responder) return;
    const conference = this.#conferences.get(message.conferenceId);
    if (!conference) {
      this.#error(endpoint, message, ErrorCode.ConferenceDoesNotExist, `conference ${message.conferenceId} does not exist on this server`);
      return;
    }
    const user = conference.users.get(message.userId);
    if (!user) {
      this.#error(endpoint, message, ErrorCode.UserDoesNotExist, `user ${message.userId} is not a participant of conference ${message.conferenceId}`);
      return;
    }
    if (user.endpoint && user.endpoint !== endpoint && !user.endpoint.closed) {
      log.warn({ conferenceId: conference.id, userId: message.userId, peer: endpoint.peer, boundTo: user.endpoint.peer }, 'BFCP user ID used from a second transport');
      this.#error(endpoint, message, ErrorCode.UnauthorizedOperation, `user ${message.userId} is connected from another transport address`);
      return;
    }
    const unknown = this.#unknownMandatory(message.attributes);
    if (unknown.length > 0) {
      this.#error(
        endpoint,
        message,
        ErrorCode.UnknownMandatoryAttribute,
        `unknown mandatory attribute type(s) ${unknown.join(', ')}`,
        Buffer.from(unknown.map((t) => ((t << 1) | 1) & 0xff)),
      );
      return;
    }
    user.endpoint = endpoint;
    switch (message.primitive) {
      case Primitive.Hello:
        this.#respond(endpoint, message, Primitive.HelloAck, [
          { name: 'SUPPORTED-PRIMITIVES', primitives: SUPPORTED_PRIMITIVES },
          { name: 'SUPPORTED-ATTRIBUTES', types: SUPPORTED_ATTRIBUTES },
        ]);
        return;
      case Primitive.FloorRequest:
        this.#floorRequest(conference, message, endpoint);
        return;
      case Primitive.FloorRelease:
        this.#floorRelease(conference, message, endpoint);
        return;
      case Primitive.FloorRequestQuery: {
        const id = findAttribute(message.attributes, 'FLOOR-REQUEST-ID')?.id;
        const entry = conference.requests.find((r) => r.id === id);
        if (!entry) {
          this.#error(endpoint, message, ErrorCode.FloorRequestIdDoesNotExist, `floor request ${id ?? '(none given)'} does not exist`);
          return;
        }
        this.#respond(endpoint, message, Primitive.FloorRequestStatus, [this.#requestInformation(conference, entry)]);
        return;
      }
      case Primitive.UserQuery: {
        const beneficiary = findAttribute(message.attributes, 'BENEFICIARY-ID')?.id ?? message.userId;
        if (!conference.users.has(beneficiary)) {
          this.#error(endpoint, message, ErrorCode.UserDoesNotExist, `user ${beneficiary} is not a participant of conference ${conference.id}`);
          return;
        }
        const attributes: Attribute[] = [];
        if (beneficiary !== message.userId) attributes.push({ name: 'BENEFICIARY-INFORMATION', id: beneficiary, children: [] });
        for (const entry of conference.requests) {
          if (entry.userId === beneficiary) attributes.push(this.#requestInformation(conference, entry));
        }
        this.#respond(endpoint, message, Primitive.UserStatus, attributes);
        return;
      }
      case Primitive.FloorQuery: {
        const floors = findAttributes(message.attributes, 'FLOOR-ID');
        const wrong = floors.find((f) => f.id !== conference.floorId);
        if (wrong) {
          this.#error(endpoint, message, ErrorCode.InvalidFloorId, `floor ${wrong.id} does not exist in conference ${conference.id} (its floor is ${conference.floorId})`);
          return;
        }
        user.subscribed = floors.length > 0;
        this.#respond(endpoint, message, Primitive.FloorStatus, user.subscribed ? this.#floorStatus(conference) : []);
        return;
      }
      case Primitive.ChairAction:
        this.#error(endpoint, message, ErrorCode.UnauthorizedOperation, 'chair actions are taken from the console, not over BFCP');
        return;
      case Primitive.Goodbye:
        this.#respond(endpoint, message, Primitive.GoodbyeAck, []);
        this.#userLeft(conference, message.userId);
        return;
      default:
        this.#error(endpoint, message, ErrorCode.UnknownPrimitive, `primitive ${primitiveName(message.primitive)} is not accepted by a floor control server`);
    }
  }

  #unknownMandatory(attributes: readonly Attribute[]): number[] {
    const unknown: number[] = [];
    const walk = (list: readonly Attribute[]) => {
      for (const attribute of list) {
        if (attribute.name === 'UNKNOWN' && attribute.mandatory && !KNOWN_ATTRIBUTE_TYPES.has(attribute.type)) unknown.push(attribute.type);
        if ('children' in attribute) walk(attribute.children);
      }
    };
    walk(attributes);
    return unknown;
  }

  #floorRequest(conference: Conference, message: BfcpMessage, endpoint: BfcpEndpoint): void {
    const floors = findAttributes(message.attributes, 'FLOOR-ID');
    if (floors.length === 0) {
      this.#error(endpoint, message, ErrorCode.InvalidFloorId, 'FloorRequest names no FLOOR-ID');
      return;
    }
    const wrong = floors.find((f) => f.id !== conference.floorId);
    if (wrong) {
      this.#error(endpoint, message, ErrorCode.InvalidFloorId, `floor ${wrong.id} does not exist in conference ${conference.id} (its floor is ${conference.floorId})`);
      return;
    }
    const beneficiary = findAttribute(message.attributes, 'BENEFICIARY-ID');
    if (beneficiary && beneficiary.id !== message.userId) {
      this.#error(endpoint, message, ErrorCode.UnauthorizedOperation, 'requesting the floor for another user needs a chair');
      return;
    }
    if (conference.requests.some((r) => r.userId === message.userId)) {
      this.#error(endpoint, message, ErrorCode.MaxFloorRequestsReached, `user ${message.userId} already has a floor request for floor ${conference.floorId}`);
      return;
    }
    const entry = this.#newRequest(conference, message.userId);
    conference.requests.push(entry);
    this.#respond(endpoint, message, Primitive.FloorRequestStatus, [this.#requestInformation(conference, entry)]);
    this.#place(conference, entry);
  }

  /** A new request (last in the queue) gets the floor when it is free, takes it over, or waits, by the conference's policy. */
  #place(conference: Conference, entry: FloorRequestEntry): void {
    const holder = this.#holder(conference);
    if (!holder) {
      conference.requests.splice(conference.requests.indexOf(entry), 1);
      conference.requests.unshift(entry);
      this.#grant(conference, entry, null, 'granted');
    } else if (conference.policy() === 'take-over') {
      this.#end(conference, holder, RequestStatus.Revoked, true);
      conference.requests.splice(conference.requests.indexOf(entry), 1);
      conference.requests.unshift(entry);
      this.#grant(conference, entry, holder.userId, 'taken-over');
    } else {
      this.#publishFloorStatus(conference);
    }
  }

  #floorRelease(conference: Conference, message: BfcpMessage, endpoint: BfcpEndpoint): void {
    const id = findAttribute(message.attributes, 'FLOOR-REQUEST-ID')?.id;
    const entry = conference.requests.find((r) => r.id === id && r.userId === message.userId);
    if (!entry) {
      this.#error(endpoint, message, ErrorCode.FloorRequestIdDoesNotExist, `floor request ${id ?? '(none given)'} of user ${message.userId} does not exist`);
      return;
    }
    const wasHolder = entry.status === RequestStatus.Granted;
    this.#end(conference, entry, wasHolder ? RequestStatus.Released : RequestStatus.Cancelled, false);
    this.#respond(endpoint, message, Primitive.FloorRequestStatus, [this.#requestInformation(conference, entry)]);
    if (wasHolder) this.#afterHolderLeft(conference, entry.userId, 'released');
    else this.#publishFloorStatus(conference);
  }

  /** Ends a request with `status`; tells its user when `notify` (a revocation the user did not ask for). */
  #end(conference: Conference, entry: FloorRequestEntry, status: number, notify: boolean): void {
    entry.status = status;
    const index = conference.requests.indexOf(entry);
    if (index >= 0) conference.requests.splice(index, 1);
    if (notify) this.#notifyUser(conference, entry);
  }

  #newRequest(conference: Conference, userId: number): FloorRequestEntry {
    // Floor request IDs are 16-bit and non-zero; skip one still in use after a wrap.
    let id = conference.nextRequestId;
    while (id === 0 || conference.requests.some((r) => r.id === id)) id = (id + 1) & 0xffff;
    conference.nextRequestId = (id + 1) & 0xffff;
    return { id, userId, status: RequestStatus.Pending };
  }

  #grant(conference: Conference, entry: FloorRequestEntry, previousUserId: number | null, reason: PresenterChange['reason']): void {
    entry.status = RequestStatus.Granted;
    this.#notifyUser(conference, entry);
    this.#emitPresenter(conference, entry.userId, previousUserId, reason);
    this.#publishFloorStatus(conference);
  }

  /** The holder is gone: the next waiting request gets the floor, or it is free. */
  #afterHolderLeft(conference: Conference, previousUserId: number, reason: PresenterChange['reason']): void {
    const next = conference.requests.find((r) => r.status === RequestStatus.Pending);
    if (next) {
      conference.requests.splice(conference.requests.indexOf(next), 1);
      conference.requests.unshift(next);
      this.#grant(conference, next, previousUserId, 'granted');
      return;
    }
    this.#emitPresenter(conference, null, previousUserId, reason);
    this.#publishFloorStatus(conference);
  }

  #userLeft(conference: Conference, userId: number): void {
    const user = conference.users.get(userId);
    if (user) {
      user.endpoint = undefined;
      user.subscribed = false;
    }
    const holder = this.#holder(conference);
    let changed = false;
    for (const entry of [...conference.requests]) {
      if (entry.userId !== userId) continue;
      this.#end(conference, entry, entry.status === RequestStatus.Granted ? RequestStatus.Released : RequestStatus.Cancelled, false);
      changed = true;
    }
    if (holder?.userId === userId) this.#afterHolderLeft(conference, userId, 'left');
    else if (changed) this.#publishFloorStatus(conference);
  }

  #emitPresenter(conference: Conference, userId: number | null, previousUserId: number | null, reason: PresenterChange['reason']): void {
    log.info({ conferenceId: conference.id, floorId: conference.floorId, userId, previousUserId, reason }, 'BFCP floor holder changed');
    this.emit('presenter', { conferenceId: conference.id, floorId: conference.floorId, userId, previousUserId, reason });
  }

  #queuePosition(conference: Conference, entry: FloorRequestEntry): number {
    if (entry.status !== RequestStatus.Pending) return 0;
    const waiting = conference.requests.filter((r) => r.status === RequestStatus.Pending);
    return Math.min(255, waiting.indexOf(entry) + 1);
  }

  #requestInformation(conference: Conference, entry: FloorRequestEntry): Attribute {
    const status: Attribute = { name: 'REQUEST-STATUS', status: entry.status, queuePosition: this.#queuePosition(conference, entry) };
    return {
      name: 'FLOOR-REQUEST-INFORMATION',
      id: entry.id,
      children: [
        { name: 'OVERALL-REQUEST-STATUS', id: entry.id, children: [status] },
        { name: 'FLOOR-REQUEST-STATUS', id: conference.floorId, children: [status] },
        { name: 'BENEFICIARY-INFORMATION', id: entry.userId, children: [] },
      ],
    };
  }

  #floorStatus(conference: Conference): Attribute[] {
    return [
      { name: 'FLOOR-ID', id: conference.floorId },
      ...conference.requests.filter(isActive).map((entry) => this.#requestInformation(conference, entry)),
    ];
  }

  #notifyUser(conference: Conference, entry: FloorRequestEntry): void {
    const endpoint = conference.users.get(entry.userId)?.endpoint;
    if (!endpoint || endpoint.closed) return;
    this.#send(() => endpoint.notify(conference.id, entry.userId, Primitive.FloorRequestStatus, [this.#requestInformation(conference, entry)]), endpoint);
  }

  #publishFloorStatus(conference: Conference): void {
    const attributes = this.#floorStatus(conference);
    for (const [userId, user] of conference.users) {
      const endpoint = user.endpoint;
      if (!user.subscribed || !endpoint || endpoint.closed) continue;
      this.#send(() => endpoint.notify(conference.id, userId, Primitive.FloorStatus, attributes), endpoint);
    }
  }

  #respond(endpoint: BfcpEndpoint, request: BfcpMessage, primitive: number, attributes: Attribute[]): void {
    const response: BfcpMessage = {
      version: endpoint.version,
      responder: true,
      primitive,
      conferenceId: request.conferenceId,
      transactionId: request.transactionId,
      userId: request.userId,
      attributes,
    };
    this.#send(() => endpoint.respond(request, response), endpoint);
  }

  #error(endpoint: BfcpEndpoint, request: BfcpMessage, code: number, info: string, details?: Buffer): void {
    log.debug({ peer: endpoint.peer, code, info, primitive: primitiveName(request.primitive) }, 'BFCP request refused');
    this.#send(() => endpoint.respond(request, errorResponse(request, endpoint.version, code, info, details)), endpoint);
  }

  #send(send: () => void, endpoint: BfcpEndpoint): void {
    try {
      send();
    } catch (error) {
      log.warn({ err: error, peer: endpoint.peer }, 'BFCP send failed');
    }
  }
}
