/**
 * Reads the TAP stream of a test run and prints the suite's one-line verdict,
 * `N passed, N failed, N skipped`, counting the tests inside each test file (a file that fails
 * without a failed test of its own — a crash while loading, a teardown error, a timeout — counts
 * as one failed test). `--failed-check NAME` adds a
 * failed static check (type-check, lint) to the failures. Each file's run time goes to
 * `durations.txt` beside the TAP file (slowest first: where the suite's time goes), and the five
 * slowest are printed above the verdict. Used by scripts/test.sh.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
/** Each file's run time, ms (tap's `# time=` on the file's result line). */
const durations: [string, number][] = [];
parser.on('assert', (result: Result) => {
  if (typeof result.time === 'number') durations.push([result.name, result.time]);
  if (!result.ok && !result.skip && !failedInside.has(result.name)) count({ ok: false, name: 'the test file failed (crash, timeout or exit status)' } as Result, result.name);
});
parser.end(readFileSync(file, 'utf8'));

if (flag === '--failed-check' && failedCheck) {
  for (const check of failedCheck.split(',')) {
    failed++;
    failures.push(`static check › ${check.trim()}`);
  }
}
durations.sort((a, b) => b[1] - a[1]);
if (durations.length > 0) {
  const total = durations.reduce((sum, [, ms]) => sum + ms, 0);
  const lines = durations.map(([name, ms]) => `${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`);
  writeFileSync(path.join(path.dirname(file), 'durations.txt'), `${lines.join('\n')}\n${(total / 1000).toFixed(0)} s in ${durations.length} files (summed; files run side by side)\n`);
  process.stdout.write(`\nSlowest files (all in ${path.join(path.dirname(file), 'durations.txt')}):\n${lines.slice(0, 5).join('\n')}\n`);
}
if (failures.length > 0) process.stdout.write(`\nFailed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
