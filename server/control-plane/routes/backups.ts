/**
 * Backups (spec "Maintenance"): list (with the automatic schedule and its next run), make one
 * now (`Backup<YYYYMMDDhhmmss>` unless named), download, delete one or many, restore one from
 * the list, or upload a backup file (this box's or another vcbox's) and restore it. Changes need
 * an administrator and the CSRF header (server/control-plane/auth.ts), and so does a download
 * (a backup holds the whole database); operators see the list only. Every backup is encrypted
 * with a passphrase the administrator gives when making it (automatic ones: setting
 * backup.passphrase), and a restore asks for it — in the body from the list, in the header
 * `X-Backup-Passphrase` (percent-encoded UTF-8) with an upload, whose body is the file. Every
 * action is in the operation log (by the stores, or here for downloads). The behaviour is in
 * server/backup/.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import type { BackupRestorer } from '../../backup/backup-restore.ts';
import type { BackupScheduler } from '../../backup/backup-scheduler.ts';
import { BACKUP_NAME_PATTERN, BACKUP_SUFFIX, type BackupStore } from '../../backup/backup-store.ts';
import { createError } from '../../core/errors.ts';
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
    encrypted: { type: 'boolean', description: 'true: a restore needs its passphrase; false: a plain backup of an earlier version' },
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
const passphrase = { type: 'string', maxLength: 256, description: 'the backup\'s passphrase (8-256 characters)' } as const;
/** The header an upload's passphrase travels in (the body is the file). */
const PASSPHRASE_HEADER = 'x-backup-passphrase';

function headerPassphrase(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    throw createError('VCBOX_ERR_VALIDATION', { field: 'passphrase', reason: `send the passphrase in ${PASSPHRASE_HEADER} percent-encoded (encodeURIComponent)` });
  }
}

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

  app.post<{ Body: { name?: string; passphrase?: string } | undefined }>(
    '/backups',
    {
      // Without a body the passphrase is missing: say so in words (the store's check).
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        summary: 'Make a backup now, encrypted with the passphrase given (default name Backup<YYYYMMDDhhmmss>, box local time)',
        description: 'Every backup is encrypted with its passphrase (.vcbackup: scrypt and AES-256-GCM frames); automatic ones with the sealed setting backup.passphrase, and none is made until it is set. The schedule follows backup.auto, backup.period (daily, weekly, monthly), backup.day, backup.time and backup.keep; a change reschedules at once.',
        body: { type: 'object', additionalProperties: false, properties: { name, passphrase } },
        response: { 201: backupInfo },
      },
    },
    async (request, reply) => {
      const backup = await store.create('manual', author(request), request.body?.name, request.body?.passphrase ?? '');
      return reply.status(201).send(backup);
    },
  );

  app.get<{ Params: { name: string } }>(
    '/backups/:name/download',
    { config: { adminOnly: true }, schema: { summary: 'Download a backup file (.vcbackup, encrypted; administrators only)', params: nameParams, produces: ['application/octet-stream', 'application/gzip'] } },
    async (request, reply) => {
      const file = await store.file(request.params.name);
      auditAction(db, request, 'backup.download', { name: request.params.name });
      const fileName = path.basename(file);
      return reply
        .header('content-type', fileName.endsWith(BACKUP_SUFFIX) ? 'application/octet-stream' : 'application/gzip')
        .header('content-disposition', `attachment; filename="${fileName}"`)
        .send(createReadStream(file));
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/backups/:name',
    { config: { freesSpace: true }, schema: { summary: 'Delete a backup', params: nameParams } },
    async (request, reply) => {
      const { deleted } = await store.delete([request.params.name], author(request));
      if (deleted.length === 0) throw createError('VCBOX_ERR_BACKUP_NOT_FOUND', { name: request.params.name, field: 'name' });
      return reply.status(204).send();
    },
  );

  app.post<{ Body: { names: string[] } }>(
    '/backups/delete',
    {
      config: { freesSpace: true },
      schema: {
        summary: 'Delete several backups; answers which were deleted and which did not exist',
        body: { type: 'object', required: ['names'], additionalProperties: false, properties: { names: { type: 'array', minItems: 1, maxItems: 1000, items: name } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'array', items: { type: 'string' } }, notFound: { type: 'array', items: { type: 'string' } } } } },
      },
    },
    async (request) => store.delete(request.body.names, author(request)),
  );

  app.post<{ Params: { name: string }; Body: { passphrase?: string } | undefined }>(
    '/backups/:name/restore',
    {
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        summary: 'Restore a backup from the list with its passphrase: all or nothing; older data is migrated forward, a newer schema is refused',
        params: nameParams,
        body: { type: 'object', additionalProperties: false, properties: { passphrase } },
        response: { 200: restoreResult },
      },
    },
    async (request) => restorer.restoreFromList(request.params.name, author(request), request.sessionToken, request.body?.passphrase || undefined),
  );

  app.post<{ Body: Readable }>(
    '/backups/restore',
    {
      schema: {
        summary: 'Upload a backup file (this box\'s or another vcbox\'s; the body is the file, its passphrase percent-encoded in X-Backup-Passphrase) and restore it: all or nothing',
        consumes: UPLOAD_TYPES,
        headers: { type: 'object', properties: { [PASSPHRASE_HEADER]: { type: 'string', maxLength: 1024 } } },
        response: { 200: restoreResult },
      },
    },
    async (request) => {
      const body = request.body as unknown;
      if (!body || typeof (body as Readable).on !== 'function') {
        throw createError('VCBOX_ERR_VALIDATION', { field: 'file', reason: `send the backup file itself as the body, with Content-Type ${UPLOAD_TYPES.join(' or ')}` });
      }
      const length = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
      const given = headerPassphrase(request.headers[PASSPHRASE_HEADER]);
      return restorer.restoreUpload(body as Readable, Number.isFinite(length) ? length : undefined, author(request), request.sessionToken, given);
    },
  );
};
