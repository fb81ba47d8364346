/**
 * A signaling service and the SIP application connected to it, in the test's own process, on
 * free ports with a fresh database: the SIP side of the box as the tests talk to it. With
 * `takeover`, the application can be restarted as the control plane is (`restartApplication`:
 * the old one hands its meeting calls over, a new one takes them over).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import type { License } from '../../server/license/open-license.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { MediaControlServer } from '../../media/control/media-control-server.ts';
import { videoPolicyFrom } from '../../media/mcu/video-policy.ts';
import { contentPolicyFrom } from '../../media/meetings/content-policy.ts';
import { staticNatFrom } from '../../server/core/static-nat.ts';
import { MediaService } from '../../media/media-service.ts';
import { WorkerPool } from '../../media/worker-pool/worker-pool.ts';
import { MediaClient } from '../../server/media-client/media-client.ts';
import { SignalingService, type SignalingServiceOptions } from '../../server/signaling/signaling-service.ts';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { type DigestAlgorithm, nonceKey } from '../../server/sip-app/registrar/digest-auth.ts';
import { FastRegistrar } from '../../server/signaling/registrar/fast-registrar.ts';
import { RegistrarCache, type RegistrarFeed } from '../../server/signaling/registrar/registrar-cache.ts';
import { checkRegistrarFeed } from '../../server/signaling/signaling-control.ts';
import { SipApplication, type SipApplicationOptions } from '../../server/sip-app/sip-application.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import type { EventEmitter } from 'node:events';
import type { AppOptions } from '../../server/control-plane/app.ts';
import type { MediaServiceEvents } from '../../media/media-service.ts';
import { waitFor } from './meeting-terminal.ts';
import { freePort } from './ports.ts';
import { licenseTestBox } from './test-license.ts';

export interface SipBox {
  readonly service: SignalingService;
  /** The signaling service's fast registrar (absent with `fastRegistrar: false`). */
  readonly fastRegistrar?: FastRegistrar;
  readonly app: SipApplication;
  readonly settings: SettingsStore;
  readonly db: ReturnType<typeof openDatabase>;
  readonly port: number;
  readonly tlsPort: number;
  readonly cert: Buffer;
  readonly realm: string;
  /** With `media`: the media service (in this process) and the control plane's client of it. */
  readonly media?: MediaService;
  readonly mediaClient?: MediaClient | undefined;
  readonly pool?: WorkerPool;
  /** With `media`: the media end of the control socket (a test may close it) and the socket's path. */
  readonly control?: MediaControlServer;
  readonly mediaSocket?: string;
  /** The licence the box enforces: the test's, or the suite's test licence (./test-license.ts). */
  readonly license: License;
  /**
   * With `takeover`: the SIP application stops as a control plane stopping alone does (its
   * meeting calls handed over), and a new one (with a new media client) connects and takes them
   * over, as a restarted control plane does; `app` is the new one from then on. Resolves once
   * it is connected (the take-over runs on).
   */
  restartApplication(): Promise<SipApplication>;
  close(): Promise<void>;
}

export interface SipBoxOptions {
  registrar?: SipApplicationOptions['registrar'];
  terminalLogDir?: string;
  /** Terminal logs follow the box's `terminalLogs.enabled` setting (as the signaling process does) instead of being always on. */
  terminalLogsFromSetting?: boolean;
  /** Run the media service too (one mediasoup worker), reached over its control socket. */
  /** `contentKeyFrameSeconds`: the periodic key-frame interval of transcoded content instead of the policy's (a test that tells requested key frames from periodic ones makes it long). */
  media?: { rtpTimeoutMs?: number; workers?: number; legsPerWorker?: number; contentKeyFrameSeconds?: number };
  /** Session-timer minimum for this box (RFC 4028's 90 s by default). */
  minSessionSeconds?: number;
  /** Qualify timing for this box. */
  qualify?: { intervalMs: number; timeoutMs: number };
  /** Listen for SIP and media on this address (default 127.0.0.1; 0.0.0.0 for a namespace test). */
  listen?: string;
  /** The box's licence, opened over its database and folder (default: the suite's test licence, ./test-license.ts). */
  license?: (db: ReturnType<typeof openDatabase>, dir: string) => License;
  /** TCP/TLS limits of the signaling service (tests shorten its timeouts). */
  streamLimits?: SignalingServiceOptions['streamLimits'];
  /** Wrong meeting-ID and PIN lock-out rules (a test shortens them; default: the box's). */
  entryLockout?: SipApplicationOptions['entryLockout'];
  /** When the signaling service answers new requests 503 itself (a test lowers the bounds). */
  overload?: { inFlight?: number; queueDelayMs?: number; loopLagMs?: number };
  /** BFCP floor control for content sharing: listeners on free loopback ports (TCP, UDP, TLS with the box's certificate). */
  bfcp?: boolean;
  /**
   * The signaling service's fast registrar, fed by the application as in the box (the feed's
   * lines checked and copied as the control channel would); default on, as in the box.
   */
  fastRegistrar?: boolean;
  /** The application takes calls over after a restart (`restartApplication`), through the signaling service's orphans. */
  takeover?: boolean;
}

export async function startSipBox(options: SipBoxOptions = {}): Promise<SipBox> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sip-'));
  const db = openDatabase(path.join(dir, 'vcbox.sqlite'));
  migrate(db);
  const settings = new SettingsStore(db);
  const license = options.license ? options.license(db, dir) : licenseTestBox(db, path.join(dir, 'identity'));
  const certificate = await ensureCertificate(path.join(dir, 'certificates'));
  const port = await freePort();
  const tlsPort = await freePort();
  const secret = randomBytes(16).toString('hex');
  const accounts = new AccountStore(db);
  const fastRegistrar =
    options.fastRegistrar === false
      ? undefined
      : new FastRegistrar({ cache: new RegistrarCache(), nonceKey: nonceKey(secret),
          realm: () => settings.get('network.localDomain'),
          algorithms: () => settings.get('sip.digestAlgorithms').split(',') as DigestAlgorithm[],
          credentials: (account, realm) => accounts.ha1(account, realm) });
  const service = new SignalingService({
    ...(fastRegistrar ? { fastRegistrar } : {}),
    host: options.listen ?? '127.0.0.1',
    port,
    tlsPort,
    tls: certificate,
    application: { host: '127.0.0.1', port: 0, secret },
    ...(options.terminalLogDir ? { terminalLogDir: options.terminalLogDir } : {}),
    ...(options.terminalLogsFromSetting ? { terminalLogsEnabled: () => settings.get('terminalLogs.enabled') } : {}),
    nat: () => staticNatFrom(settings.getAll()),
    ...(options.streamLimits ? { streamLimits: options.streamLimits } : {}),
    ...(options.overload?.inFlight === undefined ? {} : { overloadLimit: options.overload.inFlight }),
    ...(options.overload?.queueDelayMs === undefined ? {} : { overloadQueueDelayMs: options.overload.queueDelayMs }),
    // The loop-lag bound sheds new requests when this process runs 100 ms late; on a loaded test
    // machine (two boxes side by side on two cores) that refuses a test's REGISTER with 503.
    // Boxes of tests that are not about overload get a bound of 2 s; the overload tests set theirs.
    overloadLoopLagMs: options.overload?.loopLagMs ?? TEST_LOOP_LAG_MS,
  });
  await service.start();
  let pool: WorkerPool | undefined;
  let media: MediaService | undefined;
  let control: MediaControlServer | undefined;
  let mediaClient: MediaClient | undefined;
  let socketPath: string | undefined;
  if (options.media) {
    pool = new WorkerPool({ size: options.media.workers ?? 1 });
    const keyFrameSeconds = options.media.contentKeyFrameSeconds;
    await pool.start();
    media = new MediaService({
      pool,
      network: { listenIp: options.listen ?? '127.0.0.1', announcedAddress: options.listen && options.listen !== '0.0.0.0' ? options.listen : '127.0.0.1', portRange: { min: 40000, max: 49999 } },
      ...(options.media.rtpTimeoutMs ? { rtpTimeoutMs: options.media.rtpTimeoutMs } : {}),
      ...(options.media.legsPerWorker ? { legsPerWorker: options.media.legsPerWorker } : {}),
      videoPolicy: () => videoPolicyFrom(settings.getAll()),
      contentPolicy: () => {
        const policy = contentPolicyFrom(settings.getAll());
        return keyFrameSeconds === undefined ? policy : { ...policy, keyFrameSeconds };
      },
      nat: () => staticNatFrom(settings.getAll()),
    });
    // As media/main.ts does on `configure`: a presentation in progress follows a new content cap.
    const followed = media;
    settings.observer.on('changed', (keys) => {
      if (keys.includes('call.maxContentResolution') || keys.includes('call.maxBandwidth')) followed.contentPolicyChanged();
    });
    socketPath = path.join(dir, 'run', 'media.sock');
    control = new MediaControlServer(media, socketPath);
    await control.listen();
    mediaClient = new MediaClient(socketPath);
    await mediaClient.start(5000);
  }
  // The signaling control channel's calls, made in this process.
  const signalingControl = {
    orphans: async () => service.orphans(),
    adopt: async (ids: readonly string[]) => service.adopt(ids),
    release: async (id: string, reason: string) => service.release(id, reason),
  };
  const makeApp = () => new SipApplication({
    ...(mediaClient ? { media: mediaClient } : {}),
    ...(options.takeover ? { signalingControl, leftOpenReason: 'left open by the test application' } : {}),
    ...(options.minSessionSeconds ? { minSessionSeconds: options.minSessionSeconds } : {}),
    // Qualify is off unless a test asks for it: sipp terminals would not expect the OPTIONS.
    qualify: options.qualify ?? { intervalMs: 0, timeoutMs: 1000 },
    signaling: { host: '127.0.0.1', port: service.applicationPort ?? 0, secret },
    ...(fastRegistrar
      ? { registrarFeed: { registrar: async (feed: RegistrarFeed) => fastRegistrar.cache.feed(checkRegistrarFeed(JSON.parse(JSON.stringify(feed)))) } }
      : {}),
    db,
    settings,
    ...(options.registrar ? { registrar: options.registrar } : {}),
    license: license.policy,
    ...(options.entryLockout ? { entryLockout: options.entryLockout } : {}),
    ...(options.bfcp ? { bfcp: { host: options.listen ?? '127.0.0.1', tcpPort: 0, udpPort: 0, tlsPort: 0, credentials: certificate } } : {}),
  });
  let app = makeApp();
  await app.start();
  return {
    service,
    ...(fastRegistrar ? { fastRegistrar } : {}),
    get app() {
      return app;
    },
    settings,
    db,
    port,
    tlsPort,
    cert: certificate.cert,
    realm: settings.get('network.localDomain'),
    ...(media ? { media } : {}),
    // A getter: a restart of the application gives it a new media client.
    get mediaClient() {
      return mediaClient;
    },
    ...(pool ? { pool } : {}),
    ...(control ? { control } : {}),
    ...(socketPath ? { mediaSocket: socketPath } : {}),
    license,
    async restartApplication() {
      if (!options.takeover) throw new Error('startSipBox: restartApplication needs { takeover: true }');
      await app.close({ handOver: true });
      await waitFor('the signaling service to see the application go', 10_000, () => service.stats().applications === 0);
      if (socketPath) {
        mediaClient?.close();
        mediaClient = new MediaClient(socketPath);
        await mediaClient.start(5000);
      }
      app = makeApp();
      await app.start();
      return app;
    },
    async close() {
      await app.close();
      mediaClient?.close();
      control?.close();
      media?.close();
      pool?.close();
      await service.close();
      db.close();
    },
  };
}

/**
 * The console API's options for a box's meetings: its database and settings, its licence, live meetings,
 * participant sessions and media (with the media service's events, as the control plane has them), the
 * database left open for the box. Spread into startConsoleApi's options and add what a test needs.
 */
export function boxConsoleOptions(box: SipBox): Pick<AppOptions, 'state' | 'live' | 'sessions' | 'media' | 'mediaEvents' | 'license' | 'floors'> & { keepDb: true } {
  return {
    state: { db: box.db, settings: box.settings },
    license: box.license,
    live: box.app.live,
    sessions: box.app.sessions,
    floors: () => box.app.floors,
    ...(box.mediaClient ? { media: box.mediaClient.media, mediaEvents: box.mediaClient as unknown as EventEmitter<MediaServiceEvents> } : {}),
    keepDb: true,
  };
}

/**
 * The box hangs up the one participant of meeting `number` as soon as it is in the live meeting.
 * A terminal's 200 OK arrives before the box enters it (the entry follows the ACK), so a test
 * that hangs up right after `joinMeeting` must wait for the entry first.
 */
export async function hangUpFirstParticipant(box: SipBox, number: string, reason = 'test over'): Promise<void> {
  const participant = await waitFor(`a participant in meeting ${number}`, 10_000, () => box.app.live.get(number)?.participants.values().next().value);
  participant.hangUp(reason);
}

/**
 * The id of the participant named `displayName` in meeting `number`, once it is listed there: a
 * terminal's 200 OK arrives before the box enters it (the entry follows the ACK), so a test that
 * reads the id right after a join must wait for the entry.
 */
export function participantIdOf(box: SipBox, number: string, displayName: string): Promise<string> {
  return waitFor(`${displayName} listed in meeting ${number}`, 10_000, () => [...(box.app.live.get(number)?.participants.values() ?? [])].find((p) => p.displayName === displayName)?.id);
}

/** The loop-lag bound of a test box that does not set its own (the product's default is 100 ms). */
const TEST_LOOP_LAG_MS = 2000;

/** The box hangs up everyone in meeting `number` (BYE to each terminal), as the console's "remove" does. */
export function hangUpEveryone(box: SipBox, number: string): void {
  for (const participant of box.app.live.get(number)?.participants.values() ?? []) participant.hangUp('test over');
}
