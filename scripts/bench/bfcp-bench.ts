/**
 * BFCP floor control benchmark: floor request → Granted latency and floor cycles per second one
 * floor control server handles, over TCP and UDP on loopback.
 *
 * The server (server/bfcp) runs alone in this process; a load generator in a child process
 * plays N participants, each in its own conference (so they do not take each other's floor),
 * each looping FloorRequest → (Pending, then Granted) → FloorRelease → Released as fast as the
 * answers come, for the given seconds (TCP participants spread over loopback source addresses,
 * 16 per address, the server's per-address limit). Reported per transport: cycles/s, the server's CPU
 * share of one core, and request → Granted latency (p50, p99). Last line: JSON.
 *
 * Usage: node scripts/bench/bfcp-bench.ts [--clients 50] [--seconds 5]
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { type BfcpMessage, decodeMessage, encodeMessage, findAttribute, Primitive, RequestStatus } from '../../server/bfcp/bfcp-message.ts';
import { FloorControlServer } from '../../server/bfcp/floor-control-server.ts';
import { onBfcpStreamMessages } from './bfcp-stream.ts';

function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

function overall(message: BfcpMessage): number | undefined {
  const info = findAttribute(message.attributes, 'FLOOR-REQUEST-INFORMATION');
  if (!info || !('children' in info)) return undefined;
  const status = findAttribute(info.children, 'OVERALL-REQUEST-STATUS');
  if (!status || !('children' in status)) return undefined;
  const request = findAttribute(status.children, 'REQUEST-STATUS');
  return request?.status;
}

/** The child: N participants over one transport, for `seconds`; sends back cycles and latencies. */
async function generator(): Promise<void> {
  const transport = process.argv[process.argv.indexOf('--generator') + 1] as 'tcp' | 'udp';
  const port = arg('--port', 0);
  const clients = arg('--clients', 50);
  const seconds = arg('--seconds', 5);
  const latencies: number[] = [];
  let cycles = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, index) => {
      const conferenceId = index + 1;
      const userId = 1;
      let tid = 0;
      const version = transport === 'tcp' ? 1 : 2;
      const request = (primitive: number, attributes: BfcpMessage['attributes']) => {
        tid = (tid % 0x7fff) + 1;
        return encodeMessage({ version, responder: false, primitive, conferenceId, transactionId: tid, userId, attributes });
      };
      let onMessage: (m: BfcpMessage) => void = () => {};
      let send: (b: Buffer) => void;
      let close: () => void;
      if (transport === 'tcp') {
        // The server keeps 16 connections per address: spread the participants over loopback addresses.
        const socket = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${2 + Math.floor(index / 16)}` });
        socket.setNoDelay(true);
        socket.on('error', (error) => {
          console.error(`participant ${index}: ${error.message}`);
          process.exit(1);
        });
        await new Promise((r) => socket.once('connect', r));
        onBfcpStreamMessages(socket, (m) => onMessage(m));
        send = (b) => socket.write(b);
        close = () => socket.destroy();
      } else {
        const socket = dgram.createSocket('udp4');
        await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
        send = (b) => socket.send(b, port, '127.0.0.1');
        socket.on('message', (bytes) => {
          const m = decodeMessage(bytes);
          if (!m.responder) send(encodeMessage({ ...m, responder: true, primitive: Primitive.FloorRequestStatusAck, attributes: [] }));
          onMessage(m);
        });
        close = () => socket.close();
      }
      const next = (match: (m: BfcpMessage) => boolean) =>
        new Promise<BfcpMessage>((resolve) => {
          onMessage = (m) => {
            if (match(m)) resolve(m);
          };
        });
      while (Date.now() < until) {
        const started = process.hrtime.bigint();
        const granted = next((m) => !m.responder && overall(m) === RequestStatus.Granted);
        send(request(Primitive.FloorRequest, [{ name: 'FLOOR-ID', id: 1 }]));
        const grant = await granted;
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        const id = findAttribute(grant.attributes, 'FLOOR-REQUEST-INFORMATION')?.id ?? 0;
        const released = next((m) => m.responder && m.primitive === Primitive.FloorRequestStatus && overall(m) === RequestStatus.Released);
        send(request(Primitive.FloorRelease, [{ name: 'FLOOR-REQUEST-ID', id }]));
        await released;
        cycles++;
      }
      close();
    }),
  );
  process.send?.({ cycles, latencies });
}

async function run(transport: 'tcp' | 'udp', clients: number, seconds: number) {
  const server = new FloorControlServer();
  for (let c = 1; c <= clients; c++) {
    server.addConference(c, { floorId: 1 });
    server.addUser(c, 1);
  }
  const listener = await server.listen({ transport, host: '127.0.0.1', port: 0 });
  const child = fork(fileURLToPath(import.meta.url), ['--generator', transport, '--port', String(listener.port), '--clients', String(clients), '--seconds', String(seconds)]);
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  const result = await new Promise<{ cycles: number; latencies: number[] }>((resolve) => child.once('message', (m) => resolve(m as { cycles: number; latencies: number[] })));
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = (Date.now() - started) / 1000;
  await server.close();
  const sorted = result.latencies.sort((a, b) => a - b);
  const pick = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 100) / 100;
  return {
    transport,
    clients,
    cyclesPerSecond: Math.round(result.cycles / elapsed),
    serverCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 1000) / 10,
    grantMsP50: pick(0.5),
    grantMsP99: pick(0.99),
  };
}

async function main(): Promise<void> {
  const clients = arg('--clients', 50);
  const seconds = arg('--seconds', 5);
  const results = [];
  for (const transport of ['tcp', 'udp'] as const) {
    const r = await run(transport, clients, seconds);
    console.log(`${r.transport}: ${r.clients} participants, ${r.cyclesPerSecond} request/grant/release cycles/s, server CPU ${r.serverCpuPercent} %, request → Granted p50 ${r.grantMsP50} ms, p99 ${r.grantMsP99} ms`);
    results.push(r);
  }
  console.log(JSON.stringify({ benchmark: 'bfcp-floor-control', seconds, results }));
}

if (process.argv.includes('--generator')) await generator();
else await main();
