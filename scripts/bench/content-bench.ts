/**
 * Content sharing benchmark (issue #19), on the real stack on loopback (signaling service, SIP
 * application with BFCP floor control, media control socket, media service with one mediasoup
 * worker). Calls are placed by a UDP SIP client (content-calls.ts) with audio, a content line
 * (H.264; the receivers' at level 4.0) and a BFCP line; ffmpeg sends the presenter's slides,
 * H.264 1920×1080 at 5 fps, 900 kbit/s, with a key frame a second, to its content port — within
 * the default content cap, so they are forwarded as sent (content-transcode-bench.ts measures
 * the transcoded path).
 *
 * 1. Floor request → first content at a receiver: over `--cycles` cycles the presenter's BFCP
 *    client (TCP, the box's own codec) sends FloorRequest with the IDs of the box's answer, and
 *    the time to the receiver's first forwarded RTP packet is taken (mediasoup starts a
 *    receiver at a key frame, so that packet begins one), then FloorRelease. Target < 500 ms.
 *    ffmpeg ignores the box's PLI, so this includes the wait for its next key frame (≤ 1 s);
 *    a terminal that answers PLI starts sooner.
 * 2. Forwarding cost: the media worker's CPU share of one core (from /proc) while the slides
 *    are forwarded to N receivers, for each N of `--receivers`, and with the floor free.
 *
 *    `--gop 1` (every frame a key frame) approximates a terminal that answers the PLI at once.
 *
 * Usage: node scripts/bench/content-bench.ts [--cycles 10] [--receivers 1,4,8,16] [--gop 5]
 * Last line: JSON.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { bindUdp, percentile, startBenchStack } from './bench-stack.ts';
import { bfcpClient, type ContentCall, contentCall, cpuShare } from './content-calls.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const CYCLES = Number(option('cycles', '10'));
const RECEIVER_STEPS = option('receivers', '1,4,8,16').split(',').map(Number);
/** Frames between the slides' key frames (5: one a second; 1: every frame, as a sender that answers PLI at once). */
const GOP = Number(option('gop', '5'));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Slides: 1920×1080 at 5 fps, H.264 baseline, a key frame every GOP frames, payload type 109. */
function startSlides(fromPort: number, toPort: number): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=5', '-t', '600',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(GOP), '-b:v', '900k', '-maxrate', '900k', '-bufsize', '900k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${toPort}?localrtpport=${fromPort}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
}



const stack = await startBenchStack({ tag: 'content', number: '990019', bfcp: true, capacity: 100 });
// The presenter's content socket: ffmpeg sends from its port, so the box's connected transport takes it.
const presenterContent = await bindUdp();
const slidesFrom = presenterContent.address().port;
const box = { sipPort: stack.sipPort, number: stack.vmr.number };
const presenter = await contentCall(box, 0, presenterContent);
presenterContent.close(); // ffmpeg binds that port now
const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
const slides = startSlides(slidesFrom, contentPort);
// Receivers whose content line takes 1080p (H.264 level 4.0): within the default content cap
// (1080P/5, 936 kbit/s) the slides are forwarded as sent, which is what this measures.
const LEVEL_40 = 'profile-level-id=42e028;packetization-mode=1';
const receivers: ContentCall[] = [await contentCall(box, 1, undefined, LEVEL_40)];
const floor = await bfcpClient(presenter.answer);
await sleep(1500);

// 1. Floor request → first content packet at the receiver.
const latencies: number[] = [];
for (let cycle = 0; cycle < CYCLES; cycle++) {
  const receiver = receivers[0] as ContentCall;
  const started = performance.now();
  const first = new Promise<number>((resolve) => {
    receiver.onContent = () => {
      receiver.onContent = undefined;
      resolve(performance.now());
    };
  });
  const id = await floor.request();
  const at = await Promise.race([first, sleep(5000).then(() => Number.NaN)]);
  latencies.push(at - started);
  await floor.release(id);
  await sleep(700 + Math.random() * 600); // release somewhere else in the key-frame interval each time
}
const ok = latencies.filter((l) => Number.isFinite(l));
const latency = { p50: Math.round(percentile(ok, 50)), p95: Math.round(percentile(ok, 95)), max: Math.round(Math.max(...ok)), cycles: ok.length };
console.log(`floor request → first content packet at a receiver: p50 ${latency.p50} ms, p95 ${latency.p95} ms, max ${latency.max} ms (${latency.cycles} of ${CYCLES} cycles)`);

// 2. Forwarding cost by receivers.
const idle = await cpuShare(stack.workerPid, 5);
console.log(`worker CPU with the slides arriving and the floor free: ${idle} % of a core`);
const id = await floor.request();
const fanOut: { receivers: number; cpuPercent: number; packetsPerReceiverPerSecond: number }[] = [];
for (const count of RECEIVER_STEPS) {
  while (receivers.length < count) receivers.push(await contentCall(box, receivers.length + 1, undefined, LEVEL_40));
  await sleep(2000);
  const before = receivers.map((r) => r.packets);
  const cpuPercent = await cpuShare(stack.workerPid, 5);
  const rates = receivers.map((r, i) => (r.packets - (before[i] ?? 0)) / 5);
  const packetsPerReceiverPerSecond = Math.round(Math.min(...rates));
  fanOut.push({ receivers: count, cpuPercent, packetsPerReceiverPerSecond });
  console.log(`${count} receivers: worker ${cpuPercent} % of a core, each receiver ≥ ${packetsPerReceiverPerSecond} packets/s`);
}
await floor.release(id);

floor.close();
slides.kill('SIGKILL');
for (const c of [presenter, ...receivers]) c.bye();
await sleep(500);
await stack.close();
const result = { floorToFirstContentMs: latency, idleCpuPercent: idle, fanOut, targetMs: 500, slides: `1920x1080@5 H.264, a key frame every ${GOP} frames` };
console.log(JSON.stringify(result));
process.exit(0);
