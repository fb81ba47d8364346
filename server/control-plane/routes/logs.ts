/**
 * Logs (spec "Logs"): the system logs per module (Web, SIP, MCU, TURN) — which days each holds —
 * and their export for a date range as one ZIP; the terminal logs — the terminals that have one
 * (IP, model, version, accounts, online or offline as the registrar sees them now), filtered by
 * model and online/offline and searched, one terminal's messages newest first with a search,
 * and the export of one or many as a ZIP. Terminal logs on/off is the setting
 * `terminalLogs.enabled` (PATCH /settings). Exports are audited (`logs.export`,
 * `logs.terminals.export`). The files are server/logs/; the operation log is routes/audit.ts.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import { isLogModule, LOG_MODULES, type SystemLogFiles } from '../../logs/system-log-files.ts';
import { isTerminalLogId, type TerminalLogFiles, type TerminalLogSummary } from '../../logs/terminal-log-files.ts';
import { ZIP_MAX_BYTES, ZIP_MAX_ENTRIES, type ZipEntry, zipStream } from '../../logs/zip-writer.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { MODULE_NAMES } from '../../disk/disk-parts.ts';
import { auditAction } from '../route-helpers.ts';
import type { OnlineLookup } from './online-users.ts';

interface Options {
  readonly db: Db;
  readonly settings: SettingsStore;
  readonly systemLogs: SystemLogFiles;
  readonly terminalLogs: TerminalLogFiles;
  readonly online: OnlineLookup;
}

const DAY = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a day YYYY-MM-DD' } as const;
const MODULE_LIST = { type: 'string', pattern: '^(web|sip|mcu|turn)(,(web|sip|mcu|turn))*$', description: 'modules separated by commas: web, sip, mcu, turn' } as const;
const ID_LIST = { type: 'string', maxLength: 20_000, pattern: '^[0-9A-Za-z._]{1,80}(,[0-9A-Za-z._]{1,80})*$', description: 'terminal log ids (GET /logs/terminals) separated by commas' } as const;
const terminalFilter = {
  model: { type: 'string', maxLength: 128, description: 'only this model (as listed in `models`)' },
  status: { type: 'string', enum: ['all', 'online', 'offline'], default: 'all' },
  q: { type: 'string', maxLength: 128, description: 'part of the IP, model or an account' },
} as const;

interface TerminalFilter {
  model?: string;
  status: 'all' | 'online' | 'offline';
  q?: string;
}

interface Terminal extends TerminalLogSummary {
  readonly online: boolean;
}

/** A real day: YYYY-MM-DD that the calendar has. */
function isDay(value: string): boolean {
  const at = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().startsWith(value);
}

function sizeInWords(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.ceil(bytes / 1024 ** 2)} MB`;
}

function sendZip(reply: FastifyReply, name: string, entries: ZipEntry[]): FastifyReply {
  return reply.header('content-type', 'application/zip').header('content-disposition', `attachment; filename="${name}.zip"`).send(zipStream(entries));
}

/** Refuses an export beyond what one ZIP without ZIP64 holds. */
function checkExportSize(entries: readonly { size?: number }[]): void {
  const total = entries.reduce((sum, e) => sum + (e.size ?? 0), 0);
  if (total > ZIP_MAX_BYTES || entries.length > ZIP_MAX_ENTRIES) throw createError('VCBOX_ERR_LOG_EXPORT_TOO_BIG', { size: sizeInWords(total), max: sizeInWords(ZIP_MAX_BYTES) });
}

export const logRoutes: FastifyPluginAsync<Options> = async (app, { db, settings, systemLogs, terminalLogs, online }) => {
  /** Every terminal with a log, with online/offline and, while online, the model its binding has now. */
  const terminals = async (): Promise<Terminal[]> => {
    const bindings = new Map<string, { model: string; version: string }>();
    for (const { bindings: list } of online()) for (const b of list) bindings.set(b.source.address, { model: b.model, version: b.version });
    return (await terminalLogs.list()).map((summary) => {
      const binding = bindings.get(summary.ip);
      return { ...summary, ...(binding?.model ? { model: binding.model, version: binding.version } : {}), online: binding !== undefined };
    });
  };
  const filtered = (list: Terminal[], filter: TerminalFilter): Terminal[] => {
    const q = filter.q?.trim().toLowerCase();
    return list.filter(
      (t) =>
        (!filter.model || t.model === filter.model) &&
        (filter.status === 'all' || (filter.status === 'online') === t.online) &&
        (!q || t.ip.toLowerCase().includes(q) || t.model.toLowerCase().includes(q) || t.accounts.some((a) => a.toLowerCase().includes(q))),
    );
  };

  app.get(
    '/logs/system',
    { schema: { summary: 'System logs per module (web, sip, mcu, turn): the days each holds, with sizes' } },
    async () => {
      const modules = [];
      for (const module of LOG_MODULES) {
        const files = await systemLogs.list(module);
        const days = new Map<string, { date: string; bytes: number; files: number }>();
        for (const file of files) {
          const day = days.get(file.date) ?? { date: file.date, bytes: 0, files: 0 };
          day.bytes += file.size;
          day.files += 1;
          days.set(file.date, day);
        }
        modules.push({ id: module, name: MODULE_NAMES[module], bytes: files.reduce((sum, f) => sum + f.size, 0), files: files.length, days: [...days.values()] });
      }
      return { modules, maxExportBytes: ZIP_MAX_BYTES };
    },
  );

  app.get<{ Querystring: { modules?: string; from: string; to: string } }>(
    '/logs/system/export',
    {
      schema: {
        summary: 'The system logs of some modules for a date range (whole days, the box\'s local time) as a ZIP',
        querystring: { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { modules: MODULE_LIST, from: DAY, to: DAY } },
      },
    },
    async (request, reply) => {
      const { from, to } = request.query;
      const modules = (request.query.modules ?? LOG_MODULES.join(',')).split(',').filter(isLogModule);
      if (!isDay(from) || !isDay(to)) throw createError('VCBOX_ERR_LOG_RANGE', { from, to, reason: 'not a day of the calendar', reasonZh: '不是有效的日期', field: isDay(from) ? 'to' : 'from' });
      if (from > to) throw createError('VCBOX_ERR_LOG_RANGE', { from, to, reason: 'the first day is after the last', reasonZh: '开始日期晚于结束日期', field: 'from' });
      const files = await systemLogs.between(modules, from, to);
      const names = modules.map((m) => MODULE_NAMES[m]).join(', ');
      if (files.length === 0) {
        const days = (await Promise.all(modules.map((m) => systemLogs.list(m)))).flat().map((f) => f.date).sort();
        const first = days[0];
        const last = days.at(-1);
        throw createError('VCBOX_ERR_LOG_EXPORT_EMPTY', {
          modules: names,
          from,
          to,
          available: first ? `The box has these logs from ${first} to ${last}.` : 'The box has none of these logs yet.',
          availableZh: first ? `本设备有 ${first} 至 ${last} 的这些日志。` : '本设备尚无这些日志。',
          field: 'from',
        });
      }
      const entries = files.map((file) => ({ name: `${file.module}/${file.name}`, path: file.path, size: file.size, mtimeMs: file.mtimeMs }));
      checkExportSize(entries);
      auditAction(db, request, 'logs.export', { modules, from, to, files: entries.length, bytes: entries.reduce((sum, e) => sum + e.size, 0) });
      return sendZip(reply, `vcbox-logs-${modules.join('-')}-${from}_${to}`, entries);
    },
  );

  app.get<{ Querystring: TerminalFilter & { page: number; pageSize: number } }>(
    '/logs/terminals',
    {
      schema: {
        summary: 'Terminals with a log (IP, model, version, accounts, online/offline now), filtered by model and status, searched; paged',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...terminalFilter, page: { type: 'integer', minimum: 1, default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
      },
    },
    async (request) => {
      const all = await terminals();
      const matching = filtered(all, request.query);
      const { page, pageSize } = request.query;
      return {
        enabled: settings.get('terminalLogs.enabled'),
        total: matching.length,
        page,
        pageSize,
        terminals: matching.slice((page - 1) * pageSize, page * pageSize),
        models: [...new Set(all.map((t) => t.model).filter(Boolean))].sort(),
      };
    },
  );

  app.get<{ Querystring: TerminalFilter & { ids?: string } }>(
    '/logs/terminals/export',
    {
      schema: {
        summary: 'Terminal logs as a ZIP: the terminals named by `ids`, or every one the filter matches',
        querystring: { type: 'object', additionalProperties: false, properties: { ...terminalFilter, ids: ID_LIST } },
      },
    },
    async (request, reply) => {
      const ids = request.query.ids ? [...new Set(request.query.ids.split(','))] : filtered(await terminals(), request.query).map((t) => t.id);
      const entries: ZipEntry[] = [];
      for (const id of ids) {
        const files = await terminalLogs.filesOf(id);
        if (files.length === 0) throw createError('VCBOX_ERR_TERMINAL_LOG_NOT_FOUND', { id, field: 'ids' });
        for (const file of files) entries.push({ name: `terminals/${file.name}`, path: file.path, size: file.size, mtimeMs: file.mtimeMs });
      }
      if (entries.length === 0) throw createError('VCBOX_ERR_TERMINAL_LOG_NOT_FOUND', { id: '(none matches the filter)', field: 'ids' });
      checkExportSize(entries);
      auditAction(db, request, 'logs.terminals.export', { ids, files: entries.length });
      return sendZip(reply, ids.length === 1 ? `vcbox-terminal-log-${ids[0]}` : `vcbox-terminal-logs-${ids.length}`, entries);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { q?: string; page: number; pageSize: number } }>(
    '/logs/terminals/:id',
    {
      schema: {
        summary: 'One terminal\'s log: its REGISTER/SUBSCRIBE messages and the box\'s answers, newest first, searched; paged',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80 } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            q: { type: 'string', maxLength: 128, description: 'text the message contains (any case)' },
            page: { type: 'integer', minimum: 1, default: 1 },
            pageSize: { type: 'integer', minimum: 1, maximum: 200, default: 20 },
          },
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const entries = isTerminalLogId(id) ? await terminalLogs.entries(id) : undefined;
      const terminal = (await terminals()).find((t) => t.id === id);
      if (!entries || !terminal) throw createError('VCBOX_ERR_TERMINAL_LOG_NOT_FOUND', { id });
      const q = request.query.q?.trim().toLowerCase();
      const matching = (q ? entries.filter((e) => e.text.toLowerCase().includes(q)) : entries).reverse();
      const { page, pageSize } = request.query;
      return { terminal, total: matching.length, page, pageSize, entries: matching.slice((page - 1) * pageSize, page * pageSize) };
    },
  );
};
