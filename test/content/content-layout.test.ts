/**
 * The content layout (issue #19), end to end: a room system presents (sipp signaling with a
 * content and a BFCP line, the real libre BFCP client taking the floor with the answer's IDs,
 * ffmpeg sending 4:3 blue slides in H.264 from its content port, a red camera on its people
 * line). Two terminals without a content line (audio and video only, as a phone or an old room
 * system) see the slides inside their composed picture: the content in the big pane of a 1+5,
 * kept 4:3 (black pillars on both sides), the people in the small panes — one picture shared by
 * both (the content decoded once). A room system with a content line keeps its people picture
 * (no slides in it) and gets the slides on its content line. Released, the meeting's own 2×2
 * comes back. With self-view exclusion on, the terminal without a content line leaves its own
 * picture for the shared content layout and returns to it when the presenter hangs up (the
 * floor released with the call). A terminal that declined its content line by re-INVITE is
 * shown the content layout, and nothing on that line. What the terminals see is checked in
 * decoded frames (ffmpeg screens).
 */
import dgram from 'node:dgram';
import { type ChildProcess, spawn } from 'node:child_process';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { BfcpClient, type BfcpClientEvent, floorRequestId, overallStatus } from '../helpers/bfcp-client.ts';
import { bfcpOf, contentOffer, type ContentTerminal, joinWithContent, takeFloor } from '../helpers/content-terminal.ts';
import { joinMeeting, type MeetingTerminal, pcmuVp8Media, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.polling.intervalSeconds': 300 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Content layout room', number: '880193', hostPin: '4466', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';

/** Slides: `colour` at 640×480 (4:3), 5 frames a second, H.264 (a key frame a second) as payload type 109. */
function startSlides(t: { teardown(fn: () => unknown): void }, colour: string, fromPort: number, toPort: number, seconds = 90): ChildProcess {
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${colour}:size=640x480:rate=5`, '-t', String(seconds),
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '5', '-b:v', '200k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${toPort}?localrtpport=${fromPort}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

/** A terminal's content port that only counts the RTP the box sends there. */
async function contentCounter(t: { teardown(fn: () => unknown): void }): Promise<{ port: number; packets: () => number }> {
  const socket = dgram.createSocket('udp4');
  let packets = 0;
  socket.on('message', (packet) => {
    if (packet.length >= 12 && packet.readUInt8(0) >> 6 === 2 && !((packet.readUInt8(1) & 0x7f) >= 72 && (packet.readUInt8(1) & 0x7f) <= 76)) packets++;
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  return { port: socket.address().port, packets: () => packets };
}

/** A screen on a terminal's people video port, asking for key frames by RTCP PLI from its own RTCP port (named by a=rtcp:). */
async function screenPorts(): Promise<{ port: number; rtcp: number }> {
  const port = await freePort();
  let rtcp = await freePort();
  if (rtcp === port + 1) rtcp = await freePort();
  return { port, rtcp };
}

t.test('while a room system presents, terminals without a content line see the slides big in their picture; the 2×2 returns after', async (t) => {
  const audio = await openTerminals(t, 'slides', 'viewer', 'phone', 'room');
  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';

  // The presenter: a red camera on its people line, blue 4:3 slides on its content line.
  const cameraFrom = await freePort();
  const slidesFrom = await freePort();
  const presenter = await joinWithContent(target, room.number, 'Slides', contentOffer({ audio: audio.slides.port, video: cameraFrom, content: slidesFrom }, 'TCP/BFCP', 109));
  const presenterAnswer = parseSdp(presenter.answer);
  startCamera(t, 'red', cameraFrom, presenterAnswer.media[1]?.port ?? 0, 90);

  // A terminal without a content line, its people video decoded.
  const viewerPorts = await screenPorts();
  const viewerScreen = new Screen(t, viewerPorts.port, 'VP8', 90, viewerPorts.rtcp);
  const viewer: MeetingTerminal = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, viewerPorts.port, viewerPorts.rtcp), ...UNTIL_HUNG_UP });
  t.ok(viewer.answeredVideoPort > 0, 'the viewer (no content line) has video');
  // Another one (a phone with video, no content line): it shares the viewer's content picture.
  const phone = await joinMeeting(target, { dial: room.number, name: 'Phone', media: pcmuVp8Media(audio.phone.port, await freePort()), ...UNTIL_HUNG_UP });
  t.ok(phone.answeredVideoPort > 0, 'the phone has video');

  // A room system with a content line: its people picture decoded, its content line counted.
  const roomPorts = await screenPorts();
  const roomScreen = new Screen(t, roomPorts.port, 'VP8', 90, roomPorts.rtcp);
  const roomContent = await contentCounter(t);
  const roomOffer = contentOffer({ audio: audio.room.port, video: roomPorts.port, content: roomContent.port }, 'TCP/BFCP', 109).replace('a=content:main', `a=content:main\na=rtcp:${roomPorts.rtcp}\na=rtcp-fb:97 nack pli`);
  const roomSystem: ContentTerminal = await joinWithContent(target, room.number, 'Room', roomOffer);
  t.ok((contentLine(parseSdp(roomSystem.answer).media)?.port ?? 0) > 0, 'the room system has a content line');

  const [slidesId, viewerId, phoneId, roomId] = [idOf('Slides'), idOf('Viewer'), idOf('Phone'), idOf('Room')];
  t.ok(slidesId && viewerId && phoneId && roomId, 'all four are in the meeting');
  const quadrants = (screen: Screen) => [screen.nameAt(0.25, 0.25), screen.nameAt(0.75, 0.25), screen.nameAt(0.25, 0.75), screen.nameAt(0.75, 0.75)].join(' ');
  // Points all over the picture: no slides anywhere in a people picture.
  const grid = (screen: Screen) => [0.1, 0.3, 0.5, 0.7, 0.9].flatMap((x) => [0.1, 0.3, 0.5, 0.7, 0.9].map((y) => screen.nameAt(x, y)));

  await waitFor("the presenter's camera in the viewer's 2×2", 20_000, () => viewerScreen.nameAt(0.25, 0.25) === 'red').catch(() => undefined);
  t.equal(box.media?.pictureState(room.number, viewerId)?.layout, '2x2', "before the presentation: the meeting's 2×2");
  t.equal(viewerScreen.nameAt(0.25, 0.25), 'red', `the viewer sees the presenter's camera top left (${quadrants(viewerScreen)})`);
  t.notOk(grid(viewerScreen).includes('blue'), 'no slides yet');

  // The presenter sends slides, then takes the floor (BFCP over TCP, the answer's IDs).
  const contentPort = contentLine(presenterAnswer.media)?.port ?? 0;
  t.ok(contentPort > 0, 'the presenter has a content port');
  startSlides(t, 'blue', slidesFrom, contentPort);
  const ids = bfcpOf(presenter.answer);
  const client = await BfcpClient.start({ transport: 'tcp', port: ids.port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => client.close());
  const grant = client.nextNotification(granted, 'Granted');
  const request = await client.request('request', 'FloorRequest');
  await grant;

  // The content layout: the content picture replaces the viewer's stream (a new SSRC: its decoder restarts).
  await waitFor('the content layout for the viewer', 15_000, () => box.media?.pictureState(room.number, viewerId)?.content?.participantId === slidesId);
  await viewerScreen.restart();
  const big = () => viewerScreen.nameAt(1 / 3, 1 / 3);
  await waitFor('the slides in the big pane', 20_000, () => big() === 'blue' && viewerScreen.nameAt(5 / 6, 1 / 6) === 'red').catch(() => undefined);
  const state = box.media?.pictureState(room.number, viewerId);
  t.equal(state?.layout, '1+5', 'a 1+5: the content big, the people small');
  t.match(state?.content, { participantId: slidesId, x: 0, y: 0, big: true }, "the big pane is the presenter's content");
  t.same(state?.panes.map((p) => p.participantId), [slidesId, viewerId, phoneId, roomId], 'the people in the small panes, in join order');
  t.equal(big(), 'blue', `the viewer sees the slides in the big pane (${viewerScreen.frames} frames)`);
  t.equal(viewerScreen.nameAt(1 / 3, 0.03), 'blue', 'the slides reach the top of the big pane…');
  t.equal(viewerScreen.nameAt(1 / 3, 0.63), 'blue', '…and its bottom (the 4:3 slides are as tall as the pane)');
  // 4:3 slides in the 16:9 big pane (426×240 of 640×360): 320 wide, black pillars of 53 px either side.
  t.equal(viewerScreen.nameAt(0.03, 0.5), 'black', 'a black pillar on the left: the slides keep their 4:3 shape, not stretched');
  t.equal(viewerScreen.nameAt(0.625, 0.5), 'black', 'and one on the right');
  t.equal(viewerScreen.nameAt(0.12, 0.5), 'blue', 'the slides start beside the left pillar');
  t.equal(viewerScreen.nameAt(5 / 6, 1 / 6), 'red', "the presenter's camera in the first small pane");

  // One picture for both terminals without a content line: the slides are decoded once.
  const phoneState = box.media?.pictureState(room.number, phoneId);
  t.match(phoneState?.content, { participantId: slidesId }, 'the phone sees the content layout too');
  t.equal(phoneState?.pid, state?.pid, 'in the same picture (one compositor, one decode of the slides)');
  t.equal(state?.pictures, 2, "two pictures: the people picture and the content layout");

  // The room system with a content line: slides on its content line, none in its people picture.
  await waitFor('slides on the content line', 10_000, () => roomContent.packets() > 20).catch(() => undefined);
  t.ok(roomContent.packets() > 20, `the room system receives the slides on its content line (${roomContent.packets()} packets)`);
  const roomState = box.media?.pictureState(room.number, roomId);
  t.equal(roomState?.layout, '2x2', 'its people picture keeps the 2×2');
  t.equal(roomState?.content, undefined, 'without the content in it');
  t.notOk(roomState?.pid === state?.pid, 'a picture other than the content layout');
  await waitFor("the room system's people picture", 15_000, () => roomScreen.nameAt(0.25, 0.25) === 'red').catch(() => undefined);
  t.equal(roomScreen.nameAt(0.25, 0.25), 'red', `the room system sees the presenter's camera top left (${quadrants(roomScreen)})`);
  t.notOk(grid(roomScreen).includes('blue'), `no slides in its people picture (${grid(roomScreen).join(',')})`);

  // Released: the meeting's own 2×2 comes back for the viewer.
  const release = await client.request(`release ${floorRequestId(request) ?? 0}`, 'FloorRelease');
  t.equal(overallStatus(release), 'Released', 'the presenter releases the floor');
  await waitFor('the content layout to end', 15_000, () => box.media?.pictureState(room.number, viewerId)?.content === undefined);
  await viewerScreen.restart();
  await waitFor('the 2×2 again', 20_000, () => viewerScreen.nameAt(0.25, 0.25) === 'red' && !grid(viewerScreen).includes('blue')).catch(() => undefined);
  t.equal(box.media?.pictureState(room.number, viewerId)?.layout, '2x2', "the meeting's 2×2 again");
  t.equal(viewerScreen.nameAt(0.25, 0.25), 'red', `the presenter's camera top left again (${quadrants(viewerScreen)})`);
  t.notOk(grid(viewerScreen).includes('blue'), 'no slides any more');
  await waitFor('the content picture to end', 10_000, () => box.media?.pictureState(room.number)?.pictures === 1).catch(() => undefined);
  t.equal(box.media?.pictureState(room.number)?.pictures, 1, 'the content picture ended: one picture for everybody');

  for (const name of ['Slides', 'Viewer', 'Phone', 'Room']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([presenter.result, viewer.result, phone.result, roomSystem.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});

t.test('self-view exclusion: the content layout is shared; the presenter hanging up ends it and the own picture returns', async (t) => {
  box.settings.update({ 'call.selfViewExclusionMax': 3 }, { actor: 'test' });
  t.teardown(() => box.settings.update({ 'call.selfViewExclusionMax': 0 }, { actor: 'test' }));
  const audio = await openTerminals(t, 'slides', 'viewer', 'room');
  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';
  const cameraFrom = await freePort();
  const slidesFrom = await freePort();
  const presenter = await joinWithContent(target, room.number, 'Slides2', contentOffer({ audio: audio.slides.port, video: cameraFrom, content: slidesFrom }, 'TCP/BFCP', 109));
  const presenterAnswer = parseSdp(presenter.answer);
  startCamera(t, 'red', cameraFrom, presenterAnswer.media[1]?.port ?? 0, 90);
  const viewerPorts = await screenPorts();
  const viewerScreen = new Screen(t, viewerPorts.port, 'VP8', 90, viewerPorts.rtcp);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer2', media: pcmuVp8Media(audio.viewer.port, viewerPorts.port, viewerPorts.rtcp), ...UNTIL_HUNG_UP });
  const roomCameraFrom = await freePort();
  const roomSystem = await joinWithContent(target, room.number, 'Room2', contentOffer({ audio: audio.room.port, video: roomCameraFrom, content: await freePort() }, 'TCP/BFCP', 109));
  startCamera(t, 'lime', roomCameraFrom, parseSdp(roomSystem.answer).media[1]?.port ?? 0, 90);
  const [slidesId, viewerId, roomId] = [idOf('Slides2'), idOf('Viewer2'), idOf('Room2')];

  await waitFor('a picture for each', 15_000, () => box.media?.pictureState(room.number)?.pictures === 3).catch(() => undefined);
  t.equal(box.media?.pictureState(room.number)?.pictures, 3, 'self-view exclusion: a picture per terminal');
  t.same(box.media?.pictureState(room.number, viewerId)?.panes.map((p) => p.participantId), [slidesId, roomId], "the viewer's own picture, without itself");

  // 16:9 slides this time: they fill the big pane.
  const contentPort = contentLine(presenterAnswer.media)?.port ?? 0;
  const slides = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'color=c=blue:size=640x360:rate=5', '-t', '90',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '5', '-b:v', '200k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${contentPort}?localrtpport=${slidesFrom}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
  t.teardown(() => slides.kill('SIGKILL'));
  await takeFloor(t, presenter.answer);
  await waitFor('the content layout for the viewer', 15_000, () => box.media?.pictureState(room.number, viewerId)?.content?.participantId === slidesId);
  await viewerScreen.restart();
  await waitFor('the slides big', 20_000, () => viewerScreen.nameAt(1 / 3, 1 / 3) === 'blue' && viewerScreen.nameAt(0.03, 0.5) === 'blue').catch(() => undefined);
  t.equal(viewerScreen.nameAt(1 / 3, 1 / 3), 'blue', 'the viewer sees the slides big');
  t.equal(viewerScreen.nameAt(0.03, 0.5), 'blue', '16:9 slides fill the 16:9 big pane (no pillars)');
  t.equal(box.media?.pictureState(room.number)?.pictures, 3, "the presenter's and the room system's own pictures, and the content layout (the viewer's own ended)");
  t.same(box.media?.pictureState(room.number, roomId)?.content, undefined, "the room system's own picture has no content");

  // The presenter hangs up while presenting: the floor goes with the call, the content layout ends.
  [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Slides2')?.hangUp('test over');
  await presenter.result;
  const ownPanes = () => box.media?.pictureState(room.number, viewerId)?.panes.map((p) => p.participantId).join(',');
  await waitFor('the content layout to end', 30_000, () => box.media?.pictureState(room.number, viewerId)?.content === undefined && ownPanes() === roomId).catch(() => undefined);
  t.equal(box.media?.pictureState(room.number, viewerId)?.content, undefined, 'the content layout ended');
  t.same(box.media?.pictureState(room.number, viewerId)?.panes.map((p) => p.participantId), [roomId], 'the viewer is back on its own picture, without itself');
  await viewerScreen.restart();
  await waitFor('the own picture again', 20_000, () => viewerScreen.nameAt(0.25, 0.25) === 'lime').catch(() => undefined);
  t.equal(viewerScreen.nameAt(0.25, 0.25), 'lime', "the room system's camera top left");
  t.notOk([0.1, 0.3, 0.5, 0.7, 0.9].some((x) => [0.1, 0.3, 0.5, 0.7, 0.9].some((y) => viewerScreen.nameAt(x, y) === 'blue')), 'no slides any more');

  for (const name of ['Viewer2', 'Room2']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([viewer.result, roomSystem.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});

t.test('a terminal that declines its content line by re-INVITE sees the content layout instead', async (t) => {
  const audio = await openTerminals(t, 'slides', 'declined');
  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';
  const slidesFrom = await freePort();
  const presenter = await joinWithContent(target, room.number, 'Slides3', contentOffer({ audio: audio.slides.port, video: await freePort(), content: slidesFrom }, 'TCP/BFCP', 109));
  const counter = await contentCounter(t);
  const videoPort = await freePort();
  const declined = await joinWithContent(target, room.number, 'Declined', contentOffer({ audio: audio.declined.port, video: videoPort, content: counter.port }, 'TCP/BFCP', 109), {
    media2: contentOffer({ audio: audio.declined.port, video: videoPort, content: 0 }, 'TCP/BFCP', 109),
    pause: 500,
  });
  const reanswer = parseSdp(await declined.answer2(10_000));
  t.equal(reanswer.media[2]?.port, 0, 'the content line is declined in the answer to the re-INVITE');
  const [slidesId, declinedId] = [idOf('Slides3'), idOf('Declined')];

  const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
  startSlides(t, 'blue', slidesFrom, contentPort);
  await takeFloor(t, presenter.answer);
  await waitFor('the content layout for the terminal that declined', 15_000, () => box.media?.pictureState(room.number, declinedId)?.content?.participantId === slidesId).catch(() => undefined);
  t.match(box.media?.pictureState(room.number, declinedId), { layout: '1+5', content: { participantId: slidesId } }, 'it sees the slides in its composed picture');
  t.equal(box.media?.pictureState(room.number, slidesId)?.content, undefined, 'the presenter keeps its people picture');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(counter.packets(), 0, 'nothing is sent to the declined content line');

  for (const name of ['Slides3', 'Declined']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([presenter.result, declined.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
