/**
 * The box's SIP application, written against drachtio-srf: it connects to the signaling
 * service's application port (the same code would drive a C++ drachtio-server) and handles
 * REGISTER (./registrar), and INVITEs through a middleware stack (./sip-middleware.ts: dial,
 * lock-out and authentication policy, then point-to-point calls ./calls, meetings ./meetings
 * or the IVR ./ivr — adapters of the participant sessions service). The check-sync NOTIFY of a
 * firmware update is sent from here. Runs inside the control-plane process, so the console
 * reads the same location service and live meetings.
 */
import type { EventEmitter } from 'node:events';
import type { MediaServiceEvents } from '../../media/media-service.ts';
import Srf from 'drachtio-srf';
import { AccountStore } from '../accounts/account-store.ts';
import { CallRecords } from '../cdr/call-records.ts';
import { ConcurrencyRecords } from '../cdr/concurrency-records.ts';
import { MeetingRecords } from '../cdr/meeting-records.ts';
import type { Db } from '../db/database.ts';
import { getLogger } from '../core/logger.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { MeetingStore } from '../meetings/meeting-store.ts';
import type { LayoutChoice } from '../../media/mcu/layouts.ts';
import { LiveMeetings } from '../meetings/live-meetings.ts';
import type { LicensePolicy } from '../license/license-policy.ts';
import { ParticipantSessions } from '../meetings/participant-sessions/participant-sessions.ts';
import type { EntryLockoutPolicy } from '../meetings/participant-sessions/entry-lockout.ts';
import { MEDIA_METHODS, type MediaControl } from '../../media/control/media-control-protocol.ts';
import { dialContextOf } from '../dial-plan/dial-plan.ts';
import { createError } from '../core/errors.ts';
import type { MediaClient } from '../media-client/media-client.ts';
import { VmrStore } from '../rooms/vmr-store.ts';
import { PointToPointCalls } from './calls/point-to-point-calls.ts';
import { sendCheckSync } from './firmware/check-sync.ts';
import type { RequestOutcome } from './out-of-dialog-request.ts';
import { CallTakeover } from './meetings/call-takeover.ts';
import { MeetingCalls } from './meetings/meeting-calls.ts';
import type { SignalingControlClient } from '../signaling/signaling-control.ts';
import { MeetingFloors, type MeetingFloorsOptions } from '../bfcp/meeting-floors.ts';
import type { FloorPolicy } from '../bfcp/floor-control-server.ts';
import { IvrCalls, type IvrTimeouts } from './ivr/ivr-calls.ts';
import { AuthLockout, type LockoutPolicy } from './registrar/auth-lockout.ts';
import { type DigestAlgorithm, DigestAuthenticator, nonceKey } from './registrar/digest-auth.ts';
import { type Binding, LocationService } from './registrar/location-service.ts';
import { Qualifier } from './registrar/qualifier.ts';
import { RegistrationStore } from './registrar/registration-store.ts';
import { RegistrarFeed } from './registrar/registrar-feed.ts';
import { Registrar } from './registrar/registrar.ts';
import { guardListener, guardMiddleware, guardRequest } from './request-guard.ts';
import { classifyInvite, entryPolicy, forDial, type Middleware, refuseUndeclared } from './sip-middleware.ts';

const log = getLogger('sip-application');

/** Why the box ends its calls when the whole appliance stops (the BYE's Reason, the records' end reason). */
export const BOX_STOPPING = 'the box is stopping';
/** Why the box ends the calls a restarted control plane cannot take over, when the control plane alone stops. */
export const NOT_KEPT_ON_RESTART = 'the control plane is restarting; this kind of call is not kept across a restart';
/** How long a stop waits for the terminals to answer the BYEs before it lets go of the signaling service. */
const STOP_BYE_WAIT_MS = 3000;

export interface SipApplicationOptions {
  readonly signaling: { readonly host: string; readonly port: number; readonly secret: string };
  readonly db: Db;
  readonly settings: SettingsStore;
  /** Registrar tuning (tests shorten the lock-out). */
  readonly registrar?: Partial<Pick<ConstructorParameters<typeof Registrar>[0], 'minExpires' | 'maxExpires'>> & { readonly lockout?: LockoutPolicy };
  /** How long a called terminal rings before the caller gets "no answer". */
  readonly noAnswerTimeoutMs?: number;
  /** The media service (meeting calls); without it a call to a meeting gets 503. */
  readonly media?: MediaClient;
  /** Smallest session-timer interval accepted (RFC 4028 says 90 s; tests shorten it). */
  readonly minSessionSeconds?: number;
  /** IVR digit timeouts (tests shorten them). */
  readonly ivrTimeouts?: IvrTimeouts;
  /** Qualify timing (tests shorten it; default: the sip.qualifySeconds setting, 5 s timeout). */
  readonly qualify?: { readonly intervalMs: number; readonly timeoutMs: number };
  /** The licence rules for meeting admission (concurrent participants, audio only); absent: none. */
  readonly license?: LicensePolicy;
  /** Wrong meeting-ID and PIN lock-out rules (tests shorten them; default DEFAULT_ENTRY_LOCKOUT). */
  readonly entryLockout?: EntryLockoutPolicy;
  /** BFCP floor control for content sharing (listeners opened by `start`); absent: content and BFCP lines are declined. */
  readonly bfcp?: MeetingFloorsOptions;
  /**
   * The signaling service's control channel: at each connection the application takes over the
   * calls that outlived a restart (./meetings/call-takeover.ts); absent: it does not.
   */
  readonly signalingControl?: Pick<SignalingControlClient, 'orphans' | 'adopt' | 'release'>;
  /**
   * The signaling service's control channel again, to feed its fast registrar
   * (./registrar/registrar-feed.ts); absent: not fed, every REGISTER comes here.
   */
  readonly registrarFeed?: Pick<SignalingControlClient, 'registrar'>;
  /** The end reason of the call records a killed predecessor left open and nothing took over. */
  readonly leftOpenReason?: string;
}

export class SipApplication {
  readonly srf: Srf;
  /** Registered terminals; kept in the database too, so a restart finds them registered. */
  readonly location: LocationService;
  readonly accounts: AccountStore;
  /** Meetings with people in them (filled by meeting calls, read by the console). */
  readonly live = new LiveMeetings();
  /** Reachability of registered terminals (OPTIONS keep-alive). */
  readonly qualifier: Qualifier;
  /** The one way into a meeting (admission and authentication policy), shared with the browser join page. */
  readonly sessions: ParticipantSessions;
  /** Addresses that keep failing digest authentication (SIP, and the provisioning downloads' HTTP Digest). */
  readonly lockout: AuthLockout;
  readonly #meetingCalls: MeetingCalls;
  readonly #calls: PointToPointCalls;
  readonly #ivrCalls: IvrCalls;
  readonly #takeover: CallTakeover | undefined;
  readonly #feed: RegistrarFeed | undefined;
  readonly #options: SipApplicationOptions;
  /** The meetings' floors (content sharing), once `start` opened their listeners. */
  #floors: MeetingFloors | undefined;
  #connectedSince: Date | null = null;
  #closed = false;

  constructor(options: SipApplicationOptions) {
    this.#options = options;
    this.location = new LocationService({ store: new RegistrationStore(options.db) });
    this.accounts = new AccountStore(options.db);
    const meetingRecords = new MeetingRecords(options.db);
    meetingRecords.follow(this.live);
    new ConcurrencyRecords(options.db).follow(this.live);
    const media = options.media;
    this.sessions = new ParticipantSessions({
      media: media?.media ?? mediaAbsent(),
      db: options.db,
      vmrs: new VmrStore(options.db, options.settings),
      meetings: new MeetingStore(options.db, options.settings),
      settings: options.settings,
      live: this.live,
      license: options.license,
      lockout: options.entryLockout,
      floors: () => this.#floors,
    });
    this.srf = new Srf();
    // The nonce key only has to be shared by the processes that check nonces; derive it from
    // the application secret so it survives restarts without another file.
    const digest = new DigestAuthenticator({ secret: nonceKey(options.signaling.secret) });
    const { lockout: lockoutPolicy, ...registrarTuning } = options.registrar ?? {};
    const lockout = new AuthLockout(options.db, lockoutPolicy);
    this.lockout = lockout;
    this.#feed = options.registrarFeed
      ? new RegistrarFeed({
          signaling: options.registrarFeed,
          location: this.location,
          lockout,
          minExpires: registrarTuning.minExpires ?? 60,
          maxExpires: registrarTuning.maxExpires ?? 3600,
        }).start()
      : undefined;
    const feed = this.#feed;
    const registrar = new Registrar({
      lockout,
      ...(feed ? { handled: (account: string) => feed.handled(account) } : {}),
      accounts: this.accounts,
      location: this.location,
      digest,
      realm: () => options.settings.get('network.localDomain'),
      algorithms: () => options.settings.get('sip.digestAlgorithms').split(',') as DigestAlgorithm[],
      ...registrarTuning,
    });
    const calls = new PointToPointCalls({
      srf: this.srf,
      accounts: this.accounts,
      location: this.location,
      digest,
      records: new CallRecords(options.db),
      lockout,
      realm: () => options.settings.get('network.localDomain'),
      algorithms: () => options.settings.get('sip.digestAlgorithms').split(',') as DigestAlgorithm[],
      ...(options.noAnswerTimeoutMs ? { noAnswerTimeoutMs: options.noAnswerTimeoutMs } : {}),
    });
    // srf defines a handler method per SIP verb at run time; its typings omit `register`.
    (this.srf as unknown as { register(handler: Registrar['handle']): void }).register(guardRequest('registrar', registrar.handle));
    const meetingCalls = new MeetingCalls({
      srf: this.srf,
      live: this.live,
      sessions: this.sessions,
      meetings: new MeetingStore(options.db, options.settings),
      settings: options.settings,
      accountName: (number) => this.accounts.findByNumber(number)?.name,
      ...(options.minSessionSeconds ? { minSessionSeconds: options.minSessionSeconds } : {}),
      bindings: (account) => this.location.lookup(account),
    });
    this.#meetingCalls = meetingCalls;
    this.#calls = calls;
    this.#takeover =
      options.signalingControl && media
        ? new CallTakeover({
            srf: this.srf,
            signaling: options.signalingControl,
            media: media.media,
            sessions: this.sessions,
            meetingCalls,
            records: new CallRecords(options.db),
            meetingRecords,
            live: this.live,
            startedAt: new Date(),
            leftOpenReason: options.leftOpenReason ?? 'the control plane restarted (killed or crashed) and did not see the call end',
          })
        : undefined;
    this.qualifier = new Qualifier(this.srf, this.location, {
      intervalMs: () => options.qualify?.intervalMs ?? options.settings.get('sip.qualifySeconds') * 1000,
      timeoutMs: options.qualify?.timeoutMs ?? 5000,
    });
    media?.on('participantclosed', guardListener('participantclosed', (meeting: string, participantId: string, reason: string) => meetingCalls.mediaClosed(meeting, participantId, reason)));
    media?.on('keyframerequest', guardListener('keyframerequest', (meeting: string, participantId: string) => meetingCalls.requestKeyFrame(meeting, participantId)));
    media?.on(
      'contentkeyframerequest',
      guardListener('contentkeyframerequest', (meeting: string, participantId: string, label: string) => meetingCalls.requestKeyFrame(meeting, participantId, label)),
    );
    // A meeting starts with its room's layout; the media side hears it before the first join
    // (one ordered control channel), and forgets it when the meeting ends.
    if (media) {
      const setLayout = (number: string, layout: LayoutChoice) =>
        void media.media.setLayout(number, layout, null).catch((error: unknown) => log.warn({ meeting: number, err: (error as Error).message }, 'could not set the layout'));
      this.live.on('started', (meeting) => {
        if (meeting.layout !== 'auto') setLayout(meeting.number, meeting.layout);
      });
      this.live.on('ended', (meeting) => setLayout(meeting.number, 'auto'));
      // The media process died and its successor connected: it knows no meeting. Each live
      // meeting's layout is set again, then every SIP leg re-attached (re-INVITE to the new port).
      let lost = false;
      media.on('disconnect', () => {
        lost = true;
      });
      media.on(
        'connect',
        guardListener('connect', () => {
          if (!lost) return;
          lost = false;
          for (const meeting of this.live.list()) if (meeting.layout !== 'auto') setLayout(meeting.number, meeting.layout);
          meetingCalls.mediaReturned();
        }),
      );
      this.live.on('left', (meeting, participant) => {
        if (meeting.pinned === participant.id) meeting.pinned = null;
      });
    }
    const ivrCalls = new IvrCalls({
      srf: this.srf,
      media: media?.media ?? mediaAbsent(),
      ...(media ? { mediaEvents: media as unknown as Pick<EventEmitter<MediaServiceEvents>, 'on'> } : {}),
      settings: options.settings,
      sessions: this.sessions,
      meetingCalls,
      ...(options.ivrTimeouts ? { timeouts: options.ivrTimeouts } : {}),
    });
    this.#ivrCalls = ivrCalls;
    // The INVITE policy as middleware, in order (./sip-middleware.ts): classify the dial once,
    // refuse a locked-out address and authenticate where an account is needed, then the one
    // handler of that dial; a request no layer takes is refused. Every layer runs inside the
    // guard: a throw or rejection answers that request with 500 and is logged; it never ends
    // the process (./request-guard.ts).
    // (srf's typings give `next` as a bare Function; it is called with an optional error.)
    const use = this.srf.use.bind(this.srf) as unknown as (method: string, layer: Middleware) => void;
    use('invite', guardMiddleware('invite dial', classifyInvite(() => dialContextOf(options.settings))));
    use('invite', guardMiddleware('invite policy', entryPolicy(this.sessions, (req, res) => calls.authenticate(req, res))));
    use('invite', guardMiddleware('ivr', forDial(['ivr'], ivrCalls.handle)));
    use('invite', guardMiddleware('meeting', forDial(['meeting', 'instant'], meetingCalls.handle)));
    use('invite', guardMiddleware('point-to-point', forDial(['account', 'invalid'], calls.handle)));
    use('*', guardMiddleware('undeclared', refuseUndeclared));
  }

  /** The meetings' floors (BFCP), when the application serves content. */
  get floors(): MeetingFloors | undefined {
    return this.#floors;
  }

  /**
   * Opens the BFCP listeners (when configured; a port that cannot be bound is logged and
   * content declined), then connects to the signaling service;
   * resolves once authenticated (srf retries by itself).
   */
  async start(timeoutMs = 15_000): Promise<void> {
    const bfcp = this.#options.bfcp;
    if (bfcp && !this.#floors && !this.#closed) {
      // Calls go on without content when a BFCP port cannot be bound (their content lines are declined).
      const settings = this.#options.settings;
      const floors = await MeetingFloors.start({ policy: () => settings.get('call.contentFloor') as FloorPolicy, ...bfcp }).catch((error: Error) => {
        log.error({ err: error.message, tcpPort: bfcp.tcpPort, udpPort: bfcp.udpPort, tlsPort: bfcp.tlsPort }, 'BFCP floor control could not listen; content sharing is off until the port is free and the control plane restarts');
        return undefined;
      });
      if (this.#closed) await floors?.close();
      else this.#floors = floors;
      // The floor's holder is the one whose content the media service forwards.
      const media = this.#options.media;
      // The live meeting says who presents since when (the console, the meeting record).
      floors?.on('presenter', (meeting, participantId) => {
        this.live.setPresenter(meeting, participantId);
        void media?.media.setPresenter(meeting, participantId).catch((error: Error) => log.warn({ meeting, participant: participantId, err: error.message }, 'could not tell the media service who presents'));
      });
    }
    return this.#connect(timeoutMs);
  }

  #connect(timeoutMs: number): Promise<void> {
    const { host, port, secret } = this.#options.signaling;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not reach the signaling service at ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
      this.srf.on('connect', (error: Error | undefined, hostport: string) => {
        if (error) {
          log.error({ err: error.message }, 'signaling service refused the application');
          return;
        }
        clearTimeout(timer);
        this.#connectedSince = new Date();
        log.info({ hostport }, 'SIP application connected to the signaling service');
        this.qualifier.start();
        // Calls that outlived a restart (this process's or the signaling service's) are taken over.
        void this.#takeover?.run().catch(() => undefined);
        resolve();
      });
      this.srf.on('error', (error: Error) => log.debug({ err: error.message }, 'signaling connection error'));
      // The link closes when the signaling service exits or the socket drops (srf then reconnects).
      // (srf re-emits its agent's 'close'; its typings list only the SIP verbs.)
      (this.srf as unknown as EventEmitter).on('close', () => {
        this.#connectedSince = null;
      });
      this.srf.connect({ host, port, secret, enablePing: true, pingInterval: 15_000 } as Srf.SrfConfig);
    });
  }

  /** When the authenticated connection to the signaling service came up; null while there is none. */
  get connectedSince(): Date | null {
    return this.#connectedSince;
  }

  /** Tells a registered terminal to check its provisioning server now (firmware "update now"). */
  checkSync(binding: Binding): Promise<RequestOutcome> {
    return sendCheckSync(this.srf, binding, this.#options.settings.get('network.localDomain'));
  }

  /** Invites a registered account into a live meeting (the console's "invite"). */
  dialOut(number: string, account: string): Promise<{ participantId: string }> {
    return this.#meetingCalls.dialOut(number, account);
  }

  /**
   * Stops the application (idempotent). By default — the whole appliance stops — every call
   * ends: BYE to each terminal saying so, each record closed. With `handOver` — the control
   * plane alone stops, server/process/stop-intent.ts — the meeting calls are left to the next
   * control plane as after a kill -9 (media leg, dialog kept by the signaling service as an
   * orphan, record open: ./meetings/call-takeover.ts takes them over), and only what it cannot
   * take over is ended now (point-to-point and IVR calls; browser peers, whose sockets close).
   * Waits up to STOP_BYE_WAIT_MS for the BYEs' answers, then lets go of the signaling service.
   */
  async close(options: { readonly handOver?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#connectedSince = null;
    const handedOver = options.handOver ? this.#meetingCalls.handOver() : 0;
    const reason = options.handOver ? NOT_KEPT_ON_RESTART : BOX_STOPPING;
    const ends = [options.handOver ? Promise.resolve() : this.#meetingCalls.close(BOX_STOPPING), this.#calls.close(reason), this.#ivrCalls.close(reason), this.sessions.close(reason)];
    if (handedOver > 0) log.info({ calls: handedOver }, 'meeting calls left to the next control plane');
    void this.#floors?.close();
    this.qualifier.close();
    this.#feed?.close();
    this.location.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(ends), new Promise((resolve) => (timer = setTimeout(resolve, STOP_BYE_WAIT_MS)))]);
    clearTimeout(timer);
    try {
      this.srf.disconnect();
    } catch {
      // No link now (the signaling service is down): srf's disconnect throws before marking its
      // connection closing, and its retry timer would keep the process alive reconnecting.
      const wire = (this.srf as unknown as { _app?: { client?: { wp?: { closing: boolean; reconnectVars?: { retryTimer?: NodeJS.Timeout | null } } } } })._app?.client?.wp;
      if (wire) {
        wire.closing = true;
        clearTimeout(wire.reconnectVars?.retryTimer ?? undefined);
      }
    }
  }
}

/** Stands in for the media client when the application runs without one: every call fails. */
function mediaAbsent(): MediaControl {
  const fail = async (): Promise<never> => {
    throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'this SIP application runs without a media service' });
  };
  return Object.fromEntries(MEDIA_METHODS.map((method) => [method, fail])) as unknown as MediaControl;
}
