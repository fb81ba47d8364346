/**
 * The periods the statistics and call-record pages filter by (spec "Statistics": last month,
 * 3 months, 6 months, a year — and all, or an explicit from/to). Turned into a half-open time
 * range [from, to) in UTC; a date without a time means the whole day, so `to=2025-03-31`
 * includes the 31st. What does not live here: the queries (./statistics.ts, the routes).
 */
import { createError } from '../core/errors.ts';

export const PERIODS = ['1m', '3m', '6m', '1y', 'all'] as const;
export type Period = (typeof PERIODS)[number];

const MONTHS: Record<Exclude<Period, 'all'>, number> = { '1m': 1, '3m': 3, '6m': 6, '1y': 12 };

export interface PeriodQuery {
  readonly period?: Period;
  /** ISO date (YYYY-MM-DD) or date-time; given from/to override `period`. */
  readonly from?: string;
  readonly to?: string;
}

export interface TimeRange {
  /** Inclusive; null = since the beginning. */
  readonly from: Date | null;
  /** Exclusive; null = until now and on. */
  readonly to: Date | null;
}

/** JSON-schema properties for the query strings that take a period. */
export const periodQueryProperties = {
  period: { type: 'string', enum: [...PERIODS], default: '1m', description: 'last month, 3 months, 6 months, a year, or all' },
  from: { type: 'string', maxLength: 32, description: 'YYYY-MM-DD or an ISO date-time (UTC); overrides period' },
  to: { type: 'string', maxLength: 32, description: 'YYYY-MM-DD (the whole day) or an ISO date-time (UTC), exclusive' },
} as const;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export function rangeOf(query: PeriodQuery, now = new Date()): TimeRange {
  if (query.from !== undefined || query.to !== undefined) {
    const from = query.from === undefined ? null : parse(query.from, 'from', false);
    const to = query.to === undefined ? null : parse(query.to, 'to', true);
    if (from && to && from.getTime() >= to.getTime()) throw createError('VCBOX_ERR_PERIOD_INVALID', { field: 'from', reason: `from (${query.from}) is not before to (${query.to})` });
    return { from, to };
  }
  const period = query.period ?? '1m';
  if (period === 'all') return { from: null, to: null };
  const from = new Date(now);
  from.setUTCMonth(from.getUTCMonth() - MONTHS[period]);
  return { from, to: null };
}

function parse(text: string, field: 'from' | 'to', endOfDay: boolean): Date {
  const date = new Date(DATE_ONLY.test(text) ? `${text}T00:00:00.000Z` : text);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw createError('VCBOX_ERR_PERIOD_INVALID', { field, reason: `${field} "${text}" is not a date (YYYY-MM-DD) or an ISO date-time` });
  }
  if (endOfDay && DATE_ONLY.test(text)) date.setUTCDate(date.getUTCDate() + 1);
  return date;
}

/** SQL conditions on an ISO-text time column, with named parameters @from / @to. */
export function rangeWhere(column: string, range: TimeRange): { conditions: string[]; params: Record<string, string> } {
  const conditions: string[] = [];
  const params: Record<string, string> = {};
  if (range.from) {
    conditions.push(`${column} >= @from`);
    params.from = range.from.toISOString();
  }
  if (range.to) {
    conditions.push(`${column} < @to`);
    params.to = range.to.toISOString();
  }
  return { conditions, params };
}
