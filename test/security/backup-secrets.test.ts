/**
 * Finding 7, operators read secrets: a backup is the whole database (SIP HA1 values,
 * administrator password hashes, the SMTP password) and the TLS private key. Attacked over the
 * real control plane on loopback:
 *  - an operator may see the list, but not download, make, restore or upload a backup;
 *  - a backup an administrator downloads holds nothing readable — not even after gunzip (what
 *    anyone would try on the old .tar.gz): no SMTP password, no HA1, no "PRIVATE KEY"; and the
 *    database inside, once decrypted with the passphrase, still carries the SMTP password sealed;
 *  - it restores only with its passphrase: without one, with a wrong one, with one byte flipped,
 *    with two frames swapped, cut short or extended — refused in words, the box unchanged;
 *  - the database file on disk never holds the SMTP password in clear (set through the API, or
 *    left in clear by an older version and sealed by migration 19);
 *  - restored onto another box (another box key), the secrets work there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { decryptFile, openWithPassphrase, readEncryptedHeader } from '../../server/backup/backup-encryption.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { type Db, openDatabase } from '../../server/db/database.ts';
import { MIGRATIONS, migrate } from '../../server/db/migrations.ts';
import { openState } from '../../server/process/open-state.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const SMTP_PASSWORD = 'smtp-Secret-9c41e7';
const PASSPHRASE = 'correct horse battery staple';

/** A box: its data directory, state, backup store and console API, with an administrator logged in. */
async function startBox(name: string) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `vcbox-sec-backup-${name}-`));
  const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
  const paths = dataPaths(config);
  const state = openState(config);
  await new AdminStore(state.db).ensureInitialAdmin(paths.secrets);
  await ensureCertificate(paths.certificates);
  const store = new BackupStore(state.db, { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts, secrets: paths.secrets });
  const restorer = new BackupRestorer({ db: state.db, settings: state.settings, store, maxUploadBytes: config.backup.maxUploadBytes });
  const base = await startConsoleApi(t, { state, backups: { store, restorer } });
  const admin = new ConsoleClient(base);
  await admin.login('admin', readFileSync(path.join(paths.secrets, 'initial-admin-password'), 'utf8').trim());
  return { dataDir, paths, state, store, base, admin };
}

const box = await startBox('a');
const { admin, base, state } = box;

/** Every row of every table a backup carries, hashed (what "the box unchanged" means). */
function dataHash(db: Db = state.db): string {
  const hash = createHash('sha256');
  const tables = (db.prepare('PRAGMA main.table_list').all() as { name: string; type: string }[])
    .filter((row) => row.type === 'table' && !row.name.startsWith('sqlite_') && !['audit_log', 'admin_sessions', 'password_resets'].includes(row.name))
    .map((row) => row.name)
    .sort();
  for (const table of tables) hash.update(`${table}\n${(db.prepare(`SELECT * FROM "${table}"`).all() as unknown[]).map((row) => JSON.stringify(row)).sort().join('\n')}\n`);
  return hash.digest('hex');
}

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
async function upload(base: string, client: ConsoleClient, bytes: Buffer, passphrase?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/api/v1/backups/restore`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', cookie: client.cookie, 'x-csrf-token': client.csrfToken, ...(passphrase === undefined ? {} : { 'x-backup-passphrase': encodeURIComponent(passphrase) }) },
    body: bytes,
  });
  return { status: response.status, body: await response.json() };
}

async function download(client: ConsoleClient, name: string): Promise<{ status: number; bytes: Buffer }> {
  const response = await fetch(`${base}/api/v1/backups/${name}/download`, { headers: { cookie: client.cookie } });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The bytes anyone holding the file can read: the file, and what gunzip makes of it if it can. */
function readableForms(bytes: Buffer): Buffer[] {
  try {
    return [bytes, gunzipSync(bytes)];
  } catch {
    return [bytes];
  }
}

// The box's secrets: the SMTP password, an account's HA1, the TLS key; and a prompt of random
// bytes, so that the archive spans several encrypted frames.
let ha1 = '';
t.before(async () => {
  const set = await admin.call('PATCH', '/api/v1/settings', { 'smtp.server': '127.0.0.1', 'smtp.user': 'mailer', 'smtp.password': SMTP_PASSWORD });
  const account = await admin.call('POST', '/api/v1/accounts', { number: '1001', name: 'Alice', password: 'sip-secret-1' });
  if (set.status !== 200 || account.status !== 201) throw new Error(`setting up the box failed: ${JSON.stringify([set.body, account.body])}`);
  ha1 = (state.db.prepare("SELECT ha1_md5 FROM accounts WHERE number = '1001'").pluck().get() as string).toLowerCase();
  mkdirSync(path.join(box.paths.prompts, 'en'), { recursive: true });
  writeFileSync(path.join(box.paths.prompts, 'en', 'welcome.pcm'), randomBytes(300_000));
  if (!readFileSync(path.join(box.paths.certificates, 'server.key'), 'utf8').includes('PRIVATE KEY')) throw new Error('the box has no TLS private key to protect');
});

t.test('the database file never holds the SMTP password in clear', async (t) => {
  state.db.pragma('wal_checkpoint(PASSIVE)');
  for (const file of readdirSync(box.dataDir).filter((name) => name.startsWith('vcbox.sqlite'))) {
    t.notOk(readFileSync(path.join(box.dataDir, file)).includes(SMTP_PASSWORD), `${file} does not hold the password`);
  }
  t.equal(state.settings.get('smtp.password'), SMTP_PASSWORD, 'the box itself reads it (unsealed with its key)');
  t.equal(statSync(path.join(box.paths.secrets, 'box-key.secret')).mode & 0o777, 0o600, 'the box key is readable by the service user only');
  t.equal(statSync(box.paths.secrets).mode & 0o777, 0o700, 'in a folder only the service user enters');
  t.match(JSON.parse(state.db.prepare("SELECT value FROM settings WHERE key = 'smtp.password'").pluck().get() as string), /^vcbox-sealed:box:v1:/, 'stored sealed');
  t.equal((await admin.call('GET', '/api/v1/settings')).body['smtp.password'].value, '(set)', 'the API shows only that it is set');

  // A database an older version left with the password in clear: migration 19 seals it.
  const oldDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sec-old-'));
  const oldDb = openDatabase(path.join(oldDir, 'vcbox.sqlite'));
  migrate(oldDb, MIGRATIONS.filter((m) => m.version <= 15));
  oldDb.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('smtp.password', ?, 'x')").run(JSON.stringify(SMTP_PASSWORD));
  oldDb.close();
  t.ok(readFileSync(path.join(oldDir, 'vcbox.sqlite')).includes(SMTP_PASSWORD), 'the old file holds it in clear (the starting point)');
  const upgraded = openState(loadConfig({ VCBOX_DATA_DIR: oldDir }));
  t.equal(upgraded.settings.get('smtp.password'), SMTP_PASSWORD, 'after the upgrade the box still has its password');
  upgraded.db.close();
  for (const file of readdirSync(oldDir).filter((name) => name.startsWith('vcbox.sqlite'))) {
    t.notOk(readFileSync(path.join(oldDir, file)).includes(SMTP_PASSWORD), `${file} no longer holds it in clear`);
  }
});

let backupName = '';

t.test('an operator sees the list, but cannot download, make or restore a backup', async (t) => {
  const made = await admin.call('POST', '/api/v1/backups', { passphrase: PASSPHRASE });
  t.equal(made.status, 201, JSON.stringify(made.body));
  backupName = made.body.name;
  t.equal((await admin.call('POST', '/api/v1/admins', { username: 'watcher', password: 'watch-pw1', role: 'operator', email: 'w@example.com' })).status, 201);
  const operator = new ConsoleClient(base);
  t.equal((await operator.login('watcher', 'watch-pw1')).status, 200);
  t.match((await operator.call('GET', '/api/v1/backups')).body.backups, [{ name: backupName, encrypted: true }], 'the list: names, sizes, dates only');
  const fetched = await download(operator, backupName);
  t.equal(fetched.status, 403, 'download refused');
  t.match(JSON.parse(fetched.bytes.toString()), { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await operator.call('POST', '/api/v1/backups', { passphrase: PASSPHRASE })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await operator.call('POST', `/api/v1/backups/${backupName}/restore`, { passphrase: PASSPHRASE })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await upload(base, operator, Buffer.from('x'), PASSPHRASE)).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.equal((await download(new ConsoleClient(base), backupName)).status, 401, 'no session, no file');
});

t.test('a downloaded backup holds no readable secret; the passphrase opens it, the secrets inside stay sealed', async (t) => {
  const { status, bytes } = await download(admin, backupName);
  t.equal(status, 200);
  for (const form of readableForms(bytes)) {
    t.notOk(form.includes(SMTP_PASSWORD), 'no SMTP password');
    t.notOk(form.toString('latin1').toLowerCase().includes(ha1), 'no HA1');
    t.notOk(form.includes('PRIVATE KEY'), 'no private key');
    t.notOk(form.includes('scrypt$'), 'no administrator password hash');
  }
  // With the passphrase (the box's own reader): the archive is there, the SMTP password sealed in it.
  const file = path.join(box.dataDir, 'downloaded.vcbackup');
  writeFileSync(file, bytes);
  const header = await readEncryptedHeader(file);
  t.ok(header, 'an encrypted vcbox backup');
  const keys = await openWithPassphrase(header as NonNullable<typeof header>, PASSPHRASE);
  const chunks: Buffer[] = [];
  for await (const chunk of decryptFile(file, header as NonNullable<typeof header>, keys)) chunks.push(chunk);
  const inner = gunzipSync(Buffer.concat(chunks));
  t.ok(inner.includes('PRIVATE KEY') && inner.toString('latin1').toLowerCase().includes(ha1), 'decrypted, it is the whole backup');
  t.notOk(inner.includes(SMTP_PASSWORD), 'the SMTP password inside is sealed with the passphrase\'s key');
});

t.test('it restores only with its passphrase; damaged files are refused and the box is unchanged', async (t) => {
  const { bytes: good } = await download(admin, backupName);
  t.equal((await admin.call('POST', '/api/v1/accounts', { number: '2001', name: 'After the backup', password: 'sip-secret-2' })).status, 201);
  const before = dataHash();

  const headerEnd = 12 + good.readUInt32BE(8) + 32;
  const frameLength = (at: number) => 5 + good.readUInt32BE(at + 1) + 16;
  const first = frameLength(headerEnd);
  const second = frameLength(headerEnd + first);
  t.ok(first === second && headerEnd + first + second < good.length, 'the file has more than two frames');
  const flipped = Buffer.from(good);
  const inFirstFrame = headerEnd + 5 + 100; // inside frame 0's ciphertext
  flipped[inFirstFrame] = (flipped[inFirstFrame] as number) ^ 0x01;
  const swapped = Buffer.concat([good.subarray(0, headerEnd), good.subarray(headerEnd + first, headerEnd + first + second), good.subarray(headerEnd, headerEnd + first), good.subarray(headerEnd + first + second)]);
  const headerEdited = Buffer.from(good.toString('latin1').replace(`"name":"${backupName}"`, `"name":"${backupName.replace('Backup', 'Bkp-Up')}"`), 'latin1');
  t.not(headerEdited.toString('latin1'), good.toString('latin1'), 'the header edit landed');

  const cases: [string, Buffer, string | undefined, number, string, RegExp][] = [
    ['no passphrase', good, undefined, 400, 'VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', /passphrase it was made with/],
    ['a wrong passphrase', good, 'not the passphrase', 422, 'VCBOX_ERR_BACKUP_PASSPHRASE', /^The passphrase does not open this backup/],
    ['one byte flipped', flipped, PASSPHRASE, 422, 'VCBOX_ERR_BACKUP_INVALID', /frame 0 does not authenticate/],
    ['two frames swapped', swapped, PASSPHRASE, 422, 'VCBOX_ERR_BACKUP_INVALID', /frame 0 does not authenticate/],
    ['cut after a frame', good.subarray(0, headerEnd + first), PASSPHRASE, 422, 'VCBOX_ERR_BACKUP_INVALID', /ends too early/],
    ['cut in the middle', good.subarray(0, Math.floor(good.length * 0.6)), PASSPHRASE, 422, 'VCBOX_ERR_BACKUP_INVALID', /ends too early/],
    ['bytes appended', Buffer.concat([good, Buffer.from('more')]), PASSPHRASE, 422, 'VCBOX_ERR_BACKUP_INVALID', /data follows its last frame/],
    ['its header edited', headerEdited, PASSPHRASE, 422, 'VCBOX_ERR_BACKUP_PASSPHRASE', /or the file's header was changed/],
  ];
  for (const [what, bytes, passphrase, status, code, message] of cases) {
    const answer = await upload(base, admin, bytes, passphrase);
    t.equal(answer.status, status, what);
    t.match(answer.body, { code, message }, `${what}: ${answer.body.message}`);
    t.match(answer.body.message, /Nothing was changed|passphrase/, what);
    t.equal(dataHash(), before, `${what}: the box is unchanged`);
  }
  t.match((await admin.call('POST', `/api/v1/backups/${backupName}/restore`, { passphrase: 'wrong passphrase' })).body, { code: 'VCBOX_ERR_BACKUP_PASSPHRASE' }, 'from the list too');
  t.equal(dataHash(), before);
  t.match((await admin.call('POST', '/api/v1/backups', { passphrase: 'short' })).body, { code: 'VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', field: 'passphrase', message: /8 to 256 characters/ }, 'a backup needs a real passphrase');
  t.match((await admin.call('POST', '/api/v1/backups')).body, { code: 'VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED' }, 'and cannot be made without one');

  const restored = await upload(base, admin, good, PASSPHRASE);
  t.equal(restored.status, 200, JSON.stringify(restored.body));
  t.notOk(state.db.prepare("SELECT 1 FROM accounts WHERE number = '2001'").get(), 'the right passphrase restores the backup');
  t.equal(state.settings.get('smtp.password'), SMTP_PASSWORD, 'with its SMTP password, sealed again with this box key');
});

t.test('restored onto another box, the secrets work there (re-sealed with its own key)', async (t) => {
  const { bytes } = await download(admin, backupName);
  const other = await startBox('b');
  const answer = await upload(other.base, other.admin, bytes, PASSPHRASE);
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  t.not(readFileSync(path.join(other.paths.secrets, 'box-key.secret'), 'utf8'), readFileSync(path.join(box.paths.secrets, 'box-key.secret'), 'utf8'), 'the boxes have different keys');
  t.equal(other.state.settings.get('smtp.password'), SMTP_PASSWORD, 'the other box can present the SMTP password');
  t.match(JSON.parse(other.state.db.prepare("SELECT value FROM settings WHERE key = 'smtp.password'").pluck().get() as string), /^vcbox-sealed:box:v1:/);
  t.notOk(readdirSync(path.join(other.paths.backups)).some((name) => name.startsWith('.')), 'no staging left behind');
});
