/**
 * Secrets that several processes of the box share (the signaling service's application
 * secret, the TURN relay's credential key): generated once (32 random bytes, hex) into
 * `<dataDir>/secrets/<name>.secret`, readable only by the service user; every process that needs
 * one reads the same file. Creation uses an exclusive open, so two processes starting together
 * end up with one secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function sharedSecret(secretsDir: string, name: string): string {
  const file = path.join(secretsDir, `${name}.secret`);
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length === 64) return secret;
    // Another process created the file an instant ago and is still writing it.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  throw new Error(`the secret file ${file} is damaged; delete it and start again`);
}
