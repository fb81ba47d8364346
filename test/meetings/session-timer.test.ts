/**
 * Session timers (RFC 4028) on meeting calls: an interval below the box's minimum gets 422 with
 * Min-SE; an accepted one is confirmed in the 200 (refresher=uac, Require: timer when the
 * terminal supports it), and a terminal that never refreshes is hung up when it runs out.
 * After a control-plane restart (the SIP application handing its calls over and a new one
 * taking them over, in this process) the box expects the refreshes again: a terminal that
 * refreshes by UPDATE gets the interval confirmed and stays until its next refresh is due, one
 * that does not is hung up. The box's minimum is shortened to 2 s here so the test does not
 * wait 90 s.
 */
import t from 'tap';
import { CallRecords } from '../../server/cdr/call-records.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { DialogTerminal } from '../helpers/dialog-terminal.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';

const box = await startSipBox({ media: {}, minSessionSeconds: 2, takeover: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Timer room', number: '880006', hostPin: '5555', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

t.test('too short a session interval: 422 with Min-SE', async (t) => {
  const result = await runSipp({
    scenario: scenarioWith('meeting-refused.xml', {
      dial: room.number,
      status: '422',
      reason: 'Session Interval Too Small',
      media: pcmuMedia(40000),
      headers: '\n      Session-Expires: 1\n      Supported: timer',
    }),
    target,
    transport: 'u1',
  });
  t.ok(result.ok, `422 ${result.errors}`);
  t.match(result.messages, /Min-SE: 2/i, 'the 422 says the smallest interval the box takes');
});

t.test('no refresh within the interval: the box ends the call', async (t) => {
  const { rtp } = await openTerminals(t, 'rtp');
  const leg = await joinMeeting(target, {
    dial: room.number,
    name: 'Forgetful',
    media: pcmuMedia(rtp.port),
    hold: 15_000,
    scenario: 'meeting-join-remote-bye.xml',
    headers: ['Session-Expires: 3;refresher=uac', 'Supported: timer'],
  });
  const result = await leg.result;
  t.ok(result.ok, `the terminal got a BYE ${result.errors}`);
  t.match(result.messages, /SIP\/2.0 200 OK[\s\S]*Session-Expires: 3;refresher=uac/, 'the 200 confirms the interval, the terminal refreshes');
  t.match(result.messages, /Require: timer/, 'and requires the timer extension it supports');
  t.match(result.messages, /Reason: SIP;cause=200;text="session timer expired \(no refresh\)"/, 'the BYE says why');
});

t.test('after a take-over the box expects the refreshes as before the restart', async (t) => {
  const { q, f } = await openTerminals(t, 'q', 'f');
  const quiet = await DialogTerminal.open('Quiet');
  const fresh = await DialogTerminal.open('Fresh');
  t.teardown(() => {
    q.stop();
    f.stop();
    quiet.close();
    fresh.close();
  });
  // 12 s: the box hangs up 8 s (12 - 12/3) after the last refresh — long enough for the restart below.
  const timerHeaders = ['Session-Expires: 12;refresher=uac', 'Supported: timer'];
  await quiet.join(box.port, room.number, pcmuMedia(q.port), 15_000, timerHeaders);
  await fresh.join(box.port, room.number, pcmuMedia(f.port), 15_000, timerHeaders);
  t.match(quiet.answer, /^Session-Expires: 12;refresher=uac/m, 'the 200 confirms the interval');
  const tone = await g711Tone('mulaw', 440, 60);
  void q.send(0, tone, { payloadType: 0, frameBytes: 160, timestampStep: 160, to: () => quiet.answeredPort });
  void f.send(0, tone, { payloadType: 0, frameBytes: 160, timestampStep: 160, to: () => fresh.answeredPort });
  await waitFor('both in the meeting', 10_000, () => box.app.live.get(room.number)?.participants.size === 2);

  const app = await box.restartApplication();
  await waitFor('the new application to take both calls over', 30_000, () => app.live.get(room.number)?.participants.size === 2);
  t.pass('a new SIP application took both calls over');
  t.same([quiet.requests.length, fresh.requests.length], [0, 0], 'no BYE was sent across the restart');

  await new Promise((resolve) => setTimeout(resolve, 3000));
  const refresh = await fresh.inDialog('UPDATE', 10_000, timerHeaders);
  t.equal(refresh.status, 200, 'a refresh (UPDATE) after the take-over is answered 200');
  t.match(refresh.response, /^Session-Expires: 12;refresher=uac/m, 'confirming the interval');
  t.match(refresh.response, /^Require: timer/m, 'and requiring the timer extension');

  const bye = await quiet.byeFromBox(60_000);
  t.match(bye, /^Reason: SIP;cause=200;text="session timer expired \(no refresh\)"/m, 'the terminal that did not refresh after the take-over is hung up when its interval runs out');
  t.notOk(fresh.requests.some((r) => r.startsWith('BYE ')), 'the one that refreshed is still in the call then');
  t.equal(app.live.get(room.number)?.participants.size, 1, 'and still in the meeting');
  const byeFresh = await fresh.byeFromBox(60_000);
  t.match(byeFresh, /session timer expired/, 'until its own next refresh is missed');
  const records = new CallRecords(box.db);
  const ended = await waitFor('both records to end', 10_000, () => {
    const rows = [records.byCallId(quiet.callId), records.byCallId(fresh.callId)];
    return rows.every((r) => r?.endedAt) ? rows : undefined;
  });
  t.same(
    ended.map((r) => r?.endReason),
    ['session timer expired (no refresh)', 'session timer expired (no refresh)'],
    'each record closes saying so',
  );
});
