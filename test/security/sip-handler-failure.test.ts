/**
 * Finding 2, from a terminal's side on the real appliance (scripts/run.sh): a SIP request whose
 * handler fails — here the database refuses the call record of a meeting call, as it would
 * when the disk fails — gets a 500 that says what happened (an incident to report), the
 * failure is logged, and the control plane (which runs the SIP application) keeps running:
 * no restart by the supervisor, and another terminal registers right after. Before the guard,
 * the rejected promise ended the process under Node 22, and every call with it.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openDatabase } from '../../server/db/database.ts';
import { openState } from '../../server/process/open-state.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startAppliance } from '../helpers/appliance.ts';
import { pcmuMedia } from '../helpers/meeting-terminal.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-handler-failure-'));
const seeded = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
new VmrStore(seeded.db).create({ name: 'Open room', number: '880077', hostPin: '7788', guestPin: '', capacity: 10 });
new AccountStore(seeded.db).create({ number: '1001', name: 'Room East', password: 'secret-1001' }, seeded.settings.get('network.localDomain'));
seeded.db.close();
const box = await startAppliance({ dataDir });
t.teardown(() => box.interrupt(10_000));
const target = `127.0.0.1:${box.sipPort}`;

t.test('a failing INVITE handler answers 500 with an incident; the box keeps serving', async (t) => {
  // The storage fails for call records (a real SQLite error inside the running process).
  const db = openDatabase(path.join(dataDir, 'vcbox.sqlite'));
  t.teardown(() => db.close());
  db.exec("CREATE TRIGGER test_storage_failure BEFORE INSERT ON call_records BEGIN SELECT RAISE(ABORT, 'storage failure (test)'); END");
  const call = await runSipp({
    scenario: scenarioWith('meeting-refused.xml', {
      dial: '880077',
      status: '500',
      reason: 'Server Internal Error - The box failed while handling this INVITE \\(incident [0-9a-f]{8}\\)',
      media: pcmuMedia(40_002),
    }),
    target,
    transport: 'u1',
  });
  db.exec('DROP TRIGGER test_storage_failure');
  t.ok(call.ok, `the INVITE got its 500 with the incident\n${call.errors}`);
  const incident = /incident ([0-9a-f]{8})/.exec(call.messages)?.[1] ?? 'none';
  t.match(box.output(), new RegExp(`"incident":"${incident}"[^\\n]*SIP request handler failed`), `the failure is logged under incident ${incident}`);
  t.match(box.output(), /storage failure \(test\)/, 'with its cause');

  const terminal = await runSipp({
    scenario: 'register.xml',
    target,
    transport: 'u1',
    auth: ['1001', 'secret-1001'],
    keys: { contact_port: '5060', account: '1001', expires: '300', device: 'after' },
  });
  t.ok(terminal.ok, `another terminal registers right after\n${terminal.errors}`);
  t.notMatch(box.output(), /exited unexpectedly/, 'no process of the box ended (the supervisor restarted nothing)');
});
