/**
 * Writes docs/api-reference.md from the control plane itself (built in-process, nothing
 * listens): its OpenAPI document, its route table and the error table
 * (scripts/api-reference/). `--check`: writes nothing, exits 1 when the file is stale.
 * Usage: node scripts/build-api-reference.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUTE_AREAS, routeArea } from '../server/control-plane/route-areas.ts';
import { ERRORS } from '../server/core/errors.ts';
import { describeApi } from './api-reference/describe-api.ts';
import { BUILD_COMMAND, renderReference } from './api-reference/render-reference.ts';

export const REFERENCE_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'api-reference.md');

/** The reference as it should read now. */
export async function buildApiReference(): Promise<string> {
  return renderReference({ api: await describeApi(), areas: ROUTE_AREAS, areaOf: routeArea, errors: ERRORS });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await buildApiReference();
  let current = '';
  try {
    current = readFileSync(REFERENCE_FILE, 'utf8');
  } catch {
    // No reference yet.
  }
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error(`${path.relative(process.cwd(), REFERENCE_FILE)} is stale: run ${BUILD_COMMAND}`);
      process.exit(1);
    }
  } else if (current !== text) {
    writeFileSync(REFERENCE_FILE, text);
    console.error(`wrote ${path.relative(process.cwd(), REFERENCE_FILE)}`);
  }
}
