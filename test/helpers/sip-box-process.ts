/**
 * The SIP side of the box (signaling service + SIP application) in a child process of its own,
 * on free ports with a fresh database: for attacks that, if they worked, would block the box's
 * event loop — the test keeps a free loop to see whether the box still answers. Killed with
 * SIGKILL by `close()` (safe twice).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from './appliance.ts';
import type { SipBoxOptions } from './sip-box.ts';

export interface SipBoxProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly tlsPort: number;
  readonly realm: string;
  output(): string;
  close(): Promise<void>;
}

export async function startSipBoxProcess(
  options: { accounts?: { number: string; name: string; password: string }[]; streamLimits?: SipBoxOptions['streamLimits'] } = {},
): Promise<SipBoxProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'test/helpers/sip-box-main.ts'), JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VCBOX_LOG_LEVEL: 'info' },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  for (let i = 0; i < 300 && !/^ready /m.test(output) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  const ready = /^ready (.*)$/m.exec(output)?.[1];
  if (!ready) {
    await close();
    throw new Error(`the SIP box process did not start:\n${output.slice(-3000)}`);
  }
  const { port, tlsPort, realm } = JSON.parse(ready) as { port: number; tlsPort: number; realm: string };
  return { child, port, tlsPort, realm, output: () => output, close };
}
