/**
 * System maintenance (spec "Maintenance": system upgrade, factory reset, reboot): the running
 * version and build time, an upgrade's upload and its progress, the two factory resets and the
 * reboot. Changes need an administrator and the CSRF header (server/control-plane/auth.ts);
 * the destructive ones an explicit `"confirm": true`. Every action is in the operation log (the
 * upgrade's steps by server/upgrade/system-upgrade.ts, the reset by its own transaction, the
 * reboot here). Jobs that restart the services are handed over only after the answer has been
 * sent: the control plane answering may be among what restarts. The behaviour lives in
 * server/upgrade/ and server/maintenance/.
 */
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../db/database.ts';
import { createError, type ErrorCode, type Language } from '../../core/errors.ts';
import type { FactoryReset, ResetScope } from '../../maintenance/factory-reset.ts';
import { type MaintenanceRequest, newJobId, type UpgradeStatus } from '../../maintenance/maintenance-files.ts';
import type { MaintenanceDispatch } from '../../maintenance/maintenance-dispatch.ts';
import type { SystemUpgrade } from '../../upgrade/system-upgrade.ts';
import { auditAction } from '../route-helpers.ts';

interface Options {
  readonly db: Db;
  readonly upgrade: SystemUpgrade;
  readonly reset: FactoryReset;
  readonly dispatch: MaintenanceDispatch;
}

const UPLOAD_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream'];
const releaseInfo = {
  type: 'object',
  properties: { version: { type: 'string' }, build: { type: 'string' }, buildTime: { type: 'string' }, release: { type: 'string' } },
} as const;
const upgradeStatus = {
  type: ['object', 'null'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['requested', 'installing', 'checking', 'restarting', 'health-check', 'rolling-back', 'installed', 'rolled-back', 'failed'] },
    from: releaseInfo,
    to: releaseInfo,
    key: { type: 'string', description: 'which trusted key signed the package: vendor, or test where the test key is configured' },
    requestedAt: { type: 'string' },
    requestedBy: { type: 'object', properties: { actor: { type: 'string' }, source: { type: 'string' } } },
    updatedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    restarted: { type: 'boolean', description: 'whether the services were restarted onto the new version (false: it runs from their next start)' },
    code: { type: 'string', description: 'why it did not stay installed (rolled-back, failed)' },
    message: { type: 'string', description: 'that reason in words, in the language asked for' },
    steps: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, step: { type: 'string' }, detail: { type: 'string' } } } },
  },
} as const;
// `confirm` may be left out: the refusal then says what the action would do (requireConfirm).
const confirmBody = (extra: Record<string, unknown> = {}, required: string[] = []) =>
  ({
    type: 'object',
    required,
    additionalProperties: false,
    properties: { confirm: { type: 'boolean', description: 'true: the administrator confirmed the consequence' }, ...extra },
  }) as const;

const languageOf = (request: FastifyRequest): Language => (request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en');

/** The status as answered: the outcome's reason in words, in the caller's language. */
function shownStatus(status: UpgradeStatus | null | undefined, language: Language) {
  if (!status) return null;
  const { outcome, ...rest } = status;
  return outcome ? { ...rest, code: outcome.code, message: createError(outcome.code as ErrorCode, { ...outcome.params }).localized(language) } : rest;
}

/** Runs `job` once the answer has left (or the client has gone). */
function afterAnswer(reply: FastifyReply, job: () => Promise<unknown>): void {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    setImmediate(() => void job());
  };
  reply.raw.once('finish', run);
  reply.raw.once('close', run);
}

/** Refuses a destructive action that was not confirmed, saying what it would do. */
function requireConfirm(confirm: boolean | undefined, what: { action: string; actionZh: string; consequence: string; consequenceZh: string }): void {
  if (confirm !== true) throw createError('VCBOX_ERR_CONFIRM_REQUIRED', { ...what, field: 'confirm' });
}

const RESET_WORDS: Record<ResetScope, { action: string; actionZh: string; consequence: string; consequenceZh: string }> = {
  settings: {
    action: 'A factory reset of the settings',
    actionZh: '恢复出厂设置（仅系统设置）',
    consequence: 'Every setting goes back to its default; meeting history, call records and logs are deleted; accounts, rooms and meetings are kept.',
    consequenceZh: '所有设置恢复默认值；历史会议、通话记录和日志将被删除；账号、会议室和会议保留。',
  },
  all: {
    action: 'A full factory reset',
    actionZh: '完全恢复出厂设置',
    consequence: 'All data of the box is deleted — accounts, rooms, meetings, records, administrators, backups — except the licence; the box starts like new.',
    consequenceZh: '除授权外，设备的全部数据——账号、会议室、会议、记录、管理员、备份——都将被删除；设备如新设备一样启动。',
  },
};

export const systemRoutes: FastifyPluginAsync<Options> = async (app, { db, upgrade, reset, dispatch }) => {
  // Release packages are streamed to disk by the upgrade, which enforces the size limit itself.
  for (const type of UPLOAD_TYPES) app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  const author = (request: FastifyRequest) => ({ actor: request.admin?.username ?? '', source: request.ip });

  app.get(
    '/system',
    {
      schema: {
        summary: 'The running version and build time, whether the box can be upgraded (and who restarts it), and the last upgrade',
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              build: { type: 'string', description: 'release build id, UTC YYYYMMDDhhmmss; empty when running from a source tree' },
              buildTime: { type: 'string' },
              commit: { type: 'string' },
              release: { type: ['string', 'null'], description: 'the release folder `current` points to' },
              installRoot: { type: ['string', 'null'] },
              upgradable: { type: 'boolean' },
              notUpgradable: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
              restart: { type: 'string', enum: ['systemd', 'supervisor', 'none'], description: 'who restarts the services: an appliance\'s systemd, the dev run command\'s supervisor, or nobody' },
              maxUploadBytes: { type: 'integer' },
              lastUpgrade: upgradeStatus,
            },
          },
        },
      },
    },
    async (request) => {
      const about = await upgrade.about();
      const language = languageOf(request);
      return {
        version: about.version,
        build: about.build,
        buildTime: about.buildTime,
        commit: about.commit,
        release: about.release,
        installRoot: about.installRoot,
        upgradable: about.upgradable.ok,
        notUpgradable: about.upgradable.ok ? null : { code: about.upgradable.code, message: about.upgradable.error.localized(language) },
        restart: about.restart,
        maxUploadBytes: about.maxUploadBytes,
        lastUpgrade: shownStatus(about.last, language),
      };
    },
  );

  app.get(
    '/system/upgrade',
    { schema: { summary: 'The last (or running) upgrade: its state, steps and outcome', response: { 200: { type: 'object', properties: { upgrade: upgradeStatus } } } } },
    async (request) => ({ upgrade: shownStatus((await upgrade.about()).last, languageOf(request)) }),
  );

  app.post<{ Body: Readable }>(
    '/system/upgrade',
    {
      schema: {
        summary: 'Upload a release package (.tar.gz, the body): verified in full, then installed; the services restart onto it and a failed health check rolls back',
        consumes: UPLOAD_TYPES,
        response: {
          202: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              state: { type: 'string' },
              from: releaseInfo,
              to: releaseInfo,
              key: { type: 'string' },
              restart: { type: 'string', enum: ['systemd', 'supervisor', 'none'] },
              message: { type: 'string' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as unknown;
      if (!body || typeof (body as Readable).on !== 'function') {
        throw createError('VCBOX_ERR_VALIDATION', { field: 'file', reason: `send the release package itself as the body, with Content-Type ${UPLOAD_TYPES.join(' or ')}` });
      }
      const length = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
      const { answer, request: job } = await upgrade.accept(body as Readable, Number.isFinite(length) ? length : undefined, author(request));
      afterAnswer(reply, () => upgrade.handOver(job));
      return reply.status(202).send(answer);
    },
  );

  /** No body at all is treated as an empty one, so a missing confirmation gets its own answer. */
  const emptyBody = async (request: FastifyRequest) => {
    if (request.body === undefined || request.body === null) request.body = {};
  };

  app.post<{ Body: { scope: ResetScope; confirm?: boolean } }>(
    '/system/factory-reset',
    {
      preValidation: emptyBody,
      schema: {
        summary: 'Factory reset: scope "settings" (settings to defaults; history, call records and logs deleted; accounts, rooms, meetings kept) or "all" (everything but the licence); the services restart afterwards where they can',
        body: confirmBody({ scope: { type: 'string', enum: ['settings', 'all'], description: 'settings or all' } }, ['scope']),
        response: {
          200: {
            type: 'object',
            properties: {
              scope: { type: 'string' },
              removed: { type: 'object', additionalProperties: { type: 'integer' } },
              kept: { type: 'object', additionalProperties: { type: 'integer' } },
              settingsChanged: { type: 'array', items: { type: 'string' } },
              logFiles: { type: 'object', properties: { truncated: { type: 'integer' }, removed: { type: 'integer' } } },
              foldersEmptied: { type: 'array', items: { type: 'string' } },
              initialPasswordFile: { type: 'string', description: 'full reset: where the new first password of "admin" is' },
              restart: { type: 'string', enum: ['requested', 'needed'], description: 'requested: the services restart now; needed: restart them yourself for every default to apply' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { scope, confirm } = request.body;
      requireConfirm(confirm, RESET_WORDS[scope]);
      await upgrade.assertIdle();
      const who = author(request);
      const result = await reset.reset(scope, who);
      const restart = dispatch.canRestart ? 'requested' : 'needed';
      if (dispatch.canRestart) {
        const job: MaintenanceRequest = { id: newJobId(), kind: 'restart', requestedAt: new Date().toISOString(), by: who };
        afterAnswer(reply, () => dispatch.handOver(job));
      }
      const removedRows = Object.values(result.removed).reduce((sum, n) => sum + n, 0);
      return {
        ...result,
        restart,
        message:
          `${scope === 'all' ? 'The box was reset to its factory state' : 'The settings were reset'}: ${removedRows} rows removed.` +
          (scope === 'all' ? ` Log in as admin with the password in ${result.initialPasswordFile}.` : '') +
          (restart === 'requested' ? ' The services restart now.' : ' Restart the services for every default to take effect.'),
      };
    },
  );

  app.post<{ Body: { confirm?: boolean } }>(
    '/system/reboot',
    {
      preValidation: emptyBody,
      schema: {
        summary: 'Reboot: the operating system on an appliance; the services on a dev machine (the answer comes first)',
        body: confirmBody(),
        response: { 202: { type: 'object', properties: { action: { type: 'string', enum: ['reboot', 'restart-services'] }, message: { type: 'string' } } } },
      },
    },
    async (request, reply) => {
      requireConfirm(request.body.confirm, {
        action: 'A reboot',
        actionZh: '重启',
        consequence: 'Calls and meetings in progress end; the console is back in a few minutes.',
        consequenceZh: '进行中的通话和会议将结束；控制台将在几分钟后恢复。',
      });
      dispatch.assertCanRestart();
      await upgrade.assertIdle();
      const action = dispatch.manager === 'systemd' ? 'reboot' : 'restart-services';
      auditAction(db, request, 'system.reboot', { action });
      const job: MaintenanceRequest = { id: newJobId(), kind: 'reboot', requestedAt: new Date().toISOString(), by: author(request) };
      afterAnswer(reply, () => dispatch.handOver(job));
      return reply.status(202).send({
        action,
        message: action === 'reboot' ? 'The box reboots now; the console is back in a few minutes.' : 'The services restart now; the console is back in a moment.',
      });
    },
  );
};
