/**
 * Reads the TAP stream of a test run and prints the suite's one-line verdict,
 * `N passed, N failed, N skipped`, counting the tests inside each test file (a file that
 * crashes before its tests report counts as one failed test). `--failed-check NAME` adds a
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
parser.on('child', (fileParser: Parser) => {
  let inside = 0;
  fileParser.on('assert', (result: Result) => {
    inside++;
    count(result, fileParser.name);
  });
  fileParser.on('complete', () => {
    fileParser.results?.ok === false && inside === 0 && count({ ok: false, name: 'did not run' } as Result, fileParser.name);
  });
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
