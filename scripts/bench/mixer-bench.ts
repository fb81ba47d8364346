/**
 * Audio mixer benchmark: how many SIP participants one core mixes with every participant
 * hearing the others (N-1), before anyone's audio falls behind.
 *
 * The mixer (media/audio-mixer) runs alone in this process, on one core; a load generator in a
 * child process plays N terminals over loopback UDP: each sends a 20 ms RTP frame every 20 ms
 * (half Opus, half G.711 by default; three of them talking, the rest quiet room noise) and
 * counts the mixes it gets back. For each N the run reports the mixer's CPU share of one core,
 * late ticks (a 20 ms frame produced more than 20 ms late) and the share of expected packets
 * each listener received (and of sent packets the mixer took in). The capacity is the largest N with CPU < 90 %, no late ticks and
 * ≥ 99 % of packets delivered. Last line: JSON.
 *
 * Usage: node scripts/bench/mixer-bench.ts [--steps 50,100,250,500,750,1000] [--seconds 6]
 *        [--codec mixed|opus|pcmu]
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { type AudioCodecName, AudioEncoder } from '../../media/audio-mixer/audio-codec.ts';
import { AudioMixer } from '../../media/audio-mixer/audio-mixer.ts';

interface StepResult {
  participants: number;
  cpuPercent: number;
  lateTicks: number;
  ticks: number;
  maxTickMs: number;
  /** Share of the generator's packets the mixer received, and of the mixer's the generator got. */
  inbound: number;
  delivered: number;
  encodesPerTick: number;
}

const PAYLOAD_TYPE: Record<AudioCodecName, number> = { opus: 111, pcmu: 0, pcma: 8, g722: 9 };

function codecFor(index: number, mode: string): AudioCodecName {
  if (mode === 'opus') return 'opus';
  if (mode === 'pcmu') return 'pcmu';
  return index % 2 === 0 ? 'opus' : 'pcmu';
}

// ---------------------------------------------------------------- load generator (child)
async function generator(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setRecvBufferSize(8 * 1024 * 1024);
  socket.setSendBufferSize(8 * 1024 * 1024);
  let received = 0;
  let sent = 0;
  socket.on('message', () => received++);
  process.send?.({ type: 'ready', port: socket.address().port });
  process.on('message', (message: { type: string; target: number; participants: number; seconds: number; mode: string }) => {
    if (message.type !== 'run') return;
    // Frames: a loud tone for talkers, quiet noise for the others, pre-encoded once per codec.
    const frames = new Map<string, Buffer>();
    for (const codec of ['opus', 'pcmu'] as AudioCodecName[]) {
      for (const loud of [true, false]) {
        const encoder = new AudioEncoder(codec);
        const pcm = new Int16Array(320);
        for (let i = 0; i < 320; i++) pcm[i] = loud ? Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)) : Math.round((Math.random() - 0.5) * 60);
        const out = new Uint8Array(1500);
        let length = 0;
        for (let k = 0; k < 3; k++) length = encoder.encode(pcm, out);
        frames.set(`${codec}:${loud}`, Buffer.from(out.subarray(0, length)));
      }
    }
    received = 0;
    sent = 0;
    const n = message.participants;
    const headers = Array.from({ length: n }, (_, i) => {
      const h = Buffer.alloc(12);
      h.writeUInt8(0x80, 0);
      h.writeUInt8(PAYLOAD_TYPE[codecFor(i, message.mode)], 1);
      h.writeUInt32BE(0x10000 + i, 8);
      return h;
    });
    const started = Date.now();
    let tick = 0;
    const end = started + message.seconds * 1000;
    const step = () => {
      if (Date.now() >= end) {
        setTimeout(() => process.send?.({ type: 'done', received, sent }), 300);
        return;
      }
      for (let i = 0; i < n; i++) {
        const h = headers[i] as Buffer;
        h.writeUInt16BE(tick & 0xffff, 2);
        h.writeUInt32BE((tick * 160) >>> 0, 4);
        const payload = frames.get(`${codecFor(i, message.mode)}:${i < 3}`) as Buffer;
        socket.send([h, payload], message.target, '127.0.0.1');
        sent++;
      }
      tick++;
      setTimeout(step, Math.max(0, started + tick * 20 - Date.now()));
    };
    step();
  });
}

// ---------------------------------------------------------------- mixer side (parent)
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
  };
  const steps = option('steps', '50,100,250,500,750,1000').split(',').map(Number);
  const seconds = Number(option('seconds', '6'));
  const mode = option('codec', 'mixed');

  const child = fork(fileURLToPath(import.meta.url), ['--generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const generatorPort = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const results: StepResult[] = [];
  for (const n of steps) {
    const mixer = new AudioMixer();
    const port = await mixer.bind();
    for (let i = 0; i < n; i++) {
      const codec = codecFor(i, mode);
      mixer.addInput(0x10000 + i, `p${i}`, codec);
      mixer.addOutput(`p${i}`, codec, PAYLOAD_TYPE[codec], 0x20000 + i);
    }
    mixer.connect('127.0.0.1', generatorPort);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const cpuBefore = process.cpuUsage();
    const statsBefore = mixer.stats;
    const wallBefore = performance.now();
    child.send({ type: 'run', target: port, participants: n, seconds, mode });
    const { received, sent } = await new Promise<{ received: number; sent: number }>((resolve) => child.once('message', (m: { received: number; sent: number }) => resolve(m)));
    const wall = performance.now() - wallBefore;
    const cpu = process.cpuUsage(cpuBefore);
    const stats = mixer.stats;
    mixer.close();
    const ticks = stats.ticks - statsBefore.ticks;
    const result: StepResult = {
      participants: n,
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 1000) / 10,
      lateTicks: stats.lateTicks - statsBefore.lateTicks,
      ticks,
      maxTickMs: Math.round(stats.maxTickMs * 100) / 100,
      inbound: Math.round(((stats.packetsIn - statsBefore.packetsIn) / Math.max(1, sent)) * 1000) / 1000,
      delivered: Math.round((received / Math.max(1, stats.packetsOut - statsBefore.packetsOut)) * 1000) / 1000,
      encodesPerTick: Math.round(((stats.encodes - statsBefore.encodes) / Math.max(1, ticks)) * 10) / 10,
    };
    results.push(result);
    console.log(
      `participants ${String(n).padStart(5)}  cpu ${String(result.cpuPercent).padStart(5)} % of one core  late ticks ${result.lateTicks}  max tick ${result.maxTickMs} ms  in ${(result.inbound * 100).toFixed(1)} %  out ${(result.delivered * 100).toFixed(1)} %  encodes/tick ${result.encodesPerTick}`,
    );
  }
  child.kill();
  const ok = results.filter((r) => r.cpuPercent < 90 && r.lateTicks === 0 && r.delivered >= 0.99 && r.inbound >= 0.99);
  const capacity = ok.length > 0 ? Math.max(...ok.map((r) => r.participants)) : 0;
  const perParticipant = results.map((r) => r.cpuPercent / r.participants);
  console.log(
    JSON.stringify({
      benchmark: 'audio-mixer',
      codec: mode,
      participantsPerCoreWithinLimits: capacity,
      cpuPercentPerParticipant: Math.round((perParticipant.reduce((a, b) => a + b, 0) / perParticipant.length) * 1000) / 1000,
      steps: results,
    }),
  );
}

if (process.argv.includes('--generator')) await generator();
else await main();
