/**
 * The first-start wizard over the real API: steps saved or skipped, progress remembered, the
 * admin's password and e-mail set, settings applied, and "quick setup" starting it again.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-wizard-'));
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
const initial = readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();
const base = await startConsoleApi(t, { state });

t.test('a new admin walks the wizard: save, skip, back, done; quick setup runs it again', async (t) => {
  const client = new ConsoleClient(base);
  t.match((await client.login('admin', initial)).body, { mustChangePassword: true });
  t.match((await client.call('GET', '/api/v1/setup')).body, { completed: false, current: 'network', steps: [{ id: 'network', status: 'pending' }] });

  t.match((await client.call('PUT', '/api/v1/setup/network', { localDomain: 'bad domain!' })).body, { code: 'VCBOX_ERR_VALIDATION', field: 'localDomain' });
  t.match((await client.call('PUT', '/api/v1/setup/network', { localDomain: 'meet.example.com' })).body, { current: 'time' });
  t.match((await client.call('POST', '/api/v1/setup/time/skip')).body, { current: 'admin' });
  t.match((await client.call('PUT', '/api/v1/setup/admin', { newPassword: 'fresh-pw1', confirmPassword: 'other', email: 'it@example.com' })).body, { code: 'VCBOX_ERR_PASSWORD_CHANGE' });
  t.match((await client.call('PUT', '/api/v1/setup/admin', { newPassword: 'fresh-pw1', confirmPassword: 'fresh-pw1', email: 'it@example.com', improvementProgramme: false })).body, { current: 'license' });
  t.match((await client.call('POST', '/api/v1/setup/license/skip')).body, { current: 'smtp' });
  // Back to a skipped step: saving it later counts.
  t.match((await client.call('PUT', '/api/v1/setup/time', { mode: 'sntp', sntpServer: 'ntp.example.com', zone: 'UTC+01:00', dst: 'auto' })).body, { current: 'smtp' });
  const done = await client.call('PUT', '/api/v1/setup/smtp', { server: 'mail.example.com', port: 587, security: 'tls', user: 'box', password: 'mail-pw', sender: 'box@example.com' });
  t.match(done.body, { completed: true, current: null });
  t.same(done.body.steps.map((s: { status: string }) => s.status), ['done', 'done', 'done', 'skipped', 'done']);

  const settings = state.settings.getAll();
  t.equal(settings['network.localDomain'], 'meet.example.com');
  t.equal(settings['time.zone'], 'UTC+01:00');
  t.equal(settings['time.dst'], 'auto');
  t.equal(settings['smtp.security'], 'tls');
  t.equal(settings['system.improvementProgramme'], false);
  t.equal((await new ConsoleClient(base).login('admin', 'fresh-pw1')).status, 200, 'the new admin password works');
  t.match((await client.call('GET', '/api/v1/session')).body, { email: 'it@example.com', mustChangePassword: false });

  const again = await client.call('POST', '/api/v1/setup/restart');
  t.match(again.body, { completed: false, current: 'network' });
  t.equal(state.settings.get('network.localDomain'), 'meet.example.com', 'quick setup keeps what was set');
});
