/**
 * The allowed imports between the parts of the box (docs/architecture.md), checked on the
 * import statements of every .ts file as TypeScript parses them:
 * - media/ imports nothing from server/ except server/core/, with no exception: the media
 *   process opens no database and is given its settings over the media control channel;
 * - server/core/ imports nothing outside itself (npm packages and node: built-ins are fine);
 * - a route file (server/control-plane/routes/*) imports nothing from server/db/ nor
 *   better-sqlite3 (a type-only import of the database handle it passes to a store is fine)
 *   and runs no SQL (`.prepare(`);
 * - the web console and join page (web/src) import nothing from server/ or media/;
 * - no import cycle under media/: neither between files (type-only imports count) nor between
 *   its folders (media/meetings and media/mcu, …; a file directly in media/ is its own node).
 * The rules also run on a few made-up files first, so a broken checker cannot pass.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { PROJECT_ROOT } from '../../server/core/config.ts';

interface ImportRef {
  readonly specifier: string;
  readonly typeOnly: boolean;
}

/** A rule broken by one file: `file` imports `target` (or does `what`). */
interface Violation {
  readonly file: string;
  readonly rule: string;
  readonly detail: string;
}

/** The module specifiers a source file imports or re-exports, with whether the import is type-only. */
function importsOf(fileName: string, text: string): ImportRef[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)));
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      refs.push({ specifier: argument && ts.isStringLiteralLike(argument) ? argument.text : '<computed>', typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      refs.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

/** The rules broken by one file (`file` relative to the project root, with / separators). */
function violationsOf(file: string, text: string): Violation[] {
  const violations: Violation[] = [];
  const under = (target: string, folder: string): boolean => target === folder || target.startsWith(`${folder}/`);
  for (const ref of importsOf(file, text)) {
    const relative = ref.specifier.startsWith('.');
    const target = relative ? path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.specifier)) : ref.specifier;
    if (ref.specifier === '<computed>') {
      violations.push({ file, rule: 'an import path is a literal', detail: '<computed>' });
      continue;
    }
    if (under(file, 'media') && relative && under(target, 'server') && !under(target, 'server/core')) {
      violations.push({ file, rule: 'media/ imports from server/ only server/core/', detail: target });
    }
    if (under(file, 'server/core') && relative && !under(target, 'server/core')) {
      violations.push({ file, rule: 'server/core/ imports nothing outside itself', detail: target });
    }
    if (under(file, 'server/control-plane/routes')) {
      if (ref.specifier === 'better-sqlite3' && !ref.typeOnly) {
        violations.push({ file, rule: 'a route file does not import better-sqlite3', detail: 'better-sqlite3' });
      }
      if (relative && under(target, 'server/db') && !ref.typeOnly) {
        violations.push({ file, rule: 'a route file imports from server/db/ at most the type of the database handle', detail: target });
      }
    }
    if (under(file, 'web/src') && relative && (under(target, 'server') || under(target, 'media'))) {
      violations.push({ file, rule: 'web/src imports nothing from server/ or media/', detail: target });
    }
  }
  if (under(file, 'server/control-plane/routes') && text.includes('.prepare(')) {
    violations.push({ file, rule: 'a route file runs no SQL', detail: '.prepare(' });
  }
  return violations;
}

/**
 * The import cycles among `files` (relative paths; each file's text from `read`): the strongly
 * connected groups (Tarjan) of more than one node in the graph whose nodes are `nodeOf(file)`
 * (imports within one node are not edges). Only relative imports of files in `files` count.
 */
function importCycles(files: readonly string[], read: (file: string) => string, nodeOf: (file: string) => string): string[][] {
  const known = new Set(files);
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const from = nodeOf(file);
    const targets = edges.get(from) ?? new Set<string>();
    edges.set(from, targets);
    for (const ref of importsOf(file, read(file))) {
      if (!ref.specifier.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.specifier));
      if (known.has(target) && nodeOf(target) !== from) targets.add(nodeOf(target));
    }
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      group.push(member);
      if (member === node) break;
    }
    if (group.length > 1) cycles.push(group.sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

/** The folder a media/ file belongs to for the folder-level cycle check (a file directly in media/ is its own). */
function mediaFolderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  const walk = (relative: string, depth: number): void => {
    if (depth > 20) throw new Error(`folder nesting deeper than 20 at ${relative}`);
    for (const entry of readdirSync(path.join(PROJECT_ROOT, relative), { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child, depth + 1);
      else if (/\.(ts|tsx|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(child);
    }
  };
  walk(folder, 0);
  return files;
}

t.test('the checker finds each kind of forbidden import (made-up files)', async (t) => {
  const rulesOf = (file: string, text: string) => violationsOf(file, text).map((v) => v.detail);
  t.same(rulesOf('media/mcu/x.ts', "import { a } from '../../server/settings/settings-schema.ts';"), ['server/settings/settings-schema.ts']);
  t.same(rulesOf('media/mcu/x.ts', "import type { A } from '../../server/db/database.ts';"), ['server/db/database.ts'], 'type-only imports count for media');
  t.same(rulesOf('media/mcu/x.ts', "export { a } from '../../server/rooms/vmr-store.ts';"), ['server/rooms/vmr-store.ts'], 're-exports count');
  t.same(rulesOf('media/mcu/x.ts', "const m = await import('../../server/tls/tls.ts');"), ['server/tls/tls.ts'], 'dynamic imports count');
  t.same(rulesOf('media/mcu/x.ts', "import { getLogger } from '../../server/core/logger.ts';"), [], 'server/core/ is allowed');
  t.same(
    rulesOf('media/main.ts', "import { openState } from '../server/process/open-state.ts';\nimport { SettingsWatcher } from '../server/settings/settings-watcher.ts';"),
    ['server/process/open-state.ts', 'server/settings/settings-watcher.ts'],
    'the media entry point has no exception (it is sent its settings)',
  );
  t.same(rulesOf('server/core/x.ts', "import type { Settings } from '../settings/settings-schema.ts';"), ['server/settings/settings-schema.ts']);
  t.same(rulesOf('server/core/x.ts', "import pino from 'pino';\nimport net from 'node:net';\nimport { a } from './y.ts';"), []);
  t.same(rulesOf('server/control-plane/routes/x.ts', "import Database from 'better-sqlite3';"), ['better-sqlite3']);
  t.same(rulesOf('server/control-plane/routes/x.ts', "import { migrate } from '../../db/migrations.ts';"), ['server/db/migrations.ts']);
  t.same(rulesOf('server/control-plane/routes/x.ts', "import type { Db } from '../../db/database.ts';"), [], 'the type of the handle passed to stores is allowed');
  t.same(rulesOf('server/control-plane/routes/x.ts', 'db.prepare(`SELECT 1`).get();'), ['.prepare(']);
  t.same(rulesOf('web/src/console/x.ts', "import { SETTINGS } from '../../../server/settings/settings-schema.ts';"), ['server/settings/settings-schema.ts']);
  t.same(rulesOf('web/src/join.ts', "import { a } from '../../media/sdp/sip-sdp.ts';"), ['media/sdp/sip-sdp.ts']);
});

t.test('the repository keeps the allowed imports', async (t) => {
  const files = [...sourceFiles('media'), ...sourceFiles('server'), ...sourceFiles('web/src')];
  t.ok(files.length > 100, `${files.length} source files read`);
  const violations = files.flatMap((file) => violationsOf(file, readFileSync(path.join(PROJECT_ROOT, file), 'utf8')));
  t.same(
    violations.map((v) => `${v.file}: ${v.rule} (${v.detail})`),
    [],
    'no forbidden imports; fix the import (move the shared part into server/core/, or pass it in) — see docs/architecture.md',
  );
  t.ok(files.includes('media/main.ts'), 'the media process entry point is among the files checked');
});

t.test('the cycle check finds a cycle between files and between folders (made-up files)', async (t) => {
  const texts: Record<string, string> = {
    'media/a/x.ts': "import type { Y } from './y.ts';",
    'media/a/y.ts': "import { x } from './x.ts';",
    'media/a/z.ts': "import { w } from '../b/w.ts';",
    'media/b/w.ts': "import { v } from './v.ts';",
    'media/b/v.ts': "import type { Z } from '../a/z.ts';\nimport { logger } from '../../server/core/logger.ts';",
    'media/root.ts': "import { z } from './a/z.ts';",
  };
  const read = (file: string) => texts[file] ?? '';
  const files = Object.keys(texts);
  const cycles = (found: string[][]) => found.map((c) => c.join(' ')).sort();
  t.same(cycles(importCycles(files, read, (file) => file)), ['media/a/x.ts media/a/y.ts', 'media/a/z.ts media/b/v.ts media/b/w.ts'], 'file cycles, type-only imports included');
  t.same(cycles(importCycles(files, read, mediaFolderOf)), ['media/a media/b'], 'the folder cycle (media/a → media/b → media/a)');
  t.same(importCycles(['media/a/z.ts', 'media/b/w.ts', 'media/root.ts'], read, mediaFolderOf), [], 'no cycle without the way back');
});

t.test('no import cycle under media/ (between files, nor between its folders)', async (t) => {
  const files = sourceFiles('media');
  const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  t.same(importCycles(files, read, (file) => file).map((c) => c.join(' ↔ ')), [], 'no file imports itself through others; move the shared part into a module both import');
  t.same(importCycles(files, read, mediaFolderOf).map((c) => c.join(' ↔ ')), [], 'no two folders of media/ import each other (e.g. media/meetings and media/mcu)');
});
