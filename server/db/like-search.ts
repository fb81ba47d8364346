/**
 * Substring search with SQL LIKE, taking the searched text literally: `%`, `_` and `\` in it are
 * escaped. One helper for every list that searches (accounts, rooms, VMRs, logs, call records).
 */

/** `(col1 LIKE @name ESCAPE '\' OR col2 LIKE …)` for the given columns. */
export function likeAny(columns: readonly string[], name = 'q'): string {
  return `(${columns.map((column) => `${column} LIKE @${name} ESCAPE '\\'`).join(' OR ')})`;
}

/** The parameter value that makes LIKE match `text` anywhere, literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
