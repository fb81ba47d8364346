/**
 * Regular-expression denial of service (finding 10): every regular expression in the box's own
 * code (server/ and media/: the SIP parser and application, SDP, the control plane's parsing of
 * headers, uploads and spreadsheets) goes through recheck, a ReDoS checker that finds
 * exponential and polynomial backtracking and builds the attack string. The patterns are
 * collected mechanically from the source (regex literals, `new RegExp(…)` / `RegExp(…)` with a
 * literal, a template — each `${…}` stands for a word — or a constant of the same file), so a
 * vulnerable pattern added anywhere fails this test. Exceptions are listed below with their
 * reason. Then the parsers this finding rewrote are run on 60 KB attack strings.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { check } from 'recheck';
import t from 'tap';
import ts from 'typescript';
import { parseNameAddr } from '../../server/signaling/sip/sip-uri.ts';
import { parseUserAgent } from '../../server/sip-app/registrar/location-service.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';

/** Where the box's code lives (web/ runs in the browser of whoever opens it, not in the box). */
const ROOTS = ['server', 'media'];

/**
 * Patterns recheck reports and that stay, by `file:pattern`, with why they cannot hurt. Keep
 * this short: a fix (a linear parser, a look-behind, a bounded input) is better than an entry.
 */
const EXCEPTIONS: Record<string, string> = {
  'server/backup/tar-format.ts:/[\\0 ]+$/':
    'reads one numeric field of a 512-byte tar header (at most 12 bytes), so the quadratic case is 144 steps',
};

interface Found {
  readonly file: string;
  readonly line: number;
  readonly source: string | undefined;
  readonly flags: string;
  readonly text: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) {
      if (entry !== 'node_modules') out.push(...sourceFiles(full));
    } else if (/\.(?:ts|js|mjs)$/.test(entry)) out.push(full);
  }
  return out;
}

/** The text of a string-valued expression, when the source alone says it. */
function literalText(node: ts.Expression, constants: Map<string, ts.Expression>, depth = 0): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((span) => `x${span.literal.text}`).join('');
  if (ts.isIdentifier(node) && depth < 3) {
    const value = constants.get(node.text);
    return value ? literalText(value, constants, depth + 1) : undefined;
  }
  return undefined;
}

function collect(): Found[] {
  const found: Found[] = [];
  for (const root of ROOTS) {
    for (const file of sourceFiles(path.join(PROJECT_ROOT, root))) {
      const relative = path.relative(PROJECT_ROOT, file);
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const constants = new Map<string, ts.Expression>();
      const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      const visit = (node: ts.Node): void => {
        if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) constants.set(node.name.text, node.initializer);
        if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
          const text = node.getText();
          const slash = text.lastIndexOf('/');
          found.push({ file: relative, line: lineOf(node), source: text.slice(1, slash), flags: text.slice(slash + 1), text });
        } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
          const [pattern, flags] = node.arguments ?? [];
          found.push({
            file: relative,
            line: lineOf(node),
            source: pattern ? literalText(pattern, constants) : undefined,
            flags: flags ? (literalText(flags, constants) ?? '') : '',
            text: node.getText().slice(0, 120),
          });
        }
        ts.forEachChild(node, visit);
      };
      // Constants first (a pattern may use one declared further down), then the patterns.
      const declarations = (node: ts.Node): void => {
        if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) constants.set(node.name.text, node.initializer);
        ts.forEachChild(node, declarations);
      };
      declarations(source);
      visit(source);
    }
  }
  return found;
}

t.test('no regular expression in the box backtracks super-linearly (recheck)', async (t) => {
  const found = collect();
  t.ok(found.length > 150, `patterns collected from the source: ${found.length}`);
  const problems: string[] = [];
  const excepted = new Set<string>();
  for (const pattern of found) {
    if (pattern.source === undefined) {
      problems.push(`${pattern.file}:${pattern.line} ${pattern.text}: the pattern is not a literal, so it cannot be checked; make it one (or a constant of the file)`);
      continue;
    }
    const key = `${pattern.file}:/${pattern.source}/`;
    const result = await check(pattern.source, pattern.flags, { timeout: 10_000 });
    if (result.status === 'safe') continue;
    if (EXCEPTIONS[key] !== undefined) {
      excepted.add(key);
      continue;
    }
    const why = result.status === 'vulnerable' ? `${result.complexity.summary}, e.g. ${JSON.stringify(result.attack.string.slice(0, 60))}` : `could not be proven safe (${result.error.kind})`;
    problems.push(`${pattern.file}:${pattern.line} /${pattern.source}/${pattern.flags}: ${why}`);
  }
  t.same(problems, [], 'every pattern is linear, or listed with its reason');
  t.same([...excepted].sort(), Object.keys(EXCEPTIONS).sort(), 'every exception is still needed (remove the stale ones)');
});

t.test('the rewritten parsers answer on 60 KB attack strings', async (t) => {
  const blanks = ' '.repeat(60_000);
  // recheck's attack on the former User-Agent pattern is a run of slashes (4th degree there).
  t.same(parseUserAgent(`Room${'/'.repeat(60_000)}x`), { model: `Room${'/'.repeat(60_000)}x`, version: '' }, 'User-Agent: slashes, no version');
  t.same(parseUserAgent(`Room${blanks}1.2.3`), { model: 'Room', version: '1.2.3' }, 'User-Agent with a version after the blanks');
  t.equal(parseNameAddr(`"${blanks}x" ${blanks}<sip:1001@box>`)?.display, `${blanks}x`, 'display name');
  t.equal(parseNameAddr(`${blanks}x`)?.uri, 'x', 'no angle brackets: no display name');
});
