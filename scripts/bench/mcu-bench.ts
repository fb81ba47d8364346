/**
 * MCU benchmark (the composed-layout issue's figures):
 *
 * 1. CPU per composed output: the compositor (media/mcu/native/vcbox-compositor) with four
 *    640×360 VP8 cameras in 2×2, one H.264 output at 720p30 and at 1080p30. The cameras are
 *    pre-encoded files sent with `ffmpeg -c copy` (no encoding in the measurement), the CPU is
 *    the compositor process's own (utime+stime from /proc), and the output frame rate is
 *    counted from the RTP marker bits arriving at a UDP sink.
 * 2. 16-party 4×4 at 720p30: sixteen 320×180 VP8 cameras (the size a 4×4 pane shows), one
 *    H.264 output that every SIP participant shares; CPU and output frame rate. Target ≤ 1 core.
 * 3. Layout-change-to-frame: on the 16-party picture, 4×4 ↔ 1+7 switched N times; the time
 *    from the change to the first encoded frame composed after it (the compositor reports it).
 *    Target < 200 ms.
 * 4. Dial-to-first-composed-frame: a SIP terminal (a UDP client timing each step) dials a 2×2
 *    VMR on the real stack (signaling service, SIP application, media control socket, media
 *    service, compositor) with audio and VP8 video; from sending the INVITE to the first
 *    composed VP8 key frame arriving at its video port. "cold": the first caller (the picture
 *    starts); "warm": a caller joining a meeting whose picture runs. Target < 1.5 s.
 *
 * Usage: node scripts/bench/mcu-bench.ts [--seconds 8] [--changes 20] [--calls 5]
 * Last line: JSON.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompositorProcess } from '../../media/mcu/compositor-process.ts';
import { type Layout, panes } from '../../media/mcu/layouts.ts';
import { videoPolicyFrom } from '../../media/mcu/video-policy.ts';
import { benchRequest, bindUdp, percentile, startBenchStack } from './bench-stack.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const SECONDS = Number(option('seconds', '8'));
const CHANGES = Number(option('changes', '20'));
const CALLS = Number(option('calls', '5'));
const cache = path.join(process.env.VCBOX_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'vcbox'), 'mcu-bench');
const PATTERNS = ['testsrc', 'smptebars', 'rgbtestsrc', 'testsrc2'];


/** A pre-encoded VP8 camera (30 fps, key frame every 2 s), made once. */
function cameraFile(index: number, width: number, height: number): string {
  mkdirSync(cache, { recursive: true });
  const file = path.join(cache, `cam-${width}x${height}-${index % 4}.webm`);
  if (!existsSync(file)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `${PATTERNS[index % 4]}=size=${width}x${height}:rate=30`, '-t', '20',
      '-pix_fmt', 'yuv420p', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', `${Math.round((width * height) / 600)}k`, '-g', '60', file]);
  }
  return file;
}

function sendCamera(file: string, port: number, payloadType: number, fromPort?: number): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-an', '-c:v', 'copy', '-payload_type', String(payloadType),
    '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=1200${fromPort ? `&localrtpport=${fromPort}` : ''}`], { stdio: 'ignore' });
}

const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Picture {
  readonly compositor: CompositorProcess;
  readonly frames: () => number;
  readonly ids: string[];
  close(): void;
}

/** A compositor with `count` cameras laid out in `layout`, one H.264 output to a counting sink. */
async function picture(canvas: { width: number; height: number }, count: number, camera: { width: number; height: number }, layout: Layout): Promise<Picture> {
  const compositor = await CompositorProcess.start({ ...canvas, fps: 30 });
  const sink = await bindUdp();
  let frames = 0;
  sink.on('message', (packet: Buffer) => {
    if ((packet.readUInt8(1) & 0x80) !== 0) frames++;
  });
  const senders: ChildProcess[] = [];
  const ids: string[] = [];
  const rects = panes(layout, canvas.width, canvas.height);
  for (let i = 0; i < count; i++) {
    const id = `cam${i}`;
    const ports = await compositor.addInput(id, 'VP8', 96, `Camera ${i + 1}`);
    const rect = rects[i];
    compositor.place(id, rect, rect?.big ? 0 : 1);
    senders.push(sendCamera(cameraFile(i, camera.width, camera.height), ports.rtp, 96));
    ids.push(id);
  }
  compositor.addOutput('out', { codec: 'H264', payloadType: 125, ssrc: 1234, port: sink.address().port, kbps: canvas.height >= 1080 ? 2000 : 1000, width: canvas.width, height: canvas.height, packetizationMode: 1 });
  return {
    compositor,
    frames: () => frames,
    ids,
    close() {
      for (const sender of senders) sender.kill('SIGKILL');
      compositor.close();
      sink.close();
    },
  };
}

/** CPU (cores) of the compositor and output frame rate over SECONDS, after a 2 s warm-up. */
async function measure(p: Picture): Promise<{ cores: number; fps: number }> {
  await sleep(2000);
  const pid = p.compositor.pid ?? 0;
  const cpu0 = cpuSeconds(pid);
  const frames0 = p.frames();
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const wall = (performance.now() - t0) / 1000;
  return { cores: Math.round(((cpuSeconds(pid) - cpu0) / wall) * 100) / 100, fps: Math.round(((p.frames() - frames0) / wall) * 10) / 10 };
}

// ------------------------------------------------------------------ 4. dial to first composed frame
/** True when a VP8 RTP payload starts a key frame (RFC 7741 descriptor, then the P bit). */
function vp8KeyFrame(payload: Buffer): boolean {
  const first = payload.readUInt8(0);
  if ((first & 0x10) === 0 || (first & 0x0f) !== 0) return false; // not the start of partition 0
  let offset = 1;
  if (first & 0x80) {
    const x = payload.readUInt8(offset++);
    if (x & 0x80) offset += payload.readUInt8(offset) & 0x80 ? 2 : 1;
    if (x & 0x40) offset++;
    if (x & 0x30) offset++;
  }
  return offset < payload.length && (payload.readUInt8(offset) & 0x01) === 0;
}

async function dialToFirstFrame(): Promise<{ cold: number[]; warm: number[] }> {
  const stack = await startBenchStack({ tag: 'mcu', number: '990002', layout: '2x2', capacity: 50, media: (settings) => ({ videoPolicy: () => videoPolicyFrom(settings.getAll()) }) });
  const { vmr, sipPort } = stack;

  const sip = await bindUdp();
  const local = `127.0.0.1:${sip.address().port}`;
  let call = 0;
  /** One call: resolves with the ms to the first composed key frame, and a hang-up. */
  const dial = async (): Promise<{ ms: number; hangUp: () => Promise<void> }> => {
    call++;
    const audio = await bindUdp();
    const video = await bindUdp();
    const callId = `mcu-bench-${call}-${randomBytes(4).toString('hex')}`;
    const sdp = [
      'v=0', 'o=t 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${audio.address().port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000',
      `m=video ${video.address().port} RTP/AVP 97`, 'a=rtpmap:97 VP8/90000', 'a=rtcp-fb:97 nack pli', '',
    ].join('\r\n');
    const request = (method: string, cseq: number, toTag = '', body = '') =>
      benchRequest({ method, cseq, target: `${vmr.number}**1234@127.0.0.1:${sipPort}`, local, user: `bench${call}`, fromTag: `${call}`, number: vmr.number, callId, toTag, body });
    const started = performance.now();
    const keyFrame = new Promise<number>((resolve) => {
      video.on('message', (packet: Buffer) => {
        const csrc = (packet.readUInt8(0) & 0x0f) * 4;
        const extension = packet.readUInt8(0) & 0x10 ? 4 + packet.readUInt16BE(14 + csrc) * 4 : 0;
        if (vp8KeyFrame(packet.subarray(12 + csrc + extension))) resolve(performance.now());
      });
    });
    let toTag = '';
    const answered = new Promise<void>((resolve) => {
      const onMessage = (data: Buffer) => {
        const text = data.toString();
        if (!text.startsWith('SIP/2.0 200') || !text.includes(callId) || !text.includes('INVITE')) return;
        toTag = /^To:.*;tag=([^;\r\n]+)/im.exec(text)?.[1] ?? '';
        sip.off('message', onMessage);
        resolve();
      };
      sip.on('message', onMessage);
    });
    sip.send(request('INVITE', 1, '', sdp), sipPort, '127.0.0.1');
    await answered;
    sip.send(request('ACK', 1, toTag), sipPort, '127.0.0.1');
    const at = await Promise.race([keyFrame, sleep(5000).then(() => Number.NaN)]);
    return {
      ms: at - started,
      hangUp: async () => {
        sip.send(request('BYE', 2, toTag), sipPort, '127.0.0.1');
        await sleep(200);
        audio.close();
        video.close();
      },
    };
  };
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const first = await dial();
    cold.push(first.ms);
    const second = await dial();
    warm.push(second.ms);
    await second.hangUp();
    await first.hangUp();
    await sleep(300);
  }
  sip.close();
  await stack.close();
  return { cold, warm };
}

// ------------------------------------------------------------------ run
const results: Record<string, unknown> = { benchmark: 'mcu', cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '' };

for (const [name, canvas] of [['720p30', { width: 1280, height: 720 }], ['1080p30', { width: 1920, height: 1080 }]] as const) {
  const p = await picture(canvas, 4, { width: 640, height: 360 }, '2x2');
  const m = await measure(p);
  p.close();
  console.log(`composed output ${name} (4 × 640×360 VP8 in 2×2, H.264 out): ${m.cores} cores, ${m.fps} fps`);
  results[`output${name}`] = m;
}

const party = await picture({ width: 1280, height: 720 }, 16, { width: 320, height: 180 }, '4x4');
const sixteen = await measure(party);
console.log(`16-party 4×4 at 720p30 (16 × 320×180 VP8 decoded, one shared H.264 encode): ${sixteen.cores} cores, ${sixteen.fps} fps`);
results.sixteenParty4x4 = sixteen;

const latencies: number[] = [];
for (let i = 0; i < CHANGES; i++) {
  const layout: Layout = i % 2 === 0 ? '1+7' : '4x4';
  const rects = panes(layout, 1280, 720);
  party.ids.forEach((id, index) => {
    const rect = rects[index];
    party.compositor.place(id, rect, rect?.big ? 0 : 1);
  });
  const ms = await party.compositor.commit();
  if (ms !== undefined) latencies.push(ms);
  await sleep(300);
}
party.close();
const change = { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)), max: Math.round(Math.max(...latencies)), changes: latencies.length };
console.log(`layout change → first encoded frame showing it (4×4 ↔ 1+7, ${change.changes} changes): p50 ${change.p50} ms, p95 ${change.p95} ms, max ${change.max} ms`);
results.layoutChangeMs = change;

const dial = await dialToFirstFrame();
const summary = (values: number[]) => {
  const ok = values.filter(Number.isFinite);
  return { p50: Math.round(percentile(ok, 50)), max: Math.round(Math.max(...ok)), calls: ok.length, of: values.length };
};
results.dialToFirstComposedFrameMs = { cold: summary(dial.cold), warm: summary(dial.warm) };
console.log(`dial → first composed key frame: first caller (picture starts) p50 ${summary(dial.cold).p50} ms, max ${summary(dial.cold).max} ms; joining a running picture p50 ${summary(dial.warm).p50} ms, max ${summary(dial.warm).max} ms`);
console.log(JSON.stringify(results));
process.exit(0);
