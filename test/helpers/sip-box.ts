/**
 * A signaling service and the SIP application connected to it, in the test's own process, on
 * free ports with a fresh database: the SIP side of the box as the tests talk to it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { SignalingService } from '../../server/signaling/signaling-service.ts';
import { SipApplication, type SipApplicationOptions } from '../../server/sip-app/sip-application.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { freePort } from './ports.ts';

export interface SipBox {
  readonly service: SignalingService;
  readonly app: SipApplication;
  readonly settings: SettingsStore;
  readonly db: ReturnType<typeof openDatabase>;
  readonly port: number;
  readonly tlsPort: number;
  readonly cert: Buffer;
  readonly realm: string;
  close(): Promise<void>;
}

export async function startSipBox(options: { registrar?: SipApplicationOptions['registrar']; terminalLogDir?: string } = {}): Promise<SipBox> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sip-'));
  const db = openDatabase(path.join(dir, 'vcbox.sqlite'));
  migrate(db);
  const settings = new SettingsStore(db);
  const certificate = await ensureCertificate(path.join(dir, 'certificates'));
  const port = await freePort();
  const tlsPort = await freePort();
  const secret = randomBytes(16).toString('hex');
  const service = new SignalingService({
    host: '127.0.0.1',
    port,
    tlsPort,
    tls: certificate,
    application: { host: '127.0.0.1', port: 0, secret },
    ...(options.terminalLogDir ? { terminalLogDir: options.terminalLogDir } : {}),
  });
  await service.start();
  const app = new SipApplication({
    signaling: { host: '127.0.0.1', port: service.applicationPort ?? 0, secret },
    db,
    settings,
    ...(options.registrar ? { registrar: options.registrar } : {}),
  });
  await app.start();
  return {
    service,
    app,
    settings,
    db,
    port,
    tlsPort,
    cert: certificate.cert,
    realm: settings.get('network.localDomain'),
    async close() {
      app.close();
      await service.close();
      db.close();
    },
  };
}
