/**
 * Control-plane API benchmark (accounts issue): the time of a 1 000-row Excel import (median of
 * five, target < 1 s) and the latency of the accounts list under 1 000 requests/s for 10 s
 * (p50/p99, target p99 < 20 ms), against the real control-plane process on loopback. The
 * load comes from this process with keep-alive connections, paced by a timer. Last line: JSON.
 *
 * Usage: scripts/bench/api-bench.sh [--rate N] [--seconds N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import XLSX from 'xlsx';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const RATE = option('--rate', 1000);
const SECONDS = option('--seconds', 10);

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const round = (v: number) => Math.round(v * 100) / 100;

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-api-bench-'));
  const port = await freePort();
  const env = { ...process.env, VCBOX_DATA_DIR: dataDir, VCBOX_HTTP_HOST: '127.0.0.1', VCBOX_HTTP_PORT: String(port), VCBOX_SIGNALING_PORT: String(await freePort()), VCBOX_LOG_LEVEL: 'warn' };
  const state = openState(loadConfig(env));
  await new AdminStore(state.db).create({ username: 'bench', password: 'bench-pw1', role: 'admin' });
  state.db.close();
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'server/control-plane/main.ts')], { env, stdio: 'ignore' });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/api/v1/health`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const login = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: 'bench-pw1' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const { csrfToken } = (await login.json()) as { csrfToken: string };

    // 1. Import: five 1 000-row files (distinct accounts each round: creates, not updates).
    const importTimes: number[] = [];
    for (let round = 0; round < 5; round++) {
      const rows = [['姓名 Name', '账号 Account', '邮箱 E-mail', '密码 Password'], ...Array.from({ length: 1000 }, (_, i) => [`User ${round}-${i}`, String(1000 + round * 1000 + i), `u${round}x${i}@example.com`, `pw-${i}abc`])];
      const book = XLSX.utils.book_new();
      XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(rows), 'Accounts');
      const file = XLSX.write(book, { type: 'buffer', bookType: 'biff8' }) as Buffer;
      const started = process.hrtime.bigint();
      const response = await fetch(`${base}/api/v1/accounts/import`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/vnd.ms-excel' }, body: file });
      const result = (await response.json()) as { created: number };
      importTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (result.created !== 1000) throw new Error(`import round ${round} created ${result.created}`);
    }
    importTimes.sort((a, b) => a - b);
    console.log(`1 000-row .xls import: median ${round(importTimes[2] ?? 0)} ms (min ${round(importTimes[0] ?? 0)}, max ${round(importTimes[4] ?? 0)}) into ${5000} accounts`);

    // 2. Accounts list at a fixed request rate: the plain first view, then a search sorted by name.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const plain = await listLoad(agent, `${base}/api/v1/accounts?page=3&pageSize=20`, cookie);
    console.log(`GET /api/v1/accounts page 3 of 5 000 at ${RATE}/s for ${SECONDS} s: p50 ${plain.p50} ms, p99 ${plain.p99} ms, ${plain.perSecond}/s served, ${plain.errors} errors`);
    const search = await listLoad(agent, `${base}/api/v1/accounts?page=3&pageSize=20&sort=name&q=User%201`, cookie);
    console.log(`GET /api/v1/accounts search + sort by name at ${RATE}/s for ${SECONDS} s: p50 ${search.p50} ms, p99 ${search.p99} ms, ${search.perSecond}/s served, ${search.errors} errors`);
    agent.destroy();
    console.log(JSON.stringify({ import_1000_rows_ms: { median: round(importTimes[2] ?? 0), min: round(importTimes[0] ?? 0), max: round(importTimes[4] ?? 0) }, accounts_list: plain, accounts_search: search, machine: { cores: os.availableParallelism() } }));
  } finally {
    child.kill('SIGTERM');
  }
}

async function listLoad(agent: http.Agent, url: string, cookie: string) {
    const latencies: number[] = [];
    let errors = 0;
    const get = () =>
      new Promise<void>((resolve) => {
        const started = process.hrtime.bigint();
        const request = http.get(url, { agent, headers: { cookie } }, (response) => {
          response.resume();
          response.on('end', () => {
            if (response.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            else errors++;
            resolve();
          });
        });
        request.on('error', () => {
          errors++;
          resolve();
        });
      });
    const total = RATE * SECONDS;
    const inflight: Promise<void>[] = [];
    const began = Date.now();
    for (let sent = 0; sent < total; ) {
      const due = Math.min(total, Math.floor(((Date.now() - began) / 1000) * RATE));
      while (sent < due) {
        inflight.push(get());
        sent++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inflight);
    const elapsed = (Date.now() - began) / 1000;
    latencies.sort((a, b) => a - b);
    return { requests: total, perSecond: Math.round(latencies.length / elapsed), errors, p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
