/**
 * A soak of the whole box (#18), shared by the short soak test (test/reliability/soak.test.ts)
 * and the hour-long benchmark (scripts/bench/soak.ts): churn for a given time —
 * - terminals registering and re-registering (sipp, digest over UDP, a batch every 10 s),
 * - callers joining a VMR, talking (RTP tones) and hanging up (hand-written UDP terminals),
 * - browsers joining and leaving over the join page's WebSocket,
 * - a console user listing accounts, live meetings, call records and the dashboard —
 * while every process of the box (control plane, signaling, media, TURN, the mediasoup
 * workers) is sampled every `sampleSeconds`: resident memory and open file descriptors from
 * /proc, the SQLite WAL's size, and each Node process's event-loop delay from /metrics.
 * Every loop is bounded by the run's end; nothing leaves loopback.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningAppliance } from './appliance.ts';
import { PROJECT_ROOT } from './appliance.ts';
import type { ConsoleClient } from './console-client.ts';
import { DialogTerminal } from './dialog-terminal.ts';
import { JoinSocket } from './join-socket.ts';
import { pcmuMedia } from './meeting-terminal.ts';
import { freePort } from './ports.ts';
import { g711Tone, RtpTerminal } from './rtp-terminal.ts';

export interface SoakOptions {
  readonly seconds: number;
  readonly sampleSeconds?: number;
  /** Accounts that register (re-registering every 10 s batch). */
  readonly terminals?: number;
  /** Callers in the meeting at once, each staying 4-12 s. */
  readonly callers?: number;
  /** Browsers (join sockets) in the meeting at once, each staying 3-10 s. */
  readonly browsers?: number;
  /** The VMR the callers and browsers join (no PIN). */
  readonly room: string;
  readonly onSample?: (sample: SoakSample) => void;
}

export interface ProcessSample {
  readonly rssMiB: number;
  readonly fds: number;
}

export interface SoakSample {
  readonly atSeconds: number;
  /** By process name (`control-plane`, `signaling`, `media`, `turn`, `worker-<pid>`). */
  readonly processes: Record<string, ProcessSample>;
  readonly walMiB: number;
  /** Event-loop delay p99 per Node process over the last 10 s, ms. */
  readonly loopDelayP99Ms: Record<string, number>;
}

export interface SoakResult {
  readonly samples: SoakSample[];
  readonly counts: { registrations: number; registrationFailures: number; calls: number; callFailures: number; browserJoins: number; browserFailures: number; consoleRequests: number; consoleFailures: number };
  /** Failures in words (bounded to the first 50). */
  readonly failures: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number) => low + Math.random() * (high - low);

/** Pids of the supervisor's children named `name`, in the order they were started. */
export function pidsOf(box: RunningAppliance, name: string): number[] {
  return [...box.output().matchAll(new RegExp(`"name":"${name}","pid":(\\d+),"msg":"process started"`, 'g'))].map((m) => Number(m[1]));
}

function processSample(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { rssMiB: Math.round((rssKiB / 1024) * 10) / 10, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Least-squares slope of `y` over `x`. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

/** Creates `count` accounts (4-digit numbers from 6000) through the API; the sipp injection file. */
async function createTerminals(admin: ConsoleClient, count: number, dir: string): Promise<string> {
  const lines = ['SEQUENTIAL'];
  for (let i = 0; i < count; i++) {
    const number = String(6000 + i);
    const password = `soak-${number}`;
    const created = await admin.call('POST', '/api/v1/accounts', { number, name: `Soak ${i}`, password });
    if (created.status !== 201) throw new Error(`account ${number}: ${created.status} ${JSON.stringify(created.body)}`);
    lines.push(`${number};${password}`);
  }
  const file = path.join(dir, 'accounts.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The first unexpected message sipp logged (its status line and CSeq), if any. */
function unexpected(dir: string): string {
  const log = readdirSync(dir).find((f) => f.endsWith('_errors.log'));
  if (!log) return '';
  const text = readFileSync(path.join(dir, log), 'utf8');
  const at = text.indexOf('SIP/2.0 ');
  return at < 0 ? text.slice(0, 200) : text.slice(at, text.indexOf('\n', at)).trim();
}

/**
 * One sipp batch: every account registers once (digest, UDP) from `port` — the same port each
 * batch, so a terminal re-registers its one device instead of adding another (the box allows 5); resolves with successes and failures. */
async function registerBatch(box: RunningAppliance, injection: string, count: number, dir: string, port: number): Promise<{ ok: number; failed: number; why: string }> {
  const argv = [
    '-sf', path.join(PROJECT_ROOT, 'scripts/bench/register-load.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', String(count), '-r', '50', '-l', '50',
    '-nostdin', '-nd', '-trace_err', '-timeout', '60s', '-inf', injection, '-au', '[field0]', '-ap', '[field1]', '-auth_uri', 'vcbox.local', '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1',
    `127.0.0.1:${box.sipPort}`,
  ];
  const ran = await new Promise<string>((resolve) =>
    execFile('sipp', argv, { cwd: dir, maxBuffer: 16 * 1024 * 1024, timeout: 90_000 }, (error, _stdout, stderr) => resolve(error ? `sipp ended ${error.code ?? error.signal}: ${unexpected(dir) || stderr.slice(0, 300)}` : '')),
  );
  try {
    const lines = readFileSync(path.join(dir, 'stat.csv'), 'utf8').trim().split('\n');
    const header = (lines[0] ?? '').split(';');
    const last = (lines.at(-1) ?? '').split(';');
    const field = (name: string) => Number(last[header.indexOf(name)] ?? 0);
    return { ok: field('SuccessfulCall(C)'), failed: count - field('SuccessfulCall(C)'), why: ran };
  } catch {
    return { ok: 0, failed: count, why: ran || 'sipp wrote no statistics' };
  } finally {
    rmSync(path.join(dir, 'stat.csv'), { force: true });
  }
}

export async function runSoak(box: RunningAppliance, admin: ConsoleClient, metricsToken: string, options: SoakOptions): Promise<SoakResult> {
  const sampleMs = (options.sampleSeconds ?? 10) * 1000;
  const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-soak-'));
  const injection = await createTerminals(admin, options.terminals ?? 40, work);
  const counts = { registrations: 0, registrationFailures: 0, calls: 0, callFailures: 0, browserJoins: 0, browserFailures: 0, consoleRequests: 0, consoleFailures: 0 };
  const failures: string[] = [];
  const fail = (what: string) => {
    if (failures.length < 50) failures.push(what);
  };
  const started = Date.now();
  const end = started + options.seconds * 1000;
  const running = () => Date.now() < end;
  const samples: SoakSample[] = [];

  const sample = async (): Promise<void> => {
    const processes: Record<string, ProcessSample> = {};
    for (const name of ['control-plane', 'signaling', 'media', 'turn']) {
      const pid = pidsOf(box, name).at(-1);
      const figures = pid === undefined ? undefined : processSample(pid);
      if (figures) processes[name] = figures;
    }
    const mediaPid = pidsOf(box, 'media').at(-1);
    for (const worker of mediaPid === undefined ? [] : childrenOf(mediaPid)) {
      const figures = processSample(worker);
      if (figures) processes[`worker-${worker}`] = figures;
    }
    let walMiB = 0;
    try {
      walMiB = Math.round((statSync(path.join(box.dataDir, 'vcbox.sqlite-wal')).size / 1048576) * 100) / 100;
    } catch {
      // no WAL file right now (checkpointed and truncated)
    }
    const loopDelayP99Ms: Record<string, number> = {};
    try {
      const text = await (await fetch(`${box.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` }, signal: AbortSignal.timeout(5000) })).text();
      for (const m of text.matchAll(/^vcbox_event_loop_delay_ms\{process="([^"]+)",quantile="0\.99"\} (\S+)$/gm)) loopDelayP99Ms[m[1] as string] = Number(m[2]);
    } catch (error) {
      fail(`metrics scrape: ${(error as Error).message}`);
    }
    const taken: SoakSample = { atSeconds: Math.round((Date.now() - started) / 1000), processes, walMiB, loopDelayP99Ms };
    samples.push(taken);
    options.onSample?.(taken);
  };

  const sampler = (async () => {
    while (running()) {
      await sample();
      await sleep(Math.min(sampleMs, Math.max(0, end - Date.now())));
    }
  })();

  const registrations = (async () => {
    const count = options.terminals ?? 40;
    const port = await freePort();
    while (running()) {
      const dir = mkdtempSync(path.join(work, 'sipp-'));
      const batch = await registerBatch(box, injection, count, dir, port);
      counts.registrations += batch.ok;
      counts.registrationFailures += batch.failed;
      if (batch.failed > 0) fail(`${batch.failed} of ${count} registrations failed at ${Math.round((Date.now() - started) / 1000)} s (${batch.why || 'no answer'})`);
      rmSync(dir, { recursive: true, force: true });
      await sleep(Math.min(10_000, Math.max(0, end - Date.now())));
    }
  })();

  const tone = await g711Tone('mulaw', 440, 1);
  const caller = async (slot: number) => {
    let n = 0;
    while (running()) {
      const name = `Caller ${slot}-${++n}`;
      const terminal = await DialogTerminal.open(name);
      const rtp = new RtpTerminal();
      await rtp.open();
      try {
        await terminal.join(box.sipPort, options.room, pcmuMedia(rtp.port));
        counts.calls++;
        const stay = Date.now() + between(4000, 12_000);
        while (Date.now() < stay && running()) await rtp.send(terminal.answeredPort, tone, { payloadType: 0, frameBytes: 160, timestampStep: 160 });
        const bye = await terminal.inDialog('BYE');
        if (bye.status !== 200) {
          counts.callFailures++;
          fail(`${name}: BYE answered ${bye.status ?? 'nothing'}`);
        }
      } catch (error) {
        counts.callFailures++;
        fail(`${name}: ${(error as Error).message}`);
      } finally {
        terminal.close();
        rtp.close();
      }
      await sleep(between(200, 1500));
    }
  };

  const browser = async (slot: number) => {
    let n = 0;
    while (running()) {
      const name = `Browser ${slot}-${++n}`;
      try {
        const socket = await JoinSocket.connect(box.baseUrl);
        try {
          const answer = await socket.request('join', { number: options.room, name });
          if (answer.error) throw new Error(`join refused: ${answer.error.code} ${answer.error.message}`);
          counts.browserJoins++;
          await sleep(between(3000, 10_000));
        } finally {
          socket.close();
        }
      } catch (error) {
        counts.browserFailures++;
        fail(`${name}: ${(error as Error).message}`);
      }
      await sleep(between(200, 1500));
    }
  };

  const consoleUser = async () => {
    const pages = ['/api/v1/accounts?pageSize=50', '/api/v1/live-meetings', '/api/v1/call-records?period=all&pageSize=50', '/api/v1/dashboard', '/api/v1/online-users'];
    let i = 0;
    while (running()) {
      const page = pages[i++ % pages.length] as string;
      try {
        const answer = await admin.call('GET', page);
        counts.consoleRequests++;
        if (answer.status !== 200) {
          counts.consoleFailures++;
          fail(`console ${page}: ${answer.status}`);
        }
      } catch (error) {
        counts.consoleFailures++;
        fail(`console ${page}: ${(error as Error).message}`);
      }
      await sleep(between(500, 2000));
    }
  };

  await Promise.all([
    sampler,
    registrations,
    ...Array.from({ length: options.callers ?? 3 }, (_, slot) => caller(slot)),
    ...Array.from({ length: options.browsers ?? 2 }, (_, slot) => browser(slot)),
    consoleUser(),
  ]);
  await sample();
  rmSync(work, { recursive: true, force: true });
  return { samples, counts, failures };
}

/** Per process: the resident-memory slope (MiB per hour) and the descriptors' after the first `warmupSeconds`. */
export function trends(samples: readonly SoakSample[], warmupSeconds: number): Record<string, { rssMiBPerHour: number; fdsPerHour: number; rssFirst: number; rssLast: number; fdsFirst: number; fdsLast: number }> {
  const kept = samples.filter((s) => s.atSeconds >= warmupSeconds);
  const names = new Set(kept.flatMap((s) => Object.keys(s.processes)));
  const out: ReturnType<typeof trends> = {};
  for (const name of names) {
    const points = kept.filter((s) => s.processes[name]).map((s) => [s.atSeconds, s.processes[name] as ProcessSample] as const);
    if (points.length < 2) continue;
    const first = points[0]?.[1] as ProcessSample;
    const last = points.at(-1)?.[1] as ProcessSample;
    out[name] = {
      rssMiBPerHour: Math.round(slope(points.map(([x, p]) => [x, p.rssMiB])) * 3600 * 10) / 10,
      fdsPerHour: Math.round(slope(points.map(([x, p]) => [x, p.fds])) * 3600 * 10) / 10,
      rssFirst: first.rssMiB,
      rssLast: last.rssMiB,
      fdsFirst: first.fds,
      fdsLast: last.fds,
    };
  }
  return out;
}
