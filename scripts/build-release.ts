#!/usr/bin/env node
/**
 * Builds a signed release package — the file an administrator uploads for a system upgrade
 * (server/upgrade/release-package.ts is the format) — from a set-up vcbox tree:
 *
 *   node scripts/build-release.ts --key ~/.config/vcbox-vendor/release-signing-key.pem
 *
 * after `scripts/setup.sh run` (the pinned Node first on PATH: `source scripts/node-runtime.sh`).
 * What goes in is what install.sh installs as the application: package.json, package-lock.json,
 * tsconfig.json, install.sh, server/, media/ (with the built codec addon, MCU compositor and IVR
 * prompts), web/ (with the built console and join page), systemd/, and the production
 * dependencies — every package of package-lock.json not marked `dev`, with the built mediasoup
 * worker — plus a generated build-info.json (version, build, build time, commit). Left out: the
 * development dependencies, npm's `.bin` links, the C/C++ sources and build leftovers of the
 * native dependencies (the built binaries stay). Not in a package: the Node runtime (an upgrade
 * keeps the box's; the manifest says which Node the release needs), the configuration, the data.
 *
 * Options: --key FILE (Ed25519 private key, PKCS#8 PEM; the vendor's is kept outside the
 * repository), --out FILE|DIR (default dist/), --version X.Y.Z (release under another version
 * than package.json's: release candidates, tests), --source DIR (the tree to package; default
 * this project), --level 1-9 (gzip level, default 6). Prints the figures and, last, one line of
 * JSON with the package's path, version, build, size and SHA-256.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildId, type PackageInput, releaseName, releaseSigningKey, writeReleasePackage } from '../server/upgrade/release-package.ts';
import { VERSION_PATTERN } from '../server/upgrade/versions.ts';

const usage = 'usage: node scripts/build-release.ts --key PRIVATE.pem [--out FILE|DIR] [--version X.Y.Z] [--source DIR] [--level 1-9]';
const { values } = parseArgs({
  options: {
    key: { type: 'string' },
    out: { type: 'string' },
    version: { type: 'string' },
    source: { type: 'string' },
    level: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
function fail(message: string): never {
  console.error(`build-release: ${message}`);
  process.exit(1);
}
if (!values.key) fail(`--key is required (the release signing key)\n${usage}`);

const started = performance.now();
const source = realpathSync(path.resolve(values.source ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..')));
const pkg = JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8')) as { name?: string; version?: string; engines?: { node?: string } };
if (pkg.name !== 'vcbox') fail(`${source} is not a vcbox tree (its package.json names "${pkg.name}")`);
const version = values.version ?? pkg.version ?? '';
if (!VERSION_PATTERN.test(version)) fail(`"${version}" is not a version number (MAJOR.MINOR.PATCH[-PRERELEASE])`);
const level = Number(values.level ?? 6);
if (!Number.isInteger(level) || level < 1 || level > 9) fail('--level must be a whole number from 1 to 9');
const key = releaseSigningKey(readFileSync(path.resolve(values.key), 'utf8'), values.key);

// What set-up builds must be there: a release is installed as is, nothing is compiled on the box.
for (const built of [
  'node_modules/mediasoup/worker/out/Release/mediasoup-worker',
  'media/audio-mixer/native/build/vcbox-codec.node',
  'media/mcu/native/build/vcbox-compositor',
  'media/meetings/native/build/vcbox-transcoder',
  'server/turn/native/build/relay-guard.so',
  'media/ivr/prompts',
  'web/console/app.js',
  'web/join/join.js',
]) {
  if (!existsSync(path.join(source, built))) fail(`${built} is missing in ${source}: run scripts/setup.sh there first`);
}

const inputs: PackageInput[] = [];
const add = (relative: string) => {
  const file = path.join(source, relative);
  const stat = lstatSync(file);
  if (stat.isSymbolicLink()) fail(`${relative} is a symbolic link; a release holds regular files only`);
  if (stat.isFile()) inputs.push({ path: relative.split(path.sep).join('/'), file, executable: (stat.mode & 0o111) !== 0 });
};
/** Every regular file under `relative`, but not into the folders `skip` says no to. */
const walk = (relative: string, skip: (child: string) => boolean = () => false) => {
  for (const entry of readdirSync(path.join(source, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const child = path.posix.join(relative, entry.name);
    if (skip(child)) continue;
    if (entry.isDirectory()) walk(child, skip);
    else add(child);
  }
};

for (const top of ['package.json', 'package-lock.json', 'tsconfig.json', 'install.sh']) if (existsSync(path.join(source, top))) add(top);
for (const dir of ['server', 'media', 'web', 'systemd']) walk(dir);

// Production dependencies, as package-lock.json lists them. Each package's own nested
// node_modules are separate lock entries; `.bin` holds npm's links to commands (not needed to run).
const lock = JSON.parse(readFileSync(path.join(source, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
/** Sources and build leftovers of native dependencies (their built binaries are kept). */
const WORKER = 'node_modules/mediasoup/worker/out/Release/mediasoup-worker';
const leftOut = (child: string) =>
  /^node_modules\/better-sqlite3\/(deps|src|build)$/.test(child) || (child.startsWith('node_modules/mediasoup/worker/') && child !== WORKER && !WORKER.startsWith(`${child}/`));
let packages = 0;
for (const [where, info] of Object.entries(lock.packages)) {
  if (!where.startsWith('node_modules/') || info.dev || info.link) continue;
  if (!existsSync(path.join(source, where))) continue; // an optional dependency for another platform
  packages++;
  walk(where, (child) => child.endsWith('/node_modules') || child.endsWith('/.bin') || leftOut(child));
}

// build-info.json: what server/core/version.ts shows (version and build time) and where it came from.
const buildTime = new Date();
buildTime.setMilliseconds(0);
const build = buildId(buildTime);
let commit = '';
if (existsSync(path.join(source, '.git'))) {
  try {
    commit = execFileSync('git', ['-C', source, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    if (execFileSync('git', ['-C', source, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '') commit += '+changes';
  } catch {
    commit = '';
  }
}
const scratch = mkdtempSync(path.join(os.tmpdir(), 'vcbox-release-'));
try {
  const buildInfo = path.join(scratch, 'build-info.json');
  writeFileSync(buildInfo, `${JSON.stringify({ version, build, buildTime: buildTime.toISOString(), commit }, null, 2)}\n`);
  inputs.unshift({ path: 'build-info.json', file: buildInfo, executable: false });

  const { SCHEMA_VERSION } = (await import(path.join(source, 'server/db/migrations.ts'))) as { SCHEMA_VERSION: number };
  const name = `vcbox-${releaseName({ version, build })}.tar.gz`;
  const outArg = values.out ? path.resolve(values.out) : path.join(source, 'dist');
  const target = outArg.endsWith('.tar.gz') ? outArg : path.join(outArg, name);
  mkdirSync(path.dirname(target), { recursive: true });
  const collected = performance.now();
  const manifest = await writeReleasePackage(
    target,
    { version, build, buildTime: buildTime.toISOString(), commit, node: pkg.engines?.node ?? `>=${process.versions.node}`, platform: `${process.platform}-${process.arch}`, schemaVersion: SCHEMA_VERSION },
    inputs,
    key,
    { level },
  );
  const bytes = manifest.files.reduce((sum, f) => sum + f.size, 0);
  const size = statSync(target).size;
  const sha256 = createHash('sha256').update(readFileSync(target)).digest('hex');
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`vcbox ${version} build ${build}${commit ? ` (${commit.slice(0, 12)})` : ''}`);
  console.log(`  files: ${manifest.files.length} (${packages} production packages), ${(bytes / 1024 ** 2).toFixed(1)} MiB unpacked`);
  console.log(`  package: ${target}, ${(size / 1024 ** 2).toFixed(1)} MiB (gzip level ${level})`);
  console.log(`  time: ${seconds(performance.now() - started)} (collecting ${seconds(collected - started)}, hashing and writing ${seconds(performance.now() - collected)})`);
  console.log(JSON.stringify({ package: target, version, build, buildTime: buildTime.toISOString(), files: manifest.files.length, bytes, size, sha256 }));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
