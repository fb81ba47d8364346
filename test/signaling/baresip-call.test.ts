/**
 * Two real SIP terminals (baresip) register to the box with digest authentication and one
 * calls the other by its 4-digit number: the call is established on both sides, RTP flows,
 * and hanging up ends it on both sides with a call record.
 */
import t from 'tap';
import { Baresip } from '../helpers/baresip.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox();
t.teardown(() => box.close());
box.app.accounts.create({ number: '6001', name: 'Baresip caller', password: 'secret-6001' }, box.realm);
box.app.accounts.create({ number: '6002', name: 'Baresip callee', password: 'secret-6002' }, box.realm);

// Debian's baresip 1.0 binds no SIP socket on this machine kind (strace: no bind() for SIP after
// "baresip is ready"; every REGISTER ends in "Function not implemented"), with default or
// explicit sip_listen/net_interface alike. Until that is solved the sipp terminals carry the
// registration and call tests; this test runs when VCBOX_TEST_BARESIP=1.
const baresipWorks = process.env.VCBOX_TEST_BARESIP === '1';

t.test('baresip registers and calls another baresip through the box', { skip: baresipWorks ? false : 'baresip 1.0 opens no SIP transport on this machine kind (see the comment above)' }, async (t) => {
  const caller = await Baresip.start({ account: '6001', password: 'secret-6001', boxPort: box.port });
  t.teardown(() => caller.close());
  const callee = await Baresip.start({ account: '6002', password: 'secret-6002', boxPort: box.port, autoAnswer: true });
  t.teardown(() => callee.close());
  await caller.waitFor('REGISTER_OK');
  await callee.waitFor('REGISTER_OK');
  t.match(box.app.location.lookup('6002'), [{ source: { protocol: 'udp' }, model: /baresip/i }], 'the callee is online with its model');

  caller.command('dial', `sip:6002@127.0.0.1:${box.port}`);
  await callee.waitFor('CALL_INCOMING');
  await callee.waitFor('CALL_ESTABLISHED');
  await caller.waitFor('CALL_ESTABLISHED');
  t.pass('established on both sides');
  await caller.waitFor('CALL_RTPESTAB');
  await callee.waitFor('CALL_RTPESTAB');
  t.pass('RTP flows both ways');

  caller.command('hangup');
  await callee.waitFor('CALL_CLOSED');
  await caller.waitFor('CALL_CLOSED');
  t.pass('hang-up reaches the callee');
  const records = box.db.prepare("SELECT caller, callee, outcome, duration_s FROM call_records WHERE type = 'p2p'").all();
  t.match(records, [{ caller: '6001', callee: '6002', outcome: 'answered' }]);
});
