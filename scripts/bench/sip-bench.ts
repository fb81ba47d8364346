/**
 * SIP benchmark (signaling issue): digest REGISTERs per second over UDP (sipp, distinct
 * accounts from an injection file) against the box — the real signaling-service and
 * control-plane processes — and, in the same run, the same sipp load against Kamailio from
 * Debian (scripts/bench/kamailio-registrar.cfg), with the ratio; REGISTER/s over TLS (sipp
 * has no TLS here, so a Node load client with the same flow); point-to-point calls per second
 * (sipp caller → box → sipp callee). Latencies p50/p99 of the whole authenticated exchange,
 * retransmissions and failures. Traffic stays on 127.0.0.1. The last line printed is JSON.
 *
 * Usage: scripts/bench/sip-bench.sh [--calls N] [--accounts N] [--call-rate N] [--rounds N] [--steady-rounds N]
 *                                   [--only register|steady|calls]
 *        (defaults 20000 registrations, 2000 accounts, 3 alternating rounds at saturation, 1 round
 *        at a steady 1000/s, calls offered at 300/s; `--only steady`: the steady rounds alone)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { licenseTestBox, TEST_LICENSE_PUBLIC_KEY_FILE } from '../../test/helpers/test-license.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CALLS = option('--calls', 20_000);
const CALL_RATE = option('--call-rate', 300);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const ACCOUNTS = option('--accounts', 2_000);
const ROUNDS = option('--rounds', 3);
const STEADY_ROUNDS = option('--steady-rounds', 1);
const REALM = 'vcbox.local';
/** The domain of the Request-URIs the scenarios send (what a digest answer must sign; sipp writes `sip:` before -auth_uri itself). */
const DOMAIN = 'vcbox.local';
const work = mkdtempSync(path.join(os.tmpdir(), 'vcbox-bench-'));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function round2(value: number): number {
  return round(value, 2);
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function startProcess(command: string, argv: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (ready.test(output)) {
        clearInterval(poll);
        resolve({ child, output: () => output });
      } else if (child.exitCode !== null || Date.now() - started > 30_000) {
        clearInterval(poll);
        child.kill('SIGKILL'); // never leave a half-started process behind
        reject(new Error(`${command} did not become ready:\n${output.slice(-2000)}`));
      }
    }, 50);
  });
}

interface SippRun {
  readonly ok: number;
  readonly failed: number;
  readonly retransmissions: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * The sipp port for each target, the same in every round: the Contact names it, so each round
 * refreshes the accounts' bindings instead of adding one (both registrars allow five per account).
 */
const sippPorts = new Map<string, number>();

/** Runs a sipp load and reads its statistics and response-time files. */
async function sippLoad(scenario: string, target: string, extra: string[], calls: number, rate = 100_000, inFlight = 400): Promise<SippRun> {
  const dir = mkdtempSync(path.join(work, 'sipp-'));
  const port = sippPorts.get(`${scenario} ${target}`) ?? (await freePort());
  sippPorts.set(`${scenario} ${target}`, port);
  const argv = [
    '-sf', scenario, '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', String(calls),
    '-r', String(rate), '-rp', '1000', '-l', String(inFlight), '-nostdin', '-timeout', '180s', '-max_recv_loops', '5000',
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1', '-trace_rtt', '-rtt_freq', '1', '-trace_err',
    ...extra, target,
  ];
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve) => execFile('sipp', argv, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, () => resolve()));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const statLines = readFileSync(path.join(dir, 'stat.csv'), 'utf8').trim().split('\n');
  const header = (statLines[0] ?? '').split(';');
  const last = (statLines.at(-1) ?? '').split(';');
  const field = (name: string) => Number(last[header.indexOf(name)] ?? Number.NaN);
  const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  const rtts = rttFile
    ? readFileSync(path.join(dir, rttFile), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => Number(line.split(';')[1]))
        .filter((v) => Number.isFinite(v))
        .sort((a, b) => a - b)
    : [];
  const ok = field('SuccessfulCall(C)');
  return {
    ok,
    failed: field('FailedCall(C)'),
    retransmissions: field('Retransmissions(C)'),
    seconds: round(seconds, 2),
    perSecond: round(ok / seconds, 0),
    p50: round(percentile(rtts, 50), 2),
    p99: round(percentile(rtts, 99), 2),
  };
}

/** TLS REGISTER load: `connections` terminals each registering accounts back to back. */
async function tlsLoad(port: number, connections: number, perConnection: number): Promise<{ ok: number; failed: number; seconds: number; perSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      await new Promise((r) => socket.once('secureConnect', r));
      let buffer = '';
      let waiting: ((message: string) => void) | undefined;
      socket.on('data', (d: Buffer) => {
        buffer += d.toString('latin1');
        const end = buffer.indexOf('\r\n\r\n');
        if (end >= 0 && waiting) {
          const message = buffer.slice(0, end + 4);
          buffer = buffer.slice(end + 4);
          const w = waiting;
          waiting = undefined;
          w(message);
        }
      });
      const exchange = (text: string) =>
        new Promise<string>((resolve) => {
          waiting = resolve;
          socket.write(text);
        });
      for (let i = 0; i < perConnection; i++) {
        const account = String(3000 + ((c * perConnection + i) % ACCOUNTS));
        const callId = `tls-${c}-${i}`;
        const request = (cseq: number, auth?: string) =>
          [
            `REGISTER sip:${REALM} SIP/2.0`,
            `Via: SIP/2.0/TLS 127.0.0.1:5099;branch=z9hG4bK${callId}-${cseq};rport`,
            `From: <sip:${account}@${REALM}>;tag=${callId}`,
            `To: <sip:${account}@${REALM}>`,
            `Call-ID: ${callId}`,
            `CSeq: ${cseq} REGISTER`,
            `Contact: <sips:${account}@127.0.0.1:5099>`,
            'Expires: 600',
            ...(auth ? [`Authorization: ${auth}`] : []),
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n');
        const t0 = process.hrtime.bigint();
        const challenge = await exchange(request(1));
        const www = /WWW-Authenticate: (Digest [^\r\n]*algorithm=MD5[^\r\n]*)/.exec(challenge)?.[1] ?? '';
        const param = (name: string) => new RegExp(`${name}="?([^",]+)"?`).exec(www)?.[1] ?? '';
        const md5 = (text: string) => createHash('md5').update(text).digest('hex');
        const uri = `sip:${REALM}`;
        const response = md5(`${md5(`${account}:${REALM}:secret-${account}`)}:${param('nonce')}:00000001:b0b:auth:${md5(`REGISTER:${uri}`)}`);
        const answer = await exchange(
          request(2, `Digest username="${account}", realm="${REALM}", nonce="${param('nonce')}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="b0b"`),
        );
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (answer.startsWith('SIP/2.0 200')) ok++;
        else {
          failed++;
          if (failed === 1 && process.env.VCBOX_BENCH_DEBUG) console.error(`first failure:\n${challenge}\n${answer}`);
        }
      }
      socket.destroy();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { ok, failed, seconds: round(seconds, 2), perSecond: round(ok / seconds, 0), p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2) };
}

async function main(): Promise<void> {
  // The box: real processes, own data directory, flood limit off (one address sends it all).
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
    // A licensed box (the project's TEST key), as in the suite: an unlicensed one takes few calls.
    VCBOX_LICENSE_TEST_KEY_FILE: TEST_LICENSE_PUBLIC_KEY_FILE,
  };
  const config = loadConfig(env);
  const state = openState(config);
  state.settings.update({ 'sip.floodLimitPerSecond': 0 }, { actor: 'bench' });
  licenseTestBox(state.db, config.license.identityDir);
  const accounts = new AccountStore(state.db);
  state.db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) accounts.create({ number: String(3000 + i), name: `Bench ${i}`, password: `secret-${3000 + i}` }, REALM);
  })();
  accounts.create({ number: '2001', name: 'Caller', password: 'secret-2001' }, REALM);
  accounts.create({ number: '2002', name: 'Callee', password: 'secret-2002' }, REALM);
  state.db.close();
  const injection = path.join(work, 'accounts.csv');
  writeFileSync(injection, `SEQUENTIAL\n${Array.from({ length: ACCOUNTS }, (_, i) => `${3000 + i};secret-${3000 + i}`).join('\n')}\n`);

  // VCBOX_BENCH_PROFILE=<dir>: CPU profiles of both box processes (see scripts/bench/profile-summary.ts).
  const profile = process.env.VCBOX_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.VCBOX_BENCH_PROFILE] : [];
  const signaling = await startProcess(process.execPath, [...profile, path.join(ROOT, 'server/signaling/main.ts')], { ...env, VCBOX_LOG_LEVEL: 'info' }, /SIP listeners up/);
  const control = await startProcess(process.execPath, [...profile, path.join(ROOT, 'server/control-plane/main.ts')], { ...env, VCBOX_LOG_LEVEL: 'info' }, /SIP application connected/).catch(
    (error: unknown) => {
      signaling.child.kill('SIGTERM');
      throw error;
    },
  );
  const stopBox = () => {
    signaling.child.kill('SIGTERM');
    control.child.kill('SIGTERM');
  };

  const kamailioPort = await freePort();
  const kamailioDir = mkdtempSync(path.join(work, 'kamailio-'));
  let kamailio: { child: ChildProcess } | undefined;
  try {
    const loadArgs = ['-inf', injection, '-au', '[field0]', '-ap', '[field1]', '-auth_uri', DOMAIN];
    let ours: SippRun | undefined;
    let reference: SippRun | undefined;
    let ratio: number | undefined;
    const ratios: number[] = [];
    const steadyRounds: { vcbox: SippRun; kamailio: SippRun }[] = [];
    let overTls: Awaited<ReturnType<typeof tlsLoad>> | undefined;
    const scenario = path.join(HERE, 'register-load.xml');
    if (ONLY === undefined || ONLY === 'register' || ONLY === 'steady') {
      kamailio = await startProcess(
        '/usr/sbin/kamailio',
        ['-f', path.join(HERE, 'kamailio-registrar.cfg'), '-DD', '-E', '-n', '2', '-l', `udp:127.0.0.1:${kamailioPort}`, '-Y', kamailioDir, '-P', path.join(kamailioDir, 'k.pid'), '-m', '256', '-M', '16'],
        process.env,
        /Listening on/,
      );
    }
    if (ONLY === undefined || ONLY === 'register') {
      console.log(`REGISTER over UDP, ${CALLS} authenticated registrations of ${ACCOUNTS} accounts, sipp at up to 400 in flight…`);
      // Alternating rounds (the machine's noise is large): the median ratio of the rounds and its spread.
      const oursRounds: SippRun[] = [];
      const referenceRounds: SippRun[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const a = await sippLoad(scenario, `127.0.0.1:${sipPort}`, loadArgs, CALLS);
        const b = await sippLoad(scenario, `127.0.0.1:${kamailioPort}`, loadArgs, CALLS);
        oursRounds.push(a);
        referenceRounds.push(b);
        ratios.push(round2(a.perSecond / b.perSecond));
        console.log(`  round ${round}: vcbox ${a.perSecond}/s (${a.failed} failed, ${a.retransmissions} retr.), kamailio ${b.perSecond}/s (${b.failed} failed, ${b.retransmissions} retr.), ratio ${ratios.at(-1)}`);
      }
      const median = <T>(values: T[], by: (v: T) => number) => [...values].sort((x, y) => by(x) - by(y))[Math.floor((values.length - 1) / 2)] as T;
      ours = median(oursRounds, (r) => r.perSecond);
      reference = median(referenceRounds, (r) => r.perSecond);
      console.log(`  vcbox:    ${ours.perSecond} REGISTER/s (median), p50 ${ours.p50} ms, p99 ${ours.p99} ms at saturation`);
      console.log(`  kamailio: ${reference.perSecond} REGISTER/s (median), p50 ${reference.p50} ms, p99 ${reference.p99} ms at saturation`);
      ratio = median(ratios, (r) => r);
      console.log(`  ratio vcbox/kamailio: median ${ratio} of ${ratios.length} rounds (${Math.min(...ratios)}-${Math.max(...ratios)})`);
    }
    if (ONLY === undefined || ONLY === 'register' || ONLY === 'steady') {
      const rate = 1000;
      console.log(`REGISTER over UDP at a steady ${rate}/s (latency under a sustainable load), ${STEADY_ROUNDS} alternating round(s)…`);
      for (let round = 1; round <= STEADY_ROUNDS; round++) {
        const a = await sippLoad(scenario, `127.0.0.1:${sipPort}`, loadArgs, rate * 5, rate, 2000);
        console.log(`  vcbox:    p50 ${a.p50} ms, p99 ${a.p99} ms, ${a.failed} failed, ${a.retransmissions} retransmissions`);
        const b = await sippLoad(scenario, `127.0.0.1:${kamailioPort}`, loadArgs, rate * 5, rate, 2000);
        console.log(`  kamailio: p50 ${b.p50} ms, p99 ${b.p99} ms, ${b.failed} failed, ${b.retransmissions} retransmissions`);
        steadyRounds.push({ vcbox: a, kamailio: b });
      }
      kamailio?.child.kill('SIGTERM');
    }
    if (ONLY === undefined || ONLY === 'register') {
      const tlsPort = Number(env.VCBOX_SIP_TLS_PORT);
      console.log('REGISTER over TLS (Node load client, 16 connections)…');
      overTls = await tlsLoad(tlsPort, 16, Math.max(50, Math.floor(CALLS / 4 / 16)));
      console.log(`  vcbox:    ${overTls.perSecond} REGISTER/s, p50 ${overTls.p50} ms, p99 ${overTls.p99} ms, ${overTls.failed} failed`);
    }

    let calls: SippRun | undefined;
    if (ONLY === undefined || ONLY === 'calls') {
      console.log(`Point-to-point calls offered at ${CALL_RATE}/s (sipp caller → box → sipp callee, INVITE with 407, 200, ACK, BYE)…`);
      const calleePort = await freePort();
      const callScenario = path.join(work, 'uac-call.xml');
      writeFileSync(callScenario, readFileSync(path.join(ROOT, 'test/sipp/uac-call.xml'), 'utf8')
          .replaceAll('{{hold}}', '0')
          // response time from the first INVITE (challenge included) to the 200
          .replace('<send retrans="500">', '<send retrans="500" start_rtd="1">')
          .replace('<recv response="200" rrs="true">', '<recv response="200" rrs="true" rtd="1">'));
      const callCount = Math.max(500, Math.floor(CALLS / 10));
      // The callee may count stray retransmissions as extra calls: give it room and stop it at the end.
      const callee = spawn('sipp', ['-sf', path.join(ROOT, 'test/sipp/uas-answer.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(calleePort), '-m', String(callCount * 3), '-nostdin', '-timeout', '180s', '-max_recv_loops', '5000'], { cwd: work, stdio: 'ignore' });
      const registerPort = await freePort();
      const registered = await new Promise<boolean>((resolve) =>
        execFile(
          'sipp',
          ['-sf', path.join(ROOT, 'test/sipp/register.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(registerPort), '-m', '1', '-nostdin', '-timeout', '10s', '-au', '2002', '-ap', 'secret-2002', '-auth_uri', DOMAIN, '-key', 'account', '2002', '-key', 'contact_port', String(calleePort), '-key', 'expires', '600', '-key', 'device', 'bench', `127.0.0.1:${sipPort}`],
          { cwd: work },
          (error) => resolve(!error),
        ),
      );
      if (!registered) throw new Error('the callee could not register');
      calls = await sippLoad(callScenario, `127.0.0.1:${sipPort}`, ['-au', '2001', '-ap', 'secret-2001', '-auth_uri', `2002@${DOMAIN}`, '-key', 'caller', '2001', '-key', 'callee', '2002'], callCount, CALL_RATE, CALL_RATE * 2);
      callee.kill('SIGTERM');
      console.log(`  vcbox:    ${calls.perSecond} calls/s, call set-up p50 ${calls.p50} ms, p99 ${calls.p99} ms, ${calls.failed} failed, ${calls.retransmissions} retransmissions`);
    }
    console.log(
      JSON.stringify({
        machine: { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model },
        register_udp: ours,
        register_udp_kamailio: reference,
        register_udp_ratio: ratio,
        register_udp_ratios: ratios,
        register_udp_steady_1000: steadyRounds,
        register_tls: overTls,
        p2p_calls: calls,
      }),
    );
  } finally {
    kamailio?.child.kill('SIGKILL');
    stopBox();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
