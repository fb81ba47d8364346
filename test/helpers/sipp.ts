/**
 * Runs sipp (Debian package sip-tester), the real SIP peer of the tests, against a server on
 * loopback with a scenario from test/sipp/, and reports whether the scenario passed along with
 * sipp's error log. Every run is bounded (-m calls, -timeout).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

export const SIPP_SCENARIOS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'sipp');

export interface SippResult {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly errors: string;
  readonly messages: string;
}

export async function runSipp(options: {
  scenario: string;
  target: string;
  transport: 'u1' | 't1';
  calls?: number;
  service?: string;
  timeoutSeconds?: number;
  extraArgs?: string[];
  /** Rows of the injection file (fields separated by `;`), read in order. */
  injection?: string[][];
  /** `-key name value` pairs. */
  keys?: Record<string, string>;
  /** Digest credentials for `[authentication]` (-au, -ap). */
  auth?: [user: string, password: string];
}): Promise<SippResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sipp-'));
  const injectionArgs: string[] = [];
  if (options.injection) {
    const file = path.join(dir, 'injection.csv');
    writeFileSync(file, `${['SEQUENTIAL', ...options.injection.map((row) => row.join(';'))].join('\n')}\n`);
    injectionArgs.push('-inf', file);
  }
  for (const [name, value] of Object.entries(options.keys ?? {})) injectionArgs.push('-key', name, value);
  if (options.auth) injectionArgs.push('-au', options.auth[0], '-ap', options.auth[1]);
  const localPort = await freePort();
  const args = [
    '-sf', path.join(SIPP_SCENARIOS, options.scenario),
    '-t', options.transport,
    '-i', '127.0.0.1',
    '-p', String(localPort),
    '-m', String(options.calls ?? 1),
    '-s', options.service ?? 'vcbox',
    '-timeout', `${options.timeoutSeconds ?? 15}s`,
    '-timeout_error',
    '-recv_timeout', '5000',
    '-nostdin',
    '-trace_err', '-trace_msg',
    ...injectionArgs,
    ...(options.extraArgs ?? []),
    options.target,
  ];
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = execFile('sipp', args, { cwd: dir, timeout: ((options.timeoutSeconds ?? 15) + 10) * 1000 }, () => undefined);
    child.on('exit', (code) => resolve(code));
  });
  const read = (suffix: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(suffix))
      .map((f) => readFileSync(path.join(dir, f), 'utf8'))
      .join('\n');
  const result = { ok: exitCode === 0, exitCode, errors: read('_errors.log'), messages: read('_messages.log') };
  rmSync(dir, { recursive: true, force: true });
  return result;
}
