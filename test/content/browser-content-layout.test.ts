/**
 * A browser's shared screen in the content layout (issue #19): headless Chromium shares canvas
 * slides (1920×1080, blue left half, yellow right half) in VP8. A SIP terminal without a content
 * line (audio and VP8 video only) sees them in the big pane of its composed picture (checked in
 * decoded frames); a browser on the composed view gets the content layout as its one picture
 * (checked in the page's own video), and the presenter's composed view keeps the people. When
 * the share stops, both go back to the meeting's own picture, without slides.
 */
import path from 'node:path';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, openPage, slidesScreen, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { joinMeeting, pcmuVp8Media, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, participantIdOf, startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.polling.intervalSeconds': 300 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Browser content layout', number: '880198', hostPin: '4511', guestPin: '', capacity: 10, layout: '2x2' });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
t.teardown(() => browser.close());
const target = `127.0.0.1:${box.port}`;
const floors = box.app.floors;
if (!floors) throw new Error('the box has no BFCP floor control');

async function joinPage(name: string, composed: boolean): Promise<WatchedPage> {
  const p = await openPage(browser, `${base}/join/?m=${room.number}`);
  await p.page.fill('#name', name);
  if (composed) await p.page.check('#composed');
  await p.page.click('#join');
  await p.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 20_000 });
  return p;
}

const NAMED: [string, number[]][] = [['blue', [0, 0, 255]], ['yellow', [255, 255, 0]], ['black', [0, 0, 0]], ['white', [255, 255, 255]], ['red', [255, 0, 0]], ['lime', [0, 255, 0]], ['grey', [48, 56, 64]]];
const nameOf = ([r, g, b]: number[]) =>
  NAMED.map(([name, c]) => [name, ((r ?? 0) - (c[0] ?? 0)) ** 2 + ((g ?? 0) - (c[1] ?? 0)) ** 2 + ((b ?? 0) - (c[2] ?? 0)) ** 2] as const).sort((x, y) => x[1] - y[1])[0]?.[0] ?? 'none';

/** The colour name at (fx, fy) of the page's composed tile. */
async function composedColourAt(p: WatchedPage, fx: number, fy: number): Promise<string> {
  const rgb = (await p.page.evaluate(`(() => {
    const video = document.querySelector('.tile[data-participant="composed"] video');
    if (!video || !video.videoWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const g = canvas.getContext('2d');
    g.drawImage(video, 0, 0);
    return [...g.getImageData(Math.floor(${fx} * canvas.width), Math.floor(${fy} * canvas.height), 1, 1).data].slice(0, 3);
  })()`)) as number[] | null;
  return rgb ? nameOf(rgb) : 'none';
}

t.test("a browser's shared screen is the content layout's input for terminals without a content line and for composed-view browsers", async (t) => {
  const audio = await openTerminals(t, 'viewer', 'camera');
  // A red camera (a terminal without a content line either), so the people panes show something.
  const cameraFrom = await freePort();
  const camera = await joinMeeting(target, { dial: room.number, name: 'Camera', media: pcmuVp8Media(audio.camera.port, cameraFrom), ...UNTIL_HUNG_UP });
  startCamera(t, 'red', cameraFrom, camera.answeredVideoPort, 120);
  const viewerPort = await freePort();
  let viewerRtcp = await freePort();
  if (viewerRtcp === viewerPort + 1) viewerRtcp = await freePort();
  const screen = new Screen(t, viewerPort, 'VP8', 120, viewerRtcp);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, viewerPort, viewerRtcp), ...UNTIL_HUNG_UP });
  const viewerId = await participantIdOf(box, room.number, 'Viewer');

  const presenter = await joinPage('Presenter', true);
  t.teardown(() => presenter.page.context().close());
  const watcher = await joinPage('Watcher', true);
  t.teardown(() => watcher.page.context().close());
  const presenterId = (await presenter.page.evaluate('window.vcboxJoin.state.participantId')) as string;
  await waitFor("the watcher's composed picture", 20_000, async () => (await composedColourAt(watcher, 0.25, 0.25)) === 'red').catch(() => undefined);
  t.equal(await composedColourAt(watcher, 0.25, 0.25), 'red', "before the presentation the watcher's composed view is the 2×2 (the camera top left)");

  await slidesScreen(presenter);
  await presenter.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
  t.equal(floors.presenterOf(room.number), presenterId, 'the browser presents');

  // The terminal without a content line: the content layout, the browser's slides big.
  await waitFor('the content layout for the viewer', 20_000, () => box.media?.pictureState(room.number, viewerId)?.content?.participantId === presenterId).catch(() => undefined);
  t.match(box.media?.pictureState(room.number, viewerId), { layout: '1+5', content: { participantId: presenterId, big: true } }, "the viewer's picture is the content layout with the browser's screen in the big pane");
  await screen.restart();
  // The big pane is the top-left 2/3 of the picture: the slides' left half blue, right half yellow.
  const slidesBig = () => screen.nameAt(1 / 6, 1 / 3) === 'blue' && screen.nameAt(1 / 2, 1 / 3) === 'yellow';
  await waitFor('the slides in the big pane', 45_000, slidesBig).catch(() => undefined);
  t.equal(screen.nameAt(1 / 6, 1 / 3), 'blue', `the viewer decodes the slides' blue half in the big pane (${screen.frames} frames)`);
  t.equal(screen.nameAt(1 / 2, 1 / 3), 'yellow', 'and their yellow half');

  // The composed-view browser: its one picture becomes the content layout.
  await waitFor("the slides in the watcher's composed view", 45_000, async () => (await composedColourAt(watcher, 1 / 6, 1 / 3)) === 'blue' && (await composedColourAt(watcher, 1 / 2, 1 / 3)) === 'yellow').catch(() => undefined);
  t.equal(await composedColourAt(watcher, 1 / 6, 1 / 3), 'blue', "the watcher's composed view shows the slides big: blue…");
  t.equal(await composedColourAt(watcher, 1 / 2, 1 / 3), 'yellow', '…and yellow');
  const watcherView = (await watcher.page.evaluate('window.vcboxJoin.contentView()')) as { shown: boolean };
  t.equal(watcherView.shown, false, 'no separate content view on the composed view: one picture to decode');
  // (The page asks for its composed picture again at each content notification: wait for the new one's frames.)
  await waitFor("the presenter's composed view", 30_000, async () => (await composedColourAt(presenter, 1 / 6, 1 / 3)) === 'red').catch(() => undefined);
  t.equal(await composedColourAt(presenter, 1 / 6, 1 / 3), 'red', "the presenter's own composed view keeps the people (the camera where the slides would be)");

  // The share stops: the viewer and the watcher are back on the meeting's picture.
  await presenter.page.click('#stop-share');
  await waitFor('the floor free', 10_000, () => floors.presenterOf(room.number) === null);
  await waitFor('the content layout to end', 15_000, () => box.media?.pictureState(room.number, viewerId)?.content === undefined);
  await screen.restart();
  await waitFor('the 2×2 again', 40_000, () => screen.nameAt(1 / 6, 1 / 3) === 'red').catch(() => undefined);
  t.equal(box.media?.pictureState(room.number, viewerId)?.layout, '2x2', "the viewer's picture is the 2×2 again");
  t.equal(screen.nameAt(1 / 6, 1 / 3), 'red', 'the camera where the slides were: no slides any more');
  await waitFor("the watcher's 2×2 again", 40_000, async () => (await composedColourAt(watcher, 1 / 6, 1 / 3)) === 'red').catch(() => undefined);
  t.equal(await composedColourAt(watcher, 1 / 6, 1 / 3), 'red', 'the watcher sees the 2×2 again, without slides');
  t.same([...presenter.errors, ...watcher.errors], [], 'no errors on the pages');

  await presenter.page.click('#leave');
  await watcher.page.click('#leave');
  for (const name of ['Viewer', 'Camera']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([viewer.result, camera.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
