/**
 * Session timers (RFC 4028) on meeting calls: an interval below the box's minimum gets 422 with
 * Min-SE; an accepted one is confirmed in the 200 (refresher=uac, Require: timer when the
 * terminal supports it), and a terminal that never refreshes is hung up when it runs out.
 * The box's minimum is shortened to 2 s here so the test does not wait 90 s.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { joinMeeting, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';

const box = await startSipBox({ media: {}, minSessionSeconds: 2 });
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
