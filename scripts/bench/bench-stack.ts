/**
 * What the meeting benchmarks share: percentiles, loopback UDP sockets, and the real stack on
 * loopback — signaling service, SIP application, media control socket and media service with
 * one mediasoup worker, over a fresh database in a temporary folder — with one VMR to dial.
 * `close()` takes it all down.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediaControlServer } from '../../media/control/media-control-server.ts';
import { MediaService, type MediaServiceOptions } from '../../media/media-service.ts';
import { WorkerPool } from '../../media/worker-pool/worker-pool.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { MediaClient } from '../../server/media-client/media-client.ts';
import { type Vmr, VmrStore } from '../../server/rooms/vmr-store.ts';
import type { LayoutChoice } from '../../media/mcu/layouts.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { SignalingService } from '../../server/signaling/signaling-service.ts';
import { SipApplication } from '../../server/sip-app/sip-application.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';

/** One request of a benchmark terminal's call over UDP (INVITE, ACK, BYE), as the text to send. */
export function benchRequest(call: {
  readonly method: string;
  readonly cseq: number;
  /** The Request-URI's user part (`number` or `number**PIN`) and where the box listens. */
  readonly target: string;
  /** The terminal's own address (host:port) and user name. */
  readonly local: string;
  readonly user: string;
  readonly fromTag: string;
  readonly number: string;
  readonly callId: string;
  readonly toTag?: string;
  readonly body?: string;
}): string {
  const body = call.body ?? '';
  return [
    `${call.method} sip:${call.target} SIP/2.0`,
    `Via: SIP/2.0/UDP ${call.local};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    `From: <sip:${call.user}@vcbox.local>;tag=${call.fromTag}`,
    `To: <sip:${call.number}@vcbox.local>${call.toTag ? `;tag=${call.toTag}` : ''}`,
    `Call-ID: ${call.callId}`,
    `CSeq: ${call.cseq} ${call.method}`,
    `Contact: <sip:${call.user}@${call.local}>`,
    'Max-Forwards: 70',
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function bindUdp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

/** A port free right now on UDP (and, as it happens, nearly always on TCP). */
export async function freeUdpPort(): Promise<number> {
  const socket = await bindUdp();
  const port = socket.address().port;
  socket.close();
  return port;
}

export interface BenchStack {
  readonly settings: SettingsStore;
  readonly vmr: Vmr;
  /** The box's SIP port (UDP) on 127.0.0.1. */
  readonly sipPort: number;
  /** The SIP application (with `bfcp`: its floors) and the media worker's process id. */
  readonly app: SipApplication;
  readonly workerPid: number;
  close(): Promise<void>;
}

/** The real stack with a VMR numbered `number` (host PIN 1234; `layout` for its composed picture). */
export async function startBenchStack(options: {
  tag: string;
  number: string;
  layout?: LayoutChoice;
  capacity?: number;
  media?: (settings: SettingsStore) => Partial<MediaServiceOptions>;
  /** BFCP floor control for content sharing, on free loopback ports (TCP, UDP). */
  bfcp?: boolean;
}): Promise<BenchStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `vcbox-bench-${options.tag}-`));
  const db = openDatabase(path.join(dir, 'vcbox.sqlite'));
  migrate(db);
  const settings = new SettingsStore(db);
  const vmr = new VmrStore(db).create({ name: 'Bench', number: options.number, hostPin: '1234', guestPin: '', capacity: options.capacity ?? 500, ...(options.layout ? { layout: options.layout } : {}) });
  const secret = randomBytes(16).toString('hex');
  const sipPort = await freeUdpPort();
  const signaling = new SignalingService({
    host: '127.0.0.1',
    port: sipPort,
    tlsPort: await freeUdpPort(),
    tls: await ensureCertificate(path.join(dir, 'certificates')),
    application: { host: '127.0.0.1', port: 0, secret },
  });
  await signaling.start();
  const pool = new WorkerPool({ size: 1 });
  await pool.start();
  const media = new MediaService({
    pool,
    network: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portRange: { min: 40000, max: 49999 } },
    ...options.media?.(settings),
  });
  const control = new MediaControlServer(media, path.join(dir, 'media.sock'));
  await control.listen();
  const client = new MediaClient(path.join(dir, 'media.sock'));
  await client.start(5000);
  const app = new SipApplication({
    signaling: { host: '127.0.0.1', port: signaling.applicationPort ?? 0, secret },
    db,
    settings,
    media: client,
    ...(options.bfcp ? { bfcp: { host: '127.0.0.1', tcpPort: 0, udpPort: 0 } } : {}),
  });
  await app.start();
  return {
    settings,
    vmr,
    sipPort,
    app,
    workerPid: pool.workers[0]?.pid ?? 0,
    async close() {
      app.close();
      client.close();
      control.close();
      media.close();
      pool.close();
      await signaling.close();
      db.close();
    },
  };
}
