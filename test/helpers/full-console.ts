/**
 * The control plane with every optional part switched on, on a real loopback socket: the SIP
 * side with the media service (join page and live meetings), backups, maintenance (upgrade,
 * factory reset, reboot — requests only, nothing here runs them), terminal firmware and
 * provisioning, IVR prompts, the console's files. For tests that must reach every route the box
 * can have (the attack suite's route-table and fuzz passes). Closed when the test file ends.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { buildApp } from '../../server/control-plane/app.ts';
import { FirmwareRollout } from '../../server/firmware/firmware-rollout.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { openMaintenance } from '../../server/maintenance/open-maintenance.ts';
import { PROJECT_ROOT } from './appliance.ts';
import { boxConsoleOptions, type SipBox, startSipBox } from './sip-box.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface FullConsole {
  readonly app: FastifyInstance;
  readonly box: SipBox;
  readonly base: string;
  readonly port: number;
  readonly admins: AdminStore;
  readonly dataDir: string;
}

export async function startFullConsole(t: Teardown): Promise<FullConsole> {
  const box = await startSipBox({ media: {} });
  t.teardown(() => box.close());
  const { db, settings } = box;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-full-console-'));
  const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
  const paths = dataPaths(config);
  const admins = new AdminStore(db);
  const store = new BackupStore(db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts });
  const restorer = new BackupRestorer({ db, settings, store, maxUploadBytes: 1024 * 1024 });
  const firmware = new FirmwareStore(db, { dir: paths.firmware, settings, maxUploadBytes: 1024 * 1024 });
  const rollout = new FirmwareRollout({ db, store: firmware, location: box.app.location, checkSync: (binding) => box.app.checkSync(binding) });
  t.teardown(() => rollout.close());
  const maintenance = openMaintenance({ config, db, settings, admins, backups: store });
  t.teardown(() => maintenance.close());
  const app = await buildApp({
    ...boxConsoleOptions(box),
    online: () => box.app.location.online(),
    backups: { store, restorer },
    firmware: { store: firmware, rollout, lockout: box.app.lockout },
    maintenance,
    promptDir: paths.prompts,
    webRoot: path.join(PROJECT_ROOT, 'web'),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, box, base: `http://127.0.0.1:${port}`, port, admins, dataDir };
}
