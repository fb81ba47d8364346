/**
 * Content-layout benchmark (issue #19): what the presentation costs the MCU picture that
 * terminals without a content line see. The compositor (media/mcu/native/vcbox-compositor)
 * with four 640×360 VP8 cameras and one H.264 output at the canvas size, measured
 *
 *   people   — the meeting's 2×2, no content (the picture before someone presents);
 *   content  — the content layout: the same cameras in the small panes of a 1+5 and the
 *              presenter's H.264 content (1920×1080 at 5 fps, a moving test picture: the worst
 *              case for the decoder) in the big pane, kept 16:9;
 *   content43 — the same with 4:3 content (1024×768 at 5 fps, pillarboxed).
 *
 * The content is decoded once per meeting in the picture every terminal without a content
 * line shares, so this is the whole extra cost of a presentation however many such terminals
 * watch (their outputs are the same shared encode as without content). Cameras and content
 * are pre-encoded files sent with `ffmpeg -c copy` (no encoding in the measurement); the CPU
 * is the compositor process's own (utime+stime from /proc); the output frame rate is counted
 * from RTP marker bits at a UDP sink.
 *
 * Usage: node scripts/bench/content-layout-bench.ts [--seconds 8] [--canvas 720|1080] [--runs 2]
 * Last line: JSON.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompositorProcess } from '../../media/mcu/compositor-process.ts';
import { contentLayout, panes } from '../../media/mcu/layouts.ts';
import { bindUdp } from './bench-stack.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const SECONDS = Number(option('seconds', '8'));
const RUNS = Number(option('runs', '2'));
const CANVAS = option('canvas', '720') === '1080' ? { width: 1920, height: 1080, fps: 30 } : { width: 1280, height: 720, fps: 30 };
const cache = path.join(process.env.VCBOX_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'vcbox'), 'mcu-bench');
const PATTERNS = ['testsrc', 'smptebars', 'rgbtestsrc', 'testsrc2'];

/** A pre-encoded VP8 camera (640×360, 30 fps), made once. */
function cameraFile(index: number): string {
  mkdirSync(cache, { recursive: true });
  const file = path.join(cache, `cam-640x360-${index % 4}.webm`);
  if (!existsSync(file)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `${PATTERNS[index % 4]}=size=640x360:rate=30`, '-t', '20',
      '-pix_fmt', 'yuv420p', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '384k', '-g', '60', file]);
  }
  return file;
}

/** Pre-encoded content: H.264 constrained baseline at 5 fps, a key frame a second, made once. */
function contentFile(width: number, height: number): string {
  mkdirSync(cache, { recursive: true });
  const file = path.join(cache, `content-${width}x${height}-5fps.mkv`);
  if (!existsSync(file)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=5`, '-t', '20',
      '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', 'veryfast', '-g', '5', '-b:v', '1500k', file]);
  }
  return file;
}

function send(file: string, port: number, payloadType: number): ChildProcess {
  // H.264 from Matroska: the parameter sets go in-band before each key frame, as terminals send them.
  const bsf = file.endsWith('.mkv') ? ['-bsf:v', 'h264_mp4toannexb'] : [];
  return spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-an', '-c:v', 'copy', ...bsf, '-payload_type', String(payloadType),
    '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=1200`], { stdio: 'ignore' });
}

const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The picture with four cameras, with or without content of `content` size; CPU cores and output fps over SECONDS after a 3 s warm-up. */
async function run(content: { width: number; height: number } | undefined): Promise<{ cores: number; fps: number; contentDecoded: boolean }> {
  const compositor = await CompositorProcess.start(CANVAS);
  const sink = await bindUdp();
  let frames = 0;
  sink.on('message', (packet: Buffer) => {
    if ((packet.readUInt8(1) & 0x80) !== 0) frames++;
  });
  let contentDecoded = false;
  compositor.on('inputframe', (id) => {
    if (id === 'content') contentDecoded = true;
  });
  const senders: ChildProcess[] = [];
  try {
    const layout = content ? contentLayout('2x2', 4, { equalSplitMax: '4x4', onePlusNMax: '1+9' }) : '2x2';
    const rects = panes(layout, CANVAS.width, CANVAS.height);
    const people = content ? rects.slice(1) : rects;
    for (let i = 0; i < 4; i++) {
      const id = `cam${i}`;
      const ports = await compositor.addInput(id, 'VP8', 96, `Camera ${i + 1}`);
      compositor.place(id, people[i], 1);
      senders.push(send(cameraFile(i), ports.rtp, 96));
    }
    if (content) {
      const ports = await compositor.addInput('content', 'H264', 109, undefined);
      compositor.place('content', rects[0], 0);
      senders.push(send(contentFile(content.width, content.height), ports.rtp, 109));
    }
    await compositor.addOutput('out', { codec: 'H264', payloadType: 125, ssrc: 1234, port: sink.address().port, kbps: CANVAS.height >= 1080 ? 2000 : 1000, width: CANVAS.width, height: CANVAS.height, packetizationMode: 1 });
    await sleep(3000);
    const pid = compositor.pid ?? 0;
    const cpu0 = cpuSeconds(pid);
    const frames0 = frames;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const wall = (performance.now() - t0) / 1000;
    return { cores: Math.round(((cpuSeconds(pid) - cpu0) / wall) * 100) / 100, fps: Math.round(((frames - frames0) / wall) * 10) / 10, contentDecoded };
  } finally {
    for (const sender of senders) sender.kill('SIGKILL');
    compositor.close();
    sink.close();
  }
}

const results: Record<string, unknown> = { benchmark: 'content-layout', canvas: `${CANVAS.width}x${CANVAS.height}@${CANVAS.fps}`, seconds: SECONDS, cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 10) / 10) };
const series: Record<string, { cores: number; fps: number; contentDecoded?: boolean }[]> = { people: [], content: [], content43: [] };
// Alternating runs: the shared machine's load hits all three alike.
for (let r = 0; r < RUNS; r++) {
  series.people?.push(await run(undefined));
  series.content?.push(await run({ width: 1920, height: 1080 }));
  series.content43?.push(await run({ width: 1024, height: 768 }));
  console.log(`run ${r + 1}: ${JSON.stringify({ people: series.people?.at(-1), content: series.content?.at(-1), content43: series.content43?.at(-1) })}`);
}
for (const [name, values] of Object.entries(series)) results[name] = values;
const mean = (values: { cores: number }[] | undefined) => (values?.length ? Math.round((values.reduce((s, v) => s + v.cores, 0) / values.length) * 100) / 100 : 0);
results.peopleCores = mean(series.people);
results.contentCores = mean(series.content);
results.content43Cores = mean(series.content43);
results.contentExtraCores = Math.round((mean(series.content) - mean(series.people)) * 100) / 100;
console.log(JSON.stringify(results));
