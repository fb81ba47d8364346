/**
 * The control-plane API on a real loopback socket for a test file: a fresh data directory
 * (unless a state is given), the Fastify app listening on a free port, closed (with its
 * database) when the test file ends. The box is licensed (./test-license.ts) unless the test
 * brings its own licence or asks for an unlicensed box.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/core/config.ts';
import { type AppOptions, buildApp } from '../../server/control-plane/app.ts';
import { type AppState, openState } from '../../server/process/open-state.ts';
import { licenseTestBox } from './test-license.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A fresh appliance state (database migrated) in its own data directory. */
export function freshState(): AppState & { dataDir: string } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-api-'));
  return { ...openState(loadConfig({ VCBOX_DATA_DIR: dataDir })), dataDir };
}

/**
 * Starts the API on 127.0.0.1 and returns its base URL; `t.teardown` closes it (and the
 * database unless `keepDb`). Without `license` the box gets the suite's test licence
 * (./test-license.ts); `unlicensed: true` leaves a box without one as it is (tests of the
 * trial and of the wizard's licence step).
 */
export async function startConsoleApi(t: Teardown, options: AppOptions & { keepDb?: boolean; unlicensed?: boolean }): Promise<string> {
  const { unlicensed, ...appOptions } = options;
  const app = await buildApp(appOptions.license || unlicensed ? appOptions : { ...appOptions, license: licenseTestBox(appOptions.state.db) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    if (!options.keepDb) options.state.db.close();
  });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}
