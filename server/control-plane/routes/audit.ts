/**
 * The operation log (audit log) for the console: admin actions and logins, newest first,
 * filtered by period (today, 3 days, 7 days, all, or a date range) and searched by user, and
 * exported as a spreadsheet. The log is append-only: there is no route that changes or deletes it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type SheetFormat, tableSheet } from '../../accounts/account-spreadsheet.ts';
import { OPERATION_LOG_PERIODS, type OperationLog, type OperationLogFilter } from '../../audit/operation-log.ts';
import { sendSpreadsheet } from '../route-helpers.ts';

const filterProperties = {
  period: { type: 'string', enum: [...OPERATION_LOG_PERIODS], default: '7d' },
  from: { type: 'string', format: 'date-time' },
  to: { type: 'string', format: 'date-time' },
  user: { type: 'string', maxLength: 128 },
} as const;

export const auditRoutes: FastifyPluginAsync<{ operations: OperationLog }> = async (app, { operations }) => {
  app.get<{ Querystring: OperationLogFilter & { format: SheetFormat } }>(
    '/audit/export',
    {
      schema: {
        summary: 'Operation log as a spreadsheet (same filters)',
        querystring: { type: 'object', additionalProperties: false, properties: { ...filterProperties, format: { type: 'string', enum: ['xls', 'xlsx'], default: 'xlsx' } } },
      },
    },
    async (request, reply) => {
      const { format, ...filter } = request.query;
      const rows = operations.forExport(filter);
      const data = tableSheet(
        ['时间 Time', '用户 User', '来源 Source', '操作 Action', '详情 Detail'],
        rows.map((r) => [r.at ?? '', r.actor ?? '', r.source ?? '', r.action ?? '', r.detail ?? '']),
        format,
        'Operation log',
      );
      return sendSpreadsheet(reply, 'operation-log', format, data);
    },
  );

  app.get<{ Querystring: OperationLogFilter & { page: number; pageSize: number } }>(
    '/audit',
    {
      schema: {
        summary: 'Operation log',
        description: 'Append-only: no route changes it.',
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
      const { page, pageSize, ...filter } = request.query;
      const { total, items } = operations.search(filter, { page, pageSize });
      return { total, items: items.map((row) => ({ ...row, detail: row.detail ? JSON.parse(row.detail) : null })) };
    },
  );
};
