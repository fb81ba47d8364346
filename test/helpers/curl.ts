/**
 * curl (Debian package curl) as the HTTP client of a terminal in the tests: its own HTTP Digest
 * implementation (RFC 7616: the 401 challenge, then the signed request), range requests and a
 * User-Agent like a terminal's. Returns the final response's status, headers and body bytes.
 * Every run is bounded (--max-time).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CurlOptions {
  /** HTTP Digest credentials (`--digest -u user:password`). */
  readonly digest?: [user: string, password: string];
  /** `Range: bytes=<range>` (e.g. `0-99`, `100-`). */
  readonly range?: string;
  readonly userAgent?: string;
  /** Extra request headers (`Name: value`). */
  readonly headers?: string[];
  readonly head?: boolean;
  /** Local address to send from (`--interface`, e.g. another 127.x address). */
  readonly from?: string;
}

export interface CurlResult {
  readonly status: number;
  /** The final response's headers, names in lower case. */
  readonly headers: Record<string, string>;
  /** Every WWW-Authenticate value of the final response. */
  readonly challenges: string[];
  readonly body: Buffer;
}

export async function curl(url: string, options: CurlOptions = {}): Promise<CurlResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-curl-'));
  const headerFile = path.join(dir, 'headers');
  const bodyFile = path.join(dir, 'body');
  const args = ['-sS', '--max-time', '20', '-D', headerFile, '-o', bodyFile, '-w', '%{http_code}'];
  if (options.digest) args.push('--digest', '-u', `${options.digest[0]}:${options.digest[1]}`);
  if (options.range) args.push('-r', options.range);
  if (options.userAgent) args.push('-A', options.userAgent);
  for (const header of options.headers ?? []) args.push('-H', header);
  if (options.head) args.push('-I');
  if (options.from) args.push('--interface', options.from);
  args.push(url);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      execFile('curl', args, { timeout: 30_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`curl failed: ${stderr || error.message}`));
        else resolve(Number(stdout.trim()));
      });
    });
    // With --digest the file holds the 401 first, then the final response: keep the last block.
    const blocks = readFileSync(headerFile, 'latin1').split(/\r?\n\r?\n/).filter((b) => b.trim() !== '');
    const headers: Record<string, string> = {};
    const challenges: string[] = [];
    for (const line of (blocks.at(-1) ?? '').split(/\r?\n/).slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = value;
      if (name === 'www-authenticate') challenges.push(value);
    }
    let body = Buffer.alloc(0);
    try {
      body = readFileSync(bodyFile);
    } catch {
      // no body (HEAD, or none sent)
    }
    return { status, headers, challenges, body };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
