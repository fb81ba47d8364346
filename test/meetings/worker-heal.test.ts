/**
 * A mediasoup worker killed mid-meeting: the meeting heals. The media service rebuilds the
 * meeting on the replacement worker, the SIP side re-joins each leg with the terminal's offer
 * and re-INVITEs the terminal to the new port, and both terminals hear each other again.
 * The heal time (kill → both re-INVITEs answered) is printed.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { afterSilence, dominantFrequency } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmaMedia, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Heal room', number: '880002', hostPin: '2468', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

t.test('killing the worker under a meeting: legs re-attached by re-INVITE, audio flows again', async (t) => {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const toneA = await g711Tone('mulaw', 440, 1.5);
  const toneB = await g711Tone('alaw', 1000, 1.5);
  const legA = await joinMeeting(target, { dial: room.number, name: 'Ada', media: pcmuMedia(a.port), hold: 4000, scenario: 'meeting-join-heal.xml' });
  const legB = await joinMeeting(target, { dial: room.number, name: 'Bo', media: pcmaMedia(b.port), hold: 4000, scenario: 'meeting-join-heal.xml' });
  const sendBoth = (portA: number, portB: number) =>
    Promise.all([
      a.send(portA, toneA, { payloadType: 0, frameBytes: 160, timestampStep: 160 }),
      b.send(portB, toneB, { payloadType: 8, frameBytes: 160, timestampStep: 160 }),
    ]);
  await sendBoth(legA.answeredPort, legB.answeredPort);
  t.ok(a.received.length > 50 && b.received.length > 50, 'media flows before the kill');

  const worker = box.pool?.workers[0];
  t.ok(worker, 'one worker');
  const killedAt = performance.now();
  process.kill(worker?.pid ?? 0, 'SIGKILL');
  const [movedA, movedB] = await Promise.all([legA.movedPort(15_000), legB.movedPort(15_000)]);
  const healMs = Math.round(performance.now() - killedAt);
  t.not(box.pool?.workers[0]?.pid, worker?.pid, 'a new worker replaced the dead one');
  t.ok(movedA > 0 && movedB > 0, `both terminals were re-INVITEd to new ports (${movedA}, ${movedB}) ${healMs} ms after the kill (respawn delay 500 ms included)`);

  a.received.length = 0;
  b.received.length = 0;
  await sendBoth(movedA, movedB);
  const heardByA = afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 0.5);
  const heardByB = await decodeG711('alaw', b.payloadOf(8, 20).subarray(0, 4000));
  t.ok(Math.abs(dominantFrequency(heardByA, 8000) - 1000) < 60, `after healing A hears B (${Math.round(dominantFrequency(heardByA, 8000))} Hz)`);
  t.ok(Math.abs(dominantFrequency(heardByB, 8000) - 440) < 40, `after healing B hears A (${Math.round(dominantFrequency(heardByB, 8000))} Hz)`);

  const [resultA, resultB] = await Promise.all([legA.result, legB.result]);
  t.ok(resultA.ok, `A's call continued and ended normally ${resultA.errors}`);
  t.ok(resultB.ok, `B's call continued and ended normally ${resultB.errors}`);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});
