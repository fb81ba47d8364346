/**
 * Entry point of the media process (systemd unit vcbox-media, or a child of the dev
 * supervisor): starts the mediasoup worker pool. Meetings, the mixer and IVR media attach to
 * it in later issues.
 */
import { loadConfig } from '../server/config/config.ts';
import { initLogging } from '../server/logging/logger.ts';
import { runService } from '../server/process/service-lifecycle.ts';
import { WorkerPool } from './worker-pool/worker-pool.ts';

await runService('media', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'mcu', { process: 'media' });
  const pool = new WorkerPool({ size: config.media.workers });
  await pool.start();
  return pool;
});
