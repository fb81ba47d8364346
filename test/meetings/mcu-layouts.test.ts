/**
 * The MCU's composed picture, end to end: four SIP terminals (sipp signaling, ffmpeg cameras
 * sending red, lime, blue and yellow VP8 from their own video ports), an audio-only terminal,
 * and two viewers whose video ports are ffmpeg screens decoding what the box sends — one
 * negotiated VP8, the other H.264. The screens' frames are checked region by region: a 2×2
 * picture shows the four colours in join order on both; switched live by the console to 1+5
 * the first camera fills the big pane, the others and the audio-only terminal's "no video"
 * pane the small ones, with no new SIP transaction; when the third terminal talks (a tone in
 * its audio), voice activation moves it into the big pane; a pinned participant holds it; a
 * camera that stalls does not stop the picture.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, type MeetingTerminal, pcmuVp8Media, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const artefact = (name: string) => path.join(process.env.VCBOX_TEST_ARTIFACTS ?? os.tmpdir(), name);
const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
// A small canvas keeps the test cheap; polling slower than the test so panes stay put.
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.polling.intervalSeconds': 300 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'MCU room', number: '880010', hostPin: '1122', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;
const h264 = (audioPort: number, videoPort: number) =>
  `m=audio ${audioPort} RTP/AVP 0\na=rtpmap:0 PCMU/8000\nm=video ${videoPort} RTP/AVP 109\na=rtpmap:109 H264/90000\na=fmtp:109 profile-level-id=42e01f;packetization-mode=1\na=rtcp-fb:109 nack pli`;

t.test('2×2 shows four cameras; 1+5 live; voice activation takes the big pane', async (t) => {
  const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
  await new AdminStore(box.db).ensureInitialAdmin(secrets);
  const base = await startConsoleApi(t, { state: { db: box.db, settings: box.settings }, live: box.app.live, ...(box.mediaClient ? { media: box.mediaClient.media } : {}), keepDb: true });
  const client = new ConsoleClient(base);
  t.equal((await client.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim())).status, 200);

  const audio = await openTerminals(t, 'a', 'b', 'c', 'd', 'voice', 'viewer', 'viewer2');
  const colours = ['red', 'lime', 'blue', 'yellow'] as const;
  const names = ['Red', 'Lime', 'Blue', 'Yellow'];
  const cameras: MeetingTerminal[] = [];
  const cameraProcesses: ChildProcess[] = [];
  for (const [i, key] of (['a', 'b', 'c', 'd'] as const).entries()) {
    const videoPort = await freePort();
    const leg = await joinMeeting(target, { dial: room.number, name: names[i] ?? '', media: pcmuVp8Media(audio[key].port, videoPort), ...UNTIL_HUNG_UP });
    t.ok(leg.answeredVideoPort > 0, `${names[i]} video answered`);
    cameraProcesses.push(startCamera(t, colours[i] ?? 'white', videoPort, leg.answeredVideoPort));
    cameras.push(leg);
  }
  const voiceOnly = await joinMeeting(target, { dial: room.number, name: 'Phone', media: `m=audio ${audio.voice.port} RTP/AVP 0\na=rtpmap:0 PCMU/8000`, ...UNTIL_HUNG_UP });
  const screenPort = await freePort();
  const screen = new Screen(t, screenPort);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, screenPort), ...UNTIL_HUNG_UP });
  t.ok(viewer.answeredVideoPort > 0, 'the viewer has video');
  const screen2Port = await freePort();
  const screen2 = new Screen(t, screen2Port, 'H264');
  const viewer2 = await joinMeeting(target, { dial: room.number, name: 'RoomSystem', media: h264(audio.viewer2.port, screen2Port), ...UNTIL_HUNG_UP });
  t.ok(viewer2.answeredVideoPort > 0, 'the H.264 viewer has video');

  // 2×2 (quadrant centres, away from the captions at the bottom left of each pane).
  const quadrants = (s: Screen) => [s.nameAt(0.3, 0.2), s.nameAt(0.8, 0.2), s.nameAt(0.3, 0.7), s.nameAt(0.8, 0.7)].join(' ');
  await waitFor('the 2×2 picture', 15_000, () => quadrants(screen) === 'red lime blue yellow' && quadrants(screen2) === 'red lime blue yellow').catch(() => undefined);
  screen.saveFrame(artefact('mcu-2x2.ppm'));
  t.equal(quadrants(screen), 'red lime blue yellow', `2×2 in VP8: four distinct tiles in join order (${screen.frames} frames decoded)`);
  t.equal(quadrants(screen2), 'red lime blue yellow', `2×2 in H.264: the same picture (${screen2.frames} frames decoded)`);
  const live = (await client.call('GET', `/api/v1/live-meetings/${room.number}`)).body;
  t.equal(live.layout, '2x2', "the meeting started with its room's layout");
  t.equal(live.picture?.layout, '2x2', 'the console shows the composed picture: 2×2');
  t.same([...(live.picture?.outputs ?? [])].sort(), ['H264-1-360', 'VP8-1-360'], 'one encode per codec (VP8 and H.264, 360 lines), shared by the terminals of that codec');
  t.equal(live.picture?.panes.length, 4, 'four panes');

  const bad = await client.call('POST', `/api/v1/live-meetings/${room.number}/layout`, { layout: '8x8' });
  t.equal(bad.status, 400, 'an unknown layout is refused');
  t.match(bad.body, { message: /layout/ }, 'and the error names the field');
  const ghost = await client.call('POST', `/api/v1/live-meetings/${room.number}/layout`, { layout: '1+5', pinned: 'nobody' });
  t.equal(ghost.status, 404, 'pinning someone not in the meeting: not found');

  // 1+5, live: big pane = first to join (no speaker yet); small panes on the right and bottom.
  t.equal((await client.call('POST', `/api/v1/live-meetings/${room.number}/layout`, { layout: '1+5' })).status, 200, 'layout changed by the console');
  const onePlusFive = () => [screen.nameAt(0.3, 0.3), screen.nameAt(0.83, 0.15), screen.nameAt(0.83, 0.45), screen.nameAt(0.16, 0.8), screen.nameAt(0.5, 0.8)].join(' ');
  await waitFor('the 1+5 picture', 8000, () => onePlusFive() === 'red lime blue yellow grey').catch(() => undefined);
  screen.saveFrame(artefact('mcu-1plus5.ppm'));
  t.equal(onePlusFive(), 'red lime blue yellow grey', '1+5: Red big, Lime and Blue on the right, Yellow bottom left, then the audio-only "no video" pane', {
    panes: box.media?.pictureState(room.number)?.panes,
  });
  t.equal(box.media?.pictureState(room.number)?.layout, '1+5', 'the picture reports 1+5');

  // Blue talks: voice activation puts it in the big pane.
  await audio.c.send(cameras[2]?.answeredPort ?? 0, await g711Tone('mulaw', 600, 3), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  await waitFor('Blue in the big pane', 6000, () => screen.nameAt(0.3, 0.3) === 'blue').catch(() => undefined);
  t.equal(screen.nameAt(0.3, 0.3), 'blue', 'the speaker (Blue) fills the big pane');
  t.equal(screen.nameAt(0.83, 0.15), 'red', 'and Red moved to the first small pane');

  // The host pins Yellow: it takes the big pane whoever speaks.
  const yellowId = [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Yellow')?.id ?? '';
  const pinned = await client.call('POST', `/api/v1/live-meetings/${room.number}/layout`, { layout: '1+5', pinned: yellowId });
  t.equal(pinned.body.pinned, yellowId, 'the console shows who is pinned');
  await waitFor('Yellow pinned', 6000, () => screen.nameAt(0.3, 0.3) === 'yellow').catch(() => undefined);
  t.equal(screen.nameAt(0.3, 0.3), 'yellow', 'the pinned participant fills the big pane');

  // A camera stalls (Lime's ffmpeg is killed): the picture goes on for everyone else.
  cameraProcesses[1]?.kill('SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = screen.frames;
  await waitFor('frames after the stall', 5000, () => screen.frames > before + 20).catch(() => undefined);
  t.ok(screen.frames > before + 20, `frames keep coming after a camera stalled (${screen.frames - before} more)`);
  t.equal(screen.nameAt(0.3, 0.3), 'yellow', 'and the other panes keep their pictures');

  hangUpEveryone(box, room.number);
  const results = await Promise.all([...cameras, voiceOnly, viewer, viewer2].map((leg) => leg.result));
  t.ok(results.every((r) => r.ok), 'every call ends normally: the layout changes needed no renegotiation');
  t.ok(results.every((r) => (r.messages.match(/^INVITE sip:/gm) ?? []).length === 1), 'no re-INVITE was sent to any terminal');
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  t.equal(box.media?.pictureState(room.number) ?? null, null, 'the picture ended with the meeting');
  const audit = box.db.prepare("SELECT action FROM audit_log WHERE action = 'meeting.layout'").all();
  t.equal(audit.length, 2, 'each layout change is in the audit log');
});
