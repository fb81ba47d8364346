/**
 * A SIP room system that asks for a key frame the SIP way (INFO with a picture_fast_update
 * media control, RFC 5168) instead of RTCP PLI — as many room systems do when their decoder
 * loses the picture — gets one: a real sipp terminal sends the INFO in the middle of its call,
 * the box answers 200 and the encoder of the composed picture it is sent makes a key frame
 * (the picture's key frame count, which only receivers' requests raise). A Red camera (ffmpeg)
 * and the room system's screen (ffmpeg) make the picture real.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { joinMeeting, pcmuVp8Media, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.polling.intervalSeconds': 300 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Key frame room', number: '880031', hostPin: '1122', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;

t.test('SIP INFO picture_fast_update: the composed picture the terminal is sent makes a key frame', async (t) => {
  const audio = await openTerminals(t, 'camera', 'room');
  const cameraVideo = await freePort();
  const camera = await joinMeeting(target, { dial: room.number, name: 'Red', media: pcmuVp8Media(audio.camera.port, cameraVideo), ...UNTIL_HUNG_UP });
  startCamera(t, 'red', cameraVideo, camera.answeredVideoPort);
  const screenPort = await freePort();
  const screen = new Screen(t, screenPort);
  // The INFO goes 12 s after the call is answered: time enough for the picture to settle first.
  const roomSystem = await joinMeeting(target, { dial: room.number, name: 'RoomSystem', media: pcmuVp8Media(audio.room.port, screenPort), ...UNTIL_HUNG_UP, scenario: 'meeting-join-info.xml', pause: 12_000 });

  const roomId = [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'RoomSystem')?.id ?? '';
  await waitFor('the room system on the composed picture', 15_000, () => box.media?.videoRouting(room.number)[roomId] === 'composed');
  await waitFor('Red on the room system screen', 15_000, () => screen.nameAt(0.25, 0.25) === 'red').catch(() => undefined);
  t.equal(screen.nameAt(0.25, 0.25), 'red', 'the room system sees the composed picture with Red');
  const keyFrames = () => box.media?.pictureState(room.number, roomId)?.keyFrames ?? 0;
  const before = keyFrames();
  const countedAt = Date.now();

  await waitFor('a key frame asked of the encoder', 30_000, () => keyFrames() > before).catch(() => undefined);
  t.ok(keyFrames() > before, `the encoder was asked for a key frame (${before} → ${keyFrames()})`);

  hangUpEveryone(box, room.number);
  const [cameraResult, roomResult] = await Promise.all([camera.result, roomSystem.result]);
  t.ok(cameraResult.ok, `the camera's call ended normally ${cameraResult.errors}`);
  t.ok(roomResult.ok, `the room system's INFO was answered 200 and its call ended normally ${roomResult.errors}`);
  t.match(roomResult.messages, /INFO sip:[\s\S]*picture_fast_update/, 'the room system sent its INFO');
  // sipp's message log stamps each message (local time): the count was taken before the INFO left.
  const sentAt = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\d*\s+UDP message sent[^\n]*\n\s*INFO sip:/.exec(roomResult.messages);
  t.ok(sentAt && countedAt < new Date(`${sentAt[1]}T${sentAt[2]}`).getTime(), `the count was taken before the INFO was sent (${sentAt?.[2]})`);
});
