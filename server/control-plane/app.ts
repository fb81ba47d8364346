/**
 * The control plane's HTTP application (Fastify): the versioned JSON API under /api/v1 and
 * the web console's static files from web/. Built by `buildApp` so tests can start it on any
 * port; the process entry point is ./main.ts. Errors reach callers as
 * `{ code, message, field? }` from the one error table (server/core/errors.ts).
 */
import { PromptStore } from '../ivr/prompt-store.ts';
import { OperationLog } from '../audit/operation-log.ts';
import { CallRecords } from '../cdr/call-records.ts';
import type { EventEmitter } from 'node:events';
import fastifyWebsocket from '@fastify/websocket';
import type { MediaServiceEvents } from '../../media/media-service.ts';
import type { ParticipantSessions } from '../meetings/participant-sessions/participant-sessions.ts';
import type { MediaControl } from '../../media/control/media-control-protocol.ts';
import { LiveMeetings } from '../meetings/live-meetings.ts';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { PROJECT_ROOT } from '../core/config.ts';
import { VcboxError, createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { AppState } from '../process/open-state.ts';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import { AccountStore } from '../accounts/account-store.ts';
import { AdminStore } from '../admin/admin-store.ts';
import { PasswordResets } from '../admin/password-reset.ts';
import { SessionStore } from '../admin/session-store.ts';
import type { RemoteSyslog } from '../logging/remote-syslog.ts';
import { Mailer } from '../mail/mailer.ts';
import { MeetingStore } from '../meetings/meeting-store.ts';
import { RoomStore } from '../rooms/room-store.ts';
import { VmrStore } from '../rooms/vmr-store.ts';
import { SystemConfigurator } from '../system/system-configurator.ts';
import { type License, openLicense } from '../license/open-license.ts';
import { BUILD_INFO } from '../core/version.ts';
import { SESSION_COOKIE, registerAuth } from './auth.ts';
import { tagByArea } from './route-areas.ts';
import { accountRoutes } from './routes/accounts.ts';
import { adminRoutes } from './routes/admins.ts';
import { auditRoutes } from './routes/audit.ts';
import { backupRoutes } from './routes/backups.ts';
import type { BackupRestorer } from '../backup/backup-restore.ts';
import type { BackupScheduler } from '../backup/backup-scheduler.ts';
import type { BackupStore } from '../backup/backup-store.ts';
import { callRecordRoutes } from './routes/call-records.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { statisticsRoutes } from './routes/statistics.ts';
import { ServiceHealth } from '../observability/service-health.ts';
import type { TurnAccess } from '../turn/turn-config.ts';
import type { SystemSampler } from '../observability/system-sampler.ts';
import { healthRoutes } from './routes/health.ts';
import { schemaVersion } from '../db/migrations.ts';
import { meetingRoutes } from './routes/meetings.ts';
import { ivrPromptRoutes } from './routes/ivr-prompts.ts';
import { certificateNames } from './join-socket/join-origin.ts';
import { joinRoutes } from './routes/join.ts';
import { licenseRoutes } from './routes/license.ts';
import { systemInfoRoutes } from './routes/system-info.ts';
import { settingRoutes } from './routes/settings.ts';
import { systemRoutes } from './routes/system.ts';
import type { Maintenance } from '../maintenance/open-maintenance.ts';
import { DiskParts } from '../disk/disk-parts.ts';
import { DiskSpaceGuard, isDiskFull } from '../disk/disk-space-guard.ts';
import type { DiskKeeper } from '../disk/disk-keeper.ts';
import { diskRoutes } from './routes/disk.ts';
import { logRoutes } from './routes/logs.ts';
import { liveMeetingRoutes } from './routes/live-meetings.ts';
import type { MeetingFloors } from '../bfcp/meeting-floors.ts';
import { type OnlineLookup, onlineUserRoutes, type ReachabilityLookup } from './routes/online-users.ts';
import { type DeviceLookup, roomRoutes } from './routes/rooms.ts';
import { sessionRoutes } from './routes/session.ts';
import { setupWizardRoutes } from './routes/setup-wizard.ts';
import { certificateRoutes } from './routes/certificate.ts';
import { metricsRoutes, metricsTokenRoutes } from './routes/metrics.ts';
import { HttpCounters } from '../observability/box-metrics.ts';
import { MetricsTokenStore } from '../observability/metrics-token.ts';
import type { SignalingControlClient } from '../signaling/signaling-control.ts';
import type { WebListeners } from './web-listeners.ts';
import type { FirmwareRollout } from '../firmware/firmware-rollout.ts';
import type { FirmwareStore } from '../firmware/firmware-store.ts';
import { ProvisioningAuth } from '../firmware/provisioning-auth.ts';
import type { DigestAlgorithm } from '../sip-app/registrar/digest-auth.ts';
import { AuthLockout } from '../sip-app/registrar/auth-lockout.ts';
import { firmwareRoutes } from './routes/firmware.ts';
import { PROVISIONING_PREFIX, provisioningRoutes } from './routes/provisioning.ts';

const log = getLogger('control-plane');

export const API_PREFIX = '/api/v1';
/** How long a browser keeps to HTTPS after an HTTPS answer (one year). */
export const HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600;

/** Requests that change nothing (the disk-space guard lets them through). */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AppOptions {
  readonly state: AppState;
  /** The guard that refuses changes while the data disk is full (default: over the database's folder, 32 MiB kept free). */
  readonly diskGuard?: DiskSpaceGuard;
  /** The registered terminal of an account (model, version), for the rooms list. */
  readonly devices?: DeviceLookup;
  /** Accounts with registered terminals (the SIP application's location service). */
  readonly online?: OnlineLookup;
  /** Whether a registered contact answers the qualify OPTIONS. */
  readonly reachability?: ReachabilityLookup;
  /** Meetings with people in them (the SIP application's registry). */
  readonly live?: LiveMeetings;
  /** The media service (participant statistics, mute, browser legs) and its events. */
  readonly media?: MediaControl;
  readonly mediaEvents?: EventEmitter<MediaServiceEvents>;
  /** The one way into a meeting (the SIP application's participant sessions); enables the browser join page. */
  readonly sessions?: ParticipantSessions;
  /** The TURN relay browsers are offered (server/turn/), read at every join. */
  readonly turn?: () => TurnAccess | undefined;
  /** Where the TURN relay answers STUN now (undefined while off): its status in /metrics. */
  readonly turnProbe?: () => { readonly host: string; readonly port: number } | undefined;
  /** Invites a registered account into a live meeting (the SIP application's dial-out). */
  readonly dialOut?: (number: string, account: string) => Promise<{ participantId: string }>;
  /** The meetings' content floors (the SIP application's BFCP floor control, once listening): who presents, the console's chair actions. */
  readonly floors?: () => MeetingFloors | undefined;
  /** Where uploaded IVR prompts are kept (`<dataDir>/prompts`); enables the prompt routes. */
  readonly promptDir?: string;
  /** This process's remote syslog (its status is shown under /settings/syslog/status). */
  readonly syslog?: RemoteSyslog;
  /** Backups (`<dataDir>/backups`), restore and the automatic schedule; enables the backup routes. */
  readonly backups?: { readonly store: BackupStore; readonly restorer: BackupRestorer; readonly scheduler?: BackupScheduler };
  /**
   * Renders the operating system's settings (NICs, routes, SSH, time) to its files and applies
   * them on an installed appliance; by default one without a system root, which writes nothing.
   */
  readonly system?: SystemConfigurator;
  /** System samples for the dashboard (started by the caller, which also closes it). */
  readonly sampler?: SystemSampler;
  /** Service status for the dashboard; without it only the control plane is known. */
  readonly health?: ServiceHealth;
  /**
   * The box's licence (server/license/open-license.ts). Absent: opened here with the identity
   * folder beside the database and the vendor key only.
   */
  readonly license?: License;
  /** System upgrade, factory reset and reboot (server/maintenance/open-maintenance.ts); enables the /system routes. */
  readonly maintenance?: Pick<Maintenance, 'upgrade' | 'reset' | 'dispatch'>;
  /**
   * Terminal firmware (`<dataDir>/firmware`) and its rollout to registered terminals; enables the
   * firmware routes and the terminals' provisioning URL (/provisioning/). `lockout`: the SIP
   * application's, so wrong passwords over HTTP and SIP lock an address out together.
   */
  readonly firmware?: { readonly store: FirmwareStore; readonly rollout: FirmwareRollout; readonly lockout?: AuthLockout };
  /**
   * The disk's parts (usage, quotas, clean now) with the log files, and the quota and alert
   * check; by default parts over the data directory beside the database, logs in its `logs/`.
   */
  readonly disk?: { readonly parts: DiskParts; readonly keeper?: DiskKeeper };
  /** Folder served as the console; defaults to the project's web/. */
  readonly webRoot?: string;
  /**
   * The HTTP/HTTPS listeners serving this app (control-plane/main.ts): settings changes move
   * them, a certificate import reloads them, HTTP browser pages go to HTTPS while it is on.
   * Absent (tests listening by themselves): none of that.
   */
  readonly web?: WebListeners;
  /** The signaling service's control channel: settings applied at once, its counters for /metrics. */
  readonly signaling?: SignalingControlClient;
  /** The box's certificate folder; defaults to `certificates` beside the database. */
  readonly certificates?: string;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    // Unknown fields are an error the caller should hear about, not something dropped quietly.
    // verbose: a refused value's own schema comes with the error, so its `description` (the
    // rule in words) can be the message instead of ajv's "must match pattern …".
    ajv: { customOptions: { removeAdditional: false, allErrors: false, verbose: true } },
  });

  const httpCounters = new HttpCounters();
  app.addHook('onResponse', async (request, reply) => {
    httpCounters.record(reply.statusCode);
    log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  // A full data disk: changes are refused in words before they run (and a write that still
  // meets a full disk is answered the same way), while reads and calls go on.
  const diskGuard = options.diskGuard ?? new DiskSpaceGuard({ dir: path.dirname(options.state.db.name) });
  const sendError = (error: VcboxError, request: FastifyRequest, reply: FastifyReply) => {
    const language = request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en';
    return reply.status(error.statusCode).send({ code: error.code, message: error.localized(language), ...error.params });
  };
  app.setErrorHandler(async (error: unknown, request, reply) => {
    if (error instanceof VcboxError) return sendError(error, request, reply);
    if (isDiskFull(error)) {
      log.error({ err: error, url: request.url }, 'a change met a full disk');
      return sendError(await diskGuard.refusal(), request, reply);
    }
    const fastifyError = error as {
      statusCode?: number;
      code?: string;
      message?: string;
      validation?: { instancePath?: string; keyword?: string; params?: { missingProperty?: string; additionalProperty?: string }; message?: string; parentSchema?: { description?: string } }[];
      validationContext?: string;
    };
    const first = fastifyError.validation?.[0];
    if (first) {
      const field =
        first.params?.missingProperty ?? first.params?.additionalProperty ?? (first.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') ?? fastifyError.validationContext ?? 'request';
      // A value that breaks its own rule is told the rule (the schema's description) when it has one.
      const rule = first.keyword !== 'required' && first.keyword !== 'additionalProperties' ? first.parentSchema?.description : undefined;
      const invalid = createError('VCBOX_ERR_VALIDATION', { field: field || fastifyError.validationContext || 'request', reason: rule ? `must be ${rule}` : (first.message ?? 'invalid') });
      const language = request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en';
      return reply.status(400).send({ code: invalid.code, message: invalid.localized(language), field: invalid.params.field });
    }
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      return reply.status(fastifyError.statusCode).send({ code: fastifyError.code ?? 'VCBOX_ERR_REQUEST', message: fastifyError.message });
    }
    log.error({ err: error, url: request.url }, 'request failed');
    return reply.status(500).send({ code: 'VCBOX_ERR_INTERNAL', message: 'Internal error; the server log has the details.' });
  });

  app.setNotFoundHandler((request, reply) => {
    const error = createError('VCBOX_ERR_NOT_FOUND', { method: request.method, url: request.url });
    return reply.status(404).send({ code: error.code, message: error.message });
  });

  const { db, settings } = options.state;
  const admins = new AdminStore(db);
  const sessions = new SessionStore(db);
  const accounts = new AccountStore(db);
  const mailer = new Mailer(settings);
  const system = options.system ?? new SystemConfigurator({ appliance: false });
  const license = options.license ?? openLicense({ db, identityDir: path.join(path.dirname(db.name), 'identity') });
  const disk = options.disk?.parts ?? new DiskParts({ dataDir: path.dirname(db.name), logDir: path.join(path.dirname(db.name), 'logs'), ...(options.backups ? { backups: options.backups.store } : {}), ...(options.firmware ? { firmware: options.firmware.store } : {}) });
  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'vcbox control plane API', version: BUILD_INFO.version },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
      security: [{ session: [] }],
    },
  });
  registerAuth(app, { admins, sessions });
  app.addHook('preHandler', async (request) => {
    if (request.is404 || READ_METHODS.has(request.method) || request.routeOptions.config.freesSpace === true) return;
    await diskGuard.check();
  });
  // Each route's area as its OpenAPI tag (the chapters of docs/api-reference.md).
  app.addHook('onRoute', tagByArea);
  // HSTS while HTTPS is on: a browser that reached the box over HTTPS does not fall back to
  // plain HTTP (where a LAN attacker could read the session cookie). Sent on HTTPS answers
  // only, as RFC 6797 asks; browsers ignore it from a certificate they do not trust.
  app.addHook('onSend', async (request, reply) => {
    if (request.protocol === 'https' && settings.get('web.httpsEnabled')) reply.header('strict-transport-security', `max-age=${HSTS_MAX_AGE_SECONDS}`);
  });
  // "HTTPS preferred when both": browser pages opened over HTTP go to HTTPS while it is on.
  const web = options.web;
  if (web) {
    app.addHook('onRequest', async (request, reply) => {
      const target = web.httpsRedirect(request, settings.getAll());
      if (target) return reply.redirect(target, 308);
    });
  }
  const certificates = options.certificates ?? path.join(path.dirname(db.name), 'certificates');
  // One live-meeting registry for every route that reads it (the SIP application's, when given).
  const live = options.live ?? new LiveMeetings();
  const metricsTokens = new MetricsTokenStore(db);
  await app.register(
    async (api) => {
      await api.register(healthRoutes, { schemaVersion: () => schemaVersion(options.state.db) });
      await api.register(sessionRoutes, { db, admins, sessions, resets: new PasswordResets(db), mailer, settings });
      await api.register(adminRoutes, { db, admins });
      await api.register(accountRoutes, { db, accounts, settings, mailer, license: license.policy });
      await api.register(licenseRoutes, { db, store: license.store });
      await api.register(auditRoutes, { operations: new OperationLog(db) });
      await api.register(callRecordRoutes, { records: new CallRecords(db) });
      await api.register(statisticsRoutes, { db });
      await api.register(setupWizardRoutes, { db, settings, admins, system, license: license.store });
      await api.register(liveMeetingRoutes, {
        db,
        live,
        ...(options.media ? { media: options.media } : {}),
        ...(options.dialOut ? { dialOut: options.dialOut } : {}),
        ...(options.floors ? { floors: options.floors } : {}),
      });
      if (options.sessions && options.media) {
        await api.register(joinRoutes, {
          sessions: options.sessions,
          media: options.media,
          ...(options.mediaEvents ? { mediaEvents: options.mediaEvents } : {}),
          ...(options.turn ? { turn: options.turn } : {}),
          settings: () => settings.getAll(),
          settingsObserver: settings.observer,
          certificateNames: certificateNames(certificates),
        });
      }
      if (options.promptDir) await api.register(ivrPromptRoutes, { db, prompts: new PromptStore(options.promptDir) });
      await api.register(settingRoutes, {
        settings,
        db,
        mailer,
        system,
        disk,
        ...(options.syslog ? { syslog: options.syslog } : {}),
        live: {
          ...(options.web ? { web: options.web } : {}),
          ...(options.signaling ? { signaling: options.signaling } : {}),
          ...(options.media ? { media: options.media } : {}),
        },
      });
      await api.register(certificateRoutes, { db, settings, certificates, ...(options.web ? { web: options.web } : {}), ...(options.signaling ? { signaling: options.signaling } : {}) });
      await api.register(metricsTokenRoutes, { db, tokens: metricsTokens });
      await api.register(diskRoutes, { db, settings, parts: disk, ...(options.disk?.keeper ? { keeper: options.disk.keeper } : {}) });
      await api.register(logRoutes, { db, settings, systemLogs: disk.systemLogs, terminalLogs: disk.terminalLogs, online: options.online ?? (() => []) });
      if (options.backups) await api.register(backupRoutes, { db, settings, ...options.backups });
      if (options.maintenance) await api.register(systemRoutes, { db, ...options.maintenance });
      await api.register(dashboardRoutes, {
        settings,
        live,
        online: options.online ?? (() => []),
        health: options.health ?? new ServiceHealth({}),
        ...(options.sampler ? { sampler: options.sampler } : {}),
        license: () => license.store.facts(),
        ...(options.floors ? { floors: options.floors } : {}),
      });
      await api.register(systemInfoRoutes, { settings, ...(options.sampler ? { sampler: options.sampler } : {}) });
      await api.register(onlineUserRoutes, { accounts, online: options.online ?? (() => []), ...(options.reachability ? { reachability: options.reachability } : {}) });
      await api.register(meetingRoutes, { db, meetings: new MeetingStore(db, settings), accounts, settings, mailer });
      await api.register(roomRoutes, { db, rooms: new RoomStore(db), vmrs: new VmrStore(db, settings), devices: options.devices ?? (() => undefined) });
      if (options.firmware) await api.register(firmwareRoutes, { store: options.firmware.store, rollout: options.firmware.rollout, accounts, online: options.online ?? (() => []) });
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true, summary: 'This API described as an OpenAPI 3 document' } }, async () => app.swagger());
    },
    { prefix: API_PREFIX },
  );
  await app.register(metricsRoutes, {
    tokens: metricsTokens,
    sources: {
      online: options.online ?? (() => []),
      live,
      http: httpCounters,
      ...(options.media ? { media: options.media } : {}),
      ...(options.signaling ? { signaling: options.signaling } : {}),
      ...(options.turnProbe ? { turn: options.turnProbe } : {}),
    },
  });
  if (options.firmware) {
    const online = options.online ?? (() => []);
    const auth = new ProvisioningAuth({
      accounts,
      realm: () => settings.get('network.localDomain'),
      algorithms: () => settings.get('sip.digestAlgorithms').split(',') as DigestAlgorithm[],
      lockout: options.firmware.lockout ?? new AuthLockout(db),
    });
    await app.register(provisioningRoutes, {
      prefix: PROVISIONING_PREFIX,
      store: options.firmware.store,
      rollout: options.firmware.rollout,
      auth,
      bindings: (account) => online().find((user) => user.account === account)?.bindings ?? [],
    });
  }
  // The console's and the join page's files (HTML, scripts, styles): public, the pages ask for a
  // login or a meeting PIN themselves. Marked here because the static plugin takes no route config.
  await app.register(async (files) => {
    files.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
      route.schema = { ...route.schema, summary: "The console's and the join page's files (HTML, scripts, styles)" };
    });
    await files.register(fastifyStatic, { root: options.webRoot ?? path.join(PROJECT_ROOT, 'web'), index: 'index.html' });
  });
  return app;
}
