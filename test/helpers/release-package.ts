/**
 * Release packages for the upgrade tests: built by the project's own scripts/build-release.ts
 * (signed with the test release key), and taken apart and put together again to make the bad
 * ones a box must refuse — a flipped byte, a manifest edited without its signature, another
 * key's signature — or a validly signed variant (another version, a broken file) as someone
 * holding the test key could make it.
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BLOCK, decodeHeader, END_OF_ARCHIVE, encodeHeader, padding } from '../../server/backup/tar-format.ts';
import { releaseSigningKey, type ReleaseManifest, signReleaseManifest } from '../../server/upgrade/release-package.ts';
import { InstallRoot } from '../../server/upgrade/release-installer.ts';
import { trustedReleaseKeys } from '../../server/upgrade/release-keys.ts';
import { BUILD_INFO } from '../../server/core/version.ts';
import { PROJECT_ROOT, type RunningAppliance, startAppliance } from './appliance.ts';

const run = promisify(execFile);

export const TEST_RELEASE_PRIVATE_KEY = path.join(PROJECT_ROOT, 'test/fixtures/release/test-release-private.pem');
export const TEST_RELEASE_PUBLIC_KEY = path.join(PROJECT_ROOT, 'test/fixtures/release/test-release-public.pem');

export interface BuiltRelease {
  readonly package: string;
  readonly version: string;
  readonly build: string;
  readonly buildTime: string;
  readonly files: number;
  readonly size: number;
  readonly sha256: string;
}

/** Runs scripts/build-release.ts as a release manager would (gzip level 1 to keep the suite fast). */
export async function buildRelease(options: { version: string; out: string; source?: string }): Promise<BuiltRelease> {
  const args = [path.join(PROJECT_ROOT, 'scripts/build-release.ts'), '--key', TEST_RELEASE_PRIVATE_KEY, '--out', options.out, '--version', options.version, '--level', '1'];
  if (options.source) args.push('--source', options.source);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 10 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as BuiltRelease;
}

export interface Entry {
  name: string;
  data: Buffer;
}

/** The entries of a .tar.gz (as our tar writer makes them). */
export function readEntries(archive: Buffer): Entry[] {
  const tar = gunzipSync(archive);
  const entries: Entry[] = [];
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const header = decodeHeader(tar.subarray(at, at + BLOCK));
    if (!header) break;
    entries.push({ name: header.name, data: Buffer.from(tar.subarray(at + BLOCK, at + BLOCK + header.size)) });
    at += BLOCK + header.size + padding(header.size).length;
  }
  return entries;
}

/** A .tar.gz of these entries. */
export function writeEntries(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const { name, data } of entries) parts.push(encodeHeader(name, data.length, new Date(), 0o644), data, padding(data.length));
  parts.push(END_OF_ARCHIVE);
  return gzipSync(Buffer.concat(parts), { level: 1 });
}

export const testSigningKey = (): KeyObject => releaseSigningKey(readFileSync(TEST_RELEASE_PRIVATE_KEY, 'utf8'), TEST_RELEASE_PRIVATE_KEY);
export const strangerKey = (): KeyObject => generateKeyPairSync('ed25519').privateKey;

/**
 * The package with its manifest and files changed by `edit` (file contents given by path in
 * the tree; the manifest's size and SHA-256 follow them) and signed again with `key` (default
 * the test key) — a package as anyone with that key could make.
 */
export function resign(archive: Buffer | readonly Entry[], edit: (manifest: { -readonly [K in keyof ReleaseManifest]: ReleaseManifest[K] }, files: Map<string, Buffer>) => void, key: KeyObject = testSigningKey()): Buffer {
  const entries = Buffer.isBuffer(archive) ? readEntries(archive) : archive;
  const manifest = JSON.parse((entries[0] as Entry).data.toString('utf8'));
  const files = new Map(entries.slice(2).map((entry) => [entry.name.slice('app/'.length), entry.data]));
  edit(manifest, files);
  manifest.files = manifest.files.map((file: { path: string }) => {
    const data = files.get(file.path) as Buffer;
    return { ...file, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  });
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`);
  return writeEntries([
    { name: 'manifest.json', data: manifestBytes },
    { name: 'manifest.sig', data: Buffer.from(`${signReleaseManifest(manifestBytes, key)}\n`) },
    ...manifest.files.map((file: { path: string }) => ({ name: `app/${file.path}`, data: files.get(file.path) as Buffer })),
  ]);
}

/** For `resign`'s edit: the release's version in the manifest and in its build-info.json (what the self-check and health check report). */
export function setVersion(manifest: { version: string }, files: Map<string, Buffer>, version: string): void {
  manifest.version = version;
  const info = JSON.parse((files.get('build-info.json') as Buffer).toString('utf8'));
  files.set('build-info.json', Buffer.from(`${JSON.stringify({ ...info, version }, null, 2)}\n`));
}

/**
 * An installed box: this version's package built and unpacked into `<work>/opt/vcbox` as
 * install.sh lays it out (releases/<version>-<build>, `current`), then the run command's
 * supervisor started from it with its four processes, its own data folder and ports.
 */
export async function startInstalledBox(work: string, env: Record<string, string> = {}): Promise<{ box: RunningAppliance; built: BuiltRelease; release: string; installRoot: string; dataDir: string }> {
  const installRoot = path.join(work, 'opt', 'vcbox');
  const dataDir = path.join(work, 'data');
  const built = await buildRelease({ version: BUILD_INFO.version, out: path.join(work, 'dist') });
  const root = new InstallRoot(installRoot);
  const installed = await root.unpack(built.package, trustedReleaseKeys({ testPublicKeyFile: TEST_RELEASE_PUBLIC_KEY }), 'install');
  await root.switchTo(installed.name);
  const box = await startAppliance({
    dataDir,
    command: [process.execPath, path.join(installRoot, 'current', 'server', 'supervisor', 'main.ts')],
    env: { VCBOX_INSTALL_ROOT: installRoot, VCBOX_RELEASE_TEST_KEY_FILE: TEST_RELEASE_PUBLIC_KEY, ...env },
  });
  return { box, built, release: installed.name, installRoot, dataDir };
}
