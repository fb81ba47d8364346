/**
 * The operation log (audit log) for the console: admin actions and logins, newest first,
 * filtered by period (today, 3 days, 7 days, all, or a date range) and searched by user, and
 * exported as a spreadsheet. The log is append-only: there is no route that changes or deletes it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type SheetFormat, tableSheet } from '../../accounts/account-spreadsheet.ts';
import type { Db } from '../../db/database.ts';
import { sendSpreadsheet } from '../route-helpers.ts';
import { likeAny, likePattern } from '../../db/like-search.ts';

type Period = 'today' | '3d' | '7d' | 'all' | 'range';
interface Filter {
  period: Period;
  from?: string;
  to?: string;
  user?: string;
}

const filterProperties = {
  period: { type: 'string', enum: ['today', '3d', '7d', 'all', 'range'], default: '7d' },
  from: { type: 'string', format: 'date-time' },
  to: { type: 'string', format: 'date-time' },
  user: { type: 'string', maxLength: 128 },
} as const;

/** The WHERE clause and parameters of a period/range/user filter. */
function whereOf(filter: Filter): { clause: string; params: Record<string, string> } {
  const now = new Date();
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

export const auditRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.get<{ Querystring: Filter & { format: SheetFormat } }>(
    '/audit/export',
    {
      schema: {
        summary: 'Operation log as a spreadsheet (same filters)',
        querystring: { type: 'object', additionalProperties: false, properties: { ...filterProperties, format: { type: 'string', enum: ['xls', 'xlsx'], default: 'xlsx' } } },
      },
    },
    async (request, reply) => {
      const { clause, params } = whereOf(request.query);
      const rows = db.prepare(`SELECT at, actor, source, action, detail FROM audit_log ${clause} ORDER BY id DESC LIMIT 65000`).all(params) as Record<string, string | null>[];
      const data = tableSheet(
        ['时间 Time', '用户 User', '来源 Source', '操作 Action', '详情 Detail'],
        rows.map((r) => [r.at ?? '', r.actor ?? '', r.source ?? '', r.action ?? '', r.detail ?? '']),
        request.query.format,
        'Operation log',
      );
      return sendSpreadsheet(reply, 'operation-log', request.query.format, data);
    },
  );

  app.get<{ Querystring: Filter & { page: number; pageSize: number } }>(
    '/audit',
    {
      schema: {
        summary: 'Operation log',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...filterProperties,
            page: { type: 'integer', minimum: 1, default: 1 },
            pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    at: { type: 'string' },
                    actor: { type: 'string' },
                    source: { type: ['string', 'null'] },
                    action: { type: 'string' },
                    detail: {},
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const { clause, params } = whereOf(request.query);
      const total = (db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(params) as { n: number }).n;
      const rows = db
        .prepare(`SELECT at, actor, source, action, detail FROM audit_log ${clause} ORDER BY id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`)
        .all(params) as { at: string; actor: string; source: string | null; action: string; detail: string | null }[];
      return { total, items: rows.map((row) => ({ ...row, detail: row.detail ? JSON.parse(row.detail) : null })) };
    },
  );
};
