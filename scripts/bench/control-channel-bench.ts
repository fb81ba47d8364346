/**
 * Media control channel benchmark: what one request costs between the control plane and the
 * media service. A real MediaService (one mediasoup worker) behind its control server, the
 * media client over the real Unix socket, in one process: sequential `ping` round trips (median
 * and 99th percentile, µs), then a burst of requests kept `--inflight` deep (requests per
 * second), then the same with `setMuted` of a meeting that is not live (a request with params,
 * answered with an error). Compare runs of two revisions on the same machine. Last line: JSON.
 *
 * Usage: node scripts/bench/control-channel-bench.ts [--requests 5000] [--inflight 64]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediaControlServer } from '../../media/control/media-control-server.ts';
import { MediaService } from '../../media/media-service.ts';
import { WorkerPool } from '../../media/worker-pool/worker-pool.ts';
import { MediaClient } from '../../server/media-client/media-client.ts';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) throw new Error(`--${name} must be a whole number from 1 to 1000000`);
  return value;
}

const requests = option('requests', 5000);
const inflight = option('inflight', 64);
const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-control-bench-'));
const socketPath = path.join(dir, 'run', 'media.sock');
const pool = new WorkerPool({ size: 1 });
await pool.start();
const service = new MediaService({ pool, network: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portRange: { min: 40000, max: 49999 } } });
const server = new MediaControlServer(service, socketPath);
await server.listen();
const client = new MediaClient(socketPath, { timeoutMs: 30_000 });
if (!(await client.start(5000))) throw new Error('the media client did not connect');

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

async function sequential(call: () => Promise<unknown>): Promise<{ medianUs: number; p99Us: number }> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const start = process.hrtime.bigint();
    await call().catch(() => {});
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return { medianUs: Math.round(percentile(times, 50)), p99Us: Math.round(percentile(times, 99)) };
}

async function burst(call: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  const lane = async () => {
    while (next < requests) {
      next++;
      await call().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return Math.round(requests / (Number(process.hrtime.bigint() - start) / 1e9));
}

const ping = () => client.media.ping();
const mute = () => client.media.setMuted('not-live', 'p1', true);
await sequential(ping); // warm-up
const result = {
  requests,
  inflight,
  ping: { ...(await sequential(ping)), perSecond: await burst(ping) },
  setMutedError: { ...(await sequential(mute)), perSecond: await burst(mute) },
};
console.log(`ping: median ${result.ping.medianUs} µs, p99 ${result.ping.p99Us} µs; ${result.ping.perSecond} requests/s with ${inflight} in flight`);
console.log(`setMuted (error answer): median ${result.setMutedError.medianUs} µs, p99 ${result.setMutedError.p99Us} µs; ${result.setMutedError.perSecond} requests/s`);
console.log(JSON.stringify(result));
client.close();
server.close();
service.close();
pool.close();
rmSync(dir, { recursive: true, force: true });
