/**
 * Server logs rotate by day and by size without losing a line: each process writes its own
 * files in the module's folder (`<logDir>/<module>/<day>.<process>[.n].log`), a day's file is
 * continued in the next one past the size limit, and the first line after midnight starts the
 * new day's file. Seen from the files: three real processes logging at once into the Web
 * module, then one process across midnight (Node's mock clock), every line found exactly once,
 * in order, in the files of its own process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mock } from 'node:test';
import { promisify } from 'node:util';
import t from 'tap';
import { closeLogs, getLogger, initLogging } from '../../server/core/logger.ts';
import { localDay, parseLogFileName } from '../../server/core/rotating-log-file.ts';

const run = promisify(execFile);
const WRITER = path.join(import.meta.dirname, '..', 'fixtures', 'logs', 'log-writer.ts');

/** The lines of every file of `process` in `folder`, files in day and sequence order. */
function linesOf(folder: string, process: string): { files: string[]; lines: Record<string, unknown>[] } {
  const files = readdirSync(folder)
    .map((name) => ({ name, parsed: parseLogFileName(name) }))
    .filter((f) => f.parsed?.process === process)
    .sort((a, b) => (a.parsed?.date ?? '').localeCompare(b.parsed?.date ?? '') || (a.parsed?.seq ?? 0) - (b.parsed?.seq ?? 0))
    .map((f) => f.name);
  const lines = files.flatMap((name) =>
    readFileSync(path.join(folder, name), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>),
  );
  return { files, lines };
}

t.test('three processes log into one module at once: each its own files, rotated by size, nothing lost', async (t) => {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-log-rotation-'));
  const writers = ['control-plane', 'supervisor', 'other-writer'];
  const lines = 6000;
  await Promise.all(writers.map((name) => run(process.execPath, [WRITER, logDir, name, String(lines), String(64 * 1024)], { timeout: 60_000 })));
  const folder = path.join(logDir, 'web');
  const today = localDay(Date.now());
  for (const name of writers) {
    const { files, lines: got } = linesOf(folder, name);
    t.ok(files.length >= 5, `${name}: the day's file continued in ${files.length} files of at most 64 KiB`);
    t.ok(
      files.every((file) => parseLogFileName(file)?.date === today),
      `${name}: files named by today's date (${files[0]} … ${files.at(-1)})`,
    );
    t.ok(files.every((file) => readFileSync(path.join(folder, file)).length <= 64 * 1024), 'none past the limit');
    t.same(
      got.map((line) => line.n),
      Array.from({ length: lines }, (_, n) => n),
      `${name}: all ${lines} lines, in order, once`,
    );
    t.ok(got.every((line) => line.writer === name), `${name}: its files hold only its own lines`);
  }
});

t.test('the first line after midnight starts the new day\'s file', async (t) => {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-log-midnight-'));
  // 23:59:58 local time on 31 December 2026.
  mock.timers.enable({ apis: ['Date'], now: new Date(2026, 11, 31, 23, 59, 58) });
  t.teardown(() => mock.timers.reset());
  initLogging({ logDir, logLevel: 'info', logToStdout: false }, 'sip', { process: 'signaling' });
  const log = getLogger('midnight');
  for (let n = 0; n < 100; n++) log.info({ n }, 'before midnight');
  mock.timers.tick(3000);
  for (let n = 100; n < 200; n++) log.info({ n }, 'after midnight');
  await closeLogs();
  const folder = path.join(logDir, 'sip');
  t.same(readdirSync(folder).sort(), ['2026-12-31.signaling.log', '2027-01-01.signaling.log'], 'one file per day');
  const { lines } = linesOf(folder, 'signaling');
  t.same(
    lines.map((line) => line.n),
    Array.from({ length: 200 }, (_, n) => n),
    'every line once, in order',
  );
  const first = readFileSync(path.join(folder, '2027-01-01.signaling.log'), 'utf8').split('\n').filter(Boolean);
  t.equal(first.length, 100, 'the new day has the lines written after midnight');
  t.match(JSON.parse(first[0] ?? '{}'), { n: 100, msg: 'after midnight' });
});
