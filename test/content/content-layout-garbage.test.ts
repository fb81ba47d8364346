/**
 * A presenter as an attacker against the content layout (issue #19): whoever holds the floor
 * feeds the one picture every terminal without a content line shares (the content is decoded
 * there, in the meeting's compositor). A terminal that takes the floor and sends garbage on its
 * content line — random RTP payloads dressed as H.264 (single NAL units, STAP-A, FU-A
 * fragments, parameter sets of random bytes), out-of-order sequence numbers and timestamps —
 * must not stop that picture: the compositor keeps running (same process), the people panes go
 * on, the viewer's call goes on, and real slides sent afterwards are shown.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { contentOffer, joinWithContent, takeFloor } from '../helpers/content-terminal.ts';
import { joinMeeting, pcmuVp8Media, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { sendH264Garbage } from '../helpers/h264-garbage.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { participantIdOf, startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.polling.intervalSeconds': 300 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Garbage content room', number: '880194', hostPin: '4477', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;


t.test('garbage content from the floor holder does not break the picture terminals without a content line share', async (t) => {
  const audio = await openTerminals(t, 'attacker', 'viewer');
  const cameraFrom = await freePort();
  const contentFrom = await freePort();
  const attacker = await joinWithContent(target, room.number, 'Attacker', contentOffer({ audio: audio.attacker.port, video: cameraFrom, content: contentFrom }, 'TCP/BFCP', 109));
  const answer = parseSdp(attacker.answer);
  startCamera(t, 'red', cameraFrom, answer.media[1]?.port ?? 0, 90);
  const screenPort = await freePort();
  let screenRtcp = await freePort();
  if (screenRtcp === screenPort + 1) screenRtcp = await freePort();
  const screen = new Screen(t, screenPort, 'VP8', 90, screenRtcp);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, screenPort, screenRtcp), ...UNTIL_HUNG_UP });
  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';
  const viewerId = await participantIdOf(box, room.number, 'Viewer');

  await takeFloor(t, attacker.answer);
  await waitFor('the content layout', 15_000, () => box.media?.pictureState(room.number, viewerId)?.content !== undefined);
  const pid = box.media?.pictureState(room.number, viewerId)?.pid;
  t.ok(pid, `the content layout runs (compositor ${pid})`);

  // Garbage on the content line: 1 200 packets over about 6 s.
  const contentPort = contentLine(answer.media)?.port ?? 0;
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(contentFrom, '127.0.0.1', resolve));
  await sendH264Garbage(socket, contentPort, 1200);
  await new Promise<void>((resolve) => socket.close(() => resolve()));

  t.equal(box.media?.pictureState(room.number, viewerId)?.pid, pid, 'the same compositor process: it did not die on the garbage');
  t.ok(idOf('Viewer') && idOf('Attacker'), 'both calls go on');
  await screen.restart();
  await waitFor("the people panes go on", 15_000, () => screen.nameAt(5 / 6, 1 / 6) === 'red').catch(() => undefined);
  t.equal(screen.nameAt(5 / 6, 1 / 6), 'red', "the viewer still sees the presenter's camera in its small pane");

  // Real slides after the garbage are shown.
  const slides: ChildProcess = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'color=c=blue:size=640x360:rate=5', '-t', '60',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '5', '-b:v', '200k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${contentPort}?localrtpport=${contentFrom}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
  t.teardown(() => slides.kill('SIGKILL'));
  await waitFor('the slides', 20_000, () => screen.nameAt(1 / 3, 1 / 3) === 'blue').catch(() => undefined);
  t.equal(screen.nameAt(1 / 3, 1 / 3), 'blue', `real slides after the garbage are shown in the big pane (${screen.frames} frames)`);
  t.equal(box.media?.pictureState(room.number, viewerId)?.pid, pid, 'still the same compositor');

  for (const name of ['Attacker', 'Viewer']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([attacker.result, viewer.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
