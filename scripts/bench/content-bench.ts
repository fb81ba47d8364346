/**
 * Content sharing benchmark (issue #19), on the real stack on loopback (signaling service, SIP
 * application with BFCP floor control, media control socket, media service with one mediasoup
 * worker). Calls are placed by a UDP SIP client here with audio, a content line (H.264) and a
 * BFCP line; ffmpeg sends the presenter's slides, H.264 1920×1080 at 5 fps with a key frame a
 * second, to its content port.
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
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { type BfcpMessage, encodeMessage, findAttribute, Primitive } from '../../server/bfcp/bfcp-message.ts';
import { type BenchStack, benchRequest, bindUdp, percentile, startBenchStack } from './bench-stack.ts';
import { onBfcpStreamMessages } from './bfcp-stream.ts';

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

interface Call {
  readonly answer: string;
  readonly content: dgram.Socket;
  /** RTP packets the box sent to the call's content port. */
  packets: number;
  /** When the next content packet arrives (for the latency measure). */
  onContent?: () => void;
  bye(): void;
}

/** A call into the VMR with audio, an H.264 content line (payload type 109, label 3) and a TCP/BFCP line. */
async function call(stack: BenchStack, index: number, contentSocket?: dgram.Socket): Promise<Call> {
  const sip = await bindUdp();
  const audio = await bindUdp();
  const content = contentSocket ?? (await bindUdp());
  const callId = `content-bench-${index}-${randomBytes(4).toString('hex')}`;
  const sdp = [
    'v=0',
    'o=t 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${audio.address().port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtcp-mux',
    `m=video ${content.address().port} RTP/AVP 109`,
    'a=rtpmap:109 H264/90000',
    'a=fmtp:109 profile-level-id=42e01f;packetization-mode=1',
    'a=rtcp-mux',
    'a=content:slides',
    'a=label:3',
    'm=application 9 TCP/BFCP *',
    'a=floorctrl:c-only',
    'a=setup:active',
    'a=connection:new',
    '',
  ].join('\r\n');
  const local = `127.0.0.1:${sip.address().port}`;
  const number = stack.vmr.number;
  const message = (method: string, cseq: number, toTag: string, body = '') =>
    benchRequest({ method, cseq, target: `${number}@127.0.0.1:${stack.sipPort}`, local, user: `bench${index}`, fromTag: `b${index}`, number, callId, toTag, body });
  const answered = new Promise<{ toTag: string; body: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`call ${index}: no 200 within 10 s`)), 10_000);
    sip.on('message', (data) => {
      const text = data.toString();
      if (!text.includes(callId)) return;
      if (/^SIP\/2\.0 [3-6]\d\d/.test(text)) reject(new Error(`call ${index}: ${text.split('\r\n')[0]}`));
      if (!text.startsWith('SIP/2.0 200') || !/CSeq: 1 INVITE/i.test(text)) return;
      clearTimeout(timer);
      resolve({ toTag: /^To:.*;tag=([^;\r\n]+)/im.exec(text)?.[1] ?? '', body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
  sip.send(message('INVITE', 1, '', sdp), stack.sipPort, '127.0.0.1');
  const { toTag, body } = await answered;
  sip.send(message('ACK', 1, toTag), stack.sipPort, '127.0.0.1');
  // Audio a terminal keeps sending (PCMU silence, 10 packets a second), so the RTP timeout never hangs it up.
  const audioPort = parseSdp(body).media[0]?.port ?? 0;
  let sequence = 0;
  const keepAlive = setInterval(() => {
    const packet = Buffer.alloc(12 + 160, 0xff);
    packet.writeUInt8(0x80, 0);
    packet.writeUInt8(0, 1);
    packet.writeUInt16BE(sequence++ & 0xffff, 2);
    packet.writeUInt32BE((sequence * 160) >>> 0, 4);
    packet.writeUInt32BE(0x1000 + index, 8);
    audio.send(packet, audioPort, '127.0.0.1');
  }, 100);
  const made: Call = {
    answer: body,
    content,
    packets: 0,
    bye() {
      clearInterval(keepAlive);
      sip.send(message('BYE', 2, toTag), stack.sipPort, '127.0.0.1');
      setTimeout(() => {
        for (const socket of [sip, audio, content]) {
          try {
            socket.close();
          } catch {
            // closed already (the presenter's content port went to ffmpeg)
          }
        }
      }, 300);
    },
  };
  content.on('message', (packet) => {
    if (packet.length < 12 || (packet.readUInt8(1) & 0x7f) !== 109) return;
    made.packets++;
    made.onContent?.();
  });
  return made;
}

/** A BFCP client over TCP with the IDs of a call's answer. */
async function bfcpClient(answer: string) {
  const port = parseSdp(answer).media.find((m) => m.kind === 'application')?.port ?? 0;
  const conferenceId = Number(/a=confid:(\d+)/.exec(answer)?.[1]);
  const userId = Number(/a=userid:(\d+)/.exec(answer)?.[1]);
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  let onMessage: (m: BfcpMessage) => void = () => {};
  onBfcpStreamMessages(socket, (m) => onMessage(m));
  let tid = 0;
  const send = (primitive: number, attributes: BfcpMessage['attributes']) => {
    tid = (tid % 0x7fff) + 1;
    socket.write(encodeMessage({ version: 1, responder: false, primitive, conferenceId, transactionId: tid, userId, attributes }));
  };
  const next = (match: (m: BfcpMessage) => boolean) =>
    new Promise<BfcpMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no BFCP answer within 5 s')), 5000);
      onMessage = (m) => {
        if (!match(m)) return;
        clearTimeout(timer);
        resolve(m);
      };
    });
  return {
    /** Sends FloorRequest; resolves with its floor request ID once answered. */
    async request(): Promise<number> {
      const answered = next((m) => m.responder && m.primitive === Primitive.FloorRequestStatus);
      send(Primitive.FloorRequest, [{ name: 'FLOOR-ID', id: 1 }]);
      return findAttribute((await answered).attributes, 'FLOOR-REQUEST-INFORMATION')?.id ?? 0;
    },
    async release(id: number): Promise<void> {
      const released = next((m) => m.responder && m.primitive === Primitive.FloorRequestStatus);
      send(Primitive.FloorRelease, [{ name: 'FLOOR-REQUEST-ID', id }]);
      const status = await released;
      const info = findAttribute(status.attributes, 'FLOOR-REQUEST-INFORMATION');
      if (!info || !('children' in info)) throw new Error('FloorRelease answered without request information');
    },
    close: () => socket.destroy(),
  };
}

/** Slides: 1920×1080 at 5 fps, H.264 baseline, a key frame every GOP frames, payload type 109. */
function startSlides(fromPort: number, toPort: number): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=5', '-t', '600',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(GOP), '-b:v', '1500k',
      '-payload_type', '109', '-f', 'rtp', `rtp://127.0.0.1:${toPort}?localrtpport=${fromPort}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
}

/** The process's CPU time in seconds (utime + stime, /proc/<pid>/stat). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function cpuShare(pid: number, seconds: number): Promise<number> {
  const before = cpuSeconds(pid);
  await sleep(seconds * 1000);
  return Math.round(((cpuSeconds(pid) - before) / seconds) * 1000) / 10;
}

const stack = await startBenchStack({ tag: 'content', number: '990019', bfcp: true, capacity: 100 });
// The presenter's content socket: ffmpeg sends from its port, so the box's connected transport takes it.
const presenterContent = await bindUdp();
const slidesFrom = presenterContent.address().port;
const presenter = await call(stack, 0, presenterContent);
presenterContent.close(); // ffmpeg binds that port now
const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
const slides = startSlides(slidesFrom, contentPort);
const receivers: Call[] = [await call(stack, 1)];
const floor = await bfcpClient(presenter.answer);
await sleep(1500);

// 1. Floor request → first content packet at the receiver.
const latencies: number[] = [];
for (let cycle = 0; cycle < CYCLES; cycle++) {
  const receiver = receivers[0] as Call;
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
  while (receivers.length < count) receivers.push(await call(stack, receivers.length + 1));
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
