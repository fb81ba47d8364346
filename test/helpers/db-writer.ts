/**
 * A process that writes to an appliance database as fast as it can until it is killed: each
 * transaction inserts a batch of 50 rows, moves a ledger total and changes a setting (with its
 * audit entry) through the real SettingsStore. After each commit it prints `committed <batch>`.
 * Used by the crash test, which kills it with SIGKILL mid-stream and checks what is left.
 */
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: db-writer.ts <database file>');
const db = openDatabase(file);
migrate(db);
db.exec(`CREATE TABLE IF NOT EXISTS crash_probe (batch INTEGER NOT NULL, n INTEGER NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (batch, n));
         CREATE TABLE IF NOT EXISTS crash_ledger (id INTEGER PRIMARY KEY CHECK (id = 1), rows INTEGER NOT NULL, last_batch INTEGER NOT NULL);
         INSERT OR IGNORE INTO crash_ledger VALUES (1, 0, 0);`);
const settings = new SettingsStore(db);
const insert = db.prepare('INSERT INTO crash_probe (batch, n, payload) VALUES (?, ?, ?)');
const ledger = db.prepare('UPDATE crash_ledger SET rows = rows + ?, last_batch = ? WHERE id = 1');
const payload = 'x'.repeat(2000);
const step = db.transaction((batch: number) => {
  for (let n = 0; n < 50; n++) insert.run(batch, n, payload);
  ledger.run(50, batch);
  settings.update({ 'call.polling.intervalSeconds': 5 + (batch % 200) }, { actor: 'crash-test' });
});
let batch = (db.prepare('SELECT last_batch FROM crash_ledger').get() as { last_batch: number }).last_batch;
for (;;) {
  batch++;
  step(batch);
  process.stdout.write(`committed ${batch}\n`);
}
