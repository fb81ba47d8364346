/**
 * A file system of a chosen size that the test owns (root only): a tmpfs mounted on a fresh
 * folder, so "the disk is 85 % full" or "10 GB are free" are real statfs figures of a real file
 * system rather than numbers handed in. tmpfs takes memory only for what is written, so a 40 GB
 * one costs nothing until filled (and sparse files of any size cost nothing either). Unmounted
 * at teardown (lazily, should a file still be open). Returns undefined where mounting is not
 * allowed (no root; a container without CAP_SYS_ADMIN): the test skips then.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function smallFilesystem(t: { teardown(fn: () => unknown): void }, size: string): string | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-fs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { stdio: 'pipe', timeout: 10_000 });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe', timeout: 10_000 });
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  });
  return dir;
}
