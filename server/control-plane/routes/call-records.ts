/**
 * Call records (spec "Statistics"): list and export (.xlsx, .xls, .csv), newest first, by period
 * (last month, 3 months, 6 months, a year, all, or from/to — ../../cdr/report-period.ts), by
 * meeting type, and searched by subject or meeting ID (point-to-point calls match on the
 * caller or callee account). The counts and concurrency figures are in ./statistics.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type SheetFormat, tableSheet } from '../../accounts/account-spreadsheet.ts';
import { type PeriodQuery, periodQueryProperties, rangeOf, rangeWhere } from '../../cdr/report-period.ts';
import type { Db } from '../../db/database.ts';
import { likeAny, likePattern } from '../../db/like-search.ts';
import { sendSpreadsheet } from '../route-helpers.ts';

interface Filter extends PeriodQuery {
  type?: 'p2p' | 'instant' | 'scheduled' | 'vmr';
  q?: string;
}

const filterProperties = {
  ...periodQueryProperties,
  type: { type: 'string', enum: ['p2p', 'instant', 'scheduled', 'vmr'] },
  q: { type: 'string', maxLength: 128 },
} as const;

function whereOf(filter: Filter): { clause: string; params: Record<string, string> } {
  const { conditions: where, params } = rangeWhere('started_at', rangeOf(filter));
  if (filter.type) {
    where.push('type = @type');
    params.type = filter.type;
  }
  if (filter.q) {
    where.push(likeAny(['subject', 'meeting_id', 'caller', 'callee']));
    params.q = likePattern(filter.q);
  }
  return { clause: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

interface Row {
  type: string;
  subject: string | null;
  meeting_id: string | null;
  caller: string;
  callee: string;
  started_at: string;
  answered_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  outcome: string | null;
}

const COLUMNS = 'type, subject, meeting_id, caller, callee, started_at, answered_at, ended_at, duration_s, outcome';

export const callRecordRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.get<{ Querystring: Filter & { page: number; pageSize: number } }>(
    '/call-records',
    {
      schema: {
        summary: 'Call records',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...filterProperties, page: { type: 'integer', minimum: 1, default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
      },
    },
    async (request) => {
      const { clause, params } = whereOf(request.query);
      const { page, pageSize } = request.query;
      const total = (db.prepare(`SELECT count(*) AS n FROM call_records ${clause}`).get(params) as { n: number }).n;
      const items = db.prepare(`SELECT ${COLUMNS} FROM call_records ${clause} ORDER BY id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`).all(params) as Row[];
      return { total, items };
    },
  );

  app.get<{ Querystring: Filter & { format: SheetFormat } }>(
    '/call-records/export',
    {
      schema: {
        summary: 'Call records as a spreadsheet (same filters)',
        querystring: { type: 'object', additionalProperties: false, properties: { ...filterProperties, format: { type: 'string', enum: ['xls', 'xlsx', 'csv'], default: 'xlsx' } } },
      },
    },
    async (request, reply) => {
      const { clause, params } = whereOf(request.query);
      const rows = db.prepare(`SELECT ${COLUMNS} FROM call_records ${clause} ORDER BY id DESC LIMIT 65000`).all(params) as Row[];
      const data = tableSheet(
        ['类型 Type', '主题 Subject', '会议号 Meeting ID', '主叫 Caller', '被叫 Callee', '开始 Start', '接通 Answered', '结束 End', '时长(秒) Duration (s)', '结果 Outcome'],
        rows.map((r) => [r.type, r.subject, r.meeting_id, r.caller, r.callee, r.started_at, r.answered_at, r.ended_at, r.duration_s, r.outcome]),
        request.query.format,
        'Call records',
      );
      return sendSpreadsheet(reply, 'call-records', request.query.format, data);
    },
  );
};
