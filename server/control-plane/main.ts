/**
 * Entry point of the control plane process (systemd unit vcbox-control, or a child of the dev
 * supervisor): opens the database (migrating it), then serves the API and the console.
 */
import { loadConfig } from '../config/config.ts';
import { createError } from '../errors.ts';
import { getLogger, initLogging } from '../logging/logger.ts';
import { openState } from '../process/open-state.ts';
import { runService } from '../process/service-lifecycle.ts';
import { buildApp } from './app.ts';

await runService('control plane', async () => {
  const config = loadConfig(process.env);
  initLogging(config, 'web', { process: 'control-plane' });
  const state = openState(config);
  const app = await buildApp({ state });
  try {
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    state.db.close();
    throw createError(
      'VCBOX_ERR_LISTEN',
      { transport: 'HTTP', address: config.http.host, port: config.http.port, reason: (error as Error).message },
      error,
    );
  }
  getLogger('control-plane').info({ url: `http://${config.http.host}:${config.http.port}/` }, 'console listening');
  return {
    async close() {
      await app.close();
      state.db.close();
    },
  };
});
