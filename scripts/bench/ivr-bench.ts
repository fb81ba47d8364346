/**
 * IVR benchmark: how many concurrent IVR sessions one core serves with prompt timing intact.
 * N IVR sessions (media/ivr, the real session code: SDP answer, port from the IVR range,
 * prompt encoding per call) play the welcome prompt in PCMU to sink sockets in a child
 * process, which measures for every session the gaps between its packets. Timing is intact
 * when the 99th percentile gap stays under 30 ms (a frame is 20 ms) and ≥ 99 % of the
 * expected packets arrive. Also reports the ports each call holds. Last line: JSON.
 *
 * Usage: node scripts/bench/ivr-bench.ts [--steps 250,500,1000] [--seconds 5]
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { IvrSession } from '../../media/ivr/ivr-session.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};

async function sink(): Promise<void> {
  const sockets: dgram.Socket[] = [];
  const last = new Map<number, number>();
  const gaps: number[] = [];
  let packets = 0;
  process.on('message', async (message: { type: string; count?: number }) => {
    if (message.type === 'open') {
      for (const socket of sockets) socket.close();
      sockets.length = 0;
      const ports: number[] = [];
      for (let i = 0; i < (message.count ?? 0); i++) {
        const socket = dgram.createSocket('udp4');
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
        const index = i;
        socket.on('message', () => {
          const now = performance.now();
          const previous = last.get(index);
          if (previous !== undefined) gaps.push(now - previous);
          last.set(index, now);
          packets++;
        });
        sockets.push(socket);
        ports.push(socket.address().port);
      }
      process.send?.({ type: 'ports', ports });
    } else if (message.type === 'start') {
      gaps.length = 0;
      packets = 0;
      last.clear();
    } else if (message.type === 'stop') {
      const sorted = [...gaps].sort((a, b) => a - b);
      const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      process.send?.({ type: 'result', packets, p50: p(0.5), p99: p(0.99), max: sorted.at(-1) ?? 0 });
    }
  });
}

async function main(): Promise<void> {
  const steps = option('steps', '250,500,1000').split(',').map(Number);
  const seconds = Number(option('seconds', '5'));
  const child = fork(fileURLToPath(import.meta.url), ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(message: object, type: string) =>
    new Promise<T>((resolve) => {
      const on = (reply: { type: string }) => {
        if (reply.type !== type) return;
        child.off('message', on);
        resolve(reply as T);
      };
      child.on('message', on);
      child.send(message);
    });
  const results: { sessions: number; cpuPercent: number; delivered: number; p50GapMs: number; p99GapMs: number; maxGapMs: number }[] = [];
  for (const n of steps) {
    const { ports } = await ask<{ ports: number[] }>({ type: 'open', count: n }, 'ports');
    const sessions: IvrSession[] = [];
    for (let i = 0; i < n; i++) {
      const offer = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${ports[i]} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n`;
      const { session } = await IvrSession.start(`bench-${i}`, offer, { address: '127.0.0.1', listenIp: '127.0.0.1', ports: { min: 30000, max: 37999 } });
      sessions.push(session);
    }
    // Every session keeps talking for the whole measurement.
    const loop = (session: IvrSession) => void session.play('en', ['welcome', 'enter-pin', 'welcome']).then(() => !session.closed && loop(session));
    for (const session of sessions) loop(session);
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.send({ type: 'start' });
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    const measured = await ask<{ packets: number; p50: number; p99: number; max: number }>({ type: 'stop' }, 'result');
    for (const session of sessions) session.close();
    const result = {
      sessions: n,
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 1000) / 10,
      delivered: Math.round((measured.packets / ((n * wall) / 20)) * 1000) / 1000,
      p50GapMs: Math.round(measured.p50 * 10) / 10,
      p99GapMs: Math.round(measured.p99 * 10) / 10,
      maxGapMs: Math.round(measured.max * 10) / 10,
    };
    results.push(result);
    console.log(
      `IVR sessions ${String(n).padStart(5)}: cpu ${result.cpuPercent} % of one core, packets delivered ${(result.delivered * 100).toFixed(1)} %, gap p50 ${result.p50GapMs} ms p99 ${result.p99GapMs} ms max ${result.maxGapMs} ms`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  child.kill();
  const intact = results.filter((r) => r.p99GapMs < 30 && r.delivered >= 0.99);
  console.log(
    JSON.stringify({
      benchmark: 'ivr',
      sessionsPerCoreWithTimingIntact: intact.length > 0 ? Math.max(...intact.map((r) => r.sessions)) : 0,
      portsPerCall: { bound: 1, reserved: 2, note: 'one RTP socket on an even port; port + 1 kept for RTCP' },
      steps: results,
    }),
  );
}

if (process.argv.includes('--sink')) await sink();
else await main();
