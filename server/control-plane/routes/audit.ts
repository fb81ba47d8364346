/**
 * The operation log (audit log) for the console: admin actions and logins, newest first,
 * filtered by period (today, 3 days, 7 days, all, or a date range) and searched by user. The
 * log is append-only: there is no route that changes or deletes it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';

type Period = 'today' | '3d' | '7d' | 'all' | 'range';

export const auditRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.get<{ Querystring: { period: Period; from?: string; to?: string; user?: string; page: number; pageSize: number } }>(
    '/audit',
    {
      schema: {
        summary: 'Operation log',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            period: { type: 'string', enum: ['today', '3d', '7d', 'all', 'range'], default: '7d' },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            user: { type: 'string', maxLength: 128 },
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
      const { period, user, page, pageSize } = request.query;
      const now = new Date();
      const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate());
      const days = { today: 0, '3d': 2, '7d': 6 } as const;
      let from: string | undefined;
      let to: string | undefined;
      if (period === 'range') {
        from = request.query.from;
        to = request.query.to;
      } else if (period !== 'all') {
        from = new Date(startOfToday.getTime() - days[period] * 86_400_000).toISOString();
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
      if (user) {
        where.push("actor LIKE @user ESCAPE '\\'");
        params.user = `%${user.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(params) as { n: number }).n;
      const rows = db
        .prepare(`SELECT at, actor, source, action, detail FROM audit_log ${clause} ORDER BY id DESC LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`)
        .all(params) as { at: string; actor: string; source: string | null; action: string; detail: string | null }[];
      return { total, items: rows.map((row) => ({ ...row, detail: row.detail ? JSON.parse(row.detail) : null })) };
    },
  );
};
