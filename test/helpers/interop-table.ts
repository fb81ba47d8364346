/**
 * The interoperability table the suite produces: each real-client test (test/interop/) runs its
 * steps through `interopRow`, which records one row — client × transport × codecs × SRTP, works
 * or fails and why — as JSON in <VCBOX_TEST_ARTIFACTS>/interop/ when the test ends, pass or
 * fail. `scripts/interop-table.ts` turns the rows into the Markdown table of docs/interop.md.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface InteropRowKey {
  /** The client and its version, e.g. "linphone 5.1.65 (linphone-daemon)". */
  client: string;
  transport: 'UDP' | 'TCP' | 'TLS' | 'WebRTC';
  audio: string;
  video: string;
  srtp: string;
}

export interface InteropRow extends InteropRowKey {
  result: 'works' | 'fails';
  /** What was shown (works) or what went wrong (fails). */
  why: string;
  at: string;
}

interface Assert {
  ok(value: unknown, message: string): boolean;
  teardown(fn: () => unknown): void;
}

export function interopDir(): string {
  const root = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));
  const dir = path.join(root, 'interop');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Runs `body` as one row of the table: `check(ok, what)` asserts like t.ok and keeps the
 * failures; `shown(what)` adds what a passing row proved. The row is written when the body ends
 * (a throw fails the row with its message, then is rethrown).
 */
export async function interopRow(
  t: Assert,
  key: InteropRowKey,
  body: (check: (ok: unknown, what: string) => boolean, shown: (what: string) => void) => Promise<void>,
): Promise<void> {
  const failures: string[] = [];
  const proofs: string[] = [];
  const check = (ok: unknown, what: string) => {
    const passed = t.ok(ok, what);
    if (!passed) failures.push(what);
    return passed;
  };
  let error: Error | undefined;
  try {
    await body(check, (what) => proofs.push(what));
  } catch (caught) {
    error = caught as Error;
  }
  const why = error ? [...failures, `stopped: ${error.message.split('\n')[0]}`] : failures;
  const row: InteropRow = { ...key, result: why.length === 0 ? 'works' : 'fails', why: why.length === 0 ? proofs.join('; ') : why.join('; '), at: new Date().toISOString() };
  const name = `${key.client.split(' ')[0]}-${key.transport}-${key.audio}-${key.video}-${key.srtp}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '_');
  writeFileSync(path.join(interopDir(), `${name}.json`), `${JSON.stringify(row, null, 2)}\n`);
  if (error) throw error;
}
