/**
 * Per-participant network quality (spec "Meeting behaviour": red at delay ≥ 250 ms, jitter ≥
 * 50 ms, audio loss ≥ 10 %, video loss ≥ 3 %), measured by the box on real RTP: three SIP
 * terminals (sipp) in one VMR send a tone — one over a clean path, one over a path that loses
 * every fourth packet, one whose packets arrive 0 or 80 ms off their timing — and the live
 * meeting API reports the clean one good and the other two red with the loss and jitter the
 * box measured; the console's live meetings page shows those two in red. A fourth terminal
 * that sends nothing at all is shown "no media received" (in words, red) once 5 s have passed.
 * The thresholds themselves, delay and video loss included, at their edges.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { NO_MEDIA_MS, QUALITY_RED, quality } from '../../server/control-plane/routes/live-meetings.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { launchBrowser, logInToConsole, openPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, pcmuMedia, UNTIL_HUNG_UP } from '../helpers/meeting-terminal.ts';
import { g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

t.test('the thresholds, at their edges', async (t) => {
  const clean = { rttMs: 0, jitterMs: 0, packetLoss: 0, videoPacketLoss: 0 };
  t.same(QUALITY_RED, { delayMs: 250, jitterMs: 50, audioLoss: 0.1, videoLoss: 0.03 }, "the spec's figures");
  t.equal(quality(clean), 'good');
  t.equal(quality({ ...clean, rttMs: 498 }), 'good', 'delay 249 ms (half the round trip)');
  t.equal(quality({ ...clean, rttMs: 500 }), 'red', 'delay 250 ms');
  t.equal(quality({ ...clean, jitterMs: 49.9 }), 'good');
  t.equal(quality({ ...clean, jitterMs: 50 }), 'red', 'jitter 50 ms');
  t.equal(quality({ ...clean, packetLoss: 0.099 }), 'good');
  t.equal(quality({ ...clean, packetLoss: 0.1 }), 'red', 'audio loss 10 %');
  t.equal(quality({ ...clean, videoPacketLoss: 0.029 }), 'good');
  t.equal(quality({ ...clean, videoPacketLoss: 0.03 }), 'red', 'video loss 3 %');
  t.equal(NO_MEDIA_MS, 5000);
  t.equal(quality({ ...clean, noMediaMs: 4999 }), 'good', 'nothing received for just under 5 s');
  t.equal(quality({ ...clean, noMediaMs: 5000 }), 'no-media', 'nothing received for 5 s');
});

t.test('measured on real RTP and shown in red in the console', async (t) => {
  const box = await startSipBox({ media: {} });
  t.teardown(() => box.close());
  const room = new VmrStore(box.db).create({ name: 'Quality room', number: '880031', hostPin: '1122', guestPin: '', capacity: 10 });
  await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
  const base = await startConsoleApi(t, {
    state: { db: box.db, settings: box.settings },
    live: box.app.live,
    ...(box.mediaClient ? { media: box.mediaClient.media } : {}),
    keepDb: true,
    webRoot: path.join(PROJECT_ROOT, 'web'),
  });
  const admin = new ConsoleClient(base);
  await admin.login('chief', 'Chief2026');
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

  const terminals = await openTerminals(t, 'clean', 'lossy', 'jittery', 'silent');
  const target = `127.0.0.1:${box.port}`;
  const legs = {
    clean: await joinMeeting(target, { dial: room.number, name: 'Clean', media: pcmuMedia(terminals.clean.port), ...UNTIL_HUNG_UP }),
    lossy: await joinMeeting(target, { dial: room.number, name: 'Lossy', media: pcmuMedia(terminals.lossy.port), ...UNTIL_HUNG_UP }),
    jittery: await joinMeeting(target, { dial: room.number, name: 'Jittery', media: pcmuMedia(terminals.jittery.port), ...UNTIL_HUNG_UP }),
    silent: await joinMeeting(target, { dial: room.number, name: 'Silent', media: pcmuMedia(terminals.silent.port), ...UNTIL_HUNG_UP }),
  };
  // Long enough to outlast the checks on a loaded machine (the page comes last); stopped at the end.
  const tone = await g711Tone('mulaw', 440, 120);
  const pcmu = { payloadType: 0, frameBytes: 160, timestampStep: 160 };
  const sending = Promise.all([
    terminals.clean.send(legs.clean.answeredPort, tone, pcmu),
    terminals.lossy.send(legs.lossy.answeredPort, tone, { ...pcmu, lose: (n) => n % 4 === 0 }),
    terminals.jittery.send(legs.jittery.answeredPort, tone, { ...pcmu, skew: (n) => (n % 2 === 0 ? 80 : 0) }),
  ]);
  t.teardown(() => {
    for (const terminal of Object.values(terminals)) terminal.stop();
  });

  type Stream = { codec: string; bitrateIn: number; bitrateOut: number; packetsIn: number; packetsOut: number; packetLoss: number; jitterMs: number };
  type Participant = { displayName: string; quality: string; packetLoss: number; jitterMs: number; rttMs: number; noMediaSeconds: number; audio: Stream; video: Stream | null };
  const participants = async () => ((await admin.call('GET', `/api/v1/live-meetings/${room.number}`)).body.participants ?? []) as Participant[];
  const byName = (list: Participant[], name: string) => list.find((p) => p.displayName === name);
  // The box's figures come from its receiver reports (about one a second): ask until both show (10 s at most).
  let measured: Participant[] = [];
  for (let attempt = 0; attempt < 40; attempt++) {
    measured = await participants();
    // (A report interval that began before the loss shows less of it: wait for one wholly inside.)
    if ((byName(measured, 'Lossy')?.packetLoss ?? 0) >= 0.2 && byName(measured, 'Jittery')?.quality === 'red') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const lossy = byName(measured, 'Lossy');
  const jittery = byName(measured, 'Jittery');
  const clean = byName(measured, 'Clean');
  t.ok(lossy && lossy.packetLoss >= 0.2 && lossy.packetLoss <= 0.3, `a quarter of the lossy terminal's packets lost: ${lossy?.packetLoss}`);
  t.ok(jittery && jittery.jitterMs >= 50, `the jittery terminal's jitter: ${jittery?.jitterMs} ms`);
  t.match([lossy?.quality, jittery?.quality], ['red', 'red'], 'both reported red');
  t.match(clean, { quality: 'good' }, `the clean one is good (loss ${clean?.packetLoss}, jitter ${clean?.jitterMs} ms)`);
  t.match(clean?.audio, { codec: 'PCMU' }, 'its audio stream named by codec');
  t.ok((clean?.audio.packetsIn ?? 0) > 0 && (clean?.audio.bitrateIn ?? 0) > 0, `with what the box receives (${clean?.audio.packetsIn} packets, ${clean?.audio.bitrateIn} bit/s)`);
  t.ok((clean?.audio.packetsOut ?? 0) > 0, `and what it sends (${clean?.audio.packetsOut} packets)`);
  t.equal(clean?.video, null, 'an audio-only terminal has no video stream');
  let silent: Participant | undefined;
  for (let attempt = 0; attempt < 60 && silent?.quality !== 'no-media'; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    silent = byName(await participants(), 'Silent');
  }
  t.match(silent, { quality: 'no-media' }, `the terminal that sends nothing: no media received for ${silent?.noMediaSeconds} s`);
  t.ok((silent?.noMediaSeconds ?? 0) >= 5, 'counted in seconds');
  t.equal(byName(await participants(), 'Clean')?.quality, 'good', 'while the one that sends is not flagged');

  const p = await openPage(browser, `${base}/#live`);
  t.teardown(() => p.page.context().close());
  const { page } = p;
  await page.setViewportSize({ width: 1280, height: 800 });
  await logInToConsole(page, 'chief', 'Chief2026');
  await page.waitForSelector('tr[data-participant="Lossy"]');
  const cell = (name: string) => page.locator(`tr[data-participant="${name}"] td.quality`);
  t.equal(await cell('Lossy').getAttribute('class'), 'quality red', 'the lossy terminal in red');
  t.equal(await cell('Lossy').textContent(), 'poor');
  t.match(await cell('Lossy').getAttribute('title'), /^audio loss 2\d(\.\d)? %, video loss 0 %, jitter \d+ ms, delay 0 ms$/, 'the figures behind it');
  t.equal(await cell('Jittery').getAttribute('class'), 'quality red', 'the jittery one too');
  t.equal(await cell('Clean').getAttribute('class'), 'quality', 'the clean one not');
  t.equal(await cell('Silent').getAttribute('class'), 'quality red', 'the silent one in red');
  t.match(await cell('Silent').textContent(), /^no media received \(\d+ s\)$/, 'saying why in words');
  t.equal(await page.$eval('tr[data-participant="Lossy"] td.quality', (node) => (globalThis as unknown as { getComputedStyle(n: unknown): { color: string } }).getComputedStyle(node).color), 'rgb(180, 35, 24)', 'drawn red');
  await page.screenshot({ path: path.join(artifacts, 'console-live-quality.png'), fullPage: true });
  t.same(p.errors, [], 'no console errors');
  for (const terminal of Object.values(terminals)) terminal.stop();
  await sending;
  hangUpEveryone(box, room.number);
  const results = await Promise.all(Object.values(legs).map((leg) => leg.result));
  t.ok(results.every((r) => r.ok), `every call ends normally when the box hangs up ${results.map((r) => r.errors).join('')}`);
});
