/**
 * Broadcast a site and watch a site (spec "Rooms and meetings": meeting control), end to end:
 * three SIP terminals send red, lime and blue VP8 (sipp signaling, ffmpeg cameras) and a viewer's
 * video port is an ffmpeg screen decoding what the box sends (restarted at each switch, as a
 * terminal's decoder starts on the new stream: test/helpers/video-peer.ts). The console broadcasts Blue: the
 * viewer's whole screen turns blue and every other terminal is forwarded Blue's camera, while
 * Blue keeps the meeting's picture; the viewer then watches Lime — only its own screen changes;
 * stopping both brings the composed 2×2 back. All live: no terminal gets a re-INVITE. Refusals
 * (unknown participant) in words, every change audited, and a broadcast site that leaves takes
 * the broadcast with it.
 */
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
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.polling.intervalSeconds': 300 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Broadcast room', number: '880023', hostPin: '1122', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;

t.test('broadcast a site, watch a site, and back to the composed picture, live', async (t) => {
  const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
  await new AdminStore(box.db).ensureInitialAdmin(secrets);
  const base = await startConsoleApi(t, { state: { db: box.db, settings: box.settings }, live: box.app.live, ...(box.mediaClient ? { media: box.mediaClient.media } : {}), keepDb: true });
  const client = new ConsoleClient(base);
  t.equal((await client.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim())).status, 200);

  const audio = await openTerminals(t, 'a', 'b', 'c', 'viewer');
  // Every terminal stays until the box hangs it up (the test removes each at the end).
  const cameras: MeetingTerminal[] = [];
  for (const [key, name, colour] of [['a', 'Red', 'red'], ['b', 'Lime', 'lime'], ['c', 'Blue', 'blue']] as const) {
    const videoPort = await freePort();
    const leg = await joinMeeting(target, { dial: room.number, name, media: pcmuVp8Media(audio[key].port, videoPort), ...UNTIL_HUNG_UP });
    startCamera(t, colour, videoPort, leg.answeredVideoPort);
    cameras.push(leg);
  }
  // The viewer's decoder asks for a key frame (RTCP PLI) after each restart, as a terminal does.
  const screenPort = await freePort();
  let screenRtcpPort = await freePort();
  if (screenRtcpPort === screenPort + 1) screenRtcpPort = await freePort(); // ffmpeg's own RTCP port
  const screen = new Screen(t, screenPort, 'VP8', 60, screenRtcpPort);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, screenPort, screenRtcpPort), ...UNTIL_HUNG_UP });
  t.ok(viewer.answeredVideoPort > 0, 'the viewer has video');

  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';
  const [red, lime, blue, viewerId] = [idOf('Red'), idOf('Lime'), idOf('Blue'), idOf('Viewer')];
  const quadrants = () => [screen.nameAt(0.3, 0.2), screen.nameAt(0.8, 0.2), screen.nameAt(0.3, 0.7)].join(' ');
  const fullScreen = () => {
    const seen = new Set([screen.nameAt(0.15, 0.15), screen.nameAt(0.85, 0.15), screen.nameAt(0.5, 0.5), screen.nameAt(0.15, 0.85), screen.nameAt(0.85, 0.85)]);
    return seen.size === 1 ? [...seen][0] : `mixed: ${[...seen].join(', ')}`;
  };
  const routing = () => box.media?.videoRouting(room.number) ?? {};

  await waitFor('the 2×2 picture', 15_000, () => quadrants() === 'red lime blue').catch(() => undefined);
  t.equal(quadrants(), 'red lime blue', 'first the composed 2×2 picture');

  // Broadcast Blue.
  const broadcast = await client.call('POST', `/api/v1/live-meetings/${room.number}/broadcast`, { participantId: blue });
  t.equal(broadcast.status, 200, 'broadcast accepted');
  t.equal(broadcast.body.broadcast, blue, 'the console shows the broadcast site');
  await waitFor('the viewer switched to Blue', 15_000, () => routing()[viewerId] === blue);
  await screen.restart();
  await waitFor('Blue full screen', 15_000, () => fullScreen() === 'blue').catch(() => undefined);
  t.equal(fullScreen(), 'blue', "the viewer's whole screen is Blue's camera");
  t.same(routing(), { [red]: blue, [lime]: blue, [blue]: 'composed', [viewerId]: blue }, 'every other terminal is forwarded Blue; Blue keeps the meeting picture');

  // The viewer watches Lime; the broadcast goes on for the others.
  const watch = await client.call('POST', `/api/v1/live-meetings/${room.number}/participants/${viewerId}/watch`, { watched: lime });
  t.equal(watch.status, 200, 'watch accepted');
  t.equal(watch.body.participants.find((p: { id: string }) => p.id === viewerId)?.watching, lime, 'the console shows whom the viewer watches');
  await waitFor('the viewer switched to Lime', 15_000, () => routing()[viewerId] === lime);
  await screen.restart();
  await waitFor('Lime full screen', 15_000, () => fullScreen() === 'lime').catch(() => undefined);
  t.equal(fullScreen(), 'lime', "the viewer's screen shows the site it watches");
  t.same(routing(), { [red]: blue, [lime]: blue, [blue]: 'composed', [viewerId]: lime }, 'only the viewer changed');

  const ghost = await client.call('POST', `/api/v1/live-meetings/${room.number}/broadcast`, { participantId: 'nobody' });
  t.equal(ghost.status, 404, 'broadcasting someone not in the meeting: not found');
  t.match(ghost.body.message, /nobody/, 'the refusal names who was not found');
  const ghostWatch = await client.call('POST', `/api/v1/live-meetings/${room.number}/participants/${viewerId}/watch`, { watched: 'nobody' });
  t.equal(ghostWatch.status, 404, 'watching someone not in the meeting: not found');

  // Stop the broadcast: the others are back on the composed picture; the viewer still watches.
  t.equal((await client.call('POST', `/api/v1/live-meetings/${room.number}/broadcast`, { participantId: null })).status, 200);
  await waitFor('composed again for the others', 15_000, () => routing()[red] === 'composed').catch(() => undefined);
  t.same(routing(), { [red]: 'composed', [lime]: 'composed', [blue]: 'composed', [viewerId]: lime }, 'broadcast over; the watch stays');
  t.equal((await client.call('POST', `/api/v1/live-meetings/${room.number}/participants/${viewerId}/watch`, { watched: null })).status, 200);
  await waitFor('the viewer back on the picture', 15_000, () => routing()[viewerId] === 'composed');
  await screen.restart();
  await waitFor('the 2×2 picture again', 15_000, () => quadrants() === 'red lime blue').catch(() => undefined);
  t.equal(quadrants(), 'red lime blue', 'the viewer sees the composed 2×2 again');

  // A broadcast site that leaves takes the broadcast with it.
  await client.call('POST', `/api/v1/live-meetings/${room.number}/broadcast`, { participantId: red });
  t.equal((await client.call('DELETE', `/api/v1/live-meetings/${room.number}/participants/${red}`)).status, 204, 'Red removed');
  await waitFor('Red gone', 5000, () => !box.app.live.get(room.number)?.participants.has(red));
  const after = await client.call('GET', `/api/v1/live-meetings/${room.number}`);
  t.equal(after.body.broadcast, null, 'no broadcast once the broadcast site has left');
  await waitFor('composed for the rest', 8000, () => routing()[viewerId] === 'composed').catch(() => undefined);
  t.equal(routing()[viewerId], 'composed', 'the others are back on the composed picture');

  for (const id of [lime, blue, viewerId]) {
    t.equal((await client.call('DELETE', `/api/v1/live-meetings/${room.number}/participants/${id}`)).status, 204, 'removed at the end');
  }
  const results = await Promise.all([...cameras, viewer].map((leg) => leg.result));
  t.ok(results.every((r) => (r.messages.match(/^INVITE sip:/gm) ?? []).length === 1), 'no re-INVITE was sent to any terminal');
  const actions = box.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'meeting.broadcast%' OR action LIKE 'meeting.watch%' ORDER BY id").all() as { action: string }[];
  t.same(actions.map((a) => a.action), ['meeting.broadcast', 'meeting.watch', 'meeting.broadcast.stop', 'meeting.watch.stop', 'meeting.broadcast'], 'every change is in the audit log');
});
