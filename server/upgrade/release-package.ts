/**
 * The release package: what scripts/build-release.ts makes and a system upgrade installs. One
 * gzip-compressed ustar archive (server/backup/tar-format.ts) holding, in this order,
 *
 *   manifest.json   what the release is: format, product, version, build (UTC YYYYMMDDhhmmss),
 *                   build time, commit, the Node range it needs, the database schema version its
 *                   migrations reach, and per file its path, size, SHA-256 and executable bit
 *   manifest.sig    Ed25519 signature of manifest.json's exact bytes (base64), by the vendor's
 *                   release key (./release-keys.ts)
 *   app/<path>      every file of the application tree, in the manifest's order
 *
 * A box trusts the package only through the signature: the manifest is signed, every file is
 * checked against the manifest's SHA-256 and size as it is read (a file that grows past its
 * declared size is refused at that byte), nothing but the listed files may follow, and the gzip
 * stream is read to its end (its CRC). Bounds are checked while reading: the manifest (first
 * entry, ≤ 16 MiB), the file count, the total size. Paths are relative, under a fixed set of
 * top-level names, without `.`/`..` segments, backslashes or control characters, and no links
 * (the tar reader refuses every entry type but regular files), so unpacking cannot write outside
 * its folder.
 *
 * What the release tree holds (what install.sh would copy) is decided by the builder; this
 * module knows the container only. The installer is ./release-installer.ts.
 */
import { createHash, createPrivateKey, type KeyObject, sign, verify } from 'node:crypto';
import path from 'node:path';
import { decodeHeader, extractEntry, hashFile, openTarGz, padding, readEntryBytes, TarFormatError, writeTarGz } from '../backup/tar-format.ts';
import { createError } from '../core/errors.ts';
import type { TrustedKey } from '../security/trusted-keys.ts';
import { VERSION_PATTERN } from './versions.ts';

export const RELEASE_FORMAT = 'vcbox-release';
export const RELEASE_FORMAT_VERSION = 1;
const MANIFEST_ENTRY = 'manifest.json';
const SIGNATURE_ENTRY = 'manifest.sig';
const FILE_PREFIX = 'app/';
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MAX_TRAILING_BYTES = 1024 * 1024;

/** The only names a release tree may have at its top (the builder's choice, checked on reading). */
export const RELEASE_TOP_LEVEL = ['build-info.json', 'package.json', 'package-lock.json', 'tsconfig.json', 'install.sh', 'server', 'media', 'web', 'systemd', 'node_modules'] as const;
/** A path segment: no control characters, no `/` or `\\`, not `.` or `..` (npm packages use any other name). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const SEGMENT = /^(?!\.\.?$)[^\u0000-\u001f\u007f/\\]{1,200}$/;
/** Paths in the tree at most this long, so that `app/<path>` fits a ustar header. */
const MAX_PATH_BYTES = 250;

export interface ReleaseFile {
  /** Inside the release tree, `/`-separated. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** Installed with mode 0755 (binaries, scripts) instead of 0644. */
  readonly executable: boolean;
}

export interface ReleaseManifest {
  readonly format: typeof RELEASE_FORMAT;
  readonly formatVersion: typeof RELEASE_FORMAT_VERSION;
  readonly product: 'vcbox';
  readonly version: string;
  /** UTC `YYYYMMDDhhmmss` of the build: with the version, the release's folder name. */
  readonly build: string;
  readonly buildTime: string;
  /** The source commit, when the tree was a git checkout. */
  readonly commit: string;
  /** package.json `engines.node`: the Node the release runs on (the upgrade keeps the box's). */
  readonly node: string;
  /** `<platform>-<arch>` of the build (its native binaries run there only), e.g. linux-x64. */
  readonly platform: string;
  /** The database schema version the release's migrations reach. */
  readonly schemaVersion: number;
  readonly files: readonly ReleaseFile[];
}

export type ReleaseAbout = Omit<ReleaseManifest, 'format' | 'formatVersion' | 'product' | 'files'>;

export interface PackageLimits {
  readonly maxFiles: number;
  /** Most bytes the files may hold together, unpacked. */
  readonly maxContentBytes: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = { maxFiles: 100_000, maxContentBytes: 4 * 1024 ** 3 };

/** A verified package: its manifest and the trusted key that signed it. */
export interface VerifiedRelease {
  readonly manifest: ReleaseManifest;
  readonly key: TrustedKey['name'];
}

/** The release's folder name under `releases/`: `<version>-<build>`. */
export function releaseName(release: { version: string; build: string }): string {
  return `${release.version}-${release.build}`;
}

/** `YYYYMMDDhhmmss` (UTC) of a time: a release's build id. */
export function buildId(at: Date): string {
  return at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Whether `name` may be a path inside a release tree (see the header). */
export function isReleasePath(name: string): boolean {
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) return false;
  const segments = name.split('/');
  if (!(RELEASE_TOP_LEVEL as readonly string[]).includes(segments[0] as string)) return false;
  return segments.every((segment) => SEGMENT.test(segment));
}

export function signReleaseManifest(manifestBytes: Buffer, privateKey: KeyObject): string {
  return sign(null, manifestBytes, privateKey).toString('base64');
}

/** Reads an Ed25519 private key (PKCS#8 PEM), saying which file when it is not one. */
export function releaseSigningKey(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`${file} is not a private key in PEM: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType} key; release packages are signed with Ed25519`);
  return key;
}

/** A file to put into a package: its path in the tree, where it is now, and its executable bit. */
export interface PackageInput {
  readonly path: string;
  readonly file: string;
  readonly executable: boolean;
}

/**
 * Writes the package to `target` atomically: the manifest is completed with each input's size
 * and SHA-256 and signed with `privateKey`. Inputs must not change while this runs. Returns the
 * manifest written.
 */
export async function writeReleasePackage(target: string, about: ReleaseAbout, inputs: readonly PackageInput[], privateKey: KeyObject, options: { level?: number } = {}): Promise<ReleaseManifest> {
  const files: ReleaseFile[] = [];
  for (const input of inputs) {
    if (!isReleasePath(input.path)) throw new TarFormatError(`"${input.path}" is not a path a release may hold`);
    files.push({ path: input.path, ...(await hashFile(input.file)), executable: input.executable });
  }
  const manifest: ReleaseManifest = { format: RELEASE_FORMAT, formatVersion: RELEASE_FORMAT_VERSION, product: 'vcbox', ...about, files };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, 'utf8');
  const signature = Buffer.from(`${signReleaseManifest(manifestBytes, privateKey)}\n`, 'ascii');
  await writeTarGz(
    target,
    [
      { name: MANIFEST_ENTRY, size: manifestBytes.length, bytes: manifestBytes, mode: 0o644 },
      { name: SIGNATURE_ENTRY, size: signature.length, bytes: signature, mode: 0o644 },
      ...inputs.map((input, index) => ({ name: `${FILE_PREFIX}${input.path}`, size: (files[index] as ReleaseFile).size, file: input.file, mode: input.executable ? 0o755 : 0o644 })),
    ],
    new Date(about.buildTime),
    options,
  );
  return manifest;
}

const foreign = (reason: string, cause?: unknown) => createError('VCBOX_ERR_UPGRADE_FOREIGN', { reason, field: 'file' }, cause);
const invalid = (reason: string, cause?: unknown) => createError('VCBOX_ERR_UPGRADE_INVALID', { reason, field: 'file' }, cause);
const tampered = (file: string, reason: string) => createError('VCBOX_ERR_UPGRADE_TAMPERED', { path: file, reason, field: 'file' });
const truncated = (cause?: unknown) => createError('VCBOX_ERR_UPGRADE_TRUNCATED', { field: 'file' }, cause);

function checkManifest(value: unknown, limits: PackageLimits): ReleaseManifest {
  if (typeof value !== 'object' || value === null) throw invalid('its manifest is not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== RELEASE_FORMAT || m.product !== 'vcbox') throw foreign('its manifest is not a vcbox release manifest');
  if (m.formatVersion !== RELEASE_FORMAT_VERSION) {
    throw invalid(`it uses release format ${String(m.formatVersion)}; this box reads format ${RELEASE_FORMAT_VERSION} — install an intermediate version first, or reinstall with install.sh`);
  }
  if (typeof m.version !== 'string' || !VERSION_PATTERN.test(m.version)) throw invalid('its manifest has no valid version');
  if (typeof m.build !== 'string' || !/^\d{14}$/.test(m.build)) throw invalid('its manifest has no valid build id');
  if (typeof m.buildTime !== 'string' || Number.isNaN(Date.parse(m.buildTime))) throw invalid('its manifest has no valid build time');
  if (typeof m.commit !== 'string' || m.commit.length > 64) throw invalid('its manifest has no valid commit');
  if (typeof m.node !== 'string' || m.node.length === 0 || m.node.length > 64) throw invalid('its manifest does not say which Node it needs');
  if (typeof m.platform !== 'string' || !/^[a-z0-9]+-[a-z0-9]+$/.test(m.platform)) throw invalid('its manifest does not say which platform it is for');
  if (!Number.isInteger(m.schemaVersion) || (m.schemaVersion as number) < 0) throw invalid('its manifest has no valid schema version');
  if (!Array.isArray(m.files) || m.files.length === 0) throw invalid('its manifest lists no files');
  if (m.files.length > limits.maxFiles) throw invalid(`it holds ${m.files.length} files, more than the ${limits.maxFiles} allowed`);
  const seen = new Set<string>();
  let total = 0;
  for (const entry of m.files as unknown[]) {
    const f = entry as Record<string, unknown>;
    if (typeof f?.path !== 'string' || !isReleasePath(f.path) || seen.has(f.path)) throw invalid(`its manifest names a file a release may not hold (${JSON.stringify(f?.path)})`);
    if (!Number.isInteger(f.size) || (f.size as number) < 0) throw invalid(`its manifest gives no valid size for ${f.path}`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) throw invalid(`its manifest gives no valid SHA-256 for ${f.path}`);
    if (typeof f.executable !== 'boolean') throw invalid(`its manifest does not say whether ${f.path} is executable`);
    seen.add(f.path);
    total += f.size as number;
  }
  for (const needed of ['package.json', 'build-info.json', 'server/control-plane/main.ts', 'server/upgrade/release-check.ts']) {
    if (!seen.has(needed)) throw invalid(`it holds no ${needed}`);
  }
  if (total > limits.maxContentBytes) throw invalid(`it would unpack to ${total} bytes, more than the ${limits.maxContentBytes} allowed`);
  return value as ReleaseManifest;
}

function zlibError(error: NodeJS.ErrnoException, consumed: number) {
  if (consumed === 0 && error.code === 'Z_DATA_ERROR') return foreign('it is not gzip-compressed (a release package is a .tar.gz file)', error);
  if (error.code === 'Z_BUF_ERROR') return truncated(error);
  return invalid(`its compressed data is damaged (${error.message}): download it again`, error);
}

/**
 * Opens a package, checks its manifest's signature against `keys`, then reads every file,
 * checking each against the manifest, and the compressed stream to its end. With `extractTo`
 * (an empty or missing folder) the files are also written there, executable ones 0755, the
 * others 0644 — not yet synced to disk: the caller does that once for all of them. Throws
 * VCBOX_ERR_UPGRADE_FOREIGN / _TRUNCATED / _SIGNATURE / _TAMPERED / _INVALID saying what is
 * wrong; the caller removes a partly written `extractTo`.
 */
export async function readReleasePackage(file: string, options: { keys: readonly TrustedKey[]; extractTo?: string; limits?: PackageLimits }): Promise<VerifiedRelease> {
  const limits = options.limits ?? DEFAULT_PACKAGE_LIMITS;
  const { reader, close } = openTarGz(file);
  try {
    let first: ReturnType<typeof decodeHeader>;
    try {
      first = decodeHeader(await reader.read(512));
    } catch (error) {
      // Not even one tar header: some other gzip file (or a tar made by another tool).
      if (error instanceof TarFormatError) throw foreign(`it is no tar archive of vcbox's (${error.message})`, error);
      throw error;
    }
    if (!first) throw foreign('the archive is empty');
    if (first.name !== MANIFEST_ENTRY) throw foreign(`it has no vcbox release manifest (its first entry is "${first.name.slice(0, 100)}")`);
    if (first.size > MAX_MANIFEST_BYTES) throw invalid('its manifest is larger than 16 MiB');
    const manifestBytes = await readEntryBytes(reader, first);
    const second = decodeHeader(await reader.read(512));
    if (!second || second.name !== SIGNATURE_ENTRY || second.size > 1024) throw createError('VCBOX_ERR_UPGRADE_SIGNATURE', { field: 'file' });
    const signature = Buffer.from((await readEntryBytes(reader, second)).toString('ascii').trim(), 'base64');
    const signer = options.keys.find((trusted) => {
      try {
        return verify(null, manifestBytes, trusted.key, signature);
      } catch {
        return false;
      }
    });
    if (!signer) throw createError('VCBOX_ERR_UPGRADE_SIGNATURE', { field: 'file' });
    let parsed: unknown;
    try {
      parsed = JSON.parse(manifestBytes.toString('utf8'));
    } catch (error) {
      throw invalid('its manifest is not JSON', error);
    }
    const manifest = checkManifest(parsed, limits);

    for (const entry of manifest.files) {
      const header = decodeHeader(await reader.read(512));
      if (!header) throw truncated();
      const name = `${FILE_PREFIX}${entry.path}`;
      if (header.name !== name) throw tampered(entry.path, `the package holds "${header.name}" in its place`);
      if (header.size !== entry.size) throw tampered(entry.path, `${header.size} bytes, the manifest says ${entry.size}`);
      let sha256: string;
      if (options.extractTo) {
        // Not synced one by one (thousands of files): the installer syncs the file system once.
        sha256 = await extractEntry(reader, entry.size, path.join(options.extractTo, ...entry.path.split('/')), entry.executable ? 0o755 : 0o644, false);
      } else {
        const hash = createHash('sha256');
        for await (const chunk of reader.chunks(entry.size)) hash.update(chunk);
        await reader.read(padding(entry.size).length);
        sha256 = hash.digest('hex');
      }
      if (sha256 !== entry.sha256) throw tampered(entry.path, 'its SHA-256 differs');
    }
    if (decodeHeader(await reader.read(512)) !== undefined) throw invalid('it holds files the manifest does not list');
    await reader.drainZeros(MAX_TRAILING_BYTES);
    return { manifest, key: signer.name };
  } catch (error) {
    if (error instanceof TarFormatError) {
      if (/truncated/.test(error.message)) throw truncated(error);
      throw invalid(error.message, error);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw zlibError(error as NodeJS.ErrnoException, reader.consumed);
    throw error;
  } finally {
    close();
  }
}
