/**
 * A meeting spread over two workers: with one SIP leg per worker allowed, the second terminal's
 * transports go to a router on the other worker, piped to the meeting's router, and the two
 * still hear each other. Killing that other worker heals only its leg (re-INVITE to a new
 * port); the first terminal's call is not touched.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { afterSilence, dominantFrequency } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmaMedia, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: { workers: 2, legsPerWorker: 1 } });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Spread room', number: '880008', hostPin: '8888', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

t.test('legs on two workers hear each other; losing one worker heals only its leg', async (t) => {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const legA = await joinMeeting(target, { dial: room.number, name: 'OnMeetingWorker', media: pcmuMedia(a.port), hold: 9000 });
  const legB = await joinMeeting(target, { dial: room.number, name: 'Elsewhere', media: pcmaMedia(b.port), hold: 9000, scenario: 'meeting-join-heal.xml' });
  const [snapshot] = (await box.media?.snapshot(room.number)) ?? [];
  const workerOf = (name: string) => snapshot?.participants.find((p) => p.displayName === name)?.workerPid;
  t.equal(workerOf('OnMeetingWorker'), snapshot?.workerPid, 'the first leg is on the meeting worker');
  t.ok(workerOf('Elsewhere') && workerOf('Elsewhere') !== snapshot?.workerPid, `the second leg is on the other worker (${workerOf('Elsewhere')} vs ${snapshot?.workerPid})`);

  const toneA = await g711Tone('mulaw', 440, 2.5);
  const toneB = await g711Tone('alaw', 1000, 2.5);
  const talk = (portA: number, portB: number) =>
    Promise.all([
      a.send(portA, toneA, { payloadType: 0, frameBytes: 160, timestampStep: 160 }),
      b.send(portB, toneB, { payloadType: 8, frameBytes: 160, timestampStep: 160 }),
    ]);
  await talk(legA.answeredPort, legB.answeredPort);
  const heardByA = afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 0.5);
  const heardByB = afterSilence(await decodeG711('alaw', b.payloadOf(8)), 8000, 0.5);
  t.ok(Math.abs(dominantFrequency(heardByA, 8000) - 1000) < 60, `A hears B across workers (${Math.round(dominantFrequency(heardByA, 8000))} Hz)`);
  t.ok(Math.abs(dominantFrequency(heardByB, 8000) - 440) < 40, `B hears A across workers (${Math.round(dominantFrequency(heardByB, 8000))} Hz)`);

  process.kill(workerOf('Elsewhere') ?? 0, 'SIGKILL');
  const moved = await legB.movedPort(15_000);
  t.ok(moved > 0, `B re-INVITEd to port ${moved}`);
  a.received.length = 0;
  b.received.length = 0;
  await talk(legA.answeredPort, moved);
  // (Each talk starts a new RTP stream with a new SSRC, as terminals do after hold or a
  // re-INVITE: A's unchanged leg must take it as the continuation of its stream.)
  const again = afterSilence(await decodeG711('alaw', b.payloadOf(8)), 8000, 0.5);
  t.ok(Math.abs(dominantFrequency(again, 8000) - 440) < 40, `after healing B hears A again, A's stream restarted under a new SSRC (${Math.round(dominantFrequency(again, 8000))} Hz)`);
  const againA = afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 0.5);
  t.ok(Math.abs(dominantFrequency(againA, 8000) - 1000) < 60, `and A hears B's new leg (${Math.round(dominantFrequency(againA, 8000))} Hz)`);
  const [resultA, resultB] = await Promise.all([legA.result, legB.result]);
  t.ok(resultA.ok, `A's call was not disturbed ${resultA.errors}`);
  t.ok(resultB.ok, `B's call continued ${resultB.errors}`);
});
