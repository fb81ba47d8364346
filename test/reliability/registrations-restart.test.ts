/**
 * Nothing lost on a restart (#18): the whole box from its run command (supervisor and its real
 * processes). A terminal (sipp over UDP) registers; the control plane is killed with SIGKILL
 * and the supervisor starts it again — the account is online again without a new REGISTER
 * and a call to it reaches the terminal. Then the same with the signaling service: the
 * registrations live in the control plane, so a UDP terminal stays reachable.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { alive, startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const box = await startAppliance();
t.teardown(() => box.interrupt(10_000));
const target = `127.0.0.1:${box.sipPort}`;
const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
for (const [number, name] of [['3001', 'Callee Room'], ['3002', 'Caller Room']] as const) {
  const created = await admin.call('POST', '/api/v1/accounts', { number, name, password: `secret-${number}` });
  if (created.status !== 201) throw new Error(`account ${number}: ${created.status} ${JSON.stringify(created.body)}`);
}
// sipp terminals answer only what their scenario expects: no qualify OPTIONS.
const off = await admin.call('PATCH', '/api/v1/settings', { 'sip.qualifySeconds': 0 });
if (off.status !== 200) throw new Error(`qualify off: ${off.status} ${JSON.stringify(off.body)}`);

/** Pids of the supervisor's children named `name`, in the order they were started. */
const pidsOf = (name: string) => [...box.output().matchAll(new RegExp(`"name":"${name}","pid":(\\d+),"msg":"process started"`, 'g'))].map((m) => Number(m[1]));
const connections = () => box.output().match(/SIP application connected to the signaling service/g)?.length ?? 0;
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
const onlineAccounts = async (): Promise<string[]> => ((await admin.call('GET', '/api/v1/online-users')).body as any[]).map((row) => row.account);
/** The registrations the box has written to its database (what a restart reads back). */
const storedContacts = (account: string): string[] => {
  const db = new Database(path.join(box.dataDir, 'vcbox.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT contact FROM sip_registrations WHERE account = ?').all(account) as { contact: string }[]).map((row) => row.contact);
  } finally {
    db.close();
  }
};

/** SIGKILL to one of the box's processes; resolves once the supervisor's new one is up and the SIP application connected again. */
async function killAndWait(name: string): Promise<void> {
  const before = pidsOf(name);
  const pid = before.at(-1) as number;
  const connected = connections();
  process.kill(pid, 'SIGKILL');
  await waitFor(`${name} ${pid} to end`, 10_000, () => !alive(pid));
  await waitFor(`a new ${name} process`, 30_000, () => pidsOf(name).length > before.length);
  await waitFor('the SIP application to connect again', 60_000, () => connections() > connected);
  await waitFor('the console', 60_000, () => admin.call('GET', '/api/v1/health').then((r) => r.status === 200, () => false));
}

/** A call from 3002 to 3001, answered by a sipp terminal on the port 3001 registered. */
async function callReachesTerminal(t: Test, calleePort: number): Promise<void> {
  const callee = await startSipp({ scenario: 'uas-answer.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 30 });
  const caller = await runSipp({
    scenario: scenarioWith('uac-call.xml', { hold: '300' }),
    target,
    transport: 'u1',
    auth: ['3002', 'secret-3002'],
    keys: { caller: '3002', callee: '3001' },
    timeoutSeconds: 30,
  });
  t.ok(caller.ok, `caller: answered, ACKed, hung up (exit ${caller.exitCode})\n${caller.errors}`);
  const answered = await callee.result;
  t.ok(answered.ok, `the registered terminal answered, got ACK and BYE (exit ${answered.exitCode})\n${answered.errors}`);
}

const calleePort = await freePort();

t.test('a terminal registered before a kill -9 of the control plane is online after it, and reachable', async (t) => {
  const registered = await runSipp({
    scenario: 'register.xml',
    target,
    transport: 'u1',
    auth: ['3001', 'secret-3001'],
    keys: { account: '3001', contact_port: String(calleePort), expires: '600', device: 'room' },
  });
  t.ok(registered.ok, `3001 registered over UDP\n${registered.errors}`);
  t.same(await onlineAccounts(), ['3001']);
  // Write-behind: the binding reaches the disk within one flush interval.
  await waitFor('the registration on disk', 10_000, () => storedContacts('3001').length === 1);

  await killAndWait('control-plane');
  t.same(await onlineAccounts(), ['3001'], 'online again after the restart, with no new REGISTER');
  await callReachesTerminal(t, calleePort);
});

t.test('a kill -9 of the signaling service: the UDP terminal stays registered and reachable', async (t) => {
  await killAndWait('signaling');
  t.same(await onlineAccounts(), ['3001'], 'still online');
  await callReachesTerminal(t, calleePort);
});

t.test('an un-REGISTER is kept too: offline after another restart', async (t) => {
  const gone = await runSipp({
    scenario: 'register.xml',
    target,
    transport: 'u1',
    auth: ['3001', 'secret-3001'],
    keys: { account: '3001', contact_port: String(calleePort), expires: '0', device: 'room' },
  });
  t.ok(gone.ok, `3001 un-registered\n${gone.errors}`);
  await waitFor('the row to go', 10_000, () => storedContacts('3001').length === 0);
  await killAndWait('control-plane');
  t.same(await onlineAccounts(), [], 'no terminal comes back that had left');
});
