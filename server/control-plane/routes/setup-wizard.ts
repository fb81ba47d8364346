/**
 * The first-start setup wizard [001 ch1]: network → time and zone → admin password and e-mail
 * (with the improvement-programme choice, on by default) → license serial → SMTP. Each step is
 * saved or skipped, in any order (back/next is the console's); progress is remembered in the
 * `setup.steps` setting, and "quick setup" starts it again without losing what was set. Once the
 * first start is over (wizard completed once, or quick setup started) the admin step asks for
 * the current password like any password change.
 * The network step stores the local domain (the NICs are set in the system settings); the time
 * step's settings are rendered to the system like any other change of them (server/system);
 * license activation is the licence work's, here the wizard stores the serial to activate —
 * and the licence step's one click, `POST /setup/license/trial`, starts the 14-day trial (the
 * licence store's own rules: once per box, never after a licence) and settles the step as done.
 * A box without a licence refuses new accounts and takes audio only
 * (server/license/license-policy.ts), so the wizard is where a new box gets its trial.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type AdminStore, confirmNewPassword } from '../../admin/admin-store.ts';
import { checkEmail } from '../../accounts/account-store.ts';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import type { LicenseStore } from '../../license/license-store.ts';
import { DOMAIN_PATTERN, DOMAIN_RULE, SETUP_STEPS, type SetupStep, type SetupSteps } from '../../settings/settings-schema.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import type { SystemConfigurator } from '../../system/system-configurator.ts';
import { auditAction } from '../route-helpers.ts';

const stepBodies = {
  network: {
    type: 'object',
    required: ['localDomain'],
    additionalProperties: false,
    properties: { localDomain: { type: 'string', minLength: 1, maxLength: 128, pattern: DOMAIN_PATTERN, description: DOMAIN_RULE } },
  },
  time: {
    type: 'object',
    required: ['mode', 'zone'],
    additionalProperties: false,
    properties: {
      mode: { type: 'string', enum: ['sntp', 'manual'] },
      sntpServer: { type: 'string', maxLength: 128 },
      zone: { type: 'string', pattern: '^UTC[+-](0\\d|1[0-4]):[0-5]\\d$' },
      dst: { type: 'string', enum: ['auto', 'off'] },
    },
  },
  admin: {
    type: 'object',
    required: ['newPassword', 'confirmPassword', 'email'],
    additionalProperties: false,
    properties: {
      currentPassword: { type: 'string', maxLength: 128, description: 'the current password (asked once the first start is over)' },
      newPassword: { type: 'string', minLength: 6, maxLength: 16 },
      confirmPassword: { type: 'string', maxLength: 128 },
      email: { type: 'string', maxLength: 128 },
      improvementProgramme: { type: 'boolean', default: true },
    },
  },
  license: { type: 'object', required: ['serial'], additionalProperties: false, properties: { serial: { type: 'string', minLength: 4, maxLength: 128 } } },
  smtp: {
    type: 'object',
    required: ['server', 'port', 'security', 'sender'],
    additionalProperties: false,
    properties: {
      server: { type: 'string', minLength: 1, maxLength: 128 },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      security: { type: 'string', enum: ['none', 'ssl', 'tls'] },
      user: { type: 'string', maxLength: 128 },
      password: { type: 'string', maxLength: 128 },
      sender: { type: 'string', maxLength: 128 },
    },
  },
} as const;

interface Options {
  readonly db: Db;
  readonly settings: SettingsStore;
  readonly admins: AdminStore;
  readonly system: SystemConfigurator;
  /** The box's licence: the licence step starts the trial through it. */
  readonly license: LicenseStore;
}

export const setupWizardRoutes: FastifyPluginAsync<Options> = async (app, { db, settings, admins, system, license }) => {
  /** The first start is over once the wizard was completed or quick setup was started. */
  const firstStartOver = () => settings.get('setup.firstStartDone') || SETUP_STEPS.every((step) => settings.get('setup.steps')[step] !== 'pending');
  const progress = () => {
    const steps = settings.get('setup.steps');
    const current = SETUP_STEPS.find((step) => steps[step] === 'pending') ?? null;
    return { completed: current === null, current, steps: SETUP_STEPS.map((id) => ({ id, status: steps[id] })), currentPasswordRequired: firstStartOver() };
  };
  const mark = async (step: SetupStep, status: 'done' | 'skipped', actor: string, changes: Record<string, unknown> = {}) => {
    const steps: SetupSteps = { ...settings.get('setup.steps'), [step]: status };
    const completed = SETUP_STEPS.every((id) => steps[id] !== 'pending');
    const changed = settings.update({ ...changes, 'setup.steps': steps, ...(completed ? { 'setup.firstStartDone': true } : {}) }, { actor });
    await system.settingsChanged(changed, settings.getAll());
  };
  const progressView = {
    type: 'object',
    properties: {
      completed: { type: 'boolean' },
      current: { type: ['string', 'null'] },
      steps: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' } } } },
      currentPasswordRequired: { type: 'boolean', description: 'the admin step asks for the current password (the first start is over)' },
    },
  } as const;

  app.get('/setup', { schema: { summary: 'Setup wizard progress', response: { 200: progressView } } }, async () => progress());

  app.post('/setup/restart', { schema: { summary: 'Quick setup: run the wizard again (settings are kept)', response: { 200: progressView } } }, async (request) => {
    settings.update(
      { 'setup.steps': { network: 'pending', time: 'pending', admin: 'pending', license: 'pending', smtp: 'pending' }, 'setup.firstStartDone': true },
      { actor: request.admin?.username ?? '', source: request.ip },
    );
    return progress();
  });

  app.post(
    '/setup/license/trial',
    {
      schema: {
        summary: "The licence step in one click: start the 14-day trial (once per box, on a box that never had a licence) and mark the step done",
        response: { 200: progressView },
      },
    },
    async (request) => {
      const actor = request.admin?.username ?? '';
      license.startTrial({ actor, source: request.ip });
      await mark('license', 'done', actor);
      return progress();
    },
  );

  app.post<{ Params: { step: SetupStep } }>(
    '/setup/:step/skip',
    { schema: { summary: 'Skip a wizard step', params: { type: 'object', properties: { step: { type: 'string', enum: [...SETUP_STEPS] } } }, response: { 200: progressView } } },
    async (request) => {
      await mark(request.params.step, 'skipped', request.admin?.username ?? '');
      return progress();
    },
  );

  for (const step of SETUP_STEPS) {
    app.put<{ Body: Record<string, unknown> }>(
      `/setup/${step}`,
      { schema: { summary: `Save the wizard's ${step} step`, body: stepBodies[step], response: { 200: progressView } } },
      async (request) => {
        const actor = request.admin?.username ?? '';
        const body = request.body;
        switch (step) {
          case 'network':
            await mark(step, 'done', actor, { 'network.localDomain': body.localDomain });
            break;
          case 'time':
            await mark(step, 'done', actor, {
              'time.mode': body.mode,
              'time.zone': body.zone,
              ...(body.sntpServer ? { 'time.sntpServer': body.sntpServer } : {}),
              ...(body.dst ? { 'time.dst': body.dst } : {}),
            });
            break;
          case 'admin': {
            confirmNewPassword(body.newPassword, body.confirmPassword);
            const problem = checkEmail(String(body.email));
            if (problem) throw createError('VCBOX_ERR_VALIDATION', { field: 'email', reason: problem });
            const admin = request.admin;
            if (!admin) throw createError('VCBOX_ERR_AUTH_REQUIRED');
            if (firstStartOver()) {
              // Like any password change: a session left open (or taken) is not enough.
              if (typeof body.currentPassword !== 'string' || body.currentPassword === '') throw createError('VCBOX_ERR_CURRENT_PASSWORD_REQUIRED', { field: 'currentPassword' });
              await admins.changePassword(admin.id, body.currentPassword, String(body.newPassword));
            } else {
              await admins.resetPassword(admin.id, String(body.newPassword));
            }
            admins.setEmail(admin.id, String(body.email));
            auditAction(db, request, 'session.password.change', { by: 'setup wizard' });
            await mark(step, 'done', actor, { 'system.improvementProgramme': body.improvementProgramme ?? true });
            break;
          }
          case 'license':
            await mark(step, 'done', actor, { 'license.pendingSerial': body.serial });
            break;
          case 'smtp': {
            const problem = checkEmail(String(body.sender));
            if (problem) throw createError('VCBOX_ERR_VALIDATION', { field: 'sender', reason: problem });
            await mark(step, 'done', actor, {
              'smtp.server': body.server,
              'smtp.port': body.port,
              'smtp.security': body.security,
              'smtp.user': body.user ?? '',
              'smtp.password': body.password ?? '',
              'smtp.sender': body.sender,
            });
            break;
          }
        }
        return progress();
      },
    );
  }
};
