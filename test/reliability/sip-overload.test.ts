/**
 * Overload refused early (#18), with sipp terminals and the real SIP application: the box's
 * bound of requests unanswered by the application is lowered to 4 for the test. Four callers
 * ringing a terminal (the test holds its answer) fill it; sipp then offers more — REGISTERs and
 * INVITEs — and every one is answered 503 with Retry-After by the signaling service (a
 * REGISTER after its 401 challenge, which the signaling service answers itself), counted
 * in the statistics /metrics shows. A call set up before goes on: the callee's BYE inside the
 * dialog passes and reaches the caller. When the ringing calls end, new requests pass again.
 */
import t from 'tap';
import { collectBoxMetrics, HttpCounters } from '../../server/observability/box-metrics.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { RawUas } from '../helpers/raw-uas.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';

const BOUND = 4;
// The queue-delay and loop-lag bounds far away: this test fills the in-flight bound, which it
// controls (test/signaling/overload.test.ts passes the other two).
const box = await startSipBox({ overload: { inFlight: BOUND, queueDelayMs: 60_000, loopLagMs: 60_000 } });
t.teardown(() => box.close());
for (const number of ['7001', '7002', '7003']) box.app.accounts.create({ number, name: `Room ${number}`, password: `secret-${number}` }, box.realm);
const target = `127.0.0.1:${box.port}`;
const ringing = await RawUas.open();
t.teardown(() => ringing.close());
const answering = await RawUas.open();
t.teardown(() => answering.close());

async function register(account: string, port: number): Promise<void> {
  const result = await runSipp({ scenario: 'register.xml', target, transport: 'u1', auth: [account, `secret-${account}`], keys: { account, contact_port: String(port), expires: '300', device: `raw${port}` } });
  if (!result.ok) throw new Error(`registration of ${account} failed:\n${result.errors}`);
}
await register('7001', ringing.port);
await register('7003', answering.port);

t.test('past the bound, new requests get 503 + Retry-After; the dialog goes on; then it serves again', async (t) => {
  // A call set up before the box is saturated (the caller waits for the callee's BYE).
  const caller = await startSipp({
    scenario: 'uac-call-remote-bye.xml',
    target,
    transport: 'u1',
    auth: ['7002', 'secret-7002'],
    keys: { caller: '7002', callee: '7003' },
    timeoutSeconds: 90,
    extraArgs: ['-recv_timeout', '90000'],
  });
  const call = await waitFor('the call to reach 7003', 20_000, () => answering.invites[0]);
  answering.answer(call, 200);
  await waitFor('the ACK of the answered call', 20_000, () => call.acked);

  // Four callers ring 7001, which holds its answer: four INVITEs unanswered = the bound.
  const ringers = await startSipp({
    scenario: 'uac-rings-busy.xml',
    target,
    transport: 'u1',
    calls: BOUND,
    auth: ['7002', 'secret-7002'],
    keys: { caller: '7002', callee: '7001' },
    timeoutSeconds: 90,
    extraArgs: ['-l', String(BOUND), '-r', '20', '-recv_timeout', '90000'],
  });
  await waitFor('four calls ringing', 30_000, () => ringing.invites.length === BOUND && box.service.stats().awaitingApplication === BOUND);
  const before = box.service.stats();

  const excess = await runSipp({ scenario: 'overload-refused.xml', target, transport: 'u1', calls: 20, auth: ['7002', 'secret-7002'], keys: { account: '7002', callee: '7003' }, extraArgs: ['-r', '50', '-l', '20'], timeoutSeconds: 30 });
  t.ok(excess.ok, `20 REGISTERs and 20 INVITEs, each answered 503 with a Retry-After (exit ${excess.exitCode})\n${excess.errors}`);
  t.match(excess.messages, /SIP\/2\.0 503 Service Unavailable[\s\S]*Retry-After: 5/, 'the refusal as sent');
  const during = box.service.stats();
  t.equal(during.errors.overloaded - before.errors.overloaded, 40, 'each refusal counted');
  t.equal(during.overloadRefused.inFlight - before.overloadRefused.inFlight, 40, 'by the in-flight bound');
  t.equal(during.awaitingApplication, BOUND, 'nothing refused reached the application');
  const metrics = await collectBoxMetrics({ signaling: { status: async () => ({ stats: during, ports: box.service.ports }) }, online: () => [], live: box.app.live, http: new HttpCounters() } as unknown as Parameters<typeof collectBoxMetrics>[0]);
  t.match(metrics.find((f) => f.name === 'vcbox_sip_overload_refused_total')?.samples, [{ labels: { reason: 'in_flight' }, value: during.overloadRefused.inFlight }], 'in /metrics');

  // Inside the dialog nothing is refused: the callee's BYE goes through to the caller.
  t.match(await answering.bye(call), /^SIP\/2\.0 200 /, 'BYE inside the dialog answered 200 while saturated');
  const finished = await caller.result;
  t.ok(finished.ok, `the caller got the BYE and answered it (exit ${finished.exitCode})\n${finished.errors}`);

  // The ringing callee answers busy: the calls end, the application has nothing pending.
  for (const invite of ringing.invites) ringing.answer(invite, 486);
  const rung = await ringers.result;
  t.ok(rung.ok, `the four callers got 486 (exit ${rung.exitCode})\n${rung.errors}`);
  await waitFor('nothing pending', 10_000, () => box.service.stats().awaitingApplication === 0);
  await register('7002', 5999);
  t.pass('a new REGISTER is served again');
});
