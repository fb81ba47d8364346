/**
 * The install root (config `upgrade.installRoot`; PREFIX, /opt/vcbox, on an appliance) as the
 * upgrade changes it:
 *
 *   releases/<version>-<build>/   one folder per installed release (what install.sh or a
 *                                 package put there)
 *   current -> releases/<…>       the release the services run (the systemd units and the dev
 *                                 supervisor start `<root>/current/…`)
 *
 * A package is unpacked — verified file by file on the way (./release-package.ts) — into a
 * hidden `releases/.incoming-<id>` folder and only then renamed to its release folder, so a
 * refused or interrupted package leaves nothing (and `sweep` removes what a crash left). The
 * `current` link is switched by renaming a new link over it: a process that resolves it sees
 * the old or the new release, never none. Releases other than the current one and the one
 * before it are removed once an upgrade has succeeded (`prune`).
 *
 * The install root is root's on an appliance (install.sh): before unpacking, the root and its
 * `releases/` must be real folders (not links) of this process's user that no one else may
 * write, and the unpacking id a plain name — nothing the vcbox user can change decides where
 * the release is written or what is removed.
 *
 * Nothing here restarts anything or decides whether a release is good: ./upgrade-runner.ts.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createError } from '../core/errors.ts';
import type { TrustedKey } from '../security/trusted-keys.ts';
import { readReleasePackage, releaseName, type VerifiedRelease } from './release-package.ts';

const run = promisify(execFile);
const INCOMING = '.incoming-';
const RELEASE_NAME = /^[0-9A-Za-z.+-]{1,80}$/;
/** What may follow `.incoming-`: a job id (server/maintenance/maintenance-request.ts) or another plain name. */
const UNPACK_ID = /^[0-9a-z][0-9a-z-]{0,39}$/;

/** Throws VCBOX_ERR_MAINTENANCE_UNSAFE unless `dir` is a folder (not a link) of this user that no one else may write. */
async function assertOwnFolder(dir: string): Promise<void> {
  const unsafe = (reason: string) => createError('VCBOX_ERR_MAINTENANCE_UNSAFE', { reason: `${dir} ${reason}`, dir });
  let stats: Awaited<ReturnType<typeof lstat>>;
  try {
    stats = await lstat(dir);
  } catch (error) {
    throw unsafe(`cannot be examined (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (stats.isSymbolicLink()) throw unsafe('is a symbolic link, not a folder of the install root');
  if (!stats.isDirectory()) throw unsafe('is not a folder');
  const me = process.geteuid?.();
  if (me !== undefined && stats.uid !== me) throw unsafe(`belongs to user ${stats.uid}, not to this process's user ${me}`);
  if ((stats.mode & 0o022) !== 0) throw unsafe(`may be written by others (mode ${(stats.mode & 0o777).toString(8)})`);
}
export class InstallRoot {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get releases(): string {
    return path.join(this.root, 'releases');
  }

  get currentLink(): string {
    return path.join(this.root, 'current');
  }

  /** The folder of release `name`. */
  releaseDir(name: string): string {
    if (!RELEASE_NAME.test(name) || name.startsWith('.')) throw new Error(`"${name}" is not a release name`);
    return path.join(this.releases, name);
  }

  /** The release `current` points to (its folder name), or undefined when there is no link. */
  async current(): Promise<string | undefined> {
    try {
      const target = await readlink(this.currentLink);
      return path.basename(target);
    } catch {
      return undefined;
    }
  }

  /** Installed releases (folder names), oldest name first. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.releases, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
        .map((entry) => entry.name)
        .sort();
    } catch {
      return [];
    }
  }

  /**
   * Verifies `packageFile` against `keys` while unpacking it into a hidden folder, then renames
   * that to `releases/<version>-<build>` (replacing a folder of that name left by an earlier
   * attempt, unless it is the current release). On any failure nothing is left.
   */
  async unpack(packageFile: string, keys: readonly TrustedKey[], id: string): Promise<VerifiedRelease & { name: string; dir: string }> {
    if (!UNPACK_ID.test(id)) throw new Error(`"${id.slice(0, 60)}" is not an upgrade id`);
    await mkdir(this.releases, { recursive: true, mode: 0o755 });
    await assertOwnFolder(this.root);
    await assertOwnFolder(this.releases);
    const incoming = path.join(this.releases, `${INCOMING}${id}`);
    await rm(incoming, { recursive: true, force: true });
    try {
      const verified = await readReleasePackage(packageFile, { keys, extractTo: incoming });
      // On disk before anything points at it (one sync of the file system, not one per file).
      await run('sync', ['-f', incoming]);
      const name = releaseName(verified.manifest);
      const dir = this.releaseDir(name);
      if (name === (await this.current())) throw new Error(`release ${name} is the one running`);
      await rm(dir, { recursive: true, force: true });
      await rename(incoming, dir);
      return { ...verified, name, dir };
    } finally {
      await rm(incoming, { recursive: true, force: true });
    }
  }

  /** Points `current` at release `name` (atomically); returns the release it pointed to before. */
  async switchTo(name: string): Promise<string | undefined> {
    const dir = this.releaseDir(name);
    if (!existsSync(dir)) throw new Error(`release ${name} is not installed in ${this.releases}`);
    const before = await this.current();
    const temporary = path.join(this.root, `.current-${randomBytes(4).toString('hex')}`);
    await symlink(path.join('releases', name), temporary);
    try {
      await rename(temporary, this.currentLink);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return before;
  }

  /** Removes release `name` (never the current one). */
  async remove(name: string): Promise<void> {
    if (name === (await this.current())) throw new Error(`release ${name} is the one running`);
    await rm(this.releaseDir(name), { recursive: true, force: true });
  }

  /** Removes every release but those named, and leftovers of interrupted unpacking. */
  async prune(keep: readonly (string | undefined)[]): Promise<string[]> {
    const removed: string[] = [];
    const current = await this.current();
    for (const name of await this.list()) {
      if (name === current || keep.includes(name)) continue;
      await rm(this.releaseDir(name), { recursive: true, force: true });
      removed.push(name);
    }
    await this.sweep();
    return removed;
  }

  /** Removes hidden folders and links that an interrupted unpack or switch left behind. */
  async sweep(): Promise<void> {
    for (const [dir, prefix] of [
      [this.releases, INCOMING],
      [this.root, '.current-'],
    ] as const) {
      let names: string[] = [];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names.filter((n) => n.startsWith(prefix))) await rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
}
