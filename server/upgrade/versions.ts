/**
 * Version numbers as the upgrade compares them: the product's `MAJOR.MINOR.PATCH[-PRERELEASE]`
 * (semantic versioning's precedence: numbers compared as numbers, a pre-release below its
 * release), and the Node range a release declares (package.json `engines.node`, e.g.
 * `>=22.18 <23`: space-separated comparators that must all hold). Nothing else of npm's range
 * syntax is needed, so nothing else is accepted.
 */

export const VERSION_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$/;

function parts(version: string): { numbers: number[]; pre: string[] } {
  const match = VERSION_PATTERN.exec(version.replace(/^v/, ''));
  if (!match) throw new Error(`"${version}" is not a version number (MAJOR.MINOR.PATCH)`);
  return { numbers: [Number(match[1]), Number(match[2]), Number(match[3])], pre: match[4] ? match[4].split('.') : [] };
}

/** Negative when a < b, 0 when equal, positive when a > b. Throws for something that is not a version. */
export function compareVersions(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.numbers[i] as number) - (y.numbers[i] as number);
    if (d !== 0) return d;
  }
  // A pre-release comes before its release; between two, field by field (numbers below words).
  if (x.pre.length === 0 || y.pre.length === 0) return (x.pre.length === 0 ? 1 : 0) - (y.pre.length === 0 ? 1 : 0);
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined || q === undefined) return p === undefined ? -1 : 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** A partial version (`22`, `22.18`) completed with zeros. */
function complete(version: string): string {
  const numbers = version.split('.');
  while (numbers.length < 3) numbers.push('0');
  return numbers.join('.');
}

/**
 * Whether `version` (e.g. process.version) satisfies `range` (`>=22.18 <23`, `>=22`, `22.18.0`).
 * Throws for a range outside that syntax.
 */
export function satisfiesRange(version: string, range: string): boolean {
  const comparators = range.trim().split(/\s+/);
  if (comparators.length === 0 || comparators[0] === '') throw new Error('an empty version range');
  return comparators.every((comparator) => {
    const match = /^(>=|<=|>|<|=)?v?(\d+(?:\.\d+){0,2})$/.exec(comparator);
    if (!match) throw new Error(`"${comparator}" is not a version comparator (>=, >, <=, <, = and a version)`);
    const d = compareVersions(version, complete(match[2] as string));
    switch (match[1]) {
      case '>=':
        return d >= 0;
      case '>':
        return d > 0;
      case '<=':
        return d <= 0;
      case '<':
        return d < 0;
      default:
        return d === 0;
    }
  });
}
