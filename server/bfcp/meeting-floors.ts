/**
 * Meetings' floors as SIP calls reach them (issue #19, RFC 8856): the box's floor control
 * server with its listeners (TCP, UDP, and TLS for terminals on SIP over TLS; one per
 * transport for the whole box, conference and user IDs tell the meetings apart), a BFCP
 * conference per live meeting and a user per participant with a content line.
 *
 * A participant's IDs are handed out (`reserve`) when its offer is answered: the answer's
 * BFCP line says them (`answer`: `a=floorctrl:s-only`, `a=confid`, `a=userid`,
 * `a=floorid:1 mstrm:<content label>`, `a=setup:passive`, `a=connection:new`, the box's port
 * for the offered transport). The user may use the floor once its call is answered (`admit`,
 * the floor control server's addUser) and leaves it with the call (`leave`: removeUser, the
 * floor released; the conference ends with its last participant). IDs are random, so one
 * meeting's participant cannot guess another's; the floor control server also binds each user
 * to the transport address it first spoke from. `presenter` says which participant of which
 * meeting holds the floor now (null: nobody), for the media service to forward that content.
 * The console's chair actions (`giveFloor`, `revokeFloor`) name participants, not BFCP IDs.
 * A browser has no BFCP: it takes the floor (`take`, a user made for it then) and gives it back
 * (`release`) through the same floor control server, so one floor serves both kinds.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { getLogger } from '../core/logger.ts';
import { certificateStamp, ensureCertificate } from '../tls/self-signed-certificate.ts';
import { bfcpTransport, contentLine, parseSdp, replaceMediaSection, type SdpMedia } from '../../media/sdp/sip-sdp.ts';
import type { BfcpTlsCredentials } from './bfcp-tcp-listener.ts';
import { type BfcpListener, FloorControlServer, type FloorPolicy } from './floor-control-server.ts';

const log = getLogger('meeting-floors');

/** Each meeting has one floor, the content's. */
export const CONTENT_FLOOR_ID = 1;

export type BfcpTransport = 'tcp' | 'udp' | 'tls';

/** Where the listeners are: ports of 0 pick free ones (tests); TLS only with the box's credentials. */
export interface MeetingFloorsOptions {
  readonly host: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  /** The TLS listener's port; absent or without `credentials` nor `certificates`: no TLS listener. */
  readonly tlsPort?: number;
  readonly credentials?: BfcpTlsCredentials;
  /**
   * The box's certificate folder (server/tls): the TLS listener presents its certificate and
   * follows it — an import or a restore that replaces it is taken within `certificatePollMs`
   * (default 2 s) for new handshakes, as HTTPS and SIP over TLS do.
   */
  readonly certificates?: string;
  readonly certificatePollMs?: number;
  /** What a floor request does while someone presents (`call.contentFloor`, asked at each request): take the floor over (default) or wait in a queue. */
  readonly policy?: () => FloorPolicy;
}

/** A participant's BFCP identity in its meeting's conference. */
export interface FloorIds {
  readonly conferenceId: number;
  readonly userId: number;
  readonly floorId: number;
}

interface MeetingConference {
  readonly conferenceId: number;
  /** participant id → its user ID (reserved; in the floor control server once admitted). */
  readonly users: Map<string, number>;
}

export interface MeetingFloorsEvents {
  /** The floor's holder changed: the participant presenting in `meeting` now, or null. */
  presenter: [meeting: string, participantId: string | null];
}

export class MeetingFloors extends EventEmitter<MeetingFloorsEvents> {
  readonly server = new FloorControlServer();
  readonly #listeners = new Map<BfcpTransport, BfcpListener>();
  /** meeting number → its conference. */
  readonly #meetings = new Map<string, MeetingConference>();
  readonly #conferenceIds = new Set<number>();
  #certificateTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #policy: () => FloorPolicy;

  constructor(policy: () => FloorPolicy = () => 'take-over') {
    super();
    this.#policy = policy;
    this.server.on('presenter', (change) => {
      const entry = [...this.#meetings].find(([, conference]) => conference.conferenceId === change.conferenceId);
      if (!entry) return;
      const [meeting, conference] = entry;
      const participantId = change.userId === null ? null : ([...conference.users].find(([, userId]) => userId === change.userId)?.[0] ?? null);
      log.info({ meeting, participant: participantId, reason: change.reason }, participantId ? 'presenting' : 'nobody presents');
      this.emit('presenter', meeting, participantId);
    });
  }

  /** Opens the listeners; a port that cannot be bound fails the whole start (what was opened is closed). */
  static async start(options: MeetingFloorsOptions): Promise<MeetingFloors> {
    const floors = new MeetingFloors(options.policy);
    try {
      await floors.#listen('tcp', options.host, options.tcpPort);
      await floors.#listen('udp', options.host, options.udpPort);
      const credentials = options.credentials ?? (options.certificates !== undefined ? await ensureCertificate(options.certificates) : undefined);
      if (options.tlsPort !== undefined && credentials) {
        await floors.#listen('tls', options.host, options.tlsPort, credentials);
        if (options.certificates !== undefined) floors.#followCertificate(options.certificates, options.certificatePollMs ?? 2000);
      }
    } catch (error) {
      await floors.close();
      throw error;
    }
    log.info({ ports: floors.ports }, 'BFCP floor control listening');
    return floors;
  }

  /** The TLS listener takes the certificate in `dir` whenever the file is replaced; a certificate that cannot be read leaves the previous one in use. */
  #followCertificate(dir: string, pollMs: number): void {
    let seen = certificateStamp(dir);
    let checking = false;
    this.#certificateTimer = setInterval(() => {
      const stamp = certificateStamp(dir);
      if (stamp === seen || checking || this.#closed) return;
      checking = true;
      ensureCertificate(dir)
        .then((certificate) => {
          if (this.#closed) return;
          this.#listeners.get('tls')?.useCredentials?.({ key: certificate.key, cert: certificate.cert });
          seen = stamp;
          log.info('BFCP TLS certificate changed: new handshakes use it');
        })
        .catch((error: Error) => {
          seen = stamp;
          log.error({ err: error.message }, 'BFCP over TLS could not take the new certificate; it keeps the previous one');
        })
        .finally(() => {
          checking = false;
        });
    }, pollMs);
    this.#certificateTimer.unref();
  }

  async #listen(transport: BfcpTransport, host: string, port: number, credentials?: BfcpTlsCredentials): Promise<void> {
    const listener = await this.server.listen({ transport, host, port, ...(credentials ? { credentials } : {}) });
    this.#listeners.set(transport, listener);
  }

  /** The listeners' ports by transport. */
  get ports(): Partial<Record<BfcpTransport, number>> {
    return Object.fromEntries([...this.#listeners].map(([transport, listener]) => [transport, listener.port]));
  }

  /** The participant's IDs in its meeting's conference (made on first use; the same on every later offer). */
  reserve(meeting: string, participantId: string): FloorIds {
    let conference = this.#meetings.get(meeting);
    if (!conference) {
      let conferenceId = randomInt(1, 0x7fffffff);
      while (this.#conferenceIds.has(conferenceId)) conferenceId = randomInt(1, 0x7fffffff);
      this.server.addConference(conferenceId, { floorId: CONTENT_FLOOR_ID, policy: this.#policy });
      this.#conferenceIds.add(conferenceId);
      conference = { conferenceId, users: new Map() };
      this.#meetings.set(meeting, conference);
    }
    let userId = conference.users.get(participantId);
    if (userId === undefined) {
      const taken = new Set(conference.users.values());
      userId = randomInt(1, 0x10000);
      while (taken.has(userId)) userId = randomInt(1, 0x10000);
      conference.users.set(participantId, userId);
    }
    return { conferenceId: conference.conferenceId, userId, floorId: CONTENT_FLOOR_ID };
  }

  /** The participant's call is answered: its user may use the floor. */
  admit(meeting: string, participantId: string): void {
    const conference = this.#meetings.get(meeting);
    const userId = conference?.users.get(participantId);
    if (!conference || userId === undefined) return;
    this.server.addUser(conference.conferenceId, userId);
  }

  /** Whether the participant may present: its call is answered with a content and a BFCP line. */
  canPresent(meeting: string, participantId: string): boolean {
    const conference = this.#meetings.get(meeting);
    const userId = conference?.users.get(participantId);
    return conference !== undefined && userId !== undefined && this.server.hasUser(conference.conferenceId, userId);
  }

  /**
   * A participant without BFCP (a browser) asks for the floor: its user made and admitted if it
   * has none yet, then the same floor request a terminal makes over BFCP (a SIP holder gets
   * Revoked). Says whether it holds the floor now or waits (the queue policy).
   */
  take(meeting: string, participantId: string): 'granted' | 'pending' {
    if (this.#closed) throw new Error('BFCP floor control is closed');
    const ids = this.reserve(meeting, participantId);
    this.server.addUser(ids.conferenceId, ids.userId);
    return this.server.requestFloor(ids.conferenceId, ids.userId);
  }

  /** The participant gives the floor back (or stops waiting for it); nothing when it has no request. */
  release(meeting: string, participantId: string): void {
    const conference = this.#meetings.get(meeting);
    const userId = conference?.users.get(participantId);
    if (!conference || userId === undefined) return;
    this.server.releaseFloor(conference.conferenceId, userId);
  }

  /** The participant holding the meeting's floor now, or null. */
  presenterOf(meeting: string): string | null {
    const conference = this.#meetings.get(meeting);
    if (!conference) return null;
    const userId = this.server.presenter(conference.conferenceId);
    return userId === null ? null : ([...conference.users].find(([, id]) => id === userId)?.[0] ?? null);
  }

  /**
   * Chair action: the participant presents (its BFCP client is told Granted; a holder before it
   * is told Revoked; everyone subscribed gets FloorStatus). False when it cannot present.
   */
  giveFloor(meeting: string, participantId: string): boolean {
    if (!this.canPresent(meeting, participantId)) return false;
    const conference = this.#meetings.get(meeting);
    const userId = conference?.users.get(participantId);
    if (!conference || userId === undefined) return false;
    this.server.giveFloor(conference.conferenceId, userId);
    return true;
  }

  /**
   * Chair action: the holder stops presenting (its BFCP client is told Revoked, everyone
   * subscribed gets FloorStatus; a request waiting in the queue gets the floor). False when
   * nobody held the floor.
   */
  revokeFloor(meeting: string): boolean {
    const conference = this.#meetings.get(meeting);
    if (!conference || this.server.presenter(conference.conferenceId) === null) return false;
    this.server.revokeFloor(conference.conferenceId);
    return true;
  }

  /** The participant left: its floor requests end (a held floor is released); the last one ends the conference. */
  leave(meeting: string, participantId: string): void {
    const conference = this.#meetings.get(meeting);
    const userId = conference?.users.get(participantId);
    if (!conference || userId === undefined) return;
    this.server.removeUser(conference.conferenceId, userId);
    conference.users.delete(participantId);
    if (conference.users.size === 0) {
      this.server.removeConference(conference.conferenceId);
      this.#conferenceIds.delete(conference.conferenceId);
      this.#meetings.delete(meeting);
    }
  }

  /**
   * The media service's answer with the offer's BFCP line answered (RFC 8856) for the
   * participant, when the offer has one on a transport the box listens on, the terminal can be
   * a floor control client (`a=floorctrl` absent, c-only or c-s) and the answer serves its
   * content line; else the answer as it is (that line declined with port 0) and `ids` undefined.
   */
  answer(meeting: string, participantId: string, offerSdp: string, answerSdp: string): { sdp: string; ids?: FloorIds } {
    if (this.#closed) return { sdp: answerSdp };
    const offer = parseSdp(offerSdp);
    const index = offer.media.findIndex((m) => m.port > 0 && bfcpTransport(m) !== undefined);
    const line = offer.media[index];
    if (!line) return { sdp: answerSdp };
    const transport = bfcpTransport(line);
    const port = transport && this.#listeners.get(transport)?.port;
    const content = contentLine(parseSdp(answerSdp).media);
    if (!port || !content?.label || !canBeClient(line)) {
      log.debug({ meeting, participant: participantId, proto: line.proto, content: Boolean(content) }, 'BFCP line declined');
      return { sdp: answerSdp };
    }
    const ids = this.reserve(meeting, participantId);
    const lines = [
      `m=application ${port} ${line.proto} *`,
      'a=floorctrl:s-only',
      `a=confid:${ids.conferenceId}`,
      `a=userid:${ids.userId}`,
      `a=floorid:${ids.floorId} mstrm:${content.label}`,
      ...(transport === 'udp' ? ['a=bfcpver:2'] : ['a=setup:passive', 'a=connection:new', 'a=bfcpver:1']),
    ];
    return { sdp: replaceMediaSection(answerSdp, index, lines), ids };
  }

  /** Closes the listeners and forgets every conference; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#certificateTimer);
    this.#listeners.clear();
    this.#meetings.clear();
    this.#conferenceIds.clear();
    this.removeAllListeners();
    await this.server.close();
  }
}

/** The offerer takes the client role the box's `s-only` leaves it (RFC 8856 §4: c-only or c-s; absent means c-s is not said, take it as a client). */
function canBeClient(line: SdpMedia): boolean {
  return line.floorctrl.length === 0 || line.floorctrl.includes('c-only') || line.floorctrl.includes('c-s');
}
