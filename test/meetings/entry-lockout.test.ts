/**
 * The wrong-entry counts of the participant sessions service on their own (no sockets: the
 * ways in are covered by test/security/meeting-pin-brute-force.test.ts and
 * participant-admission.test.ts): a lock-out starts at the limit and ends after its duration,
 * an IPv6 host counts by its /64, and a flood of addresses cannot grow the tables past their
 * cap nor push a locked-out address out of them.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { EntryLockout, sourceKey } from '../../server/meetings/participant-sessions/entry-lockout.ts';

const db = openDatabase(path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-lockout-')), 'vcbox.sqlite'));
migrate(db);
t.teardown(() => db.close());
const rule = { failures: 3, windowMs: 60_000, durationMs: 30_000 };
const audited = () => (db.prepare("SELECT COUNT(*) FROM audit_log WHERE action = 'meeting.entry.lockout'").pluck().get() as number) ?? 0;

t.test('the limit starts a lock-out, audited once; it ends after its duration', async (t) => {
  const lockout = new EntryLockout(db, { source: rule, meeting: { ...rule, failures: 100 }, maxEntries: 100 });
  const entry = { way: 'sip', address: '192.0.2.7', number: '880001' };
  lockout.wrongPin(entry, 1000);
  lockout.wrongPin(entry, 2000);
  t.equal(lockout.sourceLockedFor('192.0.2.7', 2000), 0, 'two wrong PINs: not locked out');
  const before = audited();
  lockout.wrongId(entry, 3000);
  t.equal(lockout.sourceLockedFor('192.0.2.7', 3000), 30, 'the third wrong entry (an ID this time) locks the address out for 30 s');
  t.equal(audited(), before + 1, 'one audit row');
  t.equal(lockout.sourceLockedFor('192.0.2.8', 3000), 0, 'another address is not locked out');
  t.equal(lockout.sourceLockedFor('192.0.2.7', 33_001), 0, 'over after its duration');
});

t.test('an IPv6 host counts by its /64; IPv4-mapped addresses as IPv4', async (t) => {
  t.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
  t.not(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
  t.equal(sourceKey('::ffff:192.0.2.7'), '192.0.2.7');
  const lockout = new EntryLockout(db, { source: rule, meeting: { ...rule, failures: 100 }, maxEntries: 100 });
  for (const host of ['::1', '::2', '::3']) lockout.wrongPin({ way: 'web', address: `2001:db8:5:6${host}`, number: '880001' }, 1000);
  t.ok(lockout.sourceLockedFor('2001:db8:5:6::99', 1000) > 0, 'three hosts of one /64: the /64 is locked out');
});

t.test('a flood of addresses stays under the cap and does not evict a locked-out address', async (t) => {
  const lockout = new EntryLockout(db, { source: rule, meeting: rule, maxEntries: 50 });
  for (let i = 0; i < 3; i++) lockout.wrongPin({ way: 'ivr', address: '198.51.100.1', number: '880002' }, 1000);
  t.ok(lockout.sourceLockedFor('198.51.100.1', 1000) > 0, 'the guesser is locked out');
  for (let i = 0; i < 5000; i++) lockout.wrongId({ way: 'web', address: `10.${(i >> 8) & 255}.${i & 255}.1`, number: '11111' }, 2000);
  t.ok(lockout.size.sources <= 50, `the table stays under its cap (${lockout.size.sources})`);
  t.ok(lockout.sourceLockedFor('198.51.100.1', 2000) > 0, 'the locked-out guesser is still locked out');
});
