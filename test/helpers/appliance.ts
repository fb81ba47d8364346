/**
 * Starts the whole appliance the way a person does — `scripts/run.sh` — with its own data
 * directory and ports, waits until the console answers, and stops it like Ctrl-C (SIGINT to
 * the process group). Output is kept for assertions and for the failure report. `command`
 * starts something else in run.sh's place (the supervisor of an installed release). The box's
 * data folder gets the suite's test licence before it starts (./test-license.ts) unless the
 * test asks for an unlicensed box.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import { licenseTestDataDir } from './test-license.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningAppliance {
  readonly process: ChildProcess;
  readonly dataDir: string;
  readonly httpPort: number;
  readonly sipPort: number;
  readonly sipTlsPort: number;
  readonly turnPort: number;
  readonly baseUrl: string;
  output(): string;
  /** Ctrl-C: SIGINT to the whole group; resolves with the exit code. */
  interrupt(timeoutMs?: number): Promise<number | null>;
}

/**
 * `httpPort`: the console's port (default: a free one), also where readiness is probed — give
 * it with `env: { VCBOX_HTTP_PORT: '' }` and the same port stored as `web.httpPort` to run with
 * the port from the settings instead of fixed by the configuration. `unlicensed: true`: a box
 * without a licence stays so (a test of the first start's trial).
 */
export async function startAppliance(
  options: { dataDir?: string; env?: Record<string, string>; httpPort?: number; command?: readonly string[]; unlicensed?: boolean } = {},
): Promise<RunningAppliance> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-data-'));
  if (!options.unlicensed) licenseTestDataDir(dataDir);
  const httpPort = options.httpPort ?? (await freePort());
  const sipPort = await freePort();
  const sipTlsPort = await freePort();
  const turnPort = await freePort();
  let output = '';
  const [command, ...args] = options.command ?? [path.join(PROJECT_ROOT, 'scripts/run.sh')];
  const child = spawn(command as string, args, {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      VCBOX_DATA_DIR: dataDir,
      VCBOX_HTTP_HOST: '127.0.0.1',
      VCBOX_HTTP_PORT: String(httpPort),
      VCBOX_SIP_HOST: '127.0.0.1',
      VCBOX_SIP_PORT: String(sipPort),
      VCBOX_SIP_TLS_PORT: String(sipTlsPort),
      VCBOX_SIGNALING_PORT: String(await freePort()),
      VCBOX_TURN_PORT: String(turnPort),
      VCBOX_BFCP_PORT: String(await freePort()),
      VCBOX_BFCP_TLS_PORT: String(await freePort()),
      VCBOX_MEDIA_WORKERS: '1',
      ...options.env,
    },
  });
  // If the test process ends without its teardown (a crash), the appliance's process group ends
  // with it instead of running on (detached, it would outlive the test) — and the supervisor's
  // children, each in a process group of its own (server/supervisor/supervisor.ts), with it.
  const killGroup = () => {
    if (child.exitCode !== null) return;
    const groups = [child.pid, ...[...output.matchAll(/"pid":(\d+),"msg":"process started"/g)].map((m) => Number(m[1]))];
    for (const pid of groups) {
      try {
        if (pid) process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killGroup);
  child.once('exit', () => process.off('exit', killGroup));
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${httpPort}`;

  const running: RunningAppliance = {
    process: child,
    dataDir,
    httpPort,
    sipPort,
    sipTlsPort,
    turnPort,
    baseUrl,
    output: () => output,
    async interrupt(timeoutMs = 30_000) {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGINT');
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(killGroup, timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the appliance exited with ${child.exitCode} before it was ready:\n${output}`);
    try {
      const response = await fetch(`${baseUrl}/api/v1/health`);
      if (response.ok && /SIP listeners up/.test(output) && /media workers up/.test(output) && /SIP application connected/.test(output)) return running;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await running.interrupt(5000);
      throw new Error(`the appliance was not ready within 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
