/**
 * The location service over its store (a real SQLite file): bindings written behind come back
 * in a new process's location service; ones that expired while the box was down do not (and
 * their rows go); a removal and an expiry are written too; close() writes what is pending.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { monotonicMs } from '../../server/core/clock.ts';
import { type Binding, LocationService } from '../../server/sip-app/registrar/location-service.ts';
import { RegistrationStore } from '../../server/sip-app/registrar/registration-store.ts';

const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-registrations-')), 'vcbox.sqlite');
const db = openDatabase(file);
migrate(db);
t.teardown(() => db.close());

const binding = (account: string, contact: string, expiresInMs: number): Binding => ({
  account,
  contact,
  instance: undefined,
  callId: `call-${contact}`,
  cseq: 2,
  expiresAt: Date.now() + expiresInMs,
  registeredAt: Date.now(),
  userAgent: 'Yealink SIP-VC800 63.345.0.10',
  model: 'Yealink SIP-VC800',
  version: '63.345.0.10',
  source: { protocol: 'udp', address: '127.0.0.5', port: 5062 },
});
const rows = () => db.prepare('SELECT account, contact FROM sip_registrations ORDER BY account, contact').all();

t.test('bindings survive the location service; expired ones do not', async (t) => {
  // A long flush interval: only close() writes, so the test sees the close's flush.
  const first = new LocationService({ store: new RegistrationStore(db, { flushIntervalMs: 3_600_000 }) });
  t.ok(first.apply('4001', [binding('4001', 'sip:4001@127.0.0.5:5062', 600_000), binding('4001', 'sip:4001@127.0.0.6:5062', 600_000)], []));
  t.ok(first.apply('4002', [binding('4002', 'sip:4002@127.0.0.7:5062', 600_000)], []));
  t.ok(first.apply('4003', [binding('4003', 'sip:4003@127.0.0.8:5062', 600_000)], []));
  first.removeAll('4003');
  t.same(rows(), [], 'nothing written yet (write-behind)');
  first.close();
  t.same(rows(), [
    { account: '4001', contact: 'sip:4001@127.0.0.5:5062' },
    { account: '4001', contact: 'sip:4001@127.0.0.6:5062' },
    { account: '4002', contact: 'sip:4002@127.0.0.7:5062' },
  ], 'close() wrote the live bindings; the removed account has no row');

  // One binding expired while the box was down.
  db.prepare("UPDATE sip_registrations SET expires_at = ? WHERE contact = 'sip:4002@127.0.0.7:5062'").run(Date.now() - 1000);
  const second = new LocationService({ store: new RegistrationStore(db, { flushIntervalMs: 3_600_000 }) });
  t.same(second.online().map((o) => [o.account, o.bindings.map((b) => b.contact)]), [['4001', ['sip:4001@127.0.0.5:5062', 'sip:4001@127.0.0.6:5062']]], 'the live ones are back');
  t.match(second.lookup('4001')[0], { userAgent: 'Yealink SIP-VC800 63.345.0.10', model: 'Yealink SIP-VC800', version: '63.345.0.10', source: { protocol: 'udp', address: '127.0.0.5', port: 5062 }, instance: undefined });
  t.equal(rows().length, 2, 'the expired row is deleted at load');

  // An un-REGISTER of one contact and an expiry by the sweeper are written at the next flush.
  t.ok(second.apply('4001', [], ['sip:4001@127.0.0.6:5062']));
  second.sweep(monotonicMs() + 700_000);
  t.same(second.online(), []);
  second.close();
  t.same(rows(), [], 'both written: no row left');
  second.close(); // idempotent
});

t.test('the write-behind flushes by itself', async (t) => {
  const location = new LocationService({ store: new RegistrationStore(db, { flushIntervalMs: 20 }) });
  t.teardown(() => location.close());
  location.apply('4005', [binding('4005', 'sip:4005@127.0.0.9:5062', 600_000)], []);
  for (let i = 0; i < 250 && rows().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(rows(), [{ account: '4005', contact: 'sip:4005@127.0.0.9:5062' }], 'written without a close');
});

t.test('close() waits for the batches the writer thread has not written yet, then writes the rest', async (t) => {
  const store = new RegistrationStore(db, { flushIntervalMs: 3_600_000 });
  const location = new LocationService({ store });
  for (let i = 0; i < 200; i++) {
    const account = String(5000 + i);
    location.apply(account, [binding(account, `sip:${account}@127.0.0.10:5062`, 600_000)], []);
  }
  store.flush(); // to the writer thread, which may not even have started yet
  location.apply('5000', [], ['sip:5000@127.0.0.10:5062']); // changed again after the hand-over
  location.apply('5200', [binding('5200', 'sip:5200@127.0.0.11:5062', 600_000)], []);
  location.close();
  const written = db.prepare("SELECT account FROM sip_registrations WHERE account >= '5000' ORDER BY account").pluck().all() as string[];
  t.equal(written.length, 200, 'every binding written: 199 from the thread, one added since');
  t.notOk(written.includes('5000'), 'the removal after the hand-over is not undone by the older batch');
  t.ok(written.includes('5200'));
  db.prepare("DELETE FROM sip_registrations WHERE account >= '5000'").run();
});

t.test('a database in memory is written inline', async (t) => {
  const memory = openDatabase(':memory:');
  migrate(memory);
  t.teardown(() => memory.close());
  const store = new RegistrationStore(memory, { flushIntervalMs: 3_600_000 });
  const location = new LocationService({ store });
  t.teardown(() => location.close());
  location.apply('4006', [binding('4006', 'sip:4006@127.0.0.9:5062', 600_000)], []);
  store.flush();
  t.same(memory.prepare('SELECT account FROM sip_registrations').pluck().all(), ['4006'], 'written at the flush itself');
});
