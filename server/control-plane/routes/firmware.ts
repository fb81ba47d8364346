/**
 * Terminal firmware (spec "Maintenance"; manual 001 ch4 设备升级) for administrators: the files
 * per model with the latest marked, the models of the terminals registered now, the quota;
 * upload (the body is the .rom file, streamed; it becomes the latest of its model), replace or
 * delete a file that is not the latest, make a file the latest again; "update now" for a model
 * (every registered terminal of the model whose version differs is sent a check-sync NOTIFY)
 * and each terminal's progress. Changes need an administrator and the CSRF header
 * (server/control-plane/auth.ts); every one is in the operation log (by the store and the
 * rollout). What terminals fetch is ./provisioning.ts; the behaviour is in server/firmware/.
 */
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccountStore } from '../../accounts/account-store.ts';
import { createError } from '../../core/errors.ts';
import type { FirmwareRollout } from '../../firmware/firmware-rollout.ts';
import { type FirmwareStore, modelKey } from '../../firmware/firmware-store.ts';
import type { OnlineLookup } from './online-users.ts';
import { PROVISIONING_PREFIX } from './provisioning.ts';

interface Options {
  readonly store: FirmwareStore;
  readonly rollout: FirmwareRollout;
  readonly accounts: AccountStore;
  readonly online: OnlineLookup;
}

const UPLOAD_TYPES = ['application/octet-stream'];
const model = { type: 'string', minLength: 1, maxLength: 128, description: 'the terminal model as the terminals report it (1 to 128 characters), e.g. Yealink SIP-VC800' } as const;
const fileName = { type: 'string', minLength: 1, maxLength: 255, description: 'the uploaded file\'s name, ending in .rom' } as const;
const version = { type: 'string', maxLength: 64, description: 'the software version the file holds (read from the file name when left out)' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } } as const;
const firmwareInfo = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    model: { type: 'string' },
    version: { type: 'string' },
    fileName: { type: 'string' },
    size: { type: 'integer', description: 'bytes' },
    sha256: { type: 'string' },
    latest: { type: 'boolean', description: 'the file pushed to the model\'s terminals' },
    uploadedAt: { type: 'string', format: 'date-time' },
    uploadedBy: { type: 'string' },
    replacedAt: { type: ['string', 'null'] },
    missing: { type: 'boolean', description: 'the file is not on disk and cannot be served' },
  },
} as const;
const nullableText = { type: ['string', 'null'] } as const;
const progressRow = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    firmwareId: { type: 'integer' },
    account: { type: 'string' },
    name: { type: 'string', description: 'the account\'s name' },
    terminal: { type: 'string', description: 'its instance id, else its address' },
    model: { type: 'string' },
    address: nullableText,
    fromVersion: { type: 'string' },
    targetVersion: { type: 'string' },
    state: { type: 'string', enum: ['notifying', 'notified', 'notify-failed', 'downloaded', 'updated'] },
    requestedAt: nullableText,
    requestedBy: nullableText,
    notifiedAt: nullableText,
    notifyStatus: { type: ['integer', 'null'] },
    notifyError: nullableText,
    downloadedAt: nullableText,
    seenVersion: nullableText,
    seenAt: nullableText,
    updatedAt: nullableText,
    online: { type: 'boolean' },
    currentVersion: nullableText,
  },
} as const;

/** The upload's body as a stream, or a refusal in words. */
function uploadBody(request: FastifyRequest): { body: Readable; length: number | undefined } {
  const body = request.body as unknown;
  if (!body || typeof (body as Readable).on !== 'function') {
    throw createError('VCBOX_ERR_VALIDATION', { field: 'file', reason: `send the firmware file itself as the body, with Content-Type ${UPLOAD_TYPES.join(' or ')}` });
  }
  const header = request.headers['content-length'];
  const length = header === undefined ? undefined : Number(header);
  return { body: body as Readable, length: Number.isFinite(length) ? length : undefined };
}

export const firmwareRoutes: FastifyPluginAsync<Options> = async (app, { store, rollout, accounts, online }) => {
  // Uploads are streamed to disk by the store, which enforces the size limit and the quota itself.
  for (const type of UPLOAD_TYPES) app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  const author = (request: FastifyRequest) => ({ actor: request.admin?.username ?? '', source: request.ip });

  app.get(
    '/firmware',
    {
      schema: {
        summary: 'Firmware files by model (the latest marked), the models and versions of the terminals registered now, the quota and upload limit',
        response: {
          200: {
            type: 'object',
            properties: {
              files: { type: 'array', items: firmwareInfo },
              registered: {
                type: 'array',
                description: 'models of the terminals registered now, with how many report each version',
                items: {
                  type: 'object',
                  properties: {
                    model: { type: 'string' },
                    terminals: { type: 'integer' },
                    versions: { type: 'array', items: { type: 'object', properties: { version: { type: 'string' }, terminals: { type: 'integer' } } } },
                  },
                },
              },
              usedBytes: { type: 'integer' },
              quotaBytes: { type: 'integer', description: 'disk.quota.firmwareGB' },
              maxUploadBytes: { type: 'integer' },
              provisioningPath: { type: 'string', description: 'where terminals fetch (their provisioning server URL)' },
            },
          },
        },
      },
    },
    async () => {
      const models = new Map<string, { model: string; terminals: number; versions: Map<string, number> }>();
      for (const { bindings } of online()) {
        for (const binding of bindings) {
          const key = modelKey(binding.model);
          const entry = models.get(key) ?? { model: binding.model, terminals: 0, versions: new Map<string, number>() };
          entry.terminals++;
          entry.versions.set(binding.version, (entry.versions.get(binding.version) ?? 0) + 1);
          models.set(key, entry);
        }
      }
      return {
        files: store.list(),
        registered: [...models.values()]
          .sort((a, b) => a.model.localeCompare(b.model))
          .map((m) => ({ model: m.model, terminals: m.terminals, versions: [...m.versions].sort().map(([v, terminals]) => ({ version: v, terminals })) })),
        usedBytes: store.usedBytes(),
        quotaBytes: store.quotaBytes(),
        maxUploadBytes: store.maxUploadBytes,
        provisioningPath: `${PROVISIONING_PREFIX}/`,
      };
    },
  );

  app.post<{ Querystring: { model: string; fileName: string; version?: string }; Body: Readable }>(
    '/firmware',
    {
      schema: {
        summary: 'Upload a firmware file (.rom) for a terminal model; the body is the file. It becomes the model\'s latest',
        description: 'The version is read from the file name (e.g. VC800-63.345.0.20.rom) when not given. All files together stay within disk.quota.firmwareGB: a full quota refuses the upload rather than overwrite old firmware.',
        consumes: UPLOAD_TYPES,
        querystring: { type: 'object', required: ['model', 'fileName'], additionalProperties: false, properties: { model, fileName, version } },
        response: { 201: firmwareInfo },
      },
    },
    async (request, reply) => {
      const { body, length } = uploadBody(request);
      const saved = await store.upload(body, length, request.query, author(request));
      return reply.status(201).send(saved);
    },
  );

  app.put<{ Params: { id: number }; Querystring: { fileName: string; version?: string }; Body: Readable }>(
    '/firmware/:id/file',
    {
      schema: {
        summary: 'Replace the file of a firmware that is not the latest (the body is the new .rom file)',
        consumes: UPLOAD_TYPES,
        params: idParams,
        querystring: { type: 'object', required: ['fileName'], additionalProperties: false, properties: { fileName, version } },
        response: { 200: firmwareInfo },
      },
    },
    async (request) => {
      const { body, length } = uploadBody(request);
      return store.replace(request.params.id, body, length, request.query, author(request));
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/firmware/:id',
    { schema: { summary: 'Delete a firmware that is not the latest of its model', params: idParams } },
    async (request, reply) => {
      store.delete(request.params.id, author(request));
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { id: number } }>(
    '/firmware/:id/latest',
    { schema: { summary: 'Make this file the latest of its model (the one "update now" pushes)', params: idParams, response: { 200: firmwareInfo } } },
    async (request) => store.makeLatest(request.params.id, author(request)),
  );

  app.post<{ Body: { model: string } }>(
    '/firmware/update',
    {
      schema: {
        summary: 'Update now: every registered terminal of the model whose version differs from its latest firmware is told to upgrade (check-sync NOTIFY)',
        description: "The NOTIFY carries Event: check-sync;reboot=false and Subscription-State: terminated, sent to the terminal's registered contact.",
        body: { type: 'object', required: ['model'], additionalProperties: false, properties: { model } },
        response: {
          200: {
            type: 'object',
            properties: {
              firmware: firmwareInfo,
              told: { type: 'array', items: progressRow },
              upToDate: {
                type: 'array',
                items: { type: 'object', properties: { account: { type: 'string' }, terminal: { type: 'string' }, address: { type: 'string' }, version: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const outcome = await rollout.updateNow(request.body.model, author(request));
      return { ...outcome, told: outcome.told.map((row) => ({ ...row, name: accounts.findByNumber(row.account)?.name ?? '' })) };
    },
  );

  app.get<{ Querystring: { model?: string } }>(
    '/firmware/progress',
    {
      schema: {
        summary: 'Each terminal\'s firmware update: notified (NOTIFY answered), downloaded (the whole file served), updated (registered again with the new version)',
        description: "Per terminal (its instance id, else its address); kept in the database, so it survives the terminal's and the box's restarts.",
        querystring: { type: 'object', additionalProperties: false, properties: { model } },
        response: { 200: { type: 'array', items: progressRow } },
      },
    },
    async (request) => rollout.progress(request.query.model).map((row) => ({ ...row, name: accounts.findByNumber(row.account)?.name ?? '' })),
  );
};
