/**
 * Prints the interoperability table (Markdown) from the rows the real-client tests wrote
 * (test/helpers/interop-table.ts): `node scripts/interop-table.ts <artifacts>/interop`. Used by
 * scripts/test.sh (test-artifacts/interop.md); docs/interop.md carries a run's table.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [dir] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: interop-table.ts <folder of interop rows>\n');
  process.exit(2);
}
interface Row {
  client: string;
  transport: string;
  audio: string;
  video: string;
  srtp: string;
  result: string;
  why: string;
  at: string;
}
const rows: Row[] = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Row)
  : [];
rows.sort((a, b) => `${a.client} ${a.transport} ${a.video} ${a.srtp}`.localeCompare(`${b.client} ${b.transport} ${b.video} ${b.srtp}`));
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const lines = [
  '| Client | Transport | Audio | Video | SRTP | Result | What the test saw / why it failed |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${cell(r.client)} | ${r.transport} | ${r.audio} | ${r.video} | ${r.srtp} | **${r.result}** | ${cell(r.why)} |`),
];
if (rows.length === 0) lines.push('| (no rows: the interop tests did not run) | | | | | | |');
process.stdout.write(`${lines.join('\n')}\n\n${rows.length} rows; latest ${rows.map((r) => r.at).sort().at(-1) ?? '-'}\n`);
