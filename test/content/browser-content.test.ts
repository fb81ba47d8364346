/**
 * Content sharing from and to browsers (issue #19): headless Chromium on the join page shares
 * its (fake, 1920×1080) screen with getDisplayMedia — a second producer marked as content, H.264
 * — and takes the meeting's one floor through the same floor control as BFCP terminals. SIP
 * room systems (sipp, with a content line and a BFCP line; the real libre BFCP client) in the
 * same VMR: a terminal's content port decodes the browser's H.264 (ffmpeg); a terminal taking
 * the floor by FloorRequest stops the browser's share (the page is told) and its slides show in
 * the page's content view, moving (the video element's size and frames); the browser taking
 * the floor back revokes the terminal (FloorRequestStatus Revoked, FloorStatus to it as a
 * subscriber); the presenting browser leaving releases the floor. A browser that shares in VP8
 * (canvas slides at 1920×1080) reaches two room systems transcoded to H.264 by one transcoder
 * for both, at the size their H.264 level takes (the decoded frames' colours and size checked).
 * A page that decodes VP8 only (`?recv=VP8`) sees a room system's H.264 slides through a VP8
 * transcoder (colour checked in the page's content view).
 */
import path from 'node:path';
import t from 'tap';
import type { PresenterChange } from '../../server/bfcp/floor-control-server.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { BfcpClient, type BfcpClientEvent, findAttributes, floorRequestId, overallStatus } from '../helpers/bfcp-client.ts';
import { launchBrowser, openPage, SCREEN_SHARE_ARGS, slidesScreen, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { bfcpOf, type ContentTerminal, contentOffer, contentReceiver, joinWithContent, startSlides } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Browser content', number: '880192', hostPin: '4455', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser(SCREEN_SHARE_ARGS);
t.teardown(() => browser.close());
const target = `127.0.0.1:${box.port}`;
const floors = box.app.floors;
if (!floors) throw new Error('the box has no BFCP floor control');
const presenterChanges: PresenterChange[] = [];
floors.server.on('presenter', (change) => presenterChanges.push(change));

interface ContentView {
  shown: boolean;
  presenter: string | null;
  sharing: boolean;
  width: number;
  height: number;
  frames: number;
  mimeType: string | null;
  received: string | null;
}
// Page-side code is given as strings: the test project has no DOM types.
const viewOf = (p: WatchedPage) => p.page.evaluate('window.vcboxJoin.contentView()') as Promise<ContentView>;
const idOf = (p: WatchedPage) => p.page.evaluate('window.vcboxJoin.state.participantId') as Promise<string>;

async function viewUntil(p: WatchedPage, ok: (v: ContentView) => boolean, what: string, timeoutMs = 20_000): Promise<ContentView> {
  return waitFor(what, timeoutMs, async () => {
    const view = await viewOf(p);
    return ok(view) ? view : undefined;
  }).catch(() => viewOf(p));
}

async function joinPage(name: string, query = ''): Promise<WatchedPage> {
  const p = await openPage(browser, `${base}/join/?m=${room.number}${query}`);
  await p.page.fill('#name', name);
  await p.page.click('#join');
  await p.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 20_000 });
  return p;
}

function participantOf(name: string) {
  return [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name);
}

async function hangUp(name: string, terminal: ContentTerminal): Promise<void> {
  participantOf(name)?.hangUp('test over');
  await terminal.result;
}

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';
const revoked = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Revoked';
const floorStatus = (e: BfcpClientEvent) => e.prim === 'FloorStatus';

t.test('browser and SIP presenters take the one floor from each other; content reaches the other side', async (t) => {
  const a = await openTerminals(t, 'audio', 'video');
  const b = await openTerminals(t, 'audio', 'video');
  const slidesFrom = await freePort();
  const receiver = await contentReceiver(t, 120, { rtcp: true });
  const roomA = await joinWithContent(target, room.number, 'RoomA', contentOffer({ audio: a.audio.port, video: a.video.port, content: slidesFrom }, 'TCP/BFCP', 109));
  const roomB = await joinWithContent(target, room.number, 'RoomB', contentOffer({ audio: b.audio.port, video: b.video.port, content: receiver.port }, 'TCP/BFCP', 109));
  const ids = bfcpOf(roomA.answer);
  const client = await BfcpClient.start({ transport: 'tcp', port: ids.port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => client.close());
  // Room A subscribes to the floor's status (FloorQuery), as room systems do.
  const subscribed = await client.request('query', 'FloorQuery');
  t.equal(subscribed.prim, 'FloorStatus', 'room A is subscribed to the floor status');

  const page = await joinPage('Presenter');
  t.teardown(() => page.page.context().close());
  const pageId = await idOf(page);
  t.same(await viewOf(page), { shown: false, presenter: null, sharing: false, waiting: false, notice: '', width: 0, height: 0, frames: 0, mimeType: null, received: null }, 'nobody presents: no content view');

  // 1. The browser shares its screen: H.264, the floor, room B decodes it.
  await page.page.click('#share');
  await page.page.waitForFunction('window.vcboxJoin.state.sharing !== undefined', undefined, { timeout: 20_000 });
  const sharing = (await page.page.evaluate('({ mimeType: window.vcboxJoin.state.sharing.mimeType, reachesSip: window.vcboxJoin.state.sharing.reachesSip, floor: window.vcboxJoin.state.sharing.floor })')) as { mimeType: string; reachesSip: boolean; floor: string };
  t.same(sharing, { mimeType: 'video/H264', reachesSip: true, floor: 'granted' }, 'the screen is shared in H.264 and the browser holds the floor');
  t.equal(floors.presenterOf(room.number), pageId, "the floor control says the browser presents");
  t.ok(await page.page.isVisible('#stop-share'), '"Stop sharing" is offered');
  const own = await viewUntil(page, (v) => v.shown && v.width > 0, 'the own screen in the content view');
  t.match(own, { shown: true, sharing: true, presenter: pageId }, `the page shows its own screen (${own.width}×${own.height})`);
  // Room B decodes from the next key frame on, which it asks for (PLI) as room systems do.
  await waitFor("the browser's content at room B", 20_000, () => receiver.packets() > 0);
  await receiver.screen.restart();
  await waitFor("the browser's content decoded at room B", 30_000, () => receiver.screen.frames >= 10).catch(() => undefined);
  t.ok(receiver.screen.frames >= 10, `room B's content port decodes the browser's H.264 (${receiver.screen.frames} frames, ${receiver.packets()} packets)`);
  t.not(receiver.screen.nameAt(0.5, 0.5), 'none', 'a decoded picture is there');

  // 2. Room A takes the floor by FloorRequest: the browser's share stops, room A's slides show in the page.
  const grantA = client.nextNotification(granted, 'Granted');
  const request = await client.request('request', 'FloorRequest');
  t.equal(request.prim, 'FloorRequestStatus', 'room A asks for the floor');
  await grantA;
  t.equal(floors.presenterOf(room.number), participantOf('RoomA')?.id, 'room A presents');
  await page.page.waitForFunction('window.vcboxJoin.state.sharing === undefined', undefined, { timeout: 10_000 });
  t.pass("the browser's share stopped");
  t.ok(await page.page.isVisible('#share'), '"Share screen" is offered again');
  t.match(await page.page.textContent('#content-notice'), /someone else is presenting/, 'the page says why');
  startSlides(t, 'moving', slidesFrom, contentLine(parseSdp(roomA.answer).media)?.port ?? 0);
  const first = await viewUntil(page, (v) => v.shown && v.presenter === participantOf('RoomA')?.id && v.width === 640 && v.frames > 5, "room A's slides in the content view", 30_000);
  t.match(first, { shown: true, sharing: false, width: 640, height: 360 }, `the page's content view shows room A's slides (${first.width}×${first.height}, ${first.frames} frames)`);
  const later = await viewUntil(page, (v) => v.frames >= first.frames + 5, 'more frames', 15_000);
  t.ok(later.frames >= first.frames + 5, `the slides move on (${first.frames} → ${later.frames} frames)`);
  t.ok(await page.page.isVisible('#content-view'), 'in a view of its own');
  const tiles = await page.page.locator('#tiles .tile').count();
  t.ok(tiles >= 2, `beside the people (${tiles} tiles)`);

  // 3. The browser takes the floor back: room A gets Revoked and a FloorStatus.
  const revokedA = client.nextNotification(revoked, 'Revoked');
  const statusA = client.nextNotification(floorStatus, 'FloorStatus');
  const before = receiver.packets();
  await page.page.click('#share');
  await page.page.waitForFunction('window.vcboxJoin.state.sharing !== undefined', undefined, { timeout: 20_000 });
  await revokedA;
  t.pass('room A is told its floor is revoked (FloorRequestStatus Revoked)');
  const status = await statusA;
  const holder = findAttributes(status.attrs, 'BENEFICIARY-INFORMATION')[0]?.id;
  t.not(holder, ids.userId, `and gets the FloorStatus naming another holder (user ${holder})`);
  t.equal(floors.presenterOf(room.number), pageId, 'the browser presents again');
  await waitFor("the browser's content at room B again", 20_000, () => receiver.packets() > before + 50).catch(() => undefined);
  t.ok(receiver.packets() > before + 50, `room B receives the browser's content again (${receiver.packets() - before} packets)`);

  // 4. The presenting browser leaves: the floor is released.
  const from = presenterChanges.length;
  const released = client.nextNotification(floorStatus, 'FloorStatus after the leave');
  await page.page.click('#leave');
  await waitFor('the floor to be released', 10_000, () => presenterChanges.slice(from).some((c) => c.userId === null));
  t.equal(floors.presenterOf(room.number), null, 'nobody presents once the browser left');
  t.match(presenterChanges.slice(from), [{ userId: null, reason: 'left' }], 'released because the presenter left');
  const empty = await released;
  t.equal(findAttributes(empty.attrs, 'FLOOR-REQUEST-INFORMATION').length, 0, 'room A hears that the floor is free');
  let last = receiver.packets();
  let lastChange = Date.now();
  await waitFor('the forwarding to stop', 10_000, () => {
    if (receiver.packets() !== last) {
      last = receiver.packets();
      lastChange = Date.now();
    }
    return Date.now() - lastChange > 1000;
  });
  t.pass('room B receives nothing more');
  t.same(page.errors, [], 'no errors on the page');

  await Promise.all([hangUp('RoomA', roomA), hangUp('RoomB', roomB)]);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});

t.test('a browser that shares in VP8: room systems get it transcoded to H.264, one transcoder for both', async (t) => {
  const b = await openTerminals(t, 'audio', 'video');
  const c = await openTerminals(t, 'audio', 'video');
  const receiverB = await contentReceiver(t, 120, { rtcp: true, sizes: true });
  const receiverC = await contentReceiver(t, 120, { rtcp: true, sizes: true });
  const roomB = await joinWithContent(target, room.number, 'RoomB', contentOffer({ audio: b.audio.port, video: b.video.port, content: receiverB.port }, 'TCP/BFCP', 109));
  const roomC = await joinWithContent(target, room.number, 'RoomC', contentOffer({ audio: c.audio.port, video: c.video.port, content: receiverC.port }, 'TCP/BFCP', 109));
  const page = await joinPage('Vp8');
  t.teardown(() => page.page.context().close());
  await slidesScreen(page);
  await page.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
  const sharing = (await page.page.evaluate('({ mimeType: window.vcboxJoin.state.sharing.mimeType, reachesSip: window.vcboxJoin.state.sharing.reachesSip })')) as { mimeType: string; reachesSip: boolean };
  t.same(sharing, { mimeType: 'video/VP8', reachesSip: true }, 'shared in VP8, and room systems will see it (transcoded)');
  t.equal(await page.page.textContent('#content-notice'), '', 'the page has nothing to warn about');
  const pageId = await idOf(page);
  t.equal(floors.presenterOf(room.number), pageId, 'the browser holds the floor');

  // Both content lines decode H.264 from the one transcoder (their H.264 level 3.1 takes up to 720 lines).
  const decoded = (r: typeof receiverB) => r.screen.nameAt(0.25, 0.5) === 'blue' && r.screen.nameAt(0.75, 0.5) === 'yellow';
  await waitFor('content at both rooms', 30_000, () => receiverB.packets() > 0 && receiverC.packets() > 0).catch(() => undefined);
  await Promise.all([receiverB.screen.restart(), receiverC.screen.restart()]);
  await waitFor('the slides decoded at both rooms', 45_000, () => decoded(receiverB) && decoded(receiverC)).catch(() => undefined);
  for (const [name, r] of [['B', receiverB], ['C', receiverC]] as const) {
    t.equal(r.screen.nameAt(0.25, 0.5), 'blue', `room ${name} decodes the slides: blue on the left (${r.screen.frames} frames)`);
    t.equal(r.screen.nameAt(0.75, 0.5), 'yellow', `room ${name}: yellow on the right`);
    t.ok(r.screen.largest && r.screen.largest.height <= 720 && r.screen.largest.width <= 1280, `room ${name} decodes at most 1280×720, its H.264 level (${JSON.stringify(r.screen.largest)})`);
  }
  const state = box.media?.contentState(room.number);
  t.equal(state?.transcoders.length, 1, 'one transcoder for both content lines');
  t.match(state?.transcoders[0], { mimeType: 'video/H264', packetizationMode: 1, maxHeight: 720, maxWidth: 1280, fps: 5 }, 'H.264 at the lines\' size and the cap\'s frame rate');
  t.same([...(state?.transcoders[0]?.receivers ?? [])].sort(), [participantOf('RoomB')?.id, participantOf('RoomC')?.id].sort(), 'taken by both rooms');
  t.same(state?.routes, { [participantOf('RoomB')?.id ?? '']: 'transcoded', [participantOf('RoomC')?.id ?? '']: 'transcoded' }, 'both routes say transcoded');
  t.equal(box.media?.transcoders(room.number).length, 1, 'the meeting runs that one transcoder and no other');

  // Room C hangs up: the transcoder goes on for room B; stopping the share ends it.
  await hangUp('RoomC', roomC);
  await waitFor('room C gone from the transcoder', 10_000, () => box.media?.contentState(room.number).transcoders[0]?.receivers.length === 1).catch(() => undefined);
  t.same(box.media?.contentState(room.number).transcoders[0]?.receivers, [participantOf('RoomB')?.id], 'the transcoder goes on for room B alone');
  await page.page.click('#stop-share');
  await waitFor('the floor to be free', 10_000, () => floors.presenterOf(room.number) === null);
  t.pass('"Stop sharing" gives the floor back');
  await waitFor('the transcoder to stop', 10_000, () => box.media?.contentState(room.number).transcoders.length === 0).catch(() => undefined);
  t.same(box.media?.contentState(room.number).transcoders, [], 'the transcoder stops with the share');
  t.same(page.errors, [], 'no errors on the page');
  await page.page.click('#leave');
  await hangUp('RoomB', roomB);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});

/** The colour name at (fx, fy) of the page's content view (its video drawn on a canvas). */
async function contentColourAt(p: WatchedPage, fx: number, fy: number): Promise<string> {
  const [r, g, b] = (await p.page.evaluate(`(() => {
    const video = document.getElementById('content-video');
    if (!video.videoWidth) return [-1, -1, -1];
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const g = canvas.getContext('2d');
    g.drawImage(video, 0, 0);
    return [...g.getImageData(Math.floor(${fx} * canvas.width), Math.floor(${fy} * canvas.height), 1, 1).data].slice(0, 3);
  })()`)) as number[];
  if (r === undefined || r < 0) return 'none';
  const named: [string, number[]][] = [['blue', [0, 0, 255]], ['yellow', [255, 255, 0]], ['black', [0, 0, 0]], ['white', [255, 255, 255]], ['red', [255, 0, 0]], ['lime', [0, 255, 0]]];
  return named.map(([name, c]) => [name, (r - (c[0] ?? 0)) ** 2 + ((g ?? 0) - (c[1] ?? 0)) ** 2 + ((b ?? 0) - (c[2] ?? 0)) ** 2] as const).sort((x, y) => x[1] - y[1])[0]?.[0] ?? 'none';
}

t.test('a browser that cannot decode H.264 sees a room system\'s slides transcoded to VP8', async (t) => {
  const a = await openTerminals(t, 'audio', 'video');
  const slidesFrom = await freePort();
  const roomA = await joinWithContent(target, room.number, 'RoomA', contentOffer({ audio: a.audio.port, video: a.video.port, content: slidesFrom }, 'TCP/BFCP', 109));
  const ids = bfcpOf(roomA.answer);
  const client = await BfcpClient.start({ transport: 'tcp', port: ids.port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => client.close());
  // This page tells the box it decodes VP8 only (the join page's ?recv=VP8 support switch).
  const viewer = await joinPage('Vp8Only', '&recv=VP8');
  t.teardown(() => viewer.page.context().close());
  const viewerId = await idOf(viewer);
  startSlides(t, 'blue', slidesFrom, contentLine(parseSdp(roomA.answer).media)?.port ?? 0);
  const grant = client.nextNotification(granted, 'Granted');
  const request = await client.request('request', 'FloorRequest');
  await grant;
  const shown = await viewUntil(viewer, (v) => v.shown && v.frames > 3, "room A's slides in the VP8-only page", 30_000);
  t.match(shown, { shown: true, presenter: participantOf('RoomA')?.id, mimeType: 'video/H264', received: 'video/VP8' }, `the page is sent the H.264 slides as VP8 (${shown.width}×${shown.height}, ${shown.frames} frames)`);
  await waitFor('blue slides in the page', 15_000, async () => (await contentColourAt(viewer, 0.5, 0.5)) === 'blue').catch(() => undefined);
  t.equal(await contentColourAt(viewer, 0.5, 0.5), 'blue', 'the page shows the blue slides');
  const state = box.media?.contentState(room.number);
  t.match(state?.transcoders, [{ mimeType: 'video/VP8', receivers: [viewerId] }], 'one VP8 transcoder, for that page');
  // The floor released: the page's content view and the transcoder end.
  await client.request(`release ${floorRequestId(request) ?? 0}`, 'FloorRelease');
  await waitFor('the floor free', 10_000, () => floors.presenterOf(room.number) === null);
  await viewUntil(viewer, (v) => !v.shown, 'the content view to close', 10_000);
  await waitFor('the transcoder to stop', 10_000, () => box.media?.contentState(room.number).transcoders.length === 0).catch(() => undefined);
  t.same(box.media?.contentState(room.number).transcoders, [], 'no transcoder once nobody presents');
  t.same(viewer.errors, [], 'no errors on the page');
  await viewer.page.click('#leave');
  await hangUp('RoomA', roomA);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});
