/**
 * Point-to-point calls between registered accounts, with sipp as both terminals: the caller
 * authenticates, the callee's terminal answers (ringing: the CANCEL tests), the call is relayed end to end
 * (ACK, BYE), and a call record is written; busy and unknown/offline callees are refused.
 * A callee whose first answer is lost is called again by the box's repeated INVITE and connects.
 * Last, the SIP application stops as a control plane restarting alone does: a point-to-point
 * call, which a restarted one cannot take over, ends with a BYE to both terminals saying why.
 */
import dgram from 'node:dgram';
import t from 'tap';
import { CallRecords } from '../../server/cdr/call-records.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { connectTcp, digestAnswer, headerValues, registerRequest, streamExchange } from '../helpers/sip-socket.ts';
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
  t.ok(answered.ok, `callee: answered, got ACK and BYE (exit ${answered.exitCode})\n${answered.errors}`);
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
  for (const [callee, status] of [['2009', '480'], ['2999', '404']] as const) {
    const result = await runSipp({
      scenario: scenarioWith('uac-call-refused.xml', { status }),
      target,
      transport: 'u1',
      auth: ['2001', 'secret-2001'],
      keys: { caller: '2001', callee },
    });
    t.ok(result.ok, `${callee}: refused with ${status}\n${result.errors}`);
  }
  // A longer number is a meeting ID: no such meeting (callers may dial meetings as guests).
  const noMeeting = await runSipp({
    scenario: scenarioWith('meeting-refused.xml', { dial: '12345', status: '404', reason: 'Not Found - no such meeting', media: 'm=audio 40000 RTP/AVP 0' }),
    target,
    transport: 'u1',
  });
  t.ok(noMeeting.ok, `12345: refused with 404 no such meeting\n${noMeeting.errors}`);
  const wrong = await runSipp({
    scenario: scenarioWith('uac-call-refused.xml', { status: '403' }),
    target,
    transport: 'u1',
    auth: ['2001', 'wrong-password'],
    keys: { caller: '2001', callee: '2002' },
  });
  t.ok(wrong.ok, `wrong password: 403\n${wrong.errors}`);
});

t.test('the callee hangs up: its BYE is relayed to the caller', async (t) => {
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: scenarioWith('uas-answer-hangup.xml', { hold: '500' }), transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  await register('2002', calleePort);
  const caller = await runSipp({ scenario: 'uac-call-remote-bye.xml', target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2002' } });
  t.ok(caller.ok, `caller got the BYE (exit ${caller.exitCode})\n${caller.errors}`);
  const ended = await callee.result;
  t.ok(ended.ok, `callee's BYE answered 200 (exit ${ended.exitCode})\n${ended.errors}`);
  const callId = /Call-ID: (\S+)/.exec(caller.messages)?.[1] ?? '';
  t.match(records.byCallId(callId), { outcome: 'answered' });
  t.ok(records.byCallId(callId)?.endedAt, 'end time recorded');
});

t.test('busy callee: the caller gets 486; the record says busy', async (t) => {
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-busy.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  await register('2003', calleePort).catch(() => undefined);
  box.app.accounts.create({ number: '2003', name: 'Busy Room', password: 'secret-2003' }, box.realm);
  await register('2003', calleePort);
  const caller = await runSipp({ scenario: scenarioWith('uac-call-refused.xml', { status: '486' }), target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2003' } });
  t.ok(caller.ok, `486 Busy Here relayed\n${caller.errors}`);
  t.ok((await callee.result).ok, 'callee got the ACK for its 486');
  const callId = /Call-ID: (\S+)/.exec(caller.messages)?.[1] ?? '';
  t.match(records.byCallId(callId), { outcome: 'busy', answeredAt: null });
});

t.test('the caller cancels while the callee rings: CANCEL reaches the callee, 487 the caller', async (t) => {
  box.app.accounts.create({ number: '2004', name: 'Ringing Room', password: 'secret-2004' }, box.realm);
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-ring.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  await register('2004', calleePort);
  const caller = await runSipp({ scenario: 'uac-cancel.xml', target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2004' } });
  t.ok(caller.ok, `caller: 180, CANCEL → 200, 487, ACK (exit ${caller.exitCode})\n${caller.errors}`);
  t.ok((await callee.result).ok, 'callee was cancelled by the box');
  const callId = /Call-ID: (\S+)/.exec(caller.messages)?.[1] ?? '';
  // The record is closed when the forked INVITE's 487 comes back from the callee, which may be
  // a moment after the caller's own transaction ended.
  for (let i = 0; i < 60 && !records.byCallId(callId)?.outcome; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(records.byCallId(callId), { outcome: 'canceled' });
});

t.test('two terminals of one account ring at once; the first answer wins, the other is cancelled', async (t) => {
  box.app.accounts.create({ number: '2005', name: 'Two devices', password: 'secret-2005' }, box.realm);
  const ringerPort = await freePort();
  const answererPort = await freePort();
  const ringer = await startSipp({ scenario: 'uas-ring.xml', transport: 'u1', localPort: ringerPort, timeoutSeconds: 20 });
  const answerer = await startSipp({ scenario: 'uas-answer.xml', transport: 'u1', localPort: answererPort, timeoutSeconds: 20 });
  await register('2005', ringerPort);
  await register('2005', answererPort);
  t.equal(box.app.location.lookup('2005').length, 2);
  const caller = await runSipp({ scenario: scenarioWith('uac-call.xml', { hold: '300' }), target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2005' } });
  t.ok(caller.ok, `caller connected (exit ${caller.exitCode})\n${caller.errors}`);
  t.ok((await answerer.result).ok, 'the answering terminal got ACK and BYE');
  t.ok((await ringer.result).ok, 'the other terminal was cancelled');
});

t.test('a call over TCP between terminals registered over TCP', async (t) => {
  box.app.accounts.create({ number: '2006', name: 'TCP Room', password: 'secret-2006' }, box.realm);
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-answer.xml', transport: 't1', localPort: calleePort, timeoutSeconds: 20 });
  await register('2006', calleePort, 't1');
  const caller = await runSipp({ scenario: scenarioWith('uac-call.xml', { hold: '300' }), target, transport: 't1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2006' } });
  t.ok(caller.ok, `caller over TCP (exit ${caller.exitCode})\n${caller.errors}`);
  t.ok((await callee.result).ok, `callee over TCP`);
});

t.test('a terminal registered over TCP is called over its own connection (NAT-friendly reuse)', async (t) => {
  box.app.accounts.create({ number: '2007', name: 'Behind NAT', password: 'secret-2007' }, box.realm);
  const socket = await connectTcp(box.port);
  t.teardown(() => socket.destroy());
  // Its Contact names a port nobody listens on: only the open connection can reach it.
  const base = { transport: 'TCP' as const, account: '2007', domain: box.realm, callId: 'nat-reg', contact: 'sip:2007@127.0.0.1:9;transport=tcp', expires: 300 };
  const challenge = await streamExchange(socket, registerRequest({ ...base, cseq: 1 }), /\r\n\r\n/);
  const authorization = digestAnswer(headerValues(challenge.received, 'WWW-Authenticate')[0] ?? '', '2007', 'secret-2007', 'REGISTER', `sip:${box.realm}`);
  const registered = await streamExchange(socket, registerRequest({ ...base, cseq: 2, authorization }), /\r\n\r\n/);
  t.match(registered.received, /^SIP\/2\.0 200 OK/);

  const invite = new Promise<string>((resolve) => {
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const end = buffer.indexOf('\r\n\r\n');
      if (!buffer.startsWith('INVITE ') || end < 0) return;
      const length = Number(/\r\nContent-Length: (\d+)/i.exec(buffer)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      socket.removeAllListeners('data');
      resolve(buffer.slice(0, end + 4 + length));
    });
  });
  const caller = runSipp({ scenario: scenarioWith('uac-call-refused.xml', { status: '486' }), target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2007' } });
  const received = await invite;
  t.match(received, /^INVITE sip:2007@127\.0\.0\.1:9;transport=tcp SIP\/2\.0\r\n/, 'the INVITE came over the registration connection');
  const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(received)?.[1] ?? '';
  const busy = [
    'SIP/2.0 486 Busy Here',
    ...received.split('\r\n').filter((line) => /^Via:/i.test(line)),
    `From: ${header('From')}`,
    `To: ${header('To')};tag=natbusy`,
    `Call-ID: ${header('Call-ID')}`,
    `CSeq: ${header('CSeq')}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const ack = await streamExchange(socket, busy, /^ACK /m);
  t.match(ack.received, /^ACK sip:2007@127\.0\.0\.1:9;transport=tcp SIP\/2\.0\r\n/, 'and the ACK for the 486 too');
  const result = await caller;
  t.ok(result.ok, `the caller heard busy\n${result.errors}`);
});

t.test('INVITEs with wrong credentials count towards the lock-out of their address', async (t) => {
  const wrong = await runSipp({
    scenario: scenarioWith('uac-call-refused.xml', { status: '403' }),
    target,
    transport: 'u1',
    localIp: '127.0.0.5',
    calls: 10,
    auth: ['2001', 'not-it'],
    keys: { caller: '2001', callee: '2002' },
  });
  t.ok(wrong.ok, `ten refused calls\n${wrong.errors}`);
  const locked = await runSipp({
    scenario: scenarioWith('uac-call-refused.xml', { status: '403' }),
    target,
    transport: 'u1',
    localIp: '127.0.0.5',
    auth: ['2001', 'secret-2001'],
    keys: { caller: '2001', callee: '2002' },
  });
  t.match(locked.messages, /SIP\/2\.0 403 Too many failed authentications; try again later/, 'even a fresh call is refused at once');
  t.notMatch(locked.messages, /SIP\/2\.0 407/, 'without a challenge to answer');
  const audit = box.db.prepare("SELECT source, detail FROM audit_log WHERE action = 'sip.auth.lockout'").all() as { source: string; detail: string }[];
  t.match(audit, [{ source: '127.0.0.5' }]);
  t.match(JSON.parse(audit[0]?.detail ?? '{}'), { method: 'INVITE', account: '2001' });
});

// Last: it stops the SIP application.
t.test("the callee's answer is lost: the box repeats its INVITE and the call connects on the answer to the repetition", async (t) => {
  // What the overload benchmark relies on: under overload the box's socket may drop a callee's
  // 180/200; the box's INVITE goes again (Timer A) and a terminal answers it again — no 408.
  box.app.accounts.create({ number: '2008', name: 'Lossy Room', password: 'secret-2008' }, box.realm);
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => socket.close());
  const seen = new Map<string, number>();
  let acked = false;
  let byeAnswered = false;
  const line = (text: string, name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(text)?.[1]?.trim() ?? '';
  socket.on('message', (data, from) => {
    const text = data.toString('latin1');
    const method = /^(\w+) /.exec(text)?.[1];
    const answer = (status: string, toTag: string, extra = '', body = '') =>
      socket.send(
        `SIP/2.0 ${status}\r\n${text.match(/^Via:.*$/gim)?.join('\r\n')}\r\nFrom: ${line(text, 'From')}\r\nTo: ${line(text, 'To')}${toTag}\r\nCall-ID: ${line(text, 'Call-ID')}\r\nCSeq: ${line(text, 'CSeq')}\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`,
        from.port,
        from.address,
      );
    if (method === 'INVITE') {
      const branch = /branch=([^;\s]+)/.exec(line(text, 'Via'))?.[1] ?? '';
      const count = (seen.get(branch) ?? 0) + 1;
      seen.set(branch, count);
      if (count === 1) return; // the first answer "lost": nothing reaches the box
      const sdp = 'v=0\r\no=lossy 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
      const contact = `Contact: <sip:lossy@127.0.0.1:${socket.address().port}>\r\n`;
      answer('180 Ringing', ';tag=lossy', contact);
      answer('200 OK', ';tag=lossy', `${contact}Content-Type: application/sdp\r\n`, sdp);
    } else if (method === 'ACK') acked = true;
    else if (method === 'BYE') {
      answer('200 OK', '');
      byeAnswered = true;
    }
  });
  await register('2008', socket.address().port);
  const caller = await runSipp({ scenario: scenarioWith('uac-call.xml', { hold: '300' }), target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2008' } });
  t.ok(caller.ok, `the caller was connected, not given a 408 (exit ${caller.exitCode})\n${caller.errors}`);
  t.same([...seen.values()], [2], 'one INVITE to the callee, sent twice: the first went unanswered, the repetition was answered');
  await waitFor('the ACK and the BYE at the callee', 5_000, () => acked && byeAnswered);
  const callId = /Call-ID: (\S+)/.exec(caller.messages)?.[1] ?? '';
  t.match(records.byCallId(callId), { outcome: 'answered' });
});

t.test('the control plane stopping alone ends a point-to-point call with a BYE to both ends, saying why', async (t) => {
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-answer.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 30 });
  await register('2002', calleePort);
  const caller = await startSipp({ scenario: 'uac-call-remote-bye.xml', target, transport: 'u1', auth: ['2001', 'secret-2001'], keys: { caller: '2001', callee: '2002' }, timeoutSeconds: 30 });
  const answered = await waitFor('the call to be answered', 15_000, () => box.db.prepare("SELECT id FROM call_records WHERE type = 'p2p' AND answered_at IS NOT NULL AND ended_at IS NULL").get() as { id: number } | undefined);
  // A restart of the control plane: its point-to-point calls cannot be taken over by the next one.
  await box.app.close({ handOver: true });
  const [byCaller, byCallee] = await Promise.all([caller.result, callee.result]);
  t.ok(byCaller.ok, `the caller got a BYE and answered it (exit ${byCaller.exitCode})\n${byCaller.errors}`);
  t.ok(byCallee.ok, `the callee got a BYE and answered it (exit ${byCallee.exitCode})\n${byCallee.errors}`);
  t.match(byCaller.messages, /Reason: SIP;cause=200;text="the control plane is restarting; this kind of call is not kept across a restart"/, 'saying why');
  t.match(records.get(answered.id), { outcome: 'answered', endReason: 'the control plane is restarting; this kind of call is not kept across a restart' }, 'its record is closed with the reason');
});
