/**
 * Content transcoding benchmark (issue #19): a browser presents VP8 — headless Chromium on the
 * join page sharing 1920×1080 canvas slides with moving bars at 5 fps (its own VP8 encoder) —
 * to SIP room systems whose content lines take H.264 level 4.0, so the box transcodes it to
 * 1080p/5 H.264 (content-routing.ts, one VideoTranscoder for all of them). The real SIP and
 * media stack in this process (the test helpers' box: signaling service, SIP application with
 * BFCP floor control, media service with one mediasoup worker, the web app for the join page).
 *
 * 1. Share → first content at a receiver through the transcoder, over `--cycles` cycles: from
 *    the page's shareScreen (shareContent takes the floor) to the first transcoded RTP packet
 *    at a room system's content port (it begins a key frame: mediasoup starts a receiver at
 *    one), then "stop sharing" and the transcoder gone. Also the share's answer time.
 * 2. CPU by receivers: for each N of `--receivers`, the transcoders' processes (vcbox-transcoder) and the
 *    mediasoup worker, each in % of one core (from /proc), and the number of transcoders; the
 *    encode is shared, so only the worker's forwarding should grow with N.
 *
 * Usage: node scripts/bench/content-transcode-bench.ts [--cycles 5] [--receivers 1,4,8,16] [--seconds 8]
 * Last line: JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, openPage } from '../../test/helpers/browser.ts';
import { startConsoleApi } from '../../test/helpers/console-api.ts';
import { boxConsoleOptions, startSipBox } from '../../test/helpers/sip-box.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { percentile } from './bench-stack.ts';
import { type ContentCall, contentCall, cpuSeconds } from './content-calls.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const CYCLES = Number(option('cycles', '5'));
const RECEIVER_STEPS = option('receivers', '1,4,8,16').split(',').map(Number);
const SECONDS = Number(option('seconds', '8'));
const LEVEL_40 = 'profile-level-id=42e028;packetization-mode=1';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const teardowns: (() => unknown)[] = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

/** The transcoders' processes: children of this process running vcbox-transcoder. */
function transcoderPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.split(') ')[1]?.split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('vcbox-transcoder')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function cpuOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

const box = await startSipBox({ media: {}, bfcp: true });
const room = new VmrStore(box.db).create({ name: 'Transcode bench', number: '990021', hostPin: '1234', guestPin: '', capacity: 100 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const browser = await launchBrowser();
const page = await openPage(browser, `${base}/join/?m=${room.number}`);
await page.page.fill('#name', 'Presenter');
await page.page.click('#join');
await page.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 30_000 });
// 1920×1080 slides with bars moving across them, painted 5 times a second (the worst case for
// the encoders: every frame changes).
await page.page.evaluate(`(() => {
  const canvas = document.createElement('canvas');
  canvas.width = 1920;
  canvas.height = 1080;
  const g = canvas.getContext('2d');
  let n = 0;
  setInterval(() => {
    g.fillStyle = '#1030a0'; g.fillRect(0, 0, 1920, 1080);
    g.fillStyle = '#f0f0f0';
    for (let i = 0; i < 12; i++) g.fillRect(((n * 40) + i * 160) % 1920, 100 + i * 70, 120, 40);
    g.font = '64px sans-serif'; g.fillText('Slide ' + n, 100, 1000);
    n++;
  }, 200);
  navigator.mediaDevices.getDisplayMedia = async () => canvas.captureStream(5);
})()`);
const target = { sipPort: box.port, number: room.number };
const receivers: ContentCall[] = [await contentCall(target, 1, undefined, LEVEL_40)];
const workerPid = (await box.media?.stats())?.workers[0]?.pid ?? 0;
const contentState = () => box.media?.contentState(room.number);

// 1. Share → first transcoded content at a receiver.
const latencies: number[] = [];
const answers: number[] = [];
for (let cycle = 0; cycle < CYCLES; cycle++) {
  const receiver = receivers[0] as ContentCall;
  const started = performance.now();
  const first = new Promise<number>((resolve) => {
    receiver.onContent = () => {
      receiver.onContent = undefined;
      resolve(performance.now());
    };
  });
  await page.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
  answers.push(performance.now() - started);
  const at = await Promise.race([first, sleep(10_000).then(() => Number.NaN)]);
  latencies.push(at - started);
  await page.page.evaluate('window.vcboxJoin.stopSharing()');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (contentState()?.transcoders.length ?? 0) > 0) await sleep(100);
  await sleep(1000);
}
const ok = latencies.filter((l) => Number.isFinite(l));
const latency = { p50: Math.round(percentile(ok, 50)), p95: Math.round(percentile(ok, 95)), max: Math.round(Math.max(...ok)), cycles: ok.length };
const answer = { p50: Math.round(percentile(answers, 50)), max: Math.round(Math.max(...answers)) };
console.log(`share → first transcoded content packet at a receiver: p50 ${latency.p50} ms, p95 ${latency.p95} ms, max ${latency.max} ms (${latency.cycles} of ${CYCLES}); share answered p50 ${answer.p50} ms`);

// 2. CPU by receivers, the share running.
const idleWorker = await (async () => {
  const before = cpuSeconds(workerPid);
  await sleep(SECONDS * 1000);
  return Math.round(((cpuSeconds(workerPid) - before) / SECONDS) * 1000) / 10;
})();
await page.page.evaluate("window.vcboxJoin.shareScreen({ codec: 'VP8' })");
const fanOut: { receivers: number; transcoders: number; transcoderCpuPercent: number; workerCpuPercent: number; packetsPerReceiverPerSecond: number }[] = [];
for (const count of RECEIVER_STEPS) {
  while (receivers.length < count) receivers.push(await contentCall(target, receivers.length + 1, undefined, LEVEL_40));
  await sleep(4000);
  const pids = transcoderPids();
  const before = { worker: cpuSeconds(workerPid), transcoders: cpuOf(pids), packets: receivers.map((r) => r.packets) };
  await sleep(SECONDS * 1000);
  const workerCpuPercent = Math.round(((cpuSeconds(workerPid) - before.worker) / SECONDS) * 1000) / 10;
  const transcoderCpuPercent = Math.round(((cpuOf(pids) - before.transcoders) / SECONDS) * 1000) / 10;
  const packetsPerReceiverPerSecond = Math.round(Math.min(...receivers.map((r, i) => (r.packets - (before.packets[i] ?? 0)) / SECONDS)));
  const transcoders = contentState()?.transcoders.length ?? 0;
  fanOut.push({ receivers: count, transcoders, transcoderCpuPercent, workerCpuPercent, packetsPerReceiverPerSecond });
  console.log(`${count} receivers: ${transcoders} transcoder(s) ${transcoderCpuPercent} % of a core, worker ${workerCpuPercent} %, each receiver ≥ ${packetsPerReceiverPerSecond} packets/s`);
}
const shape = contentState()?.transcoders[0];
await page.page.evaluate('window.vcboxJoin.stopSharing()');

for (const r of receivers) r.bye();
await sleep(500);
await page.page.context().close();
await browser.close();
for (const fn of teardowns.reverse()) await fn();
await box.close();
const result = {
  shareToFirstContentMs: latency,
  shareAnsweredMs: answer,
  workerCpuPercentNoReceivers: idleWorker,
  fanOut,
  transcoder: shape ? { mimeType: shape.mimeType, maxWidth: shape.maxWidth, maxHeight: shape.maxHeight, fps: shape.fps, kbps: shape.kbps } : null,
  source: 'Chromium VP8, 1920x1080 canvas at 5 fps, moving bars',
  cores: (await import('node:os')).cpus().length,
};
console.log(JSON.stringify(result));
process.exit(0);
