/**
 * The browser join page's API (public: guests join with the meeting ID and PIN, not a console
 * login). `GET /join/:number` says whether the meeting exists now and needs a PIN; the
 * WebSocket `/join/ws` carries mediasoup-client's signaling: JSON requests
 * {id, method, params} answered {id, result} or {id, error: {code, message}}, and
 * notifications {notification, data} (newProducer, producerClosed, removed, reconnect).
 *
 * Methods: join {number, pin, name} → transports + router capabilities + producers to
 * consume, and `iceServers` — the box's TURN relay with credentials for this participant
 * (server/turn/), for browsers that cannot reach the media ports directly; connectTransport {transportId, dtlsParameters}; produce {kind, rtpParameters} →
 * {id}; consume {producerId, rtpCapabilities}; resume {consumerId}; shareContent
 * {rtpParameters} → {id, floor, mimeType, reachesSip, cap} (the shared screen: a second video
 * producer marked as content, and the meeting's one floor taken through the same floor control
 * as BFCP terminals — a SIP presenter is revoked); stopContent (the sharer's own share only:
 * the floor given back); leave. Notifications also say who presents (`content`, for the page's
 * content view) and that the page's share ended because another took the floor
 * (`contentStopped`). Joining goes
 * through the participant sessions service like every other way in (lock-outs for wrong
 * meeting IDs and PINs, counted with the SIP and IVR ones; guest access — a browser has no
 * account —; PIN, window, lock, capacity, the licence's concurrent participants; `audioOnly`
 * when the licence allows no video: the page's camera and the composed picture are then
 * refused). The participant's session (server/meetings/participant-sessions/participant-session.ts)
 * owns its call record, media join and live entry; a closed socket closes it.
 *
 * The socket is public, so it trusts nothing it is sent: a page of another origin cannot open
 * it (../join-socket/join-origin.ts); each frame must pass its method's schema
 * (../join-socket/join-requests.ts) and is answered for itself — a bad one gets an error in
 * words, never closes the socket or touches anyone else's; sockets and joins per address,
 * requests per socket and what a participant makes in the media service are bounded
 * (../join-socket/join-limits.ts).
 */
import type { EventEmitter } from 'node:events';
import type { WebSocket } from '@fastify/websocket';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { MediaServiceEvents } from '../../../media/media-service.ts';
import type { ContentInfo } from '../../../media/meetings/meeting-types.ts';
import { contentPolicyFrom } from '../../../media/meetings/content-policy.ts';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import type { Admission, ParticipantSession, ParticipantSessions, RefusalKind } from '../../meetings/participant-sessions/participant-sessions.ts';
import type { TurnAccess } from '../../turn/turn-config.ts';
import type { TurnGuestKeys } from '../../turn/turn-guest-keys.ts';
import type { Settings } from '../../settings/settings-schema.ts';
import { AddressConnections, inFlight, inSlot, JOIN_LIMITS, PeerQuota } from '../join-socket/join-limits.ts';
import { isOwnOrigin } from '../join-socket/join-origin.ts';
import { type JoinRequest, parseJoinRequest } from '../join-socket/join-requests.ts';
import { minuteBudget } from '../rate-limit.ts';
import { isDialledPin, isMeetingNumber, MEETING_NUMBER_PATTERN } from '../../dial-plan/dial-plan.ts';

const log = getLogger('join');

/** What a browser is told when it may not join (the page shows it in the visitor's language). */
export const JOIN_REFUSALS: Record<RefusalKind, string> = {
  'not-found': 'There is no meeting with this ID.',
  ended: 'This meeting has ended.',
  'not-started': 'This meeting has not started yet.',
  'pin-required': 'This meeting needs a PIN.',
  'wrong-pin': 'Wrong PIN.',
  locked: 'Failed to join: the meeting is locked.',
  full: 'The meeting is full.',
  'license-ports': "All concurrent participants the box's licence allows are in meetings; try again later.",
  'media-ports': "The box's media ports are all in use; try again when someone has left.",
  'locked-out': 'Too many wrong meeting IDs or PINs came from your address; try again later.',
  'meeting-locked-out': 'Too many wrong PINs were entered for this meeting; try again later.',
  'guest-access-off': 'Guest access is off on this box: only callers with an account may join meetings.',
};

/** The error a browser gets for a refusal: the entry policy's say how long to wait, or what to do. */
function refusalError(number: string, refused: Extract<Admission, { ok: false }>): Error {
  const seconds = refused.retryAfterSeconds ?? 0;
  const error =
    refused.refusal === 'locked-out'
      ? createError('VCBOX_ERR_ENTRY_LOCKED_OUT', { seconds })
      : refused.refusal === 'meeting-locked-out'
        ? createError('VCBOX_ERR_MEETING_PIN_LOCKED_OUT', { number, seconds })
        : refused.refusal === 'guest-access-off'
          ? createError('VCBOX_ERR_GUEST_ACCESS_OFF')
          : refused.refusal === 'media-ports'
            ? createError('VCBOX_ERR_MEDIA_PORTS_FULL', { calls: refused.ports ?? 0 })
          : Object.assign(new Error(JOIN_REFUSALS[refused.refusal]), { code: 'VCBOX_ERR_JOIN_REFUSED' });
  return Object.assign(error, { refusal: refused.refusal });
}


export interface JoinRouteOptions {
  /** The one way into a meeting (admission, lock-outs, guest access). */
  readonly sessions: ParticipantSessions;
  /** The media service (the browser's transports, producers, consumers; the join itself goes through its session). */
  readonly media: MediaControl;
  readonly mediaEvents?: EventEmitter<MediaServiceEvents>;
  /** The TURN relay now (port and credential key), or undefined when it is off. */
  readonly turn?: () => TurnAccess | undefined;
  /** The settings now: the box's own addresses and web ports, whose pages may open the socket. */
  readonly settings?: () => Settings;
  /** The names the box's web certificate is issued for (its DNS names): its pages' hosts too. */
  readonly certificateNames?: () => readonly string[];
  /** Told when settings change (the content cap follows the call settings: presenting pages are told the new one). */
  readonly settingsObserver?: EventEmitter<{ changed: [keys: readonly string[]] }>;
}

/**
 * The relay at the address the browser reached the box at (the Host it asked for), with
 * credentials of this browser's own: they work until it leaves (`session.turnUser`).
 */
function iceServersFor(access: TurnAccess | undefined, hostname: string, participantId: string, session: Session): { urls: string[]; username: string; credential: string }[] {
  if (!access) return [];
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  const { username, credential } = access.keys.grant(participantId, access.realm);
  session.turnUser = { keys: access.keys, username };
  return [{ urls: [`turn:${host}:${access.port}?transport=udp`, `turn:${host}:${access.port}?transport=tcp`], username, credential }];
}

interface Session {
  readonly socket: WebSocket;
  meeting?: string;
  participantId?: string;
  /** The participant's session (call record, media join, live entry; closed when it leaves). */
  participant?: ParticipantSession;
  /** The licence allowed audio only when this browser joined. */
  audioOnly?: boolean;
  /** What this participant has made in the media service (./join-socket/join-limits.ts). */
  quota: PeerQuota;
  /** Its TURN credentials, withdrawn when it leaves. */
  turnUser?: { readonly keys: TurnGuestKeys; readonly username: string };
  /** A join of this socket is under way (a second one at the same time would be a second participant). */
  joining?: boolean;
  /** Its shared screen, while it shares: whether it has held the floor, and the quota slot to give back. */
  share?: { granted: boolean; readonly release: () => void };
}

export const joinRoutes: FastifyPluginAsync<JoinRouteOptions> = async (app, options) => {
  const { sessions: admission, media } = options;
  const sessions = new Map<string, Session>();
  // Meeting look-ups per address: 30 a minute (no walking the meeting numbers).
  const lookups = minuteBudget(30);
  const connections = new AddressConnections();
  const joinsPerAddress = minuteBudget(JOIN_LIMITS.joinsPerAddressPerMinute);

  const notify = (session: Session, notification: string, data: unknown) => {
    if (session.socket.readyState === 1) session.socket.send(JSON.stringify({ notification, data }));
  };
  /** Ends the session's share: its content producer closed, the floor given back unless `floorGone` (another took it). */
  const stopShare = async (session: Session, floorGone: boolean) => {
    const { meeting, participantId, participant, share } = session;
    if (!share || !meeting || !participantId) return;
    session.share = undefined;
    share.release();
    if (!floorGone) participant?.releaseFloor();
    await media.stopWebContent(meeting, participantId).catch((error: Error) => log.warn({ meeting, participant: participantId, err: error.message }, 'could not stop the shared screen in the media service'));
  };
  const leave = async (session: Session, reason: string) => {
    const { meeting, participantId, participant } = session;
    if (!meeting || !participantId || !participant) return;
    session.share?.release();
    session.share = undefined;
    session.meeting = undefined;
    session.participantId = undefined;
    session.participant = undefined;
    sessions.delete(participantId);
    if (session.turnUser) session.turnUser.keys.revoke(session.turnUser.username);
    session.turnUser = undefined;
    await participant.close(reason);
    log.info({ meeting, participant: participantId, reason }, 'browser left the meeting');
  };

  const events = options.mediaEvents;
  const onNewProducer = (meeting: string, info: { participantId: string }) => {
    for (const session of sessions.values()) if (session.meeting === meeting && session.participantId !== info.participantId) notify(session, 'newProducer', info);
  };
  const onProducerClosed = (meeting: string, producerId: string, participantId: string) => {
    for (const session of sessions.values()) {
      if (session.meeting !== meeting || session.participantId === participantId) continue;
      session.quota.producerClosed(producerId);
      notify(session, 'producerClosed', { producerId, participantId });
    }
  };
  const onParticipantClosed = (meeting: string, participantId: string, reason: string) => {
    const session = sessions.get(participantId);
    if (!session || session.meeting !== meeting) return;
    // After a media restart the page joins again by itself; otherwise it is told why it is out.
    notify(session, reason === 'media-restart' ? 'reconnect' : 'removed', { reason });
    void leave(session, reason);
  };
  /** meeting → the content producer browsers were last told of (its consumer slots are given back when it changes). */
  const contentProducers = new Map<string, string>();
  const onContent = (meeting: string, info: ContentInfo | null) => {
    const previous = contentProducers.get(meeting);
    if (info?.producerId) contentProducers.set(meeting, info.producerId);
    else contentProducers.delete(meeting);
    for (const session of sessions.values()) {
      if (session.meeting !== meeting) continue;
      if (previous && previous !== info?.producerId) session.quota.producerClosed(previous);
      // The floor is the judge (this event may be older than the page's own request).
      const share = session.share;
      if (share && session.participant?.holdsFloor) share.granted = true;
      else if (share?.granted) {
        log.info({ meeting, participant: session.participantId, presenter: info?.participantId ?? null }, "a browser's share ended: another took the floor");
        void stopShare(session, true);
        notify(session, 'contentStopped', { reason: 'floor-taken', by: info?.displayName ?? null });
      }
      notify(session, 'content', info);
    }
  };
  /**
   * A settings change that moves the content cap (media/meetings/content-policy.ts makes it of
   * the call settings): a presenting page keeps within the new cap at once (its share's answer
   * carried the old one).
   */
  const capOf = (settings: Settings | undefined) => {
    if (!settings) return undefined;
    const { width, height, fps, kbps } = contentPolicyFrom(settings);
    return { width, height, fps, kbps };
  };
  let cap = capOf(options.settings?.());
  const onSettings = () => {
    const now = capOf(options.settings?.());
    if (!now || JSON.stringify(now) === JSON.stringify(cap)) return;
    cap = now;
    const { width, height, fps, kbps } = now;
    for (const session of sessions.values()) {
      if (!session.share) continue;
      log.info({ meeting: session.meeting, participant: session.participantId, cap: { width, height, fps, kbps } }, 'the content cap changed: the presenting page is told');
      notify(session, 'contentCap', { width, height, fps, kbps });
    }
  };
  options.settingsObserver?.on('changed', onSettings);
  events?.on('content', onContent);
  events?.on('newproducer', onNewProducer);
  events?.on('producerclosed', onProducerClosed);
  events?.on('participantclosed', onParticipantClosed);
  app.addHook('onClose', async () => {
    options.settingsObserver?.off('changed', onSettings);
    events?.off('content', onContent);
    events?.off('newproducer', onNewProducer);
    events?.off('producerclosed', onProducerClosed);
    events?.off('participantclosed', onParticipantClosed);
    for (const session of [...sessions.values()]) {
      await leave(session, 'server-stopping');
      session.socket.close(1001, 'server stopping');
    }
  });

  app.get<{ Params: { number: string } }>(
    '/join/:number',
    {
      config: { public: true },
      schema: {
        summary: 'Whether a meeting can be joined now from the browser, and whether it needs a PIN (public)',
        params: { type: 'object', required: ['number'], properties: { number: { type: 'string', pattern: MEETING_NUMBER_PATTERN } } },
      },
    },
    async (request, reply) => {
      lookups(request.ip);
      // A look-up names a meeting: an unknown number counts as a wrong ID for the address.
      const target = admission.findMeeting({ way: 'web', address: request.ip, account: null }, request.params.number);
      if ('ok' in target) {
        const error = refusalError(request.params.number, target) as Error & { code: string; statusCode?: number };
        return reply.status(error.statusCode ?? 404).send({ code: error.code, refusal: target.refusal, message: error.message });
      }
      return { number: target.number, subject: target.subject, needsPin: target.guestPin !== '' };
    },
  );

  // Before the socket opens: a page of another site is refused (HTTP 403, the error in words).
  // One more socket from an address that has its limit open is let open just long enough to
  // be told why (an error frame, then close 1008): the box's own page shows it to the visitor,
  // which it could not with an HTTP refusal of the handshake.
  const overLimit = new WeakMap<FastifyRequest, Error>();
  const admitSocket = async (request: FastifyRequest) => {
    // A plain GET (no upgrade) is answered 404 by the route and holds nothing.
    if (!request.ws) return;
    const origin = request.headers.origin;
    const settings = options.settings?.();
    if (origin !== undefined && settings && !isOwnOrigin(origin, settings, { address: request.socket.localAddress, port: request.socket.localPort }, options.certificateNames?.())) {
      log.warn({ origin, source: request.ip }, 'join socket refused: a page of another origin');
      throw createError('VCBOX_ERR_JOIN_ORIGIN', { origin: origin.slice(0, 200) });
    }
    let release: () => void;
    try {
      release = connections.take(request.ip);
    } catch (error) {
      log.warn({ source: request.ip, limit: JOIN_LIMITS.socketsPerAddress }, 'join socket refused: too many from one address');
      overLimit.set(request, error as Error);
      return;
    }
    // Counted until the connection is gone.
    request.raw.socket.once('close', release);
  };

  app.get('/join/ws', { websocket: true, config: { public: true }, schema: { hide: true, summary: "The browser join page's WebSocket: mediasoup-client signaling, joined with the meeting ID and PIN" }, preValidation: admitSocket }, (socket, request) => {
    const refused = overLimit.get(request) as (Error & { code?: string }) | undefined;
    if (refused) {
      socket.send(JSON.stringify({ id: null, error: { code: refused.code, message: refused.message } }));
      socket.close(1008, 'too many join connections from this address');
      return;
    }
    const session: Session = { socket, quota: new PeerQuota() };
    const requestsPerMinute = minuteBudget(JOIN_LIMITS.requestsPerSocketPerMinute);
    const handle = async ({ method, params }: JoinRequest): Promise<unknown> => {
      requestsPerMinute('socket');
      if (method === 'join') {
        if (session.participantId) throw createError('VCBOX_ERR_JOIN_REQUEST', { problem: 'this page has joined already' });
        joinsPerAddress(request.ip);
        const number = String(params.number ?? '');
        const pin = params.pin === undefined || params.pin === '' ? undefined : String(params.pin);
        const name = String(params.name ?? '').trim();
        if (!isMeetingNumber(number)) throw Object.assign(new Error('The meeting ID is 5 to 12 digits.'), { code: 'VCBOX_ERR_BAD_REQUEST', field: 'number' });
        if (name.length < 1 || name.length > 64) throw Object.assign(new Error('Enter a name of 1 to 64 characters.'), { code: 'VCBOX_ERR_BAD_REQUEST', field: 'name' });
        if (pin !== undefined && !isDialledPin(pin)) throw Object.assign(new Error('The PIN is digits only.'), { code: 'VCBOX_ERR_BAD_REQUEST', field: 'pin' });
        const result = admission.admit({ way: 'web', address: request.ip, account: null }, number, pin);
        if (!result.ok) throw refusalError(number, result);
        // The participant's session: call record, media join, live entry; on a failed join it closes itself.
        const participant = admission.open(result, {
          caller: name,
          callee: number,
          displayName: name,
          account: null,
          type: 'web',
          source: request.ip,
          transport: request.protocol === 'https' ? 'wss' : 'ws',
          address: request.ip,
        });
        const participantId = participant.id;
        const joined = await participant.joinWeb();
        if (socket.readyState !== 1) {
          // The page went away while its media was set up: nothing is left behind.
          await participant.close('left');
          throw createError('VCBOX_ERR_JOIN_REQUEST', { problem: 'the page closed while joining' });
        }
        session.meeting = number;
        session.participantId = participantId;
        session.participant = participant;
        session.audioOnly = result.audioOnly;
        sessions.set(participantId, session);
        participant.enter((reason) => {
          notify(session, 'removed', { reason });
          void leave(session, reason).then(() => socket.close(4000, reason.slice(0, 100)));
        });
        log.info({ meeting: number, participant: participantId, role: result.role }, 'browser joined the meeting');
        return { participantId, role: result.role, subject: result.target.subject, audioOnly: result.audioOnly, ...joined, iceServers: iceServersFor(options.turn?.(), request.hostname, participantId, session) };
      }
      const { meeting, participantId, quota } = session;
      if (!meeting || !participantId) throw createError('VCBOX_ERR_JOIN_REQUEST', { problem: `${method} needs a joined meeting; send join first` });
      switch (method) {
        case 'connectTransport':
          return inSlot(quota.transportConnect(), () => media.connectWeb(meeting, participantId, String(params.transportId), params.dtlsParameters as never));
        case 'produce': {
          const kind = params.kind === 'video' ? 'video' : 'audio';
          if (kind === 'video' && session.audioOnly) throw createError('VCBOX_ERR_LICENSE_AUDIO_ONLY');
          return { id: await inSlot(quota.producer(kind), () => media.produceWeb(meeting, participantId, kind, params.rtpParameters as never)) };
        }
        case 'consume': {
          const producerId = String(params.producerId);
          return inSlot(quota.consumer(producerId), () => media.consumeWeb(meeting, participantId, producerId, params.rtpCapabilities as never));
        }
        case 'consumeComposed':
          if (session.audioOnly) throw createError('VCBOX_ERR_LICENSE_AUDIO_ONLY');
          return inFlight(quota.composed(), () => media.consumeComposedWeb(meeting, participantId, params.rtpCapabilities as never));
        case 'resume':
          return media.resumeWeb(meeting, participantId, String(params.consumerId));
        case 'shareContent': {
          if (session.audioOnly) throw createError('VCBOX_ERR_LICENSE_AUDIO_ONLY');
          const participant = session.participant;
          if (!participant) throw createError('VCBOX_ERR_JOIN_REQUEST', { problem: 'shareContent needs a joined meeting; send join first' });
          const release = quota.content();
          let made: Awaited<ReturnType<MediaControl['produceWebContent']>>;
          try {
            made = await media.produceWebContent(meeting, participantId, params.rtpParameters as never);
          } catch (error) {
            release();
            throw error;
          }
          const share: NonNullable<Session['share']> = { granted: false, release };
          session.share = share;
          try {
            // The meeting's one floor, as a BFCP terminal's FloorRequest: a presenter (SIP or browser) loses it.
            share.granted = participant.takeFloor() === 'granted';
          } catch (error) {
            await stopShare(session, true);
            throw error;
          }
          log.info({ meeting, participant: participantId, floor: share.granted ? 'granted' : 'pending', codec: made.mimeType }, 'browser shares its screen');
          return { id: made.producerId, floor: share.granted ? 'granted' : 'pending', mimeType: made.mimeType, reachesSip: made.reachesSip, cap: made.cap };
        }
        case 'stopContent':
          // A page stops its own share only: there is no way to name another's.
          if (!session.share) throw createError('VCBOX_ERR_CONTENT_NOT_SHARING');
          await stopShare(session, false);
          return {};
        case 'leave':
          await leave(session, 'left');
          return {};
      }
    };

    const answer = (message: unknown) => {
      if (socket.readyState !== 1) return;
      try {
        socket.send(JSON.stringify(message));
      } catch (error) {
        log.warn({ err: (error as Error).message, source: request.ip }, 'join socket: an answer could not be sent');
      }
    };
    const refusal = (id: JoinRequest['id'], error: Error & { code?: string; refusal?: string; field?: string; params?: { reason?: unknown } }) => {
      if (!error.code) log.error({ err: error, source: request.ip }, 'join socket: a request failed');
      answer({ id, error: { code: error.code ?? 'VCBOX_ERR_INTERNAL', message: String(error.params?.reason ?? error.message), refusal: error.refusal, field: error.field } });
    };
    // Every frame answers for itself: whatever it holds, a refusal goes back to that request
    // and neither this socket nor anyone else's is touched.
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        const { id, request: parsed, error } = isBinary ? { id: null, request: undefined, error: createError('VCBOX_ERR_JOIN_REQUEST', { problem: 'the frame is binary, not JSON text' }) } : parseJoinRequest(data);
        if (!parsed) {
          refusal(id, error as Error);
          return;
        }
        if (parsed.method === 'join') {
          if (session.joining) {
            refusal(id, createError('VCBOX_ERR_JOIN_REQUEST', { problem: 'this page is joining already' }));
            return;
          }
          session.joining = true;
        }
        handle(parsed)
          .finally(() => {
            if (parsed.method === 'join') session.joining = false;
          })
          .then(
          (result) => answer({ id, result: result ?? {} }),
          (failure: Error) => refusal(id, failure),
        );
      } catch (failure) {
        refusal(null, failure as Error);
      }
    });
    socket.on('error', (error) => log.warn({ err: error.message, source: request.ip }, 'join socket error'));
    socket.on('close', () => void leave(session, 'left'));
  });
};
