/**
 * The expiry warning mail with an injected clock: Node's mock timers stand in for the wall
 * clock (Date and setTimeout, which node-cron runs on), so days pass in milliseconds. The real
 * node-cron schedule, licence store and mailer send to a real SMTP server (npm smtp-server) on
 * loopback: nothing while more than 5 days are left, one mail to the administrator's address
 * when 5 days are left, and no second one in the days after.
 */
import { once } from 'node:events';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mock } from 'node:test';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { issueLicense } from '../../server/license/license-format.ts';
import { LicenseWarning } from '../../server/license/license-warning.ts';
import { openLicense } from '../../server/license/open-license.ts';
import { Mailer } from '../../server/mail/mailer.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { freshState } from '../helpers/console-api.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const state = freshState();
const sink = await startSmtpSink();
const machineIdFile = path.join(state.dataDir, 'machine-id');
writeFileSync(machineIdFile, randomBytes(16).toString('hex'));
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'chief-pw1', email: 'chief@example.com', role: 'admin' });
await admins.create({ username: 'viewer', password: 'viewer-pw1', email: 'viewer@example.com', role: 'operator' });
state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': sink.port, 'smtp.sender': 'box@vcbox.local' }, { actor: 'test' });

// Monday 1 March 2027, 10:30 UTC; the licence ends 8 days later.
const start = new Date('2027-03-01T10:30:00.000Z');
mock.timers.enable({ apis: ['setTimeout', 'Date'], now: start });
const license = openLicense({ db: state.db, identityDir: path.join(state.dataDir, 'identity'), testPublicKeyFile: path.join(PROJECT_ROOT, 'test/fixtures/license/test-public.pem'), machineIdFile });
license.store.activate(
  issueLicense(
    { v: 1, serial: 'VCB-TEST-0100', boxId: license.store.boxId, ports: 10, validFrom: '2027-02-01T00:00:00Z', validUntil: '2027-03-09T10:00:00Z', issuedAt: '2027-02-01T00:00:00Z' },
    createPrivateKey(readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/license/test-private.pem'), 'utf8')),
  ),
  { actor: 'test' },
);
const warning = new LicenseWarning({ db: state.db, store: license.store, admins, mailer: new Mailer(state.settings) });
t.teardown(async () => {
  await sink.close();
  state.db.close();
});
/** Back to the real clock (tap's own timers too), the schedule stopped. */
function realClock(): void {
  warning.close();
  mock.timers.reset();
}

/** Moves the clock to `until` from one hourly check to the next, letting each finish. */
async function advanceTo(until: Date): Promise<void> {
  for (let guard = 0; Date.now() < until.getTime() && guard < 24 * 30; guard++) {
    const next = Math.min(until.getTime(), warning.nextRun()?.getTime() ?? until.getTime());
    mock.timers.tick(Math.max(1, next - Date.now()));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}

t.test('one warning mail, 5 days before the licence ends, to the administrator', async (t) => {
  // Even when an assertion fails: tap's own end runs on timers too.
  t.teardown(realClock);
  warning.start();
  t.same(warning.nextRun(), new Date('2027-03-01T11:00:00.000Z'), 'checks every hour');
  await advanceTo(new Date('2027-03-04T09:30:00.000Z'));
  t.equal(sink.mails.length, 0, 'nothing while more than 5 days are left');

  const sent = once(warning.observer, 'sent');
  // 10:00 on 4 March: exactly 5 days before 9 March 10:00.
  await advanceTo(new Date('2027-03-04T10:00:00.000Z'));
  // The SMTP exchange runs on the same mocked timers: let them move in small steps until it is done.
  let done = false;
  void sent.then(() => (done = true));
  for (let i = 0; i < 4000 && !done; i++) {
    mock.timers.tick(5);
    for (let j = 0; j < 3; j++) await new Promise((resolve) => setImmediate(resolve));
  }
  const [subject, recipients] = (await sent) as [string, string[]];
  // Delivered before 'sent' (the SMTP server had accepted it); the sink's own wait would run on the mocked clock.
  const mail = sink.mails[0];
  if (!mail) throw new Error('no mail arrived');
  t.equal(subject, 'VCB-TEST-0100|2027-03-09T10:00:00Z');
  t.same(recipients, ['chief@example.com'], 'administrators only (not operators)');
  t.same(mail.to, ['chief@example.com']);
  t.match(mail.decoded, /Licence VCB-TEST-0100 of the vcbox .* expires on 2027-03-09T10:00:00Z \(in 5 days\)/);
  t.match(mail.decoded, /授权 VCB-TEST-0100将于 2027-03-09T10:00:00Z 到期/);

  await advanceTo(new Date('2027-03-09T09:00:00.000Z'));
  t.equal(sink.mails.length, 1, 'one mail for the licence, not one a day');
  const audit = state.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'license.warning'").all() as { actor: string; detail: string }[];
  t.equal(audit.length, 1);
  t.equal(audit[0]?.actor, 'system');
});
