/**
 * Disk (spec "Network & services": storage path with used/free, quotas per part, "clean now"
 * per part, alert mail above 80 %): what each part uses against its quota — the server logs per
 * module against its share —, the storage path's file system (used, free, total; shown, not
 * changed here: it is the data directory of the process configuration), the alert's state, and
 * "clean now" for a part or one server-log module (audited as `disk.clean`). The quotas
 * themselves are settings (PATCH /settings, with the minimum and sum rules:
 * server/disk/disk-quota-rules.ts); what lives on the disk is server/disk/.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import { DISK_PARTS, type DiskPartId, type DiskParts, MODULE_NAMES, PART_NAMES } from '../../disk/disk-parts.ts';
import { ALERT_ABOVE_PERCENT, ALERT_REARM_PERCENT, type DiskKeeper } from '../../disk/disk-keeper.ts';
import { createError } from '../../core/errors.ts';
import { LOG_MODULES, type LogModule } from '../../logs/system-log-files.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { auditAction } from '../route-helpers.ts';

interface Options {
  readonly db: Db;
  readonly settings: SettingsStore;
  readonly parts: DiskParts;
  /** The quota and alert check (absent in a process that does not run it). */
  readonly keeper?: DiskKeeper;
}

const RULES = {
  minimum: 'Each quota is a whole number of GB, at least the larger of the part\'s default and what it uses now.',
  sum: 'The quotas of the parts on one disk add up to no more than its free space plus what those parts use now.',
  overwrite: 'When a part is full its oldest files are deleted (server logs: each module within its share); the file a process is writing is kept.',
};

export const diskRoutes: FastifyPluginAsync<Options> = async (app, { db, settings, parts, keeper }) => {
  app.get(
    '/disk',
    {
      schema: {
        summary: 'Disk: the storage path (used / free / total), each part\'s use against its quota (server logs per module), the quota rules and the 80 % alert',
        description:
          'Sizes in bytes, quotas in whole GB (1024³ bytes). `storagePath.changeable` is false: the storage path is the data directory set in the process configuration. `filesystems` lists the storage path\'s file system and, when the logs are on another one, that one.',
      },
    },
    async () => {
      const usage = await parts.usage(settings.getAll());
      return {
        ...usage,
        rules: RULES,
        alert: {
          enabled: settings.get('disk.alertAbove80'),
          abovePercent: ALERT_ABOVE_PERCENT,
          rearmPercent: ALERT_REARM_PERCENT,
          nextCheck: keeper?.nextRun()?.toISOString() ?? null,
          states: keeper?.alerts() ?? [],
        },
      };
    },
  );

  app.post<{ Body: { part: DiskPartId; module?: LogModule } }>(
    '/disk/clean',
    {
      config: { freesSpace: true },
      schema: {
        summary: '"Clean now": delete a part\'s files, or one server-log module\'s (the file a process is writing is emptied, not deleted)',
        body: {
          type: 'object',
          required: ['part'],
          additionalProperties: false,
          properties: {
            part: { type: 'string', enum: [...DISK_PARTS], description: `one of ${DISK_PARTS.join(', ')}` },
            module: { type: 'string', enum: [...LOG_MODULES], description: `with part serverLogs only: one of ${LOG_MODULES.join(', ')}` },
          },
        },
      },
    },
    async (request) => {
      const { part, module } = request.body;
      if (module && part !== 'serverLogs') throw createError('VCBOX_ERR_VALIDATION', { field: 'module', reason: 'a module is given only with the part serverLogs' });
      const removal = await parts.clean(part, { actor: request.admin?.username ?? '', source: request.ip }, module);
      const what = `${PART_NAMES[part].en}${module ? ` (${MODULE_NAMES[module]})` : ''}`;
      auditAction(db, request, 'disk.clean', { part, ...(module ? { module } : {}), deleted: removal.deleted.length, truncated: removal.truncated, freedBytes: removal.freedBytes });
      // The alert and the chart follow at once rather than at the next minute.
      void keeper?.check();
      const emptied = removal.truncated.length > 0 ? ` Emptied ${removal.truncated.length} file(s) a process is writing: ${removal.truncated.join(', ')}.` : '';
      return {
        part,
        ...(module ? { module } : {}),
        deleted: removal.deleted.length,
        truncated: removal.truncated,
        freedBytes: removal.freedBytes,
        message: `Cleaned the ${what}: deleted ${removal.deleted.length} file(s), ${removal.freedBytes} bytes freed.${emptied}`,
      };
    },
  );
};
