/**
 * The join page's "composed view": a browser that ticks it receives the MCU's one composed
 * picture instead of every camera. A SIP terminal sends a red camera (ffmpeg VP8), a second
 * browser its fake camera over the SFU; the composed browser decodes exactly one inbound video
 * stream, and that picture (sampled from its <video> in the page) shows the red terminal in
 * the first pane of the meeting's 2×2, while the ordinary browser decodes both cameras. The
 * checkbox label is translated; no console errors on the page.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, openPage, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { joinMeeting } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';
import { startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30' }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Composed room', number: '880011', hostPin: '4321', guestPin: '', capacity: 10, layout: '2x2' });
const base = await startConsoleApi(t, {
  ...boxConsoleOptions(box),
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

type Stats = { inbound: { kind: string; codec: string; packets: number; framesDecoded?: number }[] };
const statsOf = (p: WatchedPage) => p.page.evaluate('window.vcboxJoin.stats()') as Promise<Stats>;
const decodingVideo = (s: Stats) => s.inbound.filter((i) => i.kind === 'video' && (i.framesDecoded ?? 0) > 5).length;
/** The colour at (fx, fy) of the composed tile's video, drawn into a canvas in the page. */
const composedPixel = (p: WatchedPage, fx: number, fy: number) =>
  p.page.evaluate(`(() => {
    const video = document.querySelector('.tile[data-participant="composed"] video');
    if (!video || !video.videoWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(video, 0, 0);
    return Array.from(ctx.getImageData(Math.floor(${fx} * canvas.width), Math.floor(${fy} * canvas.height), 1, 1).data.slice(0, 3));
  })()`) as Promise<number[] | null>;

t.test('a browser in composed view receives one picture with everyone in it', async (t) => {
  const { audio } = await openTerminals(t, 'audio');
  const videoPort = await freePort();
  const sip = await joinMeeting(`127.0.0.1:${box.port}`, {
    dial: `${room.number}**4321`,
    name: 'Red',
    media: `m=audio ${audio.port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\nm=video ${videoPort} RTP/AVP 97\na=rtpmap:97 VP8/90000\na=rtcp-fb:97 nack pli`,
    hold: 90_000,
    scenario: 'meeting-join-remote-bye.xml',
  });
  startCamera(t, 'red', videoPort, sip.answeredVideoPort, 90);

  const sfu = await openPage(browser, `${base}/join/?m=${room.number}`);
  const composed = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(async () => {
    await sfu.page.context().close();
    await composed.page.context().close();
  });
  await composed.page.selectOption('#lang', 'zh-CN');
  t.match(await composed.page.textContent('label.check'), /合成画面/, 'the checkbox is translated');
  await composed.page.selectOption('#lang', 'en');
  for (const [p, name, tick] of [[sfu, 'Sfu', false], [composed, 'Composed', true]] as const) {
    await p.page.fill('#pin', '4321');
    await p.page.fill('#name', name);
    if (tick) await p.page.check('#composed');
    await p.page.click('#join');
    await p.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 20_000 });
  }

  const deadline = Date.now() + 30_000;
  let composedStats = await statsOf(composed);
  let sfuStats = await statsOf(sfu);
  while (Date.now() < deadline && (decodingVideo(composedStats) < 1 || decodingVideo(sfuStats) < 2)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    [composedStats, sfuStats] = await Promise.all([statsOf(composed), statsOf(sfu)]);
  }
  // (mediasoup's bandwidth probation stream shows up as a video entry without a codec.)
  const composedVideo = composedStats.inbound.filter((i) => i.kind === 'video' && i.codec !== '');
  t.equal(composedVideo.length, 1, 'the composed browser receives one video stream', { inbound: composedVideo });
  t.equal(decodingVideo(composedStats), 1, 'and decodes it');
  t.equal(decodingVideo(sfuStats), 2, 'the ordinary browser decodes both cameras (terminal and composed browser)');

  // 2×2 in join order: the terminal (red) first, then the two browsers' fake cameras.
  const red = (px: number[] | null) => px !== null && (px[0] ?? 0) > 170 && (px[1] ?? 255) < 80 && (px[2] ?? 255) < 80;
  let pixel: number[] | null = null;
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    pixel = await composedPixel(composed, 0.25, 0.2);
    if (red(pixel)) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  t.ok(red(pixel), `the composed picture shows the red terminal in the first pane (${JSON.stringify(pixel)})`);
  const other = await composedPixel(composed, 0.75, 0.2);
  t.notOk(red(other), `the second pane is someone else (${JSON.stringify(other)})`);
  await composed.page.screenshot({ path: path.join(artifacts, 'join-page-composed-view.png') });
  t.same(composed.errors, [], 'no console errors on the composed page');
  t.same(sfu.errors, [], 'nor on the ordinary page');
  box.app.live.get(room.number)?.participants.forEach((p) => {
    if (p.type === 'sip') p.hangUp('test over');
  });
  t.ok((await sip.result).ok, 'the terminal call ends normally');
});
