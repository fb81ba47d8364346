/**
 * The content cap (issue #19, `call.maxContentResolution` and the call's bandwidth), end to
 * end: a room system presents 1920×1080 H.264 slides at 5 fps (ffmpeg; blue left, yellow
 * right) to two room systems, one whose content line takes H.264 level 4.0 (1080p) and one
 * level 3.1 (720p). Under the default cap (1080P/5) the first is forwarded the slides as sent
 * (decoded 1920×1080, no transcoder) and the second is sent them transcoded to 1280×720. The
 * cap lowered to 720P/5 (followed live by the media service), both take one 1280×720
 * transcoder; a smaller call bandwidth lowers its bitrate. The presenter sending 15 fps, over
 * the cap's 5, is transcoded for both. A browser sharing 1920×1080 canvas slides at 15 fps
 * under the 720P/5 cap keeps its share within it (the page applies the cap the box answers, and
 * the new one when the administrator raises it mid-share),
 * so both room systems take it as sent. Sizes and colours are checked in decoded frames.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, openPage, slidesScreen, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { contentOffer, contentReceiver, joinWithContent, takeFloor } from '../helpers/content-terminal.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, participantIdOf, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Content caps', number: '880197', hostPin: '4500', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

/** Slides from a room system: 1920×1080, blue left and yellow right, H.264 (a key frame a second) as payload type 109. */
function startSlides1080(t: { teardown(fn: () => unknown): void }, fromPort: number, toPort: number, fps: number): ChildProcess {
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=blue:size=1920x1080:rate=${fps},drawbox=x=960:y=0:w=960:h=1080:color=yellow:t=fill`, '-t', '120',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(fps), '-b:v', '400k', '-maxrate', '400k', '-bufsize', '400k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${toPort}?localrtpport=${fromPort}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

type Receiver = Awaited<ReturnType<typeof contentReceiver>>;
const slidesAt = (r: Receiver) => r.screen.nameAt(0.25, 0.5) === 'blue' && r.screen.nameAt(0.75, 0.5) === 'yellow';

/** Restarts the receivers' decoders and waits until both decode the slides. */
async function decodeAfresh(...receivers: Receiver[]): Promise<void> {
  await Promise.all(receivers.map((r) => r.screen.restart()));
  await waitFor('the slides decoded afresh', 40_000, () => receivers.every((r) => slidesAt(r) && r.screen.largest !== undefined)).catch(() => undefined);
}

t.test('the content cap decides forwarding or transcoding, follows the settings, and holds the decoded size', async (t) => {
  const audio = await openTerminals(t, 'presenter', 'big', 'small');
  const slidesFrom = await freePort();
  const presenter = await joinWithContent(target, room.number, 'Presenter', contentOffer({ audio: audio.presenter.port, video: await freePort(), content: slidesFrom }, 'TCP/BFCP', 109));
  const big = await contentReceiver(t, 180, { rtcp: true, sizes: true });
  const small = await contentReceiver(t, 180, { rtcp: true, sizes: true });
  const bigCall = await joinWithContent(target, room.number, 'Big', contentOffer({ audio: audio.big.port, video: await freePort(), content: big.port }, 'TCP/BFCP', 109).replace('profile-level-id=42e01f', 'profile-level-id=42e028'));
  const smallCall = await joinWithContent(target, room.number, 'Small', contentOffer({ audio: audio.small.port, video: await freePort(), content: small.port }, 'TCP/BFCP', 109));
  const presenterId = await participantIdOf(box, room.number, 'Presenter');
  const bigId = await participantIdOf(box, room.number, 'Big');
  const smallId = await participantIdOf(box, room.number, 'Small');
  const routes = () => box.media?.contentState(room.number).routes ?? {};

  const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
  let slides = startSlides1080(t, slidesFrom, contentPort, 5);
  await takeFloor(t, presenter.answer);

  // 1. The default cap, 1080P/5: level 4.0 takes the 1080p slides as sent, level 3.1 gets them at 720p.
  await waitFor('both routed', 20_000, () => routes()[bigId] === 'forwarded' && routes()[smallId] === 'transcoded').catch(() => undefined);
  t.same(routes(), { [presenterId]: 'none', [bigId]: 'forwarded', [smallId]: 'transcoded' }, 'the level-4.0 line is forwarded the slides, the level-3.1 line transcoded (the presenter is sent nothing)');
  const state = box.media?.contentState(room.number);
  t.match(state?.source, { mimeType: 'video/H264', shape: { size: { width: 1920, height: 1080 } } }, 'the probe read 1920×1080 from the key frames');
  t.match(state?.policy, { width: 1920, height: 1080, fps: 5, kbps: 936 }, 'the default cap: 1080p at 5 fps, 936 kbit/s (2M call less audio and 720p video)');
  t.match(state?.transcoders, [{ mimeType: 'video/H264', packetizationMode: 1, maxWidth: 1280, maxHeight: 720, fps: 5, kbps: 936, receivers: [smallId] }], 'one transcoder, for the 720p line');
  await decodeAfresh(big, small);
  t.same(big.screen.largest, { width: 1920, height: 1080 }, 'the level-4.0 room decodes the slides at 1920×1080, as sent');
  t.ok(slidesAt(big), 'blue left, yellow right');
  t.same(small.screen.largest, { width: 1280, height: 720 }, 'the level-3.1 room decodes them at 1280×720');
  t.ok(slidesAt(small), 'blue left, yellow right too');

  // 2. The cap lowered to 720P/5: both lines take one 1280×720 transcoder.
  box.settings.update({ 'call.maxContentResolution': '720P/5' }, { actor: 'test' });
  await waitFor('both transcoded at 720p', 20_000, () => routes()[bigId] === 'transcoded' && box.media?.contentState(room.number).transcoders.length === 1 && box.media?.contentState(room.number).transcoders[0]?.receivers.length === 2).catch(() => undefined);
  t.same(routes(), { [presenterId]: 'none', [bigId]: 'transcoded', [smallId]: 'transcoded' }, 'under 720P/5 both lines are transcoded');
  t.match(box.media?.contentState(room.number).transcoders, [{ maxWidth: 1280, maxHeight: 720, fps: 5 }], 'by one 1280×720 transcoder at 5 fps');
  t.same([...(box.media?.contentState(room.number).transcoders[0]?.receivers ?? [])].sort(), [bigId, smallId].sort(), 'taken by both');
  await decodeAfresh(big, small);
  t.same(big.screen.largest, { width: 1280, height: 720 }, 'the level-4.0 room now decodes at most 1280×720');
  t.ok(slidesAt(big), 'the slides still the right way round');

  // 3. A smaller call bandwidth: the content gets what is left beside audio and video.
  box.settings.update({ 'call.maxBandwidth': '1M' }, { actor: 'test' });
  await waitFor('a transcoder at the new bitrate', 20_000, () => box.media?.contentState(room.number).transcoders[0]?.kbps === 312).catch(() => undefined);
  t.match(box.media?.contentState(room.number).transcoders, [{ maxHeight: 720, kbps: 312 }], 'in a 1M call: 64 audio + 624 video + 312 content');
  t.equal(box.media?.contentState(room.number).transcoders.length, 1, 'the old transcoder stopped');

  // 4. Back to 1080P/5 and 2M, the presenter sending 15 fps: over the cap's rate, transcoded for both.
  box.settings.update({ 'call.maxContentResolution': '1080P/5', 'call.maxBandwidth': '2M' }, { actor: 'test' });
  await waitFor('forwarded again', 20_000, () => routes()[bigId] === 'forwarded').catch(() => undefined);
  t.equal(routes()[bigId], 'forwarded', 'under 1080P/5 again, the level-4.0 line is forwarded the slides again');
  slides.kill('SIGKILL');
  slides = startSlides1080(t, slidesFrom, contentPort, 15);
  await waitFor('the 15 fps seen', 30_000, () => routes()[bigId] === 'transcoded').catch(() => undefined);
  const fast = box.media?.contentState(room.number);
  t.equal(routes()[bigId], 'transcoded', `15 fps is over the cap's 5: transcoded (peak ${fast?.source?.shape?.peakFps} fps)`);
  t.match(fast?.transcoders.find((x) => x.receivers.includes(bigId)), { maxWidth: 1920, maxHeight: 1080, fps: 5 }, 'at 1080p and 5 fps for the level-4.0 line');
  await decodeAfresh(big);
  t.same(big.screen.largest, { width: 1920, height: 1080 }, 'decoded at 1920×1080');
  slides.kill('SIGKILL');

  for (const name of ['Presenter', 'Big', 'Small']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([presenter.result, bigCall.result, smallCall.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});

t.test('a browser keeps its share within the cap the box answers, and room systems take it as sent', async (t) => {
  box.settings.update({ 'call.maxContentResolution': '720P/5' }, { actor: 'test' });
  t.teardown(() => box.settings.update({ 'call.maxContentResolution': '1080P/5' }, { actor: 'test' }));
  const base = await startConsoleApi(t, { ...boxConsoleOptions(box), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const audio = await openTerminals(t, 'big', 'small');
  const big = await contentReceiver(t, 120, { rtcp: true, sizes: true });
  const small = await contentReceiver(t, 120, { rtcp: true, sizes: true });
  const bigCall = await joinWithContent(target, room.number, 'Big', contentOffer({ audio: audio.big.port, video: await freePort(), content: big.port }, 'TCP/BFCP', 109).replace('profile-level-id=42e01f', 'profile-level-id=42e028'));
  const smallCall = await joinWithContent(target, room.number, 'Small', contentOffer({ audio: audio.small.port, video: await freePort(), content: small.port }, 'TCP/BFCP', 109));
  const idOf = (name: string) => [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.id ?? '';
  const page: WatchedPage = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(() => page.page.context().close());
  await page.page.fill('#name', 'Sharer');
  await page.page.click('#join');
  await page.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 20_000 });
  // 1920×1080 canvas slides painted 15 times a second, shared in H.264.
  await slidesScreen(page, 1920, 1080, 15);
  await page.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'H264' })");
  const cap = await page.page.evaluate('window.vcboxJoin.state.sharing.cap');
  t.same(cap, { width: 1280, height: 720, fps: 5, kbps: 500 }, 'the box answers the share with its content cap (720P/5: the guide 500 kbit/s fits a 2M call beside 720p video)');
  const routes = () => box.media?.contentState(room.number).routes ?? {};
  await waitFor('both forwarded', 30_000, () => routes()[idOf('Big')] === 'forwarded' && routes()[idOf('Small')] === 'forwarded').catch(() => undefined);
  const state = box.media?.contentState(room.number);
  t.same(routes(), { [idOf('Big')]: 'forwarded', [idOf('Small')]: 'forwarded' }, 'both room systems take the share as sent');
  t.match(state?.source?.shape?.size, { height: 720 }, `the page scaled its screen to the cap (${JSON.stringify(state?.source?.shape)})`);
  t.same(state?.transcoders, [], 'no transcoder');
  await decodeAfresh(big, small);
  t.ok(big.screen.largest && big.screen.largest.height <= 720, `decoded at most 720 lines (${JSON.stringify(big.screen.largest)})`);
  t.ok(slidesAt(big) && slidesAt(small), 'both decode the slides the right way round');

  // The administrator raises the cap mid-share: the presenting page is told and keeps within the new one.
  box.settings.update({ 'call.maxContentResolution': '1080P/5' }, { actor: 'test' });
  await page.page.waitForFunction('window.vcboxJoin.state.sharing.cap.height === 1080', undefined, { timeout: 10_000 }).catch(() => undefined);
  t.same(await page.page.evaluate('window.vcboxJoin.state.sharing.cap'), { width: 1920, height: 1080, fps: 5, kbps: 936 }, 'the page is told the new cap (1080P/5, 936 kbit/s)');
  const sender = (await page.page.evaluate(`(() => {
    const producer = window.vcboxJoin.state.sharing.producer;
    return { maxBitrate: producer.rtpSender.getParameters().encodings[0].maxBitrate, constraints: producer.track.getConstraints() };
  })()`)) as { maxBitrate?: number; constraints: { height?: { max?: number } } };
  t.match(sender, { maxBitrate: 936_000, constraints: { height: { max: 1080 } } }, "and its encoder and screen follow it (936 kbit/s, up to 1080 lines)");
  await waitFor('the share at 1080 lines', 30_000, () => box.media?.contentState(room.number).source?.shape?.size?.height === 1080).catch(() => undefined);
  t.match(box.media?.contentState(room.number).source?.shape?.size, { height: 1080 }, 'the box reads the larger share from its key frames');

  t.same(page.errors, [], 'no errors on the page');
  await page.page.click('#leave');
  for (const name of ['Big', 'Small']) [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name)?.hangUp('test over');
  await Promise.all([bigCall.result, smallCall.result]);
  await waitFor('the meeting to end', 10_000, () => box.app.live.get(room.number) === undefined);
});
