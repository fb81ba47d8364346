/**
 * The box's clocks under a wall-clock jump, part by part (#18, "clock jump"; the whole box under
 * libfaketime is clock-jump.test.ts): the test moves `Date.now` (the wall clock every part
 * would read) forward or back in this process, while the monotonic clock (server/core/clock.ts)
 * runs on. Each part keeps its time on the clock it should:
 * - registrations stay live across a jump, and still expire after their interval on the
 *   monotonic clock; one read back from the store after the clock went back keeps at most its
 *   interval;
 * - a SIP authentication lock-out and a meeting-entry lock-out last their duration, neither
 *   ended by a jump forward nor stretched by one back;
 * - a console login lock-out (kept in the database, wall clock) is not stretched by the clock
 *   going back: it ends at most its 3 minutes later;
 * - the settings cache does not take a clock set back for a fresh check: a change made by
 *   another process is seen.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore, LOGIN_LOCKOUT } from '../../server/admin/admin-store.ts';
import { monotonicMs } from '../../server/core/clock.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { EntryLockout } from '../../server/meetings/participant-sessions/entry-lockout.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { AuthLockout } from '../../server/sip-app/registrar/auth-lockout.ts';
import { type Binding, LocationService } from '../../server/sip-app/registrar/location-service.ts';
import { RegistrationStore } from '../../server/sip-app/registrar/registration-store.ts';

const HOUR = 3_600_000;
const realNow = Date.now;
/** Runs `body` with the wall clock `offsetMs` away from the real one. */
async function withWallClock<T>(offsetMs: number, body: () => T | Promise<T>): Promise<T> {
  Date.now = () => realNow() + offsetMs;
  try {
    return await body();
  } finally {
    Date.now = realNow;
  }
}
t.teardown(() => {
  Date.now = realNow;
});

const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-clock-')), 'vcbox.sqlite');
const db = openDatabase(file);
migrate(db);
t.teardown(() => db.close());

const binding = (contact: string, expiresInMs: number, at = Date.now()): Binding => ({
  account: '4101',
  contact,
  instance: undefined,
  callId: `call-${contact}`,
  cseq: 1,
  expiresAt: at + expiresInMs,
  registeredAt: at,
  userAgent: 'Test Terminal 1.0',
  model: 'Test Terminal',
  version: '1.0',
  source: { protocol: 'udp', address: '127.0.0.9', port: 5062 },
});

t.test('registrations: live across a jump either way, expired after their interval on the monotonic clock', async (t) => {
  const location = new LocationService();
  t.teardown(() => location.close());
  t.ok(location.apply('4101', [binding('sip:4101@127.0.0.9:5062', 600_000)], []));
  for (const offset of [2 * HOUR, -2 * HOUR]) {
    await withWallClock(offset, () => {
      location.sweep();
      t.equal(location.lookup('4101').length, 1, `live with the wall clock ${offset / HOUR} h off`);
    });
  }
  location.sweep(monotonicMs() + 590_000);
  t.equal(location.lookup('4101', monotonicMs() + 590_000).length, 1, 'live 590 s on');
  location.sweep(monotonicMs() + 601_000);
  t.same(location.online(), [], 'expired 601 s on');
});

t.test('registrations read back from the store after the clock went back keep at most their interval', async (t) => {
  const first = new LocationService({ store: new RegistrationStore(db, { flushIntervalMs: 3_600_000, inThread: false }) });
  t.ok(first.apply('4101', [binding('sip:4101@127.0.0.9:5062', 600_000)], []));
  first.close();
  // The control plane restarts while the clock is 2 hours back: the stored expiry is 2 h 10 min away.
  await withWallClock(-2 * HOUR, () => {
    const second = new LocationService({ store: new RegistrationStore(db, { flushIntervalMs: 3_600_000, inThread: false }) });
    const [back] = second.lookup('4101');
    t.ok(back, 'read back');
    t.ok(back && second.secondsLeft(back) <= 600, `with at most its 600 s left (${back && second.secondsLeft(back)} s), not 2 h 10 min`);
    second.close();
  });
});

t.test('SIP authentication lock-out: its duration on the monotonic clock', async (t) => {
  const lockout = new AuthLockout(db, { failures: 3, windowMs: 60_000, durationMs: 120_000 });
  for (let i = 0; i < 3; i++) lockout.failed('192.0.2.50', '4101', 'REGISTER', 'wrong password');
  t.ok(lockout.isLocked('192.0.2.50'), 'locked out');
  await withWallClock(2 * HOUR, () => t.ok(lockout.isLocked('192.0.2.50'), 'still locked out with the clock 2 h ahead'));
  await withWallClock(-2 * HOUR, () => t.ok(lockout.isLocked('192.0.2.50'), 'and 2 h behind'));
  t.notOk(lockout.isLocked('192.0.2.50', monotonicMs() + 121_000), 'over after its 120 s, whatever the wall clock said');
});

t.test('meeting-entry lock-out: its duration on the monotonic clock', async (t) => {
  const rule = { failures: 2, windowMs: 60_000, durationMs: 30_000 };
  const lockout = new EntryLockout(db, { source: rule, meeting: { ...rule, failures: 100 }, maxEntries: 100 });
  const entry = { way: 'sip' as const, address: '192.0.2.60', number: '880001' };
  lockout.wrongPin(entry);
  lockout.wrongPin(entry);
  t.ok(lockout.sourceLockedFor('192.0.2.60') > 0, 'locked out');
  await withWallClock(2 * HOUR, () => t.ok(lockout.sourceLockedFor('192.0.2.60') > 0, 'still locked out with the clock 2 h ahead'));
  await withWallClock(-2 * HOUR, () => t.ok(lockout.sourceLockedFor('192.0.2.60') <= 30, 'and 2 h behind, for at most its 30 s'));
  t.equal(lockout.sourceLockedFor('192.0.2.60', monotonicMs() + 31_000), 0, 'over after its 30 s');
});

t.test('console login lock-out (kept in the database): not stretched by the clock going back', async (t) => {
  const admins = new AdminStore(db);
  await admins.create({ username: 'clockwatcher', password: 'Right-2026', role: 'admin' });
  const at = Date.now();
  for (let i = 0; i < LOGIN_LOCKOUT.failures; i++) await admins.login('clockwatcher', 'wrong', at).catch(() => undefined);
  await t.rejects(admins.login('clockwatcher', 'Right-2026', at + 1000), { code: 'VCBOX_ERR_LOGIN_LOCKED' }, 'locked after five wrong passwords');
  // The clock goes back 2 hours: the lock ends at most its 3 minutes from then, not 2 h 3 min.
  const back = at - 2 * HOUR;
  await t.rejects(admins.login('clockwatcher', 'Right-2026', back), { code: 'VCBOX_ERR_LOGIN_LOCKED', params: { seconds: LOGIN_LOCKOUT.durationMs / 1000 } }, 'still locked, for at most 3 minutes');
  const admin = await admins.login('clockwatcher', 'Right-2026', back + LOGIN_LOCKOUT.durationMs + 1000);
  t.equal(admin.username, 'clockwatcher', 'and the right password works 3 minutes later by the clock as it is now');
});

t.test('settings cache: a clock set back does not keep it fresh', async (t) => {
  const reader = new SettingsStore(db);
  const otherDb = openDatabase(file);
  t.teardown(() => otherDb.close());
  const writer = new SettingsStore(otherDb);
  const before = reader.get('sip.qualifySeconds');
  await withWallClock(-2 * HOUR, async () => {
    writer.update({ 'sip.qualifySeconds': before === 45 ? 50 : 45 }, { actor: 'test' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.not(reader.get('sip.qualifySeconds'), before, "another process's change is seen within the cache's 100 ms");
  });
});
