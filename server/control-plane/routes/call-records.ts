/**
 * Call records (spec "Statistics"): list and export (.xlsx, .xls, .csv), newest first, by period
 * (last month, 3 months, 6 months, a year, all, or from/to — ../../cdr/report-period.ts), by
 * meeting type, and searched by subject or meeting ID (point-to-point calls match on the
 * caller or callee account); the export also says per meeting leg whether its meeting had
 * content shared. The counts and concurrency figures are in ./statistics.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type SheetFormat, tableSheet } from '../../accounts/account-spreadsheet.ts';
import type { CallRecordFilter, CallRecords } from '../../cdr/call-records.ts';
import { periodQueryProperties } from '../../cdr/report-period.ts';
import { sendSpreadsheet } from '../route-helpers.ts';

const filterProperties = {
  ...periodQueryProperties,
  type: { type: 'string', enum: ['p2p', 'instant', 'scheduled', 'vmr'] },
  q: { type: 'string', maxLength: 128 },
} as const;

/** The export's "content shared" cell: yes/no for a meeting leg, empty for a point-to-point call. */
function contentCell(shared: number | null | undefined): string {
  return shared === null || shared === undefined ? '' : shared === 1 ? '是 yes' : '否 no';
}

export const callRecordRoutes: FastifyPluginAsync<{ records: CallRecords }> = async (app, { records }) => {
  app.get<{ Querystring: CallRecordFilter & { page: number; pageSize: number } }>(
    '/call-records',
    {
      schema: {
        summary: 'Call records',
        description: 'One row per call leg; q searches subject, meeting ID, caller and callee.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...filterProperties, page: { type: 'integer', minimum: 1, default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
      },
    },
    async (request) => {
      const { page, pageSize, ...filter } = request.query;
      return records.search(filter, { page, pageSize });
    },
  );

  app.get<{ Querystring: CallRecordFilter & { format: SheetFormat } }>(
    '/call-records/export',
    {
      schema: {
        summary: 'Call records as a spreadsheet (same filters)',
        description: 'One row per call; the last column says for a meeting leg whether content was shared in its meeting (empty for point-to-point calls).',
        querystring: { type: 'object', additionalProperties: false, properties: { ...filterProperties, format: { type: 'string', enum: ['xls', 'xlsx', 'csv'], default: 'xlsx' } } },
      },
    },
    async (request, reply) => {
      const { format, ...filter } = request.query;
      const rows = records.forExport(filter);
      const data = tableSheet(
        ['类型 Type', '主题 Subject', '会议号 Meeting ID', '主叫 Caller', '被叫 Callee', '开始 Start', '接通 Answered', '结束 End', '时长(秒) Duration (s)', '结果 Outcome', '结束原因 End reason', '共享内容 Content shared'],
        rows.map((r) => [r.type, r.subject, r.meeting_id, r.caller, r.callee, r.started_at, r.answered_at, r.ended_at, r.duration_s, r.outcome, r.end_reason, contentCell(r.content_shared)]),
        format,
        'Call records',
      );
      return sendSpreadsheet(reply, 'call-records', format, data);
    },
  );
};
