/**
 * The console session: log in (POST /session), who am I (GET), log out (DELETE), change own
 * password and e-mail. Logins and their failures go to the audit log; login attempts are also
 * rate-limited per address.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { type AdminStore, checkAdminPassword } from '../../admin/admin-store.ts';
import type { SessionStore } from '../../admin/session-store.ts';
import { IDLE_TIMEOUT_MS } from '../../admin/session-store.ts';
import { checkEmail } from '../../accounts/account-store.ts';
import { recordAudit } from '../../audit/audit-log.ts';
import type { Db } from '../../db/database.ts';
import { VcboxError, createError } from '../../errors.ts';
import { SESSION_COOKIE } from '../auth.ts';

const sessionView = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: ['admin', 'operator'] },
    email: { type: ['string', 'null'] },
    mustChangePassword: { type: 'boolean' },
    csrfToken: { type: 'string' },
  },
} as const;

interface Options {
  readonly db: Db;
  readonly admins: AdminStore;
  readonly sessions: SessionStore;
}

/** Per address: at most 20 login attempts a minute (on top of the per-user lock-out). */
const attempts = new Map<string, { count: number; since: number }>();
function rateLimitLogin(source: string, now = Date.now()): void {
  const entry = attempts.get(source);
  if (!entry || now - entry.since > 60_000) {
    attempts.set(source, { count: 1, since: now });
    return;
  }
  entry.count++;
  if (entry.count > 20) throw createError('VCBOX_ERR_LOGIN_LOCKED', { seconds: Math.ceil((entry.since + 60_000 - now) / 1000) });
}

export const sessionRoutes: FastifyPluginAsync<Options> = async (app, { db, admins, sessions }) => {
  const audit = (request: FastifyRequest, actor: string, action: string, detail?: unknown) =>
    recordAudit(db, { actor, source: request.ip, action, detail });
  const view = (request: FastifyRequest, csrfToken?: string) => {
    const admin = request.admin ?? undefined;
    return { username: admin?.username, role: admin?.role, email: admin?.email, mustChangePassword: admin?.mustChangePassword, csrfToken: csrfToken ?? request.csrfToken };
  };

  app.post<{ Body: { username: string; password: string } }>(
    '/session',
    {
      config: { public: true },
      schema: {
        summary: 'Log in',
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: { username: { type: 'string', minLength: 1, maxLength: 128 }, password: { type: 'string', maxLength: 128 } },
        },
        response: { 200: sessionView },
      },
    },
    async (request, reply: FastifyReply) => {
      rateLimitLogin(request.ip);
      let admin: Awaited<ReturnType<AdminStore['login']>>;
      try {
        admin = await admins.login(request.body.username, request.body.password);
      } catch (error) {
        if (error instanceof VcboxError) audit(request, request.body.username, 'session.login.failed', { code: error.code });
        throw error;
      }
      const { token, csrfToken } = sessions.create(admin.id, request.ip, request.headers['user-agent'] ?? '');
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        path: '/',
        maxAge: IDLE_TIMEOUT_MS / 1000,
      });
      audit(request, admin.username, 'session.login');
      request.admin = admin;
      return view(request, csrfToken);
    },
  );

  app.get('/session', { schema: { summary: 'The current session', response: { 200: sessionView } } }, async (request) => view(request));

  app.delete('/session', { config: { anyRole: true }, schema: { summary: 'Log out' } }, async (request, reply) => {
    if (request.sessionToken) sessions.delete(request.sessionToken);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    audit(request, request.admin?.username ?? '', 'session.logout');
    return reply.status(204).send();
  });

  app.put<{ Body: { currentPassword: string; newPassword: string; confirmPassword: string } }>(
    '/session/password',
    {
      config: { anyRole: true },
      schema: {
        summary: 'Change own password',
        body: {
          type: 'object',
          required: ['currentPassword', 'newPassword', 'confirmPassword'],
          additionalProperties: false,
          properties: {
            currentPassword: { type: 'string', maxLength: 128 },
            newPassword: { type: 'string', minLength: 6, maxLength: 16 },
            confirmPassword: { type: 'string', maxLength: 128 },
          },
        },
      },
    },
    async (request, reply) => {
      const { currentPassword, newPassword, confirmPassword } = request.body;
      if (newPassword !== confirmPassword) throw createError('VCBOX_ERR_PASSWORD_CHANGE', { reason: 'the confirmation differs from the new password' });
      const problem = checkAdminPassword(newPassword);
      if (problem) throw createError('VCBOX_ERR_PASSWORD_CHANGE', { reason: problem });
      const admin = request.admin;
      if (!admin) throw createError('VCBOX_ERR_AUTH_REQUIRED');
      await admins.changePassword(admin.id, currentPassword, newPassword);
      sessions.deleteAllOf(admin.id, request.sessionToken); // other sessions of this user end
      audit(request, admin.username, 'session.password.change');
      return reply.status(204).send();
    },
  );

  app.put<{ Body: { email: string } }>(
    '/session/email',
    {
      config: { anyRole: true },
      schema: {
        summary: 'Change own e-mail',
        body: { type: 'object', required: ['email'], additionalProperties: false, properties: { email: { type: 'string', maxLength: 128 } } },
      },
    },
    async (request, reply) => {
      const problem = checkEmail(request.body.email);
      if (problem) throw createError('VCBOX_ERR_VALIDATION', { field: 'email', reason: problem });
      const admin = request.admin;
      if (!admin) throw createError('VCBOX_ERR_AUTH_REQUIRED');
      admins.setEmail(admin.id, request.body.email);
      audit(request, admin.username, 'session.email.change', { email: request.body.email });
      return reply.status(204).send();
    },
  );
};
