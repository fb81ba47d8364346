/**
 * The settings API over the real control plane: every setting with value, rule and effect
 * (secrets hidden); changes validated with the spec's rules and cross-checks, all or nothing;
 * the answer says what applies now (and to what: listeners, new calls, running pictures), what
 * is only stored; operators
 * cannot change settings; changes are in the operation log.
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

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-settings-'));
const state = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
const initial = readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();
const base = await startConsoleApi(t, { state });
const admin = new ConsoleClient(base);
await admin.login('admin', initial);

t.test('read: value, rule, effect; secrets only as "(set)"', async (t) => {
  state.settings.update({ 'smtp.password': 'hunter22' }, { actor: 'test' });
  const { body } = await admin.call('GET', '/api/v1/settings');
  t.match(body['call.srtp'], { value: 'optional', rule: 'optional, required or off', effect: { applies: 'now' } });
  t.match(body['sip.port'], { value: 5060, effect: { applies: 'now', scope: 'listeners', note: /listener moves at once/ } });
  t.match(body['web.httpsEnabled'], { value: false, effect: { applies: 'now', scope: 'listeners' } });
  t.match(body['media.mcuPorts'], { effect: { applies: 'now', scope: 'new-calls', note: /calls that start from now on/ } });
  t.match(body['call.layout.equalSplitMax'], { effect: { applies: 'now' } });
  t.match(body['call.polling.intervalSeconds'], { effect: { applies: 'now' } });
  t.match(body['call.maxVideoResolution'], { effect: { applies: 'now', scope: 'running-pictures', note: /composed pictures in progress restart/ } });
  t.match(body['call.maxContentResolution'], { effect: { applies: 'now', scope: 'running-content', note: /presentation in progress is re-encoded/ } });
  t.equal(body['smtp.password'].value, '(set)', 'the SMTP password is not shown');
  t.notMatch(JSON.stringify(body), /hunter22/);
});

t.test('change: applied now or stored — and audited', async (t) => {
  const now = await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'required', 'call.ivrLanguage': 'en' });
  t.equal(now.status, 200);
  t.match(now.body, { appliedNow: ['call.srtp', 'call.ivrLanguage'], restartRequired: [], message: 'Saved.' });
  t.equal(state.settings.get('call.srtp'), 'required');
  const ports = await admin.call('PATCH', '/api/v1/settings', { 'sip.port': 5070, 'media.ivrPorts': { min: 31000, max: 32999 } });
  t.match(ports.body, { appliedNow: ['sip.port', 'media.ivrPorts'], restartRequired: [], message: 'Saved.' }, 'ports apply at once; no service restarts');
  t.notOk('live' in ports.body, 'an app without running services to move says nothing about them');
  const content = await admin.call('PATCH', '/api/v1/settings', { 'call.maxContentResolution': '720P/30' });
  t.match(content.body, { appliedNow: ['call.maxContentResolution'], storedOnly: [] }, 'the content cap applies at once (the media process follows it)');
  const unchanged = await admin.call('PATCH', '/api/v1/settings', { 'smtp.password': '(set)', 'call.srtp': 'required' });
  t.same(unchanged.body.changed, [], 'sending back what was shown changes nothing');
  const audit = state.db.prepare("SELECT detail FROM audit_log WHERE action = 'settings.update' ORDER BY id").all() as { detail: string }[];
  t.ok(audit.some((row) => row.detail.includes('sip.port')), 'the operation log has the change');
  await admin.call('PATCH', '/api/v1/settings', { 'smtp.password': 'new-secret-9' });
  const log = await admin.call('GET', '/api/v1/audit?period=all');
  t.notMatch(JSON.stringify(log.body), /new-secret-9|hunter22/, 'the operation log names a changed secret, never its value');
  t.match(JSON.stringify(log.body), /smtp\.password/);
});

t.test('invalid changes are refused whole, with the key and the rule', async (t) => {
  const before = state.settings.getAll();
  const bad = await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'always', 'call.ivrLanguage': 'zh-CN' });
  t.equal(bad.status, 400);
  t.match(bad.body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'call.srtp', message: /optional, required or off/ });
  const clash = await admin.call('PATCH', '/api/v1/settings', { 'sip.tlsPort': 5070 });
  t.equal(clash.status, 400, 'TLS port equal to the UDP/TCP port');
  const webClash = await admin.call('PATCH', '/api/v1/settings', { 'web.httpsEnabled': true, 'web.httpsPort': 80 });
  t.match(webClash.body, { key: 'web.httpsPort', message: /HTTPS port must differ from the HTTP port 80/ }, 'HTTPS on the HTTP port');
  const narrow = await admin.call('PATCH', '/api/v1/settings', { 'media.mcuPorts': { min: 50000, max: 50100 } });
  t.equal(narrow.status, 400, 'a media range under 1000 ports');
  const natWithoutIp = await admin.call('PATCH', '/api/v1/settings', { 'nat.enabled': true });
  t.match(natWithoutIp.body, { key: 'nat.publicIp', message: /public IP/ }, 'static NAT without its public IP');
  t.match((await admin.call('PATCH', '/api/v1/settings', { 'nat.publicIp': '300.1.2.3' })).body, { key: 'nat.publicIp' }, 'a public IP that is not an address');
  t.match((await admin.call('PATCH', '/api/v1/settings', { 'nat.localNetworks': '10.0.0.0/8,bogus' })).body, { key: 'nat.localNetworks', message: /IPv4 networks/ }, 'local networks that are not CIDRs');
  t.match((await admin.call('PATCH', '/api/v1/settings', { 'no.such': 1 })).body, { code: 'VCBOX_ERR_SETTING_UNKNOWN' });
  t.same(state.settings.getAll(), before, 'nothing was written');
});

t.test('operators read settings but cannot change them', async (t) => {
  await admin.call('POST', '/api/v1/admins', { username: 'watcher', password: 'watch-pw1', role: 'operator', email: 'w@example.com' });
  const operator = new ConsoleClient(base);
  t.equal((await operator.login('watcher', 'watch-pw1')).status, 200);
  t.equal((await operator.call('GET', '/api/v1/settings')).status, 200);
  t.match((await operator.call('PATCH', '/api/v1/settings', { 'call.srtp': 'off' })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
});
