/**
 * The operation log as the console reads it: audit-log rows newest first, filtered by period
 * (today, 3 days, 7 days, all, or a from/to range) and searched by user, one page at a time or
 * a spreadsheet's worth for export. Writing stays in ./audit-log.ts (`recordAudit`); nothing
 * here changes the log.
 */
import type { Db } from '../db/database.ts';
import { likeAny, likePattern } from '../db/like-search.ts';

export const OPERATION_LOG_PERIODS = ['today', '3d', '7d', 'all', 'range'] as const;
export type OperationLogPeriod = (typeof OPERATION_LOG_PERIODS)[number];

export interface OperationLogFilter {
  readonly period: OperationLogPeriod;
  /** With period `range`: the first and last instants (ISO date-time), either optional. */
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  /** Text searched in the user (actor), literally. */
  readonly user?: string | undefined;
}

/** One operation as listed (detail still JSON text). */
export interface OperationLogRow {
  at: string;
  actor: string;
  source: string | null;
  action: string;
  detail: string | null;
}

/** The most rows one export holds (an .xls sheet holds 65 536). */
export const OPERATION_LOG_EXPORT_LIMIT = 65_000;

/** The WHERE clause and parameters of a period/range/user filter ("today" starts at local midnight). */
function whereOf(filter: OperationLogFilter, now = new Date()): { clause: string; params: Record<string, string> } {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const days = { today: 0, '3d': 2, '7d': 6 } as const;
  let from: string | undefined;
  let to: string | undefined;
  if (filter.period === 'range') {
    from = filter.from;
    to = filter.to;
  } else if (filter.period !== 'all') {
    from = new Date(startOfToday.getTime() - days[filter.period] * 86_400_000).toISOString();
  }
  const where: string[] = [];
  const params: Record<string, string> = {};
  if (from) {
    where.push('at >= @from');
    params.from = from;
  }
  if (to) {
    where.push('at <= @to');
    params.to = to;
  }
  if (filter.user) {
    where.push(likeAny(['actor'], 'user'));
    params.user = likePattern(filter.user);
  }
  return { clause: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

export class OperationLog {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** One page of the operations that match, newest first, and how many match in all. */
  search(filter: OperationLogFilter, page: { readonly page: number; readonly pageSize: number }): { total: number; items: OperationLogRow[] } {
    const { clause, params } = whereOf(filter);
    const limit = Math.trunc(page.pageSize);
    const offset = (Math.trunc(page.page) - 1) * limit;
    const total = (this.#db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(params) as { n: number }).n;
    const items = this.#db
      .prepare(`SELECT at, actor, source, action, detail FROM audit_log ${clause} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}`)
      .all(params) as OperationLogRow[];
    return { total, items };
  }

  /** The operations that match, newest first, at most OPERATION_LOG_EXPORT_LIMIT. */
  forExport(filter: OperationLogFilter): OperationLogRow[] {
    const { clause, params } = whereOf(filter);
    return this.#db
      .prepare(`SELECT at, actor, source, action, detail FROM audit_log ${clause} ORDER BY id DESC LIMIT ${OPERATION_LOG_EXPORT_LIMIT}`)
      .all(params) as OperationLogRow[];
  }
}
