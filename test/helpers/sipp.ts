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

export interface SippOptions {
  scenario: string;
  /** host:port to call; omitted for a scenario that waits for calls (server mode). */
  target?: string;
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
  /** Local SIP port (default: a free one). */
  localPort?: number;
  /** Local address (default 127.0.0.1; another 127.x address keeps a lock-out test to itself). */
  localIp?: string;
  /** Run inside this network namespace (one the test created), as `ip netns exec NAME sipp …`. */
  netns?: string;
}

/**
 * A scenario from test/sipp/ with `{{name}}` placeholders filled (for values sipp cannot take
 * as -key, such as an expected status code); returns the path of the written copy.
 */
export function scenarioWith(name: string, values: Record<string, string>): string {
  let text = readFileSync(path.join(SIPP_SCENARIOS, name), 'utf8');
  for (const [key, value] of Object.entries(values)) text = text.replaceAll(`{{${key}}}`, value);
  text = text.replaceAll('{{headers}}', ''); // optional extra headers: none unless given
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-scenario-')), name);
  writeFileSync(file, text);
  return file;
}

/**
 * The URI sipp's `[authentication]` has to sign: the Request-URI of the request that carries it
 * (`-key` values filled in), as terminals sign it, without the `sip:` sipp adds. sipp's own default is `sip:<remote ip>:<remote
 * port>`, which the box refuses: the digest uri must be the Request-URI (RFC 3261 §22.4).
 */
function authenticatedRequestUri(scenarioFile: string, keys: Record<string, string> | undefined): string | undefined {
  const text = readFileSync(scenarioFile, 'utf8');
  const at = text.indexOf('[authentication');
  if (at < 0) return undefined;
  const uri = [...text.slice(0, at).matchAll(/^\s*[A-Z]+ (\S+) SIP\/2\.0\s*$/gm)].at(-1)?.[1];
  const filled = uri?.replace(/\[(\w+)\]/g, (whole, name: string) => keys?.[name] ?? whole);
  // sipp writes `sip:` before the value itself.
  return filled?.startsWith('sip:') && !filled.includes('[') ? filled.slice('sip:'.length) : undefined;
}

/** Runs sipp to the end of its scenario (or its timeout). */
export async function runSipp(options: SippOptions): Promise<SippResult> {
  return (await startSipp(options)).result;
}

/** Starts sipp and returns at once: its local port, and its result when it ends. */
export async function startSipp(options: SippOptions): Promise<{ localPort: number; result: Promise<SippResult> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-sipp-'));
  const injectionArgs: string[] = [];
  if (options.injection) {
    const file = path.join(dir, 'injection.csv');
    writeFileSync(file, `${['SEQUENTIAL', ...options.injection.map((row) => row.join(';'))].join('\n')}\n`);
    injectionArgs.push('-inf', file);
  }
  for (const [name, value] of Object.entries(options.keys ?? {})) injectionArgs.push('-key', name, value);
  if (options.auth) {
    injectionArgs.push('-au', options.auth[0], '-ap', options.auth[1]);
    const signed = authenticatedRequestUri(path.isAbsolute(options.scenario) ? options.scenario : path.join(SIPP_SCENARIOS, options.scenario), options.keys);
    if (signed) injectionArgs.push('-auth_uri', signed);
  }
  const localPort = options.localPort ?? (await freePort());
  const args = [
    '-sf', path.isAbsolute(options.scenario) ? options.scenario : path.join(SIPP_SCENARIOS, options.scenario),
    '-t', options.transport,
    '-i', options.localIp ?? '127.0.0.1',
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
    ...(options.target ? [options.target] : []),
  ];
  const exited = new Promise<number | null>((resolve) => {
    const [command, commandArgs] = options.netns ? ['ip', ['netns', 'exec', options.netns, 'sipp', ...args]] : ['sipp', args];
    const child = execFile(command, commandArgs, { cwd: dir, timeout: ((options.timeoutSeconds ?? 15) + 10) * 1000 }, () => undefined);
    child.on('exit', (code) => resolve(code));
  });
  const result = exited.then((exitCode) => {
    const read = (suffix: string) =>
      readdirSync(dir)
        .filter((f) => f.endsWith(suffix))
        .map((f) => readFileSync(path.join(dir, f), 'utf8'))
        .join('\n');
    const outcome = { ok: exitCode === 0, exitCode, errors: read('_errors.log'), messages: read('_messages.log') };
    rmSync(dir, { recursive: true, force: true });
    return outcome;
  });
  return { localPort, result };
}

/**
 * A terminal registering with digest from `address` as the device `userAgent` names (scenario
 * register-as.xml; password `secret-<account>`, the tests' convention); `expires` 0
 * un-registers. Throws with sipp's errors when the box does not answer 200.
 */
export async function registerAs(target: string, address: string, account: string, userAgent: string, expires = '300'): Promise<void> {
  const result = await runSipp({
    scenario: 'register-as.xml',
    target,
    transport: 'u1',
    localIp: address,
    auth: [account, `secret-${account}`],
    keys: { contact_port: '5060', account, expires, device: 'desk', user_agent: userAgent },
  });
  if (!result.ok) throw new Error(`sipp REGISTER from ${address} failed (exit ${result.exitCode})\n${result.errors}`);
}
