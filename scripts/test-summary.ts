/**
 * Reads the TAP stream of a test run and prints the suite's one-line verdict,
 * `N passed, N failed, N skipped`, counting the tests inside each test file (a file that fails
 * without a failed test of its own — a crash while loading, a teardown error, a timeout — counts
 * as one failed test). `--failed-check NAME` adds a
 * failed static check (type-check, lint) to the failures. Used by scripts/test.sh.
 */
import { readFileSync } from 'node:fs';
import { Parser, type Result } from 'tap-parser';

const [file, flag, failedCheck] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: test-summary.ts <tap-output-file> [--failed-check NAME]\n');
  process.exit(2);
}

let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];

function count(result: Result, where: string): void {
  if (result.skip || result.todo) skipped++;
  else if (result.ok) passed++;
  else {
    failed++;
    failures.push(`${where} › ${result.name}`);
  }
}

const parser = new Parser();
/** Files with a failed test of their own (a failed file without one is counted once below). */
const failedInside = new Set<string>();
parser.on('child', (fileParser: Parser) => {
  fileParser.on('assert', (result: Result) => {
    if (!result.ok && !result.skip && !result.todo) failedInside.add(fileParser.name);
    count(result, fileParser.name);
  });
});
// The file-level results: a file that failed without a failed test of its own (it crashed while
// loading, or after its tests: teardown, timeout, exit status) is one more failure.
parser.on('assert', (result: Result) => {
  if (!result.ok && !result.skip && !failedInside.has(result.name)) count({ ok: false, name: 'the test file failed (crash, timeout or exit status)' } as Result, result.name);
});
parser.end(readFileSync(file, 'utf8'));

if (flag === '--failed-check' && failedCheck) {
  for (const check of failedCheck.split(',')) {
    failed++;
    failures.push(`static check › ${check.trim()}`);
  }
}
if (failures.length > 0) process.stdout.write(`\nFailed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
