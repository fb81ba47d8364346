/**
 * Backups (spec "Maintenance"): list (with the automatic schedule and its next run), make one
 * now (`Backup<YYYYMMDDhhmmss>` unless named), download, delete one or many, restore one from
 * the list, or upload a backup file (this box's or another vcbox's) and restore it. Changes need
 * an administrator and the CSRF header (server/control-plane/auth.ts); every action is in the
 * operation log (by the stores, or here for downloads). The behaviour is in server/backup/.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import type { BackupRestorer } from '../../backup/backup-restore.ts';
import type { BackupScheduler } from '../../backup/backup-scheduler.ts';
import { BACKUP_NAME_PATTERN, type BackupStore } from '../../backup/backup-store.ts';
import { createError } from '../../errors.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { auditAction } from '../route-helpers.ts';

interface Options {
  readonly db: Db;
  readonly store: BackupStore;
  readonly restorer: BackupRestorer;
  readonly settings: SettingsStore;
  /** The automatic schedule (absent in processes that do not run it). */
  readonly scheduler?: BackupScheduler;
}

const name = { type: 'string', pattern: BACKUP_NAME_PATTERN, description: 'letters, digits, - and _ (1-64)' } as const;
const nameParams = { type: 'object', required: ['name'], properties: { name } } as const;
const backupInfo = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    size: { type: 'integer', description: 'bytes' },
    createdAt: { type: 'string', format: 'date-time' },
    kind: { type: 'string', enum: ['manual', 'auto', 'unknown'] },
    productVersion: { type: 'string' },
    schemaVersion: { type: 'integer' },
    host: { type: 'string', description: 'the box that made it' },
    problem: { type: 'string', description: 'why the file cannot be read (kind unknown)' },
  },
} as const;
const restoreResult = {
  type: 'object',
  properties: {
    restored: { type: 'string' },
    from: { type: 'string', enum: ['list', 'upload'] },
    createdAt: { type: 'string' },
    productVersion: { type: 'string' },
    host: { type: 'string' },
    schemaVersion: { type: 'object', properties: { backup: { type: 'integer' }, box: { type: 'integer' } } },
    migrated: { type: 'array', items: { type: 'integer' }, description: 'schema migrations applied to the backup\'s data' },
    rows: { type: 'integer' },
    files: { type: 'object', properties: { certificates: { type: 'integer' }, prompts: { type: 'integer' } } },
    settingsChanged: { type: 'array', items: { type: 'string' } },
    appliedNow: { type: 'array', items: { type: 'string' } },
    restartRequired: { type: 'array', items: { type: 'string' } },
    sessionKept: { type: 'boolean', description: 'whether the caller is still logged in (the restored data has the same administrator)' },
    message: { type: 'string' },
  },
} as const;
const UPLOAD_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

export const backupRoutes: FastifyPluginAsync<Options> = async (app, { db, store, restorer, settings, scheduler }) => {
  // Uploads are streamed to disk by the restorer, which enforces the size limit itself.
  for (const type of UPLOAD_TYPES) app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  const author = (request: { admin?: { username: string } | undefined; ip: string }) => ({ actor: request.admin?.username ?? '', source: request.ip });

  app.get(
    '/backups',
    {
      schema: {
        summary: 'Backups, newest first (name, size, created, kind manual/auto), and the automatic schedule with its next run',
        response: {
          200: {
            type: 'object',
            properties: {
              backups: { type: 'array', items: backupInfo },
              auto: {
                type: 'object',
                properties: {
                  enabled: { type: 'boolean' },
                  period: { type: 'string' },
                  day: { type: 'integer' },
                  time: { type: 'string' },
                  keep: { type: 'integer' },
                  nextRun: { type: ['string', 'null'] },
                },
              },
              maxUploadBytes: { type: 'integer' },
            },
          },
        },
      },
    },
    async () => {
      const s = settings.getAll();
      return {
        backups: await store.list(),
        auto: { enabled: s['backup.auto'], period: s['backup.period'], day: s['backup.day'], time: s['backup.time'], keep: s['backup.keep'], nextRun: scheduler?.nextRun()?.toISOString() ?? null },
        maxUploadBytes: restorer.maxUploadBytes,
      };
    },
  );

  app.post<{ Body: { name?: string } | undefined }>(
    '/backups',
    {
      // No body at all is the usual call (default name): validate it as an empty object.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        summary: 'Make a backup now (default name Backup<YYYYMMDDhhmmss>, box local time)',
        body: { type: 'object', additionalProperties: false, properties: { name } },
        response: { 201: backupInfo },
      },
    },
    async (request, reply) => {
      const backup = await store.create('manual', author(request), request.body?.name);
      return reply.status(201).send(backup);
    },
  );

  app.get<{ Params: { name: string } }>(
    '/backups/:name/download',
    { schema: { summary: 'Download a backup file (.tar.gz)', params: nameParams, produces: ['application/gzip'] } },
    async (request, reply) => {
      const file = await store.file(request.params.name);
      auditAction(db, request, 'backup.download', { name: request.params.name });
      return reply
        .header('content-type', 'application/gzip')
        .header('content-disposition', `attachment; filename="${request.params.name}.tar.gz"`)
        .send(createReadStream(file));
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/backups/:name',
    { schema: { summary: 'Delete a backup', params: nameParams } },
    async (request, reply) => {
      const { deleted } = await store.delete([request.params.name], author(request));
      if (deleted.length === 0) throw createError('VCBOX_ERR_BACKUP_NOT_FOUND', { name: request.params.name, field: 'name' });
      return reply.status(204).send();
    },
  );

  app.post<{ Body: { names: string[] } }>(
    '/backups/delete',
    {
      schema: {
        summary: 'Delete several backups; answers which were deleted and which did not exist',
        body: { type: 'object', required: ['names'], additionalProperties: false, properties: { names: { type: 'array', minItems: 1, maxItems: 1000, items: name } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: { type: 'string' } }, notFound: { type: 'array', items: { type: 'string' } } } } },
      },
    },
    async (request) => store.delete(request.body.names, author(request)),
  );

  app.post<{ Params: { name: string } }>(
    '/backups/:name/restore',
    {
      schema: {
        summary: 'Restore a backup from the list: all or nothing; older data is migrated forward, a newer schema is refused',
        params: nameParams,
        response: { 200: restoreResult },
      },
    },
    async (request) => restorer.restoreFromList(request.params.name, author(request), request.sessionToken),
  );

  app.post<{ Body: Readable }>(
    '/backups/restore',
    {
      schema: {
        summary: 'Upload a backup file (this box\'s or another vcbox\'s; the body is the .tar.gz) and restore it: all or nothing',
        consumes: UPLOAD_TYPES,
        response: { 200: restoreResult },
      },
    },
    async (request) => {
      const body = request.body as unknown;
      if (!body || typeof (body as Readable).on !== 'function') {
        throw createError('VCBOX_ERR_VALIDATION', { field: 'file', reason: `send the backup file itself as the body, with Content-Type ${UPLOAD_TYPES.join(' or ')}` });
      }
      const length = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
      return restorer.restoreUpload(body as Readable, Number.isFinite(length) ? length : undefined, author(request), request.sessionToken);
    },
  );
};
