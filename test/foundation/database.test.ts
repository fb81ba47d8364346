/**
 * The data layer: versioned migrations, the settings store with the spec's defaults and rules,
 * and a database that survives its writer being killed at any moment.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../server/db/database.ts';
import { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from '../../server/db/migrations.ts';
import { VcboxError } from '../../server/core/errors.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';

const tmpDb = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-db-')), 'vcbox.sqlite');

t.test('migrations: fresh database to the newest schema, once', async (t) => {
  const db = openDatabase(tmpDb());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.same(migrate(db), MIGRATIONS.map((m) => m.version));
  t.equal(schemaVersion(db), SCHEMA_VERSION);
  t.same(migrate(db), [], 'a second run applies nothing');
  const history = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  t.same(history, MIGRATIONS.map(({ version, name }) => ({ version, name })));
  db.close();
});

t.test('migrations: a failing step changes nothing; a newer database is refused', async (t) => {
  const db = openDatabase(tmpDb());
  migrate(db);
  const broken = [
    ...MIGRATIONS,
    { version: SCHEMA_VERSION + 1, name: 'half done', up: (d: typeof db) => d.exec('CREATE TABLE half (x); SELECT * FROM no_such_table;') },
  ];
  t.throws(() => migrate(db, broken), { code: 'VCBOX_ERR_DB_MIGRATION', message: /half done.*no such table.*Nothing was changed/ });
  t.equal(schemaVersion(db), SCHEMA_VERSION);
  t.notOk(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get(), 'the failed step left no table');
  db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  t.throws(() => migrate(db), { code: 'VCBOX_ERR_DB_TOO_NEW', message: /newer than this software supports/ });
  db.close();
});

t.test('settings: spec defaults, checked updates, audit', async (t) => {
  const db = openDatabase(tmpDb());
  migrate(db);
  const settings = new SettingsStore(db);
  const all = settings.getAll();
  t.equal(all['sip.port'], 5060);
  t.equal(all['sip.tlsPort'], 5061);
  t.same(all['media.ivrPorts'], { min: 30000, max: 37999 });
  t.same(all['media.turnPorts'], { min: 38000, max: 49999 });
  t.same(all['media.mcuPorts'], { min: 50000, max: 59999 });
  t.equal(all['call.maxVideoResolution'], '720P/30');
  t.equal(all['call.maxContentResolution'], '1080P/5');
  t.equal(all['call.layout.equalSplitMax'], '4x4');
  t.equal(all['call.layout.onePlusNMax'], '1+7');
  t.equal(all['time.sntpServer'], 'cn.pool.ntp.org');
  t.equal(all['time.zone'], 'UTC+08:00');
  t.equal(all['syslog.port'], 514);
  t.equal(all['backup.keep'], 3);
  t.equal(all['ssh.enabled'], true);
  t.equal(all['web.httpsEnabled'], false);

  t.same(settings.update({ 'sip.port': 5070, 'call.ivrLanguage': 'en' }, { actor: 'admin', source: '127.0.0.1' }), ['sip.port', 'call.ivrLanguage']);
  t.equal(settings.get('sip.port'), 5070);
  const audit = db.prepare('SELECT actor, source, action, detail FROM audit_log').all() as { detail: string }[];
  t.equal(audit.length, 1);
  t.match(audit[0], { actor: 'admin', source: '127.0.0.1', action: 'settings.update' });
  t.same(JSON.parse(audit[0]?.detail ?? '{}')['sip.port'], { from: 5060, to: 5070 });

  const refused: [Record<string, unknown>, RegExp][] = [
    [{ 'sip.tlsPort': 5070 }, /sip\.tlsPort.*must differ from the UDP\/TCP port 5070/],
    [{ 'media.ivrPorts': { min: 30000, max: 30500 } }, /media\.ivrPorts.*at least 1000 wide/],
    [{ 'media.mcuPorts': { min: 49000, max: 52000 } }, /media\.mcuPorts.*overlaps media\.turnPorts/],
    [{ 'call.maxVideoResolution': '4K' }, /one of 1080P\/30, 720P\/30/],
    [{ 'web.httpPort': 0 }, /port number 1-65535/],
    [{ 'no.such.key': 1 }, /Unknown setting no\.such\.key/],
  ];
  for (const [change, message] of refused) {
    t.throws(() => settings.update({ 'call.ivrLanguage': 'zh-CN', ...change }, { actor: 'admin' }), VcboxError);
    t.throws(() => settings.update({ 'call.ivrLanguage': 'zh-CN', ...change }, { actor: 'admin' }), { message });
  }
  t.equal(settings.get('call.ivrLanguage'), 'en', 'a refused change writes nothing, not even its valid part');
  t.equal((db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n, 1);
  db.close();
});

t.test('killing the writer at any moment leaves an intact, consistent database', async (t) => {
  const file = tmpDb();
  let lastReported = 0;
  for (let round = 1; round <= 6; round++) {
    const target = 5 + Math.floor(Math.random() * 60);
    const writer = spawn(process.execPath, [path.join(PROJECT_ROOT, 'test/helpers/db-writer.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = 0;
    await new Promise<void>((resolve) => {
      const killTimer = setTimeout(() => writer.kill('SIGKILL'), 30_000);
      writer.stdout.on('data', (chunk: Buffer) => {
        const numbers = [...chunk.toString().matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
        if (numbers.length > 0) {
          seen += numbers.length;
          lastReported = Math.max(lastReported, ...numbers);
        }
        if (seen >= target) writer.kill('SIGKILL');
      });
      writer.on('exit', () => {
        clearTimeout(killTimer);
        resolve();
      });
    });
    t.equal(writer.signalCode, 'SIGKILL', `round ${round}: writer killed mid-stream after ${seen} commits`);

    const db = openDatabase(file);
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', `round ${round}: integrity_check ok`);
    const ledger = db.prepare('SELECT rows, last_batch FROM crash_ledger').get() as { rows: number; last_batch: number };
    const rows = (db.prepare('SELECT count(*) AS n FROM crash_probe').get() as { n: number }).n;
    const partial = db.prepare('SELECT batch FROM crash_probe GROUP BY batch HAVING count(*) <> 50').all();
    const audits = (db.prepare("SELECT count(*) AS n FROM audit_log WHERE actor = 'crash-test'").get() as { n: number }).n;
    t.equal(rows, ledger.rows, `round ${round}: ledger matches the rows`);
    t.same(partial, [], `round ${round}: no half-written batch`);
    t.ok(ledger.last_batch >= lastReported, `round ${round}: every reported commit is there (${ledger.last_batch} >= ${lastReported})`);
    t.equal(new SettingsStore(db).get('call.polling.intervalSeconds'), 5 + (ledger.last_batch % 200), `round ${round}: setting matches the last batch`);
    t.ok(audits >= ledger.last_batch - 1 && audits <= ledger.last_batch, `round ${round}: one audit entry per changing batch`);
    db.close();
  }
});

t.test('settings: a change made through another connection is seen within 100 ms (cache follows data_version)', async (t) => {
  const file = tmpDb();
  const writer = openDatabase(file);
  migrate(writer);
  const reader = openDatabase(file);
  const readerStore = new SettingsStore(reader);
  t.equal(readerStore.get('network.localDomain'), 'vcbox.local');
  new SettingsStore(writer).update({ 'network.localDomain': 'meet.example' }, { actor: 'admin' });
  await new Promise((r) => setTimeout(r, 150));
  t.equal(readerStore.get('network.localDomain'), 'meet.example', 'the other process sees the new value');
  const range = readerStore.get('media.mcuPorts');
  (range as { min: number }).min = 1;
  t.equal(readerStore.get('media.mcuPorts').min, 50000, 'callers get copies, never the cache itself');
  writer.close();
  reader.close();
});
