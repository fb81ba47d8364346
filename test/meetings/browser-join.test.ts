/**
 * Browsers and a SIP terminal in one meeting: two headless Chromium pages (fake camera and
 * microphone) open the join page served by the control plane, join the VMR through the
 * WebSocket signaling and mediasoup-client, and a sipp terminal calls in. Each browser receives
 * the other's audio and video (getStats: packets, decoded frames) and the terminal's audio
 * (PCMU, SFU); the terminal hears the browsers through the mixer. Wrong PIN and a locked
 * meeting are refused in words; a browser removed from the console is told so; leaving ends
 * the participant; no console errors on the page.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { launchBrowser, openPage, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { rms } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Browser room', number: '880004', hostPin: '4321', guestPin: '8765', capacity: 10 });
const base = await startConsoleApi(t, {
  ...boxConsoleOptions(box),
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

type Stats = { inbound: { kind: string; codec: string; packets: number; framesDecoded?: number }[]; outbound: { kind: string; packets: number }[] };
// Page-side code is given as strings: the test project has no DOM types.
const statsOf = (p: WatchedPage) => p.page.evaluate('window.vcboxJoin.stats()') as Promise<Stats>;
const phase = (p: WatchedPage, wanted: string, timeout = 20_000) => p.page.waitForFunction(`window.vcboxJoin.state.phase === '${wanted}'`, undefined, { timeout });
const errorShown = (p: WatchedPage) => p.page.waitForFunction("document.getElementById('error').textContent !== ''");

/** Polls the page's stats until `ok` holds (or the timeout), and returns the last ones. */
async function statsUntil(p: WatchedPage, ok: (s: Stats) => boolean, timeoutMs: number): Promise<Stats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await statsOf(p);
    if (ok(stats) || Date.now() > deadline) return stats;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function joinFromPage(p: WatchedPage, name: string, pin: string): Promise<void> {
  await p.page.fill('#pin', pin);
  await p.page.fill('#name', name);
  await p.page.click('#join');
}

t.test('the join page knows the meeting from the link', async (t) => {
  const p = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(() => p.page.context().close());
  await p.page.waitForFunction("document.getElementById('subject').textContent !== ''");
  t.equal(await p.page.textContent('#subject'), 'Browser room');
  t.equal(await p.page.inputValue('#number'), room.number);
  const unknown = await fetch(`${base}/api/v1/join/99999999`);
  t.equal(unknown.status, 404, 'an unknown meeting: 404');
  t.match(await unknown.json(), { refusal: 'not-found' });
});

t.test('a wrong PIN is refused in words, in the chosen language', async (t) => {
  const p = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(() => p.page.context().close());
  await p.page.selectOption('#lang', 'zh-CN');
  await joinFromPage(p, '访客', '1111');
  await errorShown(p);
  t.equal(await p.page.textContent('#error'), '密码错误。');
  t.equal(await p.page.textContent('#join'), '加入', 'the page is in Chinese');
});

t.test('two browsers and a SIP terminal see and hear each other', async (t) => {
  const one = await openPage(browser, `${base}/join/?m=${room.number}`);
  const two = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(async () => {
    await one.page.context().close();
    await two.page.context().close();
  });
  await joinFromPage(one, 'Browser One', '4321');
  await phase(one, 'joined');
  await joinFromPage(two, 'Browser Two', '8765');
  await phase(two, 'joined');

  const { terminal } = await openTerminals(t, 'terminal');
  // The terminal stays until the box removes it at the end (a loaded machine may take a while).
  const sip = await joinMeeting(`127.0.0.1:${box.port}`, { dial: `${room.number}**8765`, name: 'Desk', media: pcmuMedia(terminal.port), hold: 90_000, scenario: 'meeting-join-remote-bye.xml' });
  const sending = terminal.send(sip.answeredPort, await g711Tone('mulaw', 440, 60), { payloadType: 0, frameBytes: 160, timestampStep: 160 });

  // Each browser consumes: the other browser's audio and video, and the terminal's audio.
  const framesOf = (s: Stats) => Math.max(0, ...s.inbound.filter((i) => i.kind === 'video').map((i) => i.framesDecoded ?? 0));
  const complete = (s: Stats) =>
    framesOf(s) > 10 && (s.inbound.find((i) => i.codec === 'audio/PCMU')?.packets ?? 0) > 50 && (s.inbound.find((i) => i.codec === 'audio/opus')?.packets ?? 0) > 50;
  const stats = await statsUntil(one, complete, 40_000);
  const statsTwo = await statsUntil(two, complete, 20_000);
  t.ok(complete(statsTwo), `browser two receives browser one's audio and video and the terminal's audio ${JSON.stringify(statsTwo.inbound)}`);
  t.ok(framesOf(stats) > 10, `browser one decodes browser two's video (${framesOf(stats)} frames)`);
  t.ok((stats.inbound.find((i) => i.codec === 'audio/PCMU')?.packets ?? 0) > 50, 'browser one receives the SIP terminal audio (PCMU, forwarded)');
  t.ok((stats.inbound.find((i) => i.codec === 'audio/opus')?.packets ?? 0) > 50, 'browser one receives browser two audio (Opus)');
  t.ok(stats.outbound.some((o) => o.kind === 'video' && o.packets > 0), 'browser one sends video');
  await one.page.screenshot({ path: path.join(artifacts, 'join-page-in-meeting.png') });

  // The terminal hears the browsers (Chromium's fake microphone beeps: ~10 000 rms in a 20 ms
  // frame, silence between) through the mixer — after its first second, however long it takes.
  const loudestFrame = async () => {
    const heard = await decodeG711('mulaw', terminal.payloadOf(0, 50));
    let loudest = 0;
    for (let i = 0; i + 320 <= heard.length; i += 320) loudest = Math.max(loudest, rms(heard.subarray(i, i + 320)));
    return loudest;
  };
  await waitFor('a beep from the browsers at the terminal', 15_000, async () => ((await loudestFrame()) > 1000 ? true : undefined)).catch(() => undefined);
  const loudest = await loudestFrame();
  terminal.stop();
  await sending;
  t.ok(loudest > 1000, `the SIP terminal hears the browsers (loudest 20 ms: rms ${Math.round(loudest)})`);

  const live = box.app.live.get(room.number);
  t.same(
    [...(live?.participants.values() ?? [])].map((p) => `${p.type}:${p.displayName}:${p.role}`).sort(),
    ['sip:Desk:guest', 'web:Browser One:host', 'web:Browser Two:guest'],
    'the live meeting lists the browsers and the terminal with their roles',
  );
  const snapshot = await box.media?.snapshot(room.number);
  t.same(snapshot?.[0]?.participants.map((p) => p.type).sort(), ['sip', 'web', 'web'], 'the media service has all three');

  // Removed from the console: the page is told why and the participant is gone.
  const webTwo = [...(live?.participants.values() ?? [])].find((p) => p.displayName === 'Browser Two');
  webTwo?.hangUp('removed by the administrator');
  await phase(two, 'removed', 5000);
  t.match(await two.page.textContent('#error'), /removed by the administrator/, 'browser two shows why it is out');
  await waitFor('browser two to be gone', 5000, () => ![...(box.app.live.get(room.number)?.participants.values() ?? [])].some((p) => p.displayName === 'Browser Two'));

  // Locked: a new browser is refused with "failed to join".
  if (live) live.locked = true;
  const three = await openPage(browser, `${base}/join/?m=${room.number}`);
  t.teardown(() => three.page.context().close());
  await joinFromPage(three, 'Late', '8765');
  await errorShown(three);
  t.equal(await three.page.textContent('#error'), 'Failed to join: the meeting is locked.');
  if (live) live.locked = false;

  await one.page.click('#leave');
  await phase(one, 'left', 5000);
  [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Desk')?.hangUp('meeting over');
  t.ok((await sip.result).ok, 'the terminal call ends normally (BYE from the box)');
  await waitFor('the meeting to end', 8000, () => box.app.live.get(room.number) === undefined);
  t.same([...one.errors, ...two.errors, ...three.errors], [], 'no console errors on the pages');
});
