/**
 * Backups over the real control plane, as an administrator sees them: a backup made now is
 * listed and downloadable (encrypted with its passphrase); after the data changed, restoring it brings back exactly the data
 * (row counts and a content hash of every table) and the files (certificate, prompts), keeps the
 * operation log and the restorer's session; truncated, tampered, foreign, oversized and
 * "zip bomb" files and a backup of a newer schema are refused with a reason and change nothing;
 * a backup of an older schema is migrated forward; delete one / many; operators and requests
 * without the CSRF header are refused; schedule settings apply at once (next run).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { signManifest } from '../../server/backup/backup-archive.ts';
import { decryptFile, openWithPassphrase, readEncryptedHeader } from '../../server/backup/backup-encryption.ts';
import { BackupRestorer } from '../../server/backup/backup-restore.ts';
import { BackupScheduler } from '../../server/backup/backup-scheduler.ts';
import { BackupStore } from '../../server/backup/backup-store.ts';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../../server/backup/tar-format.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { type Db, openDatabase } from '../../server/db/database.ts';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from '../../server/db/migrations.ts';
import { openState } from '../../server/process/open-state.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const MAX_UPLOAD_MB = 4;
const PASSPHRASE = 'backup passphrase 1';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-backups-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir, VCBOX_BACKUP_MAX_UPLOAD_MB: String(MAX_UPLOAD_MB) });
const paths = dataPaths(config);
const state = openState(config);
await new AdminStore(state.db).ensureInitialAdmin(paths.secrets);
await ensureCertificate(paths.certificates);
const initial = readFileSync(path.join(paths.secrets, 'initial-admin-password'), 'utf8').trim();
const backupPaths = { backups: paths.backups, certificates: paths.certificates, prompts: paths.prompts };
const store = new BackupStore(state.db, backupPaths);
const restorer = new BackupRestorer({ db: state.db, settings: state.settings, store, maxUploadBytes: config.backup.maxUploadBytes });
const scheduler = new BackupScheduler(state.settings, store).start();
t.teardown(() => scheduler.close());
const base = await startConsoleApi(t, { state, backups: { store, restorer, scheduler } });
const admin = new ConsoleClient(base);
await admin.login('admin', initial);

/** Tables whose rows a backup carries (not the operation log, sessions, reset links, FTS internals). */
function carriedTables(db: Db): string[] {
  return (db.prepare('PRAGMA main.table_list').all() as { name: string; type: string }[])
    .filter((row) => row.type === 'table' && !row.name.startsWith('sqlite_') && !['audit_log', 'admin_sessions', 'password_resets'].includes(row.name))
    .map((row) => row.name)
    .sort();
}

/** Row count per table and one SHA-256 over every row of every carried table, plus the certificate and prompt files. */
function snapshot(db: Db = state.db): { counts: Record<string, number>; hash: string; files: Record<string, string> } {
  const counts: Record<string, number> = {};
  const hash = createHash('sha256');
  for (const table of carriedTables(db)) {
    const rows = (db.prepare(`SELECT * FROM "${table}"`).all() as unknown[]).map((row) => JSON.stringify(row)).sort();
    counts[table] = rows.length;
    hash.update(`${table}\n${rows.join('\n')}\n`);
  }
  const files: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, `${prefix}${entry.name}/`);
      else files[`${prefix}${entry.name}`] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  for (const dir of ['certificates', 'prompts']) {
    try {
      walk(path.join(dataDir, dir), `${dir}/`);
    } catch {
      // no such folder
    }
  }
  return { counts, hash: hash.digest('hex'), files };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
async function upload(bytes: Buffer | ReadableStream<Uint8Array>, type = 'application/gzip', client = admin): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/api/v1/backups/restore`, {
    method: 'POST',
    headers: { 'content-type': type, cookie: client.cookie, 'x-csrf-token': client.csrfToken, 'x-backup-passphrase': encodeURIComponent(PASSPHRASE) },
    body: bytes,
    ...(bytes instanceof Buffer ? {} : { duplex: 'half' }),
  } as RequestInit);
  return { status: response.status, body: await response.json() };
}

async function download(name: string): Promise<Buffer> {
  const response = await fetch(`${base}/api/v1/backups/${name}/download`, { headers: { cookie: admin.cookie } });
  t.equal(response.status, 200, `download ${name}`);
  t.equal(response.headers.get('content-type'), 'application/octet-stream');
  return Buffer.from(await response.arrayBuffer());
}

/** The .tar.gz inside an encrypted backup file, decrypted with the passphrase by the box's own reader. */
async function decrypted(bytes: Buffer): Promise<Buffer> {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-decrypt-')), 'backup.vcbackup');
  writeFileSync(file, bytes);
  const header = await readEncryptedHeader(file);
  if (!header) throw new Error('not an encrypted backup');
  const chunks: Buffer[] = [];
  for await (const chunk of decryptFile(file, header, await openWithPassphrase(header, PASSPHRASE))) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A tar.gz in the backup container layout, with a manifest signed like a real one (for crafted files). */
function craftArchive(manifest: unknown, entries: { name: string; data: Buffer; declaredSize?: number }[] = []): Buffer {
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const signature = Buffer.from(signManifest(manifestBytes));
  const parts: Buffer[] = [];
  for (const { name, data, declaredSize } of [{ name: 'manifest.json', data: manifestBytes }, { name: 'manifest.hmac', data: signature }, ...entries]) {
    parts.push(encodeHeader(name, declaredSize ?? data.length, new Date()), data, padding(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return gzipSync(Buffer.concat(parts));
}

let backupName = '';
let original: ReturnType<typeof snapshot>;

t.test('a manual backup is made, listed and downloadable', async (t) => {
  // Data of the box: accounts, a room, a VMR, settings, an uploaded prompt.
  for (const [number, name] of [
    ['1001', 'Alice Zhang'],
    ['1002', 'Bob Li'],
    ['1003', 'Carol Wang'],
  ]) {
    t.equal((await admin.call('POST', '/api/v1/accounts', { number, name, password: 'secret-1', email: `${number}@example.com` })).status, 201);
  }
  t.equal((await admin.call('POST', '/api/v1/rooms', { name: 'Board room', type: 'video', account: '1001' })).status, 201);
  t.equal((await admin.call('POST', '/api/v1/vmrs', { number: '70001', name: 'Weekly', capacity: 16 })).status, 201);
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'required', 'network.localDomain': 'box.example.com' })).status, 200);
  mkdirSync(path.join(paths.prompts, 'en'), { recursive: true });
  writeFileSync(path.join(paths.prompts, 'en', 'welcome.pcm'), Buffer.alloc(32_000, 7));
  original = snapshot();
  const made = await admin.call('POST', '/api/v1/backups', { passphrase: PASSPHRASE });
  t.equal(made.status, 201, JSON.stringify(made.body));
  t.match(made.body, { name: /^Backup\d{14}$/, kind: 'manual', schemaVersion: SCHEMA_VERSION });
  backupName = made.body.name;
  const list = await admin.call('GET', '/api/v1/backups');
  t.match(list.body.backups, [{ name: backupName, kind: 'manual', size: made.body.size, encrypted: true }]);
  t.match(list.body.auto, { enabled: true, period: 'weekly', keep: 3 });
  t.equal(list.body.maxUploadBytes, MAX_UPLOAD_MB * 1024 * 1024);
  const bytes = await download(backupName);
  t.equal(bytes.length, made.body.size);
  // What is inside, decrypted, read by the system's own tar.
  const listing = execFileSync('tar', ['tzf', '-'], { input: await decrypted(bytes) }).toString().trim().split('\n');
  t.same(listing.slice(0, 3), ['manifest.json', 'manifest.hmac', 'database/vcbox.sqlite']);
  t.ok(listing.includes('certificates/server.crt') && listing.includes('prompts/en/welcome.pcm'), listing.join(' '));
  t.notOk(listing.some((name) => name.includes('secrets') || name.includes('logs')), 'no secrets, no logs');
  const named = await admin.call('POST', '/api/v1/backups', { name: 'before-upgrade', passphrase: PASSPHRASE });
  t.equal(named.status, 201);
  t.match((await admin.call('POST', '/api/v1/backups', { name: 'before-upgrade', passphrase: PASSPHRASE })).body, { code: 'VCBOX_ERR_BACKUP_EXISTS', field: 'name' });
  t.equal((await admin.call('POST', '/api/v1/backups', { name: '../evil', passphrase: PASSPHRASE })).status, 400);
  const audit = state.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'backup.%'").all();
  t.match(audit, [{ actor: 'admin', action: 'backup.create' }, { action: 'backup.download' }, { action: 'backup.create' }]);
});

t.test('backup → change the data → restore: the data is identical again', async (t) => {
  // Change everything a backup covers.
  t.equal((await admin.call('DELETE', '/api/v1/accounts/1002')).status, 204);
  t.equal((await admin.call('POST', '/api/v1/accounts', { number: '2001', name: 'Mallory', password: 'secret-2' })).status, 201);
  t.equal((await admin.call('PATCH', '/api/v1/accounts/1001', { name: 'Alice Renamed' })).status, 200);
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'call.srtp': 'off', 'sip.port': 5070 })).status, 200);
  rmSync(path.join(paths.prompts, 'en', 'welcome.pcm'));
  writeFileSync(path.join(paths.prompts, 'en', 'goodbye.pcm'), Buffer.alloc(1000, 1));
  writeFileSync(path.join(paths.certificates, 'server.crt'), 'not the old certificate');
  const auditRowsBefore = (state.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  t.not(snapshot().hash, original.hash, 'the data changed');

  const restored = await admin.call('POST', `/api/v1/backups/${backupName}/restore`, { passphrase: PASSPHRASE });
  t.equal(restored.status, 200, JSON.stringify(restored.body));
  t.match(restored.body, { restored: backupName, from: 'list', migrated: [], sessionKept: true, schemaVersion: { backup: SCHEMA_VERSION, box: SCHEMA_VERSION } });
  t.ok(restored.body.settingsChanged.includes('call.srtp') && restored.body.settingsChanged.includes('sip.port'), 'restored settings are named');
  t.same(restored.body.restartRequired, [], 'restored ports and certificate apply without a restart (the services follow them)');
  const now = snapshot();
  t.same(now.counts, original.counts, 'row counts per table');
  t.equal(now.hash, original.hash, 'content hash of every table');
  t.same(now.files, original.files, 'certificate and prompt files');
  t.equal(state.settings.get('call.srtp'), 'required', 'the settings store does not serve its old cache');

  // The box keeps working on the restored data, through the same connection.
  t.equal((await admin.call('GET', '/api/v1/session')).status, 200, 'the restorer is still logged in');
  t.match((await admin.call('GET', '/api/v1/accounts?q=Bob')).body, { total: 1, items: [{ number: '1002' }] }, 'search index follows the restored accounts');
  t.equal((await admin.call('POST', '/api/v1/accounts', { number: '2001', name: 'Again', password: 'secret-3' })).status, 201, 'a number deleted by the restore can be used');
  t.equal((await admin.call('DELETE', '/api/v1/accounts/2001')).status, 204);
  const auditAfter = state.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number };
  t.ok(auditAfter.n > auditRowsBefore, 'the operation log was kept, not rolled back');
  t.match(state.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'backup.restore'").get(), { actor: 'admin', detail: new RegExp(backupName) });
  t.same(readdirSync(paths.backups).filter((name) => name.startsWith('.')), [], 'no staging left behind');
});

t.test('broken, foreign, oversized and newer files are refused and nothing changes', async (t) => {
  const before = snapshot();
  const good = await download(backupName);
  const flipped = Buffer.from(good);
  const middle = Math.floor(flipped.length / 2);
  flipped[middle] = (flipped[middle] as number) ^ 0x01;
  const inner = gunzipSync(await decrypted(good));
  const innerFlipped = Buffer.from(inner);
  // Inside the database entry (after the manifest, its signature and the entry's header).
  innerFlipped[4096 + 100] = (innerFlipped[4096 + 100] as number) ^ 0x01;
  const manifestEdited = Buffer.from(inner.toString('latin1').replace(`"schemaVersion": ${SCHEMA_VERSION}`, `"schemaVersion": ${SCHEMA_VERSION - 1}`), 'latin1');
  const foreignDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-foreign-'));
  writeFileSync(path.join(foreignDir, 'notes.txt'), 'hello');
  const foreignTarGz = execFileSync('tar', ['czf', '-', '-C', foreignDir, 'notes.txt']);
  const bomb = gzipSync(Buffer.concat([encodeHeader('manifest.json', 2 * 1024 ** 3, new Date()), Buffer.alloc(64 * 1024 * 1024)]));
  const signedBomb = craftArchive({
    format: 'vcbox-backup', formatVersion: 1, product: 'vcbox', productVersion: '9.9.9', schemaVersion: SCHEMA_VERSION, createdAt: new Date().toISOString(), name: 'Bomb', kind: 'manual', host: 'x',
    entries: [{ path: 'database/vcbox.sqlite', size: 100 * 1024 ** 3, sha256: '0'.repeat(64) }],
  });
  const lyingEntry = craftArchive(
    {
      format: 'vcbox-backup', formatVersion: 1, product: 'vcbox', productVersion: '9.9.9', schemaVersion: SCHEMA_VERSION, createdAt: new Date().toISOString(), name: 'Lie', kind: 'manual', host: 'x',
      entries: [{ path: 'database/vcbox.sqlite', size: 10, sha256: '0'.repeat(64) }],
    },
    [{ name: 'database/vcbox.sqlite', data: Buffer.alloc(10 * 1024 * 1024) }],
  );
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', good.subarray(0, Math.floor(good.length * 0.6)), /truncated|ends too early/],
    // Where the flip lands decides which check catches it (deflate, a tar header, an entry's SHA-256, gzip's CRC).
    // Where the flip lands decides which check catches it (a frame's tag, or its flag or length).
    ['one byte flipped in the encrypted file', flipped, /does not authenticate|flag|longer than a frame|ends too early/],
    ['one byte flipped in the database entry (recompressed)', gzipSync(innerFlipped), /database\/vcbox\.sqlite does not match its checksum/],
    ['manifest edited (recompressed)', gzipSync(manifestEdited), /signature does not match/],
    ['a text file', Buffer.from('just some notes\n'), /not gzip-compressed/],
    ['a random .tar.gz', foreignTarGz, /no vcbox backup manifest/],
    ['a gzip bomb with a huge first entry', bomb, /manifest is larger than 1 MiB/],
    ['a signed manifest declaring 100 GiB', signedBomb, /would unpack to/],
    ['an entry longer than its manifest says', lyingEntry, /is 10485760 bytes, the manifest says 10/],
  ];
  t.ok(bomb.length < MAX_UPLOAD_MB * 1024 * 1024, `the bomb (${bomb.length} bytes) fits the upload limit`);
  for (const [what, bytes, reason] of cases) {
    const answer = await upload(bytes, 'application/octet-stream');
    t.equal(answer.status, 422, what);
    t.match(answer.body, { code: 'VCBOX_ERR_BACKUP_INVALID', field: 'file', message: /Nothing was changed/ }, what);
    t.match(answer.body.message, reason, `${what}: ${answer.body.message}`);
  }

  // Over the upload limit: declared up front, and streamed without a length.
  const oversized = Buffer.alloc(MAX_UPLOAD_MB * 1024 * 1024 + 1, 1);
  const declared = await upload(oversized);
  t.equal(declared.status, 413);
  t.match(declared.body, { code: 'VCBOX_ERR_BACKUP_TOO_LARGE', message: /larger than 4 MiB/ });
  let sent = 0;
  const streamed = await upload(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= oversized.length) return controller.close();
        controller.enqueue(oversized.subarray(sent, sent + 256 * 1024));
        sent += 256 * 1024;
      },
    }),
  );
  t.equal(streamed.status, 413, 'streamed past the limit');
  t.equal(streamed.body.code, 'VCBOX_ERR_BACKUP_TOO_LARGE');

  // A genuine backup of a newer schema (made by a newer box): refused, with what to do.
  const newerDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-newer-'));
  const newerDb = openDatabase(path.join(newerDir, 'vcbox.sqlite'));
  migrate(newerDb);
  newerDb.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  const newer = await new BackupStore(newerDb, { backups: path.join(newerDir, 'backups'), certificates: path.join(newerDir, 'certificates'), prompts: path.join(newerDir, 'prompts') }).create('manual', { actor: 'test' }, 'Newer', PASSPHRASE);
  newerDb.close();
  const tooNew = await upload(readFileSync(path.join(newerDir, 'backups', `${newer.name}.vcbackup`)));
  t.equal(tooNew.status, 409);
  t.match(tooNew.body, { code: 'VCBOX_ERR_BACKUP_TOO_NEW', found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION, message: /Upgrade this box/ });

  // A genuine backup that fails only at the last step (its tables do not match this box's), after
  // the certificate and prompt folders were swapped: they are put back.
  const oddDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-odd-'));
  const oddDb = openDatabase(path.join(oddDir, 'vcbox.sqlite'));
  migrate(oddDb);
  oddDb.exec('CREATE TABLE extra_stuff (id INTEGER PRIMARY KEY)');
  mkdirSync(path.join(oddDir, 'certificates'));
  writeFileSync(path.join(oddDir, 'certificates', 'server.crt'), 'another certificate');
  mkdirSync(path.join(oddDir, 'prompts', 'en'), { recursive: true });
  writeFileSync(path.join(oddDir, 'prompts', 'en', 'goodbye.pcm'), Buffer.alloc(500, 3));
  await new BackupStore(oddDb, { backups: path.join(oddDir, 'backups'), certificates: path.join(oddDir, 'certificates'), prompts: path.join(oddDir, 'prompts') }).create('manual', { actor: 'test' }, 'Odd', PASSPHRASE);
  oddDb.close();
  const odd = await upload(readFileSync(path.join(oddDir, 'backups', 'Odd.vcbackup')));
  t.equal(odd.status, 422);
  t.match(odd.body.message, /differ from this box's after migration/);
  t.same(snapshot().files, before.files, 'certificate and prompts are the box\'s own again');

  // Files in the backups folder: one that is not a backup is listed with the reason (the list
  // reads manifests only); a damaged one is refused when restored from the list.
  writeFileSync(path.join(paths.backups, 'Junk.tar.gz'), 'not a backup');
  t.match((await admin.call('GET', '/api/v1/backups')).body.backups, [{ name: 'Junk', kind: 'unknown', problem: /not gzip-compressed/ }]);
  writeFileSync(path.join(paths.backups, 'Damaged.vcbackup'), good.subarray(0, good.length - 100));
  t.match((await admin.call('POST', '/api/v1/backups/Damaged/restore', { passphrase: PASSPHRASE })).body, { code: 'VCBOX_ERR_BACKUP_INVALID', message: /truncated|ends too early/ });
  t.same((await admin.call('POST', '/api/v1/backups/delete', { names: ['Junk', 'Damaged'] })).body.deleted, ['Junk', 'Damaged']);

  const after = snapshot();
  t.same(after.counts, before.counts, 'row counts unchanged');
  t.equal(after.hash, before.hash, 'content hash unchanged');
  t.same(after.files, before.files, 'files unchanged');
  t.ok((state.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'backup.restore.failed'").get() as { n: number }).n >= cases.length + 5, 'each refusal is in the operation log');
  t.same(readdirSync(paths.backups).filter((name) => name.startsWith('.')), [], 'no staging left behind');
});

t.test('a backup of an older schema is migrated forward on restore', async (t) => {
  const oldDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-old-'));
  const oldDb = openDatabase(path.join(oldDir, 'vcbox.sqlite'));
  migrate(oldDb, MIGRATIONS.filter((m) => m.version <= 7));
  t.equal(oldDb.pragma('user_version', { simple: true }), 7);
  const now = new Date().toISOString();
  oldDb.prepare("INSERT INTO accounts (number, name, email, realm, ha1_md5, ha1_sha256, created_at, updated_at) VALUES ('3001', 'Old Timer', NULL, 'vcbox.local', 'x', 'y', ?, ?)").run(now, now);
  oldDb.prepare("INSERT INTO admins (username, password_hash, role, created_at) VALUES ('admin', 'scrypt$x', 'admin', ?)").run(now);
  const old = await new BackupStore(oldDb, { backups: path.join(oldDir, 'backups'), certificates: path.join(oldDir, 'certificates'), prompts: path.join(oldDir, 'prompts') }).create('manual', { actor: 'test' }, 'OldBox', PASSPHRASE);
  oldDb.close();
  t.equal(old.schemaVersion, 7);

  const answer = await upload(readFileSync(path.join(oldDir, 'backups', 'OldBox.vcbackup')));
  t.equal(answer.status, 200, JSON.stringify(answer.body));
  t.match(answer.body, { from: 'upload', schemaVersion: { backup: 7, box: SCHEMA_VERSION }, migrated: MIGRATIONS.filter((m) => m.version > 7).map((m) => m.version), message: /brought from schema 7/ });
  t.equal(state.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.same(state.db.prepare('SELECT number FROM accounts').all(), [{ number: '3001' }]);
  t.equal(state.db.prepare("SELECT count(*) AS n FROM accounts_fts WHERE accounts_fts MATCH 'Timer'").pluck().get(), 1, 'the later search index covers the old rows');
  t.equal(answer.body.files.certificates, 0, 'a backup without a certificate leaves the box its own');
  t.ok(statSync(path.join(paths.certificates, 'server.crt')).size > 0);
  // The restored admin has the same id and name: the session survives, with the restored password.
  t.equal(answer.body.sessionKept, true);
  t.equal((await admin.call('GET', '/api/v1/session')).status, 200);
  // Back to the box's own data for the tests below.
  t.equal((await admin.call('POST', `/api/v1/backups/${backupName}/restore`, { passphrase: PASSPHRASE })).status, 200);
  t.equal(snapshot().hash, original.hash);
});

t.test('delete one or many; operators and requests without CSRF may not change backups', async (t) => {
  for (const name of ['one', 'two', 'three']) t.equal((await admin.call('POST', '/api/v1/backups', { name, passphrase: PASSPHRASE })).status, 201);
  t.same((await admin.call('POST', '/api/v1/backups/delete', { names: ['one', 'two', 'nope'] })).body, { deleted: ['one', 'two'], notFound: ['nope'] });
  t.equal((await admin.call('DELETE', '/api/v1/backups/three')).status, 204);
  t.match((await admin.call('DELETE', '/api/v1/backups/three')).body, { code: 'VCBOX_ERR_BACKUP_NOT_FOUND', message: /no backup named three/ });
  t.notOk((await admin.call('GET', '/api/v1/backups')).body.backups.some((b: { name: string }) => ['one', 'two', 'three'].includes(b.name)));
  t.match((await admin.call('POST', '/api/v1/backups', {}, { csrf: false })).body, { code: 'VCBOX_ERR_CSRF' });

  t.equal((await admin.call('POST', '/api/v1/admins', { username: 'watcher', password: 'watch-pw1', role: 'operator', email: 'w@example.com' })).status, 201);
  const operator = new ConsoleClient(base);
  t.equal((await operator.login('watcher', 'watch-pw1')).status, 200);
  t.equal((await operator.call('GET', '/api/v1/backups')).status, 200, 'operators see the list');
  t.match((await operator.call('POST', '/api/v1/backups')).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await operator.call('POST', `/api/v1/backups/${backupName}/restore`, { passphrase: PASSPHRASE })).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.match((await upload(Buffer.from('x'), 'application/gzip', operator)).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.equal((await fetch(`${base}/api/v1/backups`)).status, 401, 'no session, no list');
});

t.test('schedule settings apply at once: the next automatic backup moves', async (t) => {
  const changed = await admin.call('PATCH', '/api/v1/settings', { 'backup.period': 'daily', 'backup.time': '03:15' });
  t.match(changed.body, { appliedNow: ['backup.period', 'backup.time'], restartRequired: [] });
  const next = new Date((await admin.call('GET', '/api/v1/backups')).body.auto.nextRun);
  t.same([next.getHours(), next.getMinutes()], [3, 15]);
  t.ok(next.getTime() - Date.now() <= 24 * 3600_000 && next.getTime() > Date.now(), 'within the next day');
  t.match((await admin.call('PATCH', '/api/v1/settings', { 'backup.period': 'weekly', 'backup.day': 12 })).body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'backup.day', message: /weekday from 1 \(Monday\) to 7/ });
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'backup.auto': false })).status, 200);
  t.equal((await admin.call('GET', '/api/v1/backups')).body.auto.nextRun, null, 'off: nothing scheduled');
});

t.test('the OpenAPI document describes the backup routes', async (t) => {
  const doc = (await admin.call('GET', '/api/v1/openapi.json')).body;
  for (const route of ['/api/v1/backups', '/api/v1/backups/{name}/download', '/api/v1/backups/{name}/restore', '/api/v1/backups/restore', '/api/v1/backups/delete']) {
    t.ok(doc.paths[route], route);
  }
});
