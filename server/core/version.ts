/**
 * The software's version and build time, as shown on the dashboard and in SIP Server /
 * User-Agent headers. Read once from package.json (and `build-info.json` when a release build
 * wrote one: scripts/build-release.ts, which also gives the build id and commit; a source tree
 * has neither).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './config.ts';

interface BuildInfo {
  readonly version: string;
  readonly buildTime: string;
  /** UTC `YYYYMMDDhhmmss` of a release build ('' when running from a source tree). */
  readonly build: string;
  readonly commit: string;
}

function readBuildInfo(): BuildInfo {
  const packageFile = path.join(PROJECT_ROOT, 'package.json');
  const { version } = JSON.parse(readFileSync(packageFile, 'utf8')) as { version: string };
  const buildFile = path.join(PROJECT_ROOT, 'build-info.json');
  if (existsSync(buildFile)) {
    const info = JSON.parse(readFileSync(buildFile, 'utf8')) as Partial<BuildInfo>;
    return { version: info.version ?? version, buildTime: info.buildTime ?? '', build: info.build ?? '', commit: info.commit ?? '' };
  }
  return { version, buildTime: statSync(packageFile).mtime.toISOString(), build: '', commit: '' };
}

export const BUILD_INFO: BuildInfo = readBuildInfo();
export const PRODUCT_NAME = 'vcbox';
export const USER_AGENT = `${PRODUCT_NAME}/${BUILD_INFO.version}`;
