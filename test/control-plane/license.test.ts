/**
 * The licence from the admin's side, over real HTTP against the console API: the box's own ID;
 * the 14-day trial once (a second try, a backup restore and a database reset do not give
 * another); activation of a licence signed with the project's TEST key; refusals in words (en,
 * zh) of garbage, a tampered licence, one signed by another key, another box's, an expired and
 * a revoked one — each with nothing changed; and, once the licence has expired (the store's
 * clock is the test's), no new accounts: neither created nor imported from Excel.
 */
import { generateKeyPairSync, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import XLSX from 'xlsx';
import { HEADER } from '../../server/accounts/account-spreadsheet.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { boxIdFromMachineId } from '../../server/license/box-identity.ts';
import { issueLicense, type LicensePayload } from '../../server/license/license-format.ts';
import { openLicense } from '../../server/license/open-license.ts';
import { openState } from '../../server/process/open-state.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const TEST_KEY = path.join(PROJECT_ROOT, 'test/fixtures/license/test-private.pem');
const TEST_PUBLIC = path.join(PROJECT_ROOT, 'test/fixtures/license/test-public.pem');
const testKey = createPrivateKey(readFileSync(TEST_KEY, 'utf8'));

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-license-'));
const machineIdFile = path.join(dataDir, 'machine-id');
const machineId = randomBytes(16).toString('hex');
writeFileSync(machineIdFile, `${machineId}\n`);
const identityDir = path.join(dataDir, 'identity');
const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
const state = openState(config);
await new AdminStore(state.db).ensureInitialAdmin(path.join(dataDir, 'secrets'));
// The licence's time is the test's: a day in March 2027, moved forward by the tests.
let now = new Date('2027-03-01T10:00:00.000Z');
const clock = () => now;
const license = openLicense({ db: state.db, identityDir, testPublicKeyFile: TEST_PUBLIC, machineIdFile, clock });
const backupStore = new BackupStore(state.db, { backups: path.join(dataDir, 'backups'), certificates: path.join(dataDir, 'certificates'), prompts: path.join(dataDir, 'prompts') });
const restorer = new BackupRestorer({ db: state.db, settings: state.settings, store: backupStore, maxUploadBytes: config.backup.maxUploadBytes });
const base = await startConsoleApi(t, { state, license, backups: { store: backupStore, restorer } });
const admin = new ConsoleClient(base);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
const boxId = boxIdFromMachineId(machineId);

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
const DAY = 86_400_000;
function licenseFor(overrides: Partial<LicensePayload> = {}, key = testKey): string {
  return issueLicense(
    { v: 1, serial: 'VCB-TEST-0001', boxId, ports: 3, validFrom: iso(new Date(now.getTime() - DAY)), validUntil: iso(new Date(now.getTime() + 30 * DAY)), issuedAt: iso(now), ...overrides },
    key,
  );
}
const activations = () => (state.db.prepare('SELECT count(*) AS n FROM license_activations').get() as { n: number }).n;
const audited = (action: string) => state.db.prepare('SELECT detail FROM audit_log WHERE action = ? ORDER BY id').all(action) as { detail: string }[];

t.test('a fresh box: unlicensed (restricted), with its box ID derived from the machine id', async (t) => {
  const { status, body } = await admin.call('GET', '/api/v1/license');
  t.equal(status, 200);
  t.match(body, { status: 'unlicensed', boxId, serial: null, trial: { used: false }, allows: { accounts: false, video: false, ports: 16 } }, 'restricted like an expired trial: no accounts, audio only');
  t.match(boxId, /^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
  t.equal(readFileSync(path.join(identityDir, 'box-id'), 'utf8').trim(), boxId, 'kept in the identity folder');
  const openapi = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { paths: Record<string, { post?: unknown }> };
  t.ok(openapi.paths['/api/v1/license/activate']?.post, 'the OpenAPI document has the licence routes');
});

t.test('licences that cannot be used are refused in words, and nothing changes', async (t) => {
  const refuse = async (text: string, status: number, code: string, message: RegExp, language = 'en') => {
    const before = await admin.call('GET', '/api/v1/license');
    const response = await fetch(`${base}/api/v1/license/activate`, {
      method: 'POST',
      headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/json', 'accept-language': language },
      body: JSON.stringify({ license: text }),
    });
    const body = (await response.json()) as { code: string; message: string };
    t.equal(response.status, status, `${code}: ${body.message}`);
    t.equal(body.code, code);
    t.match(body.message, message);
    t.same((await admin.call('GET', '/api/v1/license')).body, before.body, 'the licence is unchanged');
    t.equal(activations(), 0, 'nothing activated');
  };
  await refuse('hello, this is my serial 1234', 400, 'VCBOX_ERR_LICENSE_MALFORMED', /not a vcbox licence.*BEGIN VCBOX LICENSE.*Nothing was changed/);
  await refuse('hello', 400, 'VCBOX_ERR_LICENSE_MALFORMED', /不是有效的 vcbox 授权/, 'zh-CN');
  const good = licenseFor();
  await refuse(good.replace(/-----END VCBOX LICENSE-----/, ''), 400, 'VCBOX_ERR_LICENSE_MALFORMED', /were not found/);

  // Tampered: the payload says 300 ports, the signature was made over 3.
  const [payload, signature] = (good.split('-----BEGIN VCBOX LICENSE-----\n')[1] ?? '').split('\n-----END')[0]?.replace(/\n/g, '').split('.') ?? [];
  const changed = Buffer.from(Buffer.from(payload ?? '', 'base64url').toString('utf8').replace('"ports":3', '"ports":300')).toString('base64url');
  await refuse(`-----BEGIN VCBOX LICENSE-----\n${changed}.${signature}\n-----END VCBOX LICENSE-----\n`, 422, 'VCBOX_ERR_LICENSE_TAMPERED', /signature does not match its content/);
  await refuse(`-----BEGIN VCBOX LICENSE-----\n${changed}.${signature}\n-----END VCBOX LICENSE-----\n`, 422, 'VCBOX_ERR_LICENSE_TAMPERED', /签名与内容不符/, 'zh');
  // Signed by a key the box does not trust (anyone's own key).
  await refuse(licenseFor({}, generateKeyPairSync('ed25519').privateKey), 422, 'VCBOX_ERR_LICENSE_TAMPERED', /not issued by the vendor/);
  await refuse(licenseFor({ boxId: 'AAAA-BBBB-CCCC-DDDD' }), 422, 'VCBOX_ERR_LICENSE_OTHER_BOX', new RegExp(`issued for the box AAAA-BBBB-CCCC-DDDD, not for this box \\(${boxId}\\)`));
  await refuse(
    licenseFor({ validFrom: iso(new Date(now.getTime() - 40 * DAY)), validUntil: iso(new Date(now.getTime() - DAY)) }),
    422,
    'VCBOX_ERR_LICENSE_EXPIRED',
    /expired on .*renewal/,
  );
  await refuse(licenseFor({ serial: 'VCB-TEST-REVOKED' }), 422, 'VCBOX_ERR_LICENSE_REVOKED', /revoked by the vendor/);
  t.ok(audited('license.activate.refused').length >= 8, 'refused activations are in the operation log');

  const noCsrf = await admin.call('POST', '/api/v1/license/activate', { license: good }, { csrf: false });
  t.equal(noCsrf.status, 403, 'a change without the CSRF header is refused');
  t.equal((await new ConsoleClient(base).call('POST', '/api/v1/license/trial')).status, 401, 'without a session: 401');
});

t.test('the 14-day trial: once per box, whatever happens to the database', async (t) => {
  const started = await admin.call('POST', '/api/v1/license/trial');
  t.equal(started.status, 200);
  t.match(started.body, { status: 'trial', type: 'trial', ports: 16, validUntil: new Date(now.getTime() + 14 * DAY).toISOString(), daysLeft: 14, trial: { used: true } });
  t.equal(audited('license.trial').length, 1, 'audited');
  const again = await admin.call('POST', '/api/v1/license/trial');
  t.equal(again.status, 409);
  t.match(again.body, { code: 'VCBOX_ERR_LICENSE_TRIAL_USED', message: /already been used.*once per box/ });

  // A backup made during the trial and restored: the licence tables stay the box's own.
  const backup = await admin.call('POST', '/api/v1/backups', { passphrase: 'license test passphrase' });
  t.equal(backup.status, 201);
  t.equal((await admin.call('POST', `/api/v1/backups/${backup.body.name}/restore`, { passphrase: 'license test passphrase' })).status, 200, 'restored');
  t.equal((await admin.call('GET', '/api/v1/license')).body.status, 'trial', 'still the trial after a restore');
  t.equal((await admin.call('POST', '/api/v1/license/trial')).status, 409, 'no second trial after a restore');

  // A reset database (factory reset) beside the same identity folder: still used.
  const resetDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-license-reset-'));
  const resetDb = openDatabase(path.join(resetDir, 'vcbox.sqlite'));
  migrate(resetDb);
  t.teardown(() => resetDb.close());
  const reset = openLicense({ db: resetDb, identityDir, testPublicKeyFile: TEST_PUBLIC, machineIdFile, clock });
  t.match(reset.store.facts(), { status: 'trial', trial: { used: true } }, 'the marker beside the database keeps the trial');
  t.throws(() => reset.store.startTrial({ actor: 'test' }), { code: 'VCBOX_ERR_LICENSE_TRIAL_USED' });
  // The marker file gone but the database kept: still used, and the file is written back.
  rmSync(path.join(identityDir, 'trial.json'));
  const again2 = openLicense({ db: resetDb, identityDir, testPublicKeyFile: TEST_PUBLIC, machineIdFile, clock });
  t.throws(() => again2.store.startTrial({ actor: 'test' }), { code: 'VCBOX_ERR_LICENSE_TRIAL_USED' });
  t.ok(readFileSync(path.join(identityDir, 'trial.json'), 'utf8').includes(boxId), 'the marker file is back');
});

t.test('a valid licence activates: status, serial, ports and validity', async (t) => {
  const text = licenseFor();
  const { status, body } = await admin.call('POST', '/api/v1/license/activate', { license: text });
  t.equal(status, 200, JSON.stringify(body));
  t.match(body, { status: 'active', type: 'term', serial: 'VCB-TEST-0001', boxId, ports: 3, daysLeft: 30, testKey: true, allows: { accounts: true, video: true, ports: 3 } });
  t.equal(activations(), 1);
  t.match(JSON.parse(audited('license.activate')[0]?.detail ?? '{}'), { serial: 'VCB-TEST-0001', ports: 3, key: 'test' });
  t.equal((await admin.call('POST', '/api/v1/license/trial')).body.code, 'VCBOX_ERR_LICENSE_TRIAL_USED');
  t.equal((await admin.call('POST', '/api/v1/accounts', { number: '1001', name: 'Anna', password: 'secret1' })).status, 201, 'accounts can be created');
});

t.test('after expiry: no new accounts, created or imported, with the reason', async (t) => {
  now = new Date(now.getTime() + 31 * DAY);
  const facts = (await admin.call('GET', '/api/v1/license')).body;
  t.match(facts, { status: 'expired', serial: 'VCB-TEST-0001', daysLeft: 0, allows: { accounts: false, video: false } });

  const refused = await admin.call('POST', '/api/v1/accounts', { number: '1002', name: 'Ben', password: 'secret2' });
  t.equal(refused.status, 403);
  t.match(refused.body, { code: 'VCBOX_ERR_LICENSE_ACCOUNTS', message: /New accounts cannot be created: the box's licence is expired \(licence VCB-TEST-0001 expired on .*\)\. Activate a valid licence/ });
  const zh = await fetch(`${base}/api/v1/accounts`, {
    method: 'POST',
    headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/json', 'accept-language': 'zh-CN' },
    body: JSON.stringify({ number: '1002', name: 'Ben', password: 'secret2' }),
  });
  t.match(await zh.json(), { message: /无法创建新账号：设备授权状态为已过期/ });

  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet([[...HEADER], ['Anna Renamed', '1001', '', ''], ['Carl', '1003', '', 'secret3']]), 'Accounts');
  const response = await fetch(`${base}/api/v1/accounts/import`, {
    method: 'POST',
    headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/vnd.ms-excel' },
    body: XLSX.write(book, { type: 'buffer', bookType: 'biff8' }) as Buffer,
  });
  const imported = (await response.json()) as { created: number; updated: number; failed: { number: string; reason: string }[] };
  t.equal(response.status, 200);
  t.match(imported, { created: 0, updated: 1 }, 'the existing account is updated');
  t.match(imported.failed, [{ number: '1003', reason: /New accounts cannot be created.*expired/ }], 'the new row fails with the reason');
  t.equal((await admin.call('GET', '/api/v1/accounts/1003')).status, 404);

  // A renewal makes the box active again.
  const renewed = await admin.call('POST', '/api/v1/license/activate', { license: licenseFor({ serial: 'VCB-TEST-0002', ports: 5, validUntil: null }) });
  t.match(renewed.body, { status: 'active', type: 'perpetual', serial: 'VCB-TEST-0002', ports: 5, validUntil: null });
  t.equal((await admin.call('POST', '/api/v1/accounts', { number: '1002', name: 'Ben', password: 'secret2' })).status, 201);
});
