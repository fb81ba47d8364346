/**
 * Disk and logs benchmark: what the minute's disk check and the console's log pages cost on a
 * box with many files — the parts' usage (a walk of every folder), the terminal-log list the
 * first time (every file read) and again (unchanged files remembered), one terminal's view —
 * and the speed of a system-log export (the streaming ZIP writer over real files of JSON lines
 * in the shape the box writes, each with its own timestamp and counter so they compress as
 * real logs do rather than as one repeated line). Files are made in a temporary folder and
 * removed. Last line: JSON.
 *
 * Usage: node scripts/bench/disk-logs-bench.ts [--terminals 5000] [--log-mib 320]
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DiskParts } from '../../server/disk/disk-parts.ts';
import { MAX_LOG_FILE_BYTES } from '../../server/core/rotating-log-file.ts';
import { zipStream } from '../../server/logs/zip-writer.ts';
import { defaultSettings } from '../../server/settings/settings-schema.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const TERMINALS = option('--terminals', 5000);
const LOG_MIB = option('--log-mib', 320);

const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-disk-bench-'));
const logDir = path.join(dir, 'logs');
try {
  mkdirSync(path.join(logDir, 'sip'), { recursive: true });
  mkdirSync(path.join(logDir, 'terminals'), { recursive: true });
  // System logs: day files of at most 16 MiB, lines as the signaling process writes them.
  let written = 0;
  let n = 0;
  for (let day = 0; written < LOG_MIB * 1024 ** 2; day++) {
    const lines: string[] = [];
    let size = 0;
    while (size < MAX_LOG_FILE_BYTES && written + size < LOG_MIB * 1024 ** 2) {
      const line = `${JSON.stringify({ level: 30, time: new Date(Date.UTC(2026, 9, 1) + n * 997).toISOString(), pid: 4242, proc: 'signaling', module: 'registrar', account: String(1000 + (n % 9000)), source: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, expires: 300, msg: 'registered' })}\n`;
      lines.push(line);
      size += line.length;
      n++;
    }
    writeFileSync(path.join(logDir, 'sip', `2026-10-${String(1 + (day % 28)).padStart(2, '0')}.signaling.${Math.floor(day / 28)}.log`), lines.join(''));
    written += size;
  }
  // Terminal logs: one REGISTER exchange per terminal.
  for (let i = 0; i < TERMINALS; i++) {
    const ip = `10.1.${i >> 8}.${i & 255}`;
    writeFileSync(
      path.join(logDir, 'terminals', `${ip}.log`),
      `----- 2026-11-30T10:00:00.000Z from ${ip}\nREGISTER sip:vcbox.local SIP/2.0\nTo: <sip:${1000 + (i % 9000)}@vcbox.local>\nUser-Agent: Yealink SIP-VC800 63.345.0.10\n\n----- 2026-11-30T10:00:00.002Z to ${ip}\nSIP/2.0 200 OK\n\n`,
    );
  }
  const parts = new DiskParts({ dataDir: dir, logDir });
  const time = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    return Math.round(performance.now() - start);
  };
  const usageMs = await time(() => parts.usage(defaultSettings()));
  const listFirstMs = await time(() => parts.terminalLogs.list());
  const listAgainMs = await time(() => parts.terminalLogs.list());
  const viewMs = await time(() => parts.terminalLogs.entries('10.1.0.7'));
  const files = await parts.systemLogs.list('sip');
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  const out = path.join(dir, 'export.zip');
  const zipMs = await time(() => pipeline(zipStream(files.map((f) => ({ name: `sip/${f.name}`, path: f.path, size: f.size, mtimeMs: f.mtimeMs }))), createWriteStream(out)));
  const zipBytes = statSync(out).size;
  const mib = (b: number) => (b / 1024 ** 2).toFixed(1);
  console.log(`parts' usage (${files.length} system log files, ${TERMINALS} terminal logs): ${usageMs} ms`);
  console.log(`terminal-log list: ${listFirstMs} ms the first time, ${listAgainMs} ms again; one terminal's view: ${viewMs} ms`);
  console.log(`export of ${mib(bytes)} MiB of SIP logs: ${zipMs} ms (${(bytes / 1024 ** 2 / (zipMs / 1000)).toFixed(0)} MiB/s), ZIP ${mib(zipBytes)} MiB (${((zipBytes / bytes) * 100).toFixed(1)} %)`);
  console.log(JSON.stringify({ terminals: TERMINALS, systemLogFiles: files.length, usageMs, listFirstMs, listAgainMs, viewMs, exportMiB: Number(mib(bytes)), exportMs: zipMs, zipRatio: zipBytes / bytes }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
