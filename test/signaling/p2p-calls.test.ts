/**
 * Point-to-point calls between registered accounts, with sipp as both terminals: the caller
 * authenticates, the callee's terminal rings and answers, the call is relayed end to end
 * (ACK, BYE), and a call record is written; busy and unknown/offline callees are refused.
 */
import t from 'tap';
import { CallRecords } from '../../server/cdr/call-records.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const box = await startSipBox();
t.teardown(() => box.close());
box.app.accounts.create({ number: '2001', name: 'Caller Room', password: 'secret-2001' }, box.realm);
box.app.accounts.create({ number: '2002', name: 'Callee Room', password: 'secret-2002' }, box.realm);
const records = new CallRecords(box.db);
const target = `127.0.0.1:${box.port}`;

/** Registers `account` with its Contact at `port` (where a sipp terminal will listen). */
async function register(account: string, port: number, transport: 'u1' | 't1' = 'u1') {
  const result = await runSipp({
    scenario: 'register.xml',
    target,
    transport,
    auth: [account, `secret-${account}`],
    keys: { account, contact_port: String(port), expires: '300', device: `p${port}` },
  });
  if (!result.ok) throw new Error(`registration of ${account} failed:\n${result.errors}`);
}

t.test('a registered account calls another; answer, ACK and BYE are relayed; CDR written', async (t) => {
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-answer.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  await register('2002', calleePort);
  const caller = await runSipp({
    scenario: scenarioWith('uac-call.xml', { hold: '1200' }),
    target,
    transport: 'u1',
    auth: ['2001', 'secret-2001'],
    keys: { caller: '2001', callee: '2002' },
  });
  t.ok(caller.ok, `caller: answered, ACKed, hung up (exit ${caller.exitCode})\n${caller.errors}`);
  const answered = await callee.result;
  t.ok(answered.ok, `callee: rang, answered, got ACK and BYE (exit ${answered.exitCode})\n${answered.errors}`);
  t.match(answered.messages, /From: "Caller Room" <sip:2001@vcbox\.local>/, 'the callee sees the caller account and its name');

  const callId = /Call-ID: (\S+)/.exec(caller.messages)?.[1] ?? '';
  const record = records.byCallId(callId);
  t.match(record, { type: 'p2p', caller: '2001', callee: '2002', outcome: 'answered' });
  t.ok(record?.answeredAt && record.endedAt, 'answer and end times recorded');
  t.ok((record?.durationSeconds ?? -1) >= 1 && (record?.durationSeconds ?? 99) <= 3, `duration ${record?.durationSeconds} s for a 1.2 s call`);
  t.same(box.service.stats().dialogs, 0, 'no dialog left behind');
});

t.test('calls to unknown or offline accounts, and unauthenticated callers, are refused', async (t) => {
  box.app.accounts.create({ number: '2009', name: 'Offline', password: 'secret-2009' }, box.realm);
  for (const [callee, status] of [['2009', '480'], ['2999', '404'], ['12345', '404']] as const) {
    const result = await runSipp({
      scenario: scenarioWith('uac-call-refused.xml', { status }),
      target,
      transport: 'u1',
      auth: ['2001', 'secret-2001'],
      keys: { caller: '2001', callee },
    });
    t.ok(result.ok, `${callee}: refused with ${status}\n${result.errors}`);
  }
  const wrong = await runSipp({
    scenario: scenarioWith('uac-call-refused.xml', { status: '403' }),
    target,
    transport: 'u1',
    auth: ['2001', 'wrong-password'],
    keys: { caller: '2001', callee: '2002' },
  });
  t.ok(wrong.ok, `wrong password: 403\n${wrong.errors}`);
});
