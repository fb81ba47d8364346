/**
 * Overload benchmark (#18): digest REGISTERs over UDP (sipp, distinct accounts), then
 * point-to-point calls (a sipp caller answering the 407 challenge → a registered sipp callee:
 * INVITE, 200, ACK, BYE; scripts/bench/call-overload.xml), each offered at 1×, 2× and 4× the
 * server's measured capacity, for the box — its real signaling-service and control-plane
 * processes — and, in the same run, Kamailio from Debian (scripts/bench/kamailio-registrar.cfg:
 * registrar and record-routing stateful proxy) under the same overload. For each step: offered
 * rate, goodput (200s per second of the step, counting those that came within a second after it), 503s (refused early), timeouts (no final
 * answer within 32 s: what a terminal turns into a 408), other failures, retransmissions; then
 * whether the server serves a small load at once when the overload stops. Traffic stays on
 * 127.0.0.1. The last line printed is JSON.
 *
 * The callee (scripts/bench/call-overload-callee.xml) answers 200 at once and answers every
 * repeated INVITE again, as a terminal does; its own figures (calls taken, failed, repeated
 * answers) are printed after each server's calls.
 *
 * Usage: scripts/bench/sip-overload.sh [--seconds N] [--capacity-calls N] [--accounts N] [--steps 1,2,4] [--what registers,calls] [--servers vcbox,kamailio]
 *        (defaults: 5 s per step, capacity from 5000 registrations (calls: a fifth of that), 2000 accounts, both loads, both servers)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { licenseTestBox, TEST_LICENSE_PUBLIC_KEY_FILE } from '../../test/helpers/test-license.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const SECONDS = Number(option('--seconds', '5'));
const CAPACITY_CALLS = Number(option('--capacity-calls', '5000'));
const ACCOUNTS = Number(option('--accounts', '2000'));
const STEPS = option('--steps', '1,2,4').split(',').map(Number);
const WHAT = option('--what', 'registers,calls').split(',');
const SERVERS = option('--servers', 'vcbox,kamailio').split(',');
/** The calls' caller and callee accounts. */
const CALLER = '2001';
const CALLEE = '2002';
const KAMAILIO = '/usr/sbin/kamailio';
const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-overload-bench-'));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

function startProcess(command: string, argv: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (ready.test(output)) {
        clearInterval(poll);
        // Keep reading (a full pipe would stall the process), but drop the text.
        output = '';
        child.stdout?.on('data', () => (output = ''));
        resolve(child);
      } else if (child.exitCode !== null || Date.now() - started > 60_000) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error(`${command} did not become ready:\n${output.slice(-2000)}`));
      }
    }, 50);
  });
}

interface Step {
  readonly offeredPerSecond: number;
  readonly calls: number;
  readonly seconds: number;
  /** Registrations answered 200, per second of the step. */
  readonly goodputPerSecond: number;
  readonly ok: number;
  readonly refused503: number;
  readonly timeouts: number;
  readonly otherFailures: number;
  readonly retransmissions: number;
  readonly p50: number;
  readonly p99: number;
}

/** What sipp offers: its scenario and the arguments that go with it (accounts, keys). */
interface Load {
  readonly name: string;
  readonly unit: string;
  readonly scenario: string;
  readonly args: readonly string[];
}

/**
 * One sipp run of `calls` registrations (or calls) at `rate`/s, its figures. `inFlight`
 * undefined: an open load (as many in flight as 40 s of the rate, within sipp's file limit).
 */
async function offer(target: string, load: Load, calls: number, rate: number, inFlight?: number): Promise<Step> {
  const dir = mkdtempSync(path.join(work, 'sipp-'));
  const port = await freePort();
  const argv = [
    '-sf', load.scenario, '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', String(calls),
    '-r', String(rate), '-rp', '1000', '-l', String(inFlight ?? Math.min(18_000, Math.max(1000, rate * 40))), '-nostdin', '-timeout', '240s', '-max_recv_loops', '5000',
    ...load.args,
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1', '-trace_rtt', '-rtt_freq', '1', '-trace_counts', '-trace_err',
    target,
  ];
  const started = process.hrtime.bigint();
  // sipp's own -timeout does not always end a run whose calls pile up: bounded here too.
  await new Promise<void>((resolve) => execFile('sipp', argv, { cwd: dir, maxBuffer: 64 * 1024 * 1024, timeout: 300_000, killSignal: 'SIGKILL' }, () => resolve()));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const statLines = readFileSync(path.join(dir, 'stat.csv'), 'utf8').trim().split('\n');
  const header = (statLines[0] ?? '').split(';');
  const last = (statLines.at(-1) ?? '').split(';');
  const field = (name: string) => Number(last[header.indexOf(name)] ?? Number.NaN);
  const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  // Each 200: when it came (ms from sipp's start) and its response time.
  const answers = rttFile
    ? readFileSync(path.join(dir, rttFile), 'utf8').trim().split('\n').slice(1).map((line) => line.split(';').map(Number)).filter(([at, rtt]) => Number.isFinite(at) && Number.isFinite(rtt))
    : [];
  const rtts = answers.map(([, rtt]) => rtt as number).sort((a, b) => a - b);
  const pct = (p: number) => (rtts.length === 0 ? Number.NaN : (rtts[Math.min(rtts.length - 1, Math.floor((p / 100) * rtts.length))] as number));
  const failed = field('FailedCall(C)');
  // sipp gave up retransmitting, or no answer within the recv's 32 s.
  const timeouts = field('FailedMaxUDPRetrans(C)') + field('FailedTimeoutOnRecv(C)');
  // A call that saw 200 recorded a response time. The 503s as sipp counted them, at either step.
  const ok = rtts.length;
  const countLines = readdirSync(dir).find((f) => f.endsWith('_counts.csv'));
  const counts = countLines ? readFileSync(path.join(dir, countLines), 'utf8').trim().split('\n') : [];
  const countHeader = (counts[0] ?? '').split(';');
  const countLast = (counts.at(-1) ?? '').split(';');
  const refused503 = countHeader.reduce((sum, name, i) => (/^\d+_503_Recv$/.test(name) ? sum + Number(countLast[i] ?? 0) : sum), 0);
  // Goodput: an open load's 200s that came while it was offered or within a second after, per
  // second it was offered (a few failures waiting out their timers must not dilute it); a closed load's all.
  const offered = calls / rate;
  const goodput = inFlight === undefined ? answers.filter(([at]) => (at as number) <= (offered + 1) * 1000).length / offered : ok / Math.max(seconds, offered);
  return {
    offeredPerSecond: rate,
    calls,
    seconds: round(seconds, 2),
    goodputPerSecond: round(goodput),
    ok,
    refused503,
    timeouts,
    otherFailures: failed - timeouts,
    retransmissions: field('Retransmissions(C)'),
    p50: round(pct(50), 1),
    p99: round(pct(99), 1),
  };
}

type Curve = { capacityPerSecond: number; steps: (Step & { multiple: number })[]; afterwards: Step };

/** Capacity (closed load, 400 in flight; calls 50), then 1×/2×/4× of it, then a small load right after. */
async function curve(name: string, target: string, load: Load): Promise<Curve> {
  // Closed load, as fast as answered (as scripts/bench/sip-bench.ts measures it).
  const total = load.unit === 'calls' ? Math.max(500, Math.round(CAPACITY_CALLS / 5)) : CAPACITY_CALLS;
  const capacityRun = await offer(target, load, total, 100_000, load.unit === 'calls' ? 50 : 400);
  const capacity = Math.max(load.unit === 'calls' ? 20 : 100, capacityRun.goodputPerSecond);
  console.log(`  ${name}: capacity ${capacity} ${load.unit}/s (${capacityRun.ok} of ${total} in ${capacityRun.seconds} s, ${capacityRun.refused503} × 503, ${capacityRun.timeouts} timeouts, ${capacityRun.otherFailures} other failures)`);
  const steps: (Step & { multiple: number })[] = [];
  for (const multiple of STEPS) {
    const rate = Math.round(capacity * multiple);
    const step = await offer(target, load, rate * SECONDS, rate);
    steps.push({ multiple, ...step });
    console.log(
      `  ${name} ${multiple}×: offered ${rate}/s → goodput ${step.goodputPerSecond}/s (${round((100 * step.goodputPerSecond) / capacity)} % of capacity), ` +
        `${step.refused503} × 503, ${step.timeouts} timeouts, ${step.otherFailures} other failures, ${step.retransmissions} retransmissions, p50 ${step.p50} ms, p99 ${step.p99} ms`,
    );
  }
  const afterwards = await offer(target, load, 200, load.unit === 'calls' ? 50 : 200);
  console.log(`  ${name} right after: ${afterwards.ok} of 200 ${load.unit === 'calls' ? 'set up' : 'registered'} (${afterwards.refused503} × 503, ${afterwards.timeouts} timeouts, ${afterwards.otherFailures} other failures)`);
  return { capacityPerSecond: capacity, steps, afterwards };
}

async function main(): Promise<void> {
  const sipPort = await freePort();
  const env = {
    ...process.env,
    VCBOX_DATA_DIR: path.join(work, 'box'),
    VCBOX_HTTP_HOST: '127.0.0.1',
    VCBOX_HTTP_PORT: String(await freePort()),
    VCBOX_SIP_HOST: '127.0.0.1',
    VCBOX_SIP_PORT: String(sipPort),
    VCBOX_SIP_TLS_PORT: String(await freePort()),
    VCBOX_BFCP_PORT: String(await freePort()),
    VCBOX_BFCP_TLS_PORT: String(await freePort()),
    VCBOX_SIGNALING_PORT: String(await freePort()),
    VCBOX_LOG_LEVEL: 'warn',
    VCBOX_LOG_STDOUT: '1',
    VCBOX_LICENSE_TEST_KEY_FILE: TEST_LICENSE_PUBLIC_KEY_FILE,
  };
  const config = loadConfig(env);
  const state = openState(config);
  state.settings.update({ 'sip.floodLimitPerSecond': 0, 'sip.qualifySeconds': 0 }, { actor: 'bench' });
  licenseTestBox(state.db, config.license.identityDir);
  const accounts = new AccountStore(state.db);
  state.db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) accounts.create({ number: String(3000 + i), name: `Bench ${i}`, password: `secret-${3000 + i}` }, 'vcbox.local');
    // The calls' caller and callee: accounts of their own (the registrations' have contacts everywhere).
    for (const number of [CALLER, CALLEE]) accounts.create({ number, name: `Bench ${number}`, password: `secret-${number}` }, 'vcbox.local');
  })();
  state.db.close();
  const injection = path.join(work, 'accounts.csv');
  writeFileSync(injection, `SEQUENTIAL\n${Array.from({ length: ACCOUNTS }, (_, i) => `${3000 + i};secret-${3000 + i}`).join('\n')}\n`);

  const signaling = await startProcess(process.execPath, [path.join(ROOT, 'server/signaling/main.ts')], { ...env, VCBOX_LOG_LEVEL: 'info' }, /SIP listeners up/);
  let control: ChildProcess | undefined;
  let kamailio: ChildProcess | undefined;
  try {
    control = await startProcess(process.execPath, [path.join(ROOT, 'server/control-plane/main.ts')], { ...env, VCBOX_LOG_LEVEL: 'info' }, /SIP application connected/);
    console.log(`machine: ${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => round(l, 1)).join(' ')} (other work on it changes every figure)`);
    const registers: Load = { name: 'REGISTER', unit: 'REGISTER', scenario: path.join(HERE, 'register-overload.xml'), args: ['-inf', injection, '-au', '[field0]', '-ap', '[field1]', '-auth_uri', 'vcbox.local'] };
    const calls: Load = { name: 'calls', unit: 'calls', scenario: path.join(HERE, 'call-overload.xml'), args: ['-au', CALLER, '-ap', `secret-${CALLER}`, '-auth_uri', `${CALLEE}@vcbox.local`, '-key', 'caller', CALLER, '-key', 'callee', CALLEE] };
    /** Both curves asked for, against one server. */
    const curves = async (name: string, target: string) => {
      const out: { registers?: Curve; calls?: Curve; callee?: ReturnType<typeof calleeFigures> } = {};
      if (WHAT.includes('registers')) {
        console.log(`${name}: REGISTER over UDP, ${STEPS.join('×, ')}× capacity for ${SECONDS} s each, ${ACCOUNTS} accounts:`);
        out.registers = await curve(name, target, registers);
      }
      if (WHAT.includes('calls')) {
        console.log(`${name}: point-to-point calls over UDP (407, 200, ACK, BYE), ${STEPS.join('×, ')}× capacity for ${SECONDS} s each:`);
        const callee = await startCallee(target);
        try {
          out.calls = await curve(name, target, calls);
          // sipp writes its statistics every second: the last line after it has seen the end.
          await new Promise((resolve) => setTimeout(resolve, 1500));
          const figures = calleeFigures(callee.dir);
          out.callee = figures;
          console.log(`  ${name}'s callee: ${figures.taken} calls taken, ${figures.completed} completed, ${figures.failed} failed, ${figures.leftOpen} left open (no BYE came), ${figures.answersRepeated} answers repeated`);
        } finally {
          callee.process.kill('SIGKILL');
        }
      }
      return out;
    };
    const box = await curves('vcbox', `127.0.0.1:${sipPort}`);
    let reference: Awaited<ReturnType<typeof curves>> | undefined;
    if (!SERVERS.includes('kamailio')) {
      console.log('  kamailio: not asked for (--servers)');
    } else if (existsSync(KAMAILIO)) {
      const kamailioPort = await freePort();
      const dir = mkdtempSync(path.join(work, 'kamailio-'));
      kamailio = await startProcess(
        KAMAILIO,
        ['-f', path.join(HERE, 'kamailio-registrar.cfg'), '-DD', '-E', '-n', '2', '-l', `udp:127.0.0.1:${kamailioPort}`, '-Y', dir, '-P', path.join(dir, 'k.pid'), '-m', '256', '-M', '16'],
        process.env,
        /Listening on/,
      );
      reference = await curves('kamailio', `127.0.0.1:${kamailioPort}`);
    } else {
      console.log('  kamailio: not installed (scripts/bench/sip-overload.sh installs it)');
    }
    console.log(JSON.stringify({ machine: { cores: os.availableParallelism(), loadavg: os.loadavg().map((l) => round(l, 1)) }, seconds: SECONDS, vcbox: box, kamailio: reference }));
  } finally {
    await Promise.all([stop(kamailio), stop(control), stop(signaling)]);
  }
}

/** The callee: a sipp answering every call (call-overload-callee.xml), registered as CALLEE at `target`. */
async function startCallee(target: string): Promise<{ process: ChildProcess; dir: string }> {
  const port = await freePort();
  // Its socket buffers large (4 MB; the kernel caps them at net.core.rmem_max/wmem_max): at
  // thousands of calls a second a callee with the default ones drops INVITEs, and the server
  // under test answers the caller 408 for the callee's silence.
  const dir = mkdtempSync(path.join(work, 'callee-'));
  const callee = spawn('sipp', ['-sf', path.join(HERE, 'call-overload-callee.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', '10000000', '-nostdin', '-timeout', '900s', '-max_recv_loops', '5000', '-buff_size', '4194304', '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1', '-trace_err', '-trace_counts'], { cwd: dir, stdio: 'ignore' });
  const registerPort = await freePort();
  const registered = await new Promise<boolean>((resolve) =>
    execFile(
      'sipp',
      ['-sf', path.join(ROOT, 'test/sipp/register.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(registerPort), '-m', '1', '-nostdin', '-timeout', '10s', '-au', CALLEE, '-ap', `secret-${CALLEE}`, '-auth_uri', 'vcbox.local', '-key', 'account', CALLEE, '-key', 'contact_port', String(port), '-key', 'expires', '3600', '-key', 'device', 'bench', target],
      { cwd: work },
      (error) => resolve(!error),
    ),
  );
  if (!registered) {
    callee.kill('SIGKILL');
    throw new Error(`the callee could not register at ${target}`);
  }
  return { process: callee, dir };
}

/** What the callee's sipp counted: calls it took, completed, failed, left open (no BYE came), answers it repeated. */
function calleeFigures(dir: string): { taken: number; completed: number; failed: number; leftOpen: number; answersRepeated: number } {
  const lines = readFileSync(path.join(dir, 'stat.csv'), 'utf8').trim().split('\n');
  const header = (lines[0] ?? '').split(';');
  const last = (lines.at(-1) ?? '').split(';');
  const field = (name: string) => Number(last[header.indexOf(name)] ?? Number.NaN);
  const taken = field('IncomingCall(C)');
  const completed = field('SuccessfulCall(C)');
  const failed = field('FailedCall(C)');
  return { taken, completed, failed, leftOpen: taken - completed - failed, answersRepeated: field('Retransmissions(C)') };
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

// Whatever else the state opened (the settings' timers) must not keep the bench running.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
