/**
 * The console session: log in (POST /session), who am I (GET), log out (DELETE), change own
 * password and e-mail, and the forgotten-password mail with its one-time link (pointing at the
 * configured service address, server/network/access-url.ts). Logins and their
 * failures go to the audit log; logins and reset requests are rate-limited per address.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { type AdminStore, confirmNewPassword } from '../../admin/admin-store.ts';
import type { SessionStore } from '../../admin/session-store.ts';
import { IDLE_TIMEOUT_MS } from '../../admin/session-store.ts';
import { checkEmail } from '../../accounts/account-store.ts';
import { recordAudit } from '../../audit/audit-log.ts';
import { Captchas } from '../../admin/captcha.ts';
import type { PasswordResets } from '../../admin/password-reset.ts';
import type { Db } from '../../db/database.ts';
import type { Mailer } from '../../mail/mailer.ts';
import { VcboxError, createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { minuteBudget } from '../rate-limit.ts';
import { accessUrlFor } from '../../network/access-url.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';

const log = getLogger('console-session');

const sessionView = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: ['admin', 'operator'] },
    email: { type: ['string', 'null'] },
    mustChangePassword: { type: 'boolean' },
    csrfToken: { type: 'string' },
    idleTimeoutSeconds: { type: 'integer', description: 'the session ends after this long without a request; the console logs out after this long without input' },
  },
} as const;

interface Options {
  readonly db: Db;
  readonly admins: AdminStore;
  readonly sessions: SessionStore;
  readonly resets: PasswordResets;
  readonly mailer: Mailer;
  /** The service URLs the reset link points at (web.accessUrl.*), and the NAT's local networks. */
  readonly settings: SettingsStore;
}

const FORGOT_ANSWER = {
  en: 'If the user name and e-mail match, a reset mail is on its way; its link works for 10 minutes.',
  zh: '如果用户名和邮箱匹配，重置邮件已发出；其中的链接 10 分钟内有效。',
} as const;

export const sessionRoutes: FastifyPluginAsync<Options> = async (app, { db, admins, sessions, resets, mailer, settings }) => {
  const rateLimitLogin = minuteBudget(20);
  const rateLimitForgot = minuteBudget(10);
  const captchas = new Captchas();
  const rateLimitCaptcha = minuteBudget(30);

  app.get(
    '/session/captcha',
    {
      config: { public: true },
      schema: { summary: 'A captcha picture for the forgot-password form', response: { 200: { type: 'object', properties: { id: { type: 'string' }, svg: { type: 'string' } } } } },
    },
    async (request) => {
      rateLimitCaptcha(request.ip);
      return captchas.issue();
    },
  );
  const rateLimitReset = minuteBudget(10);
  const audit = (request: FastifyRequest, actor: string, action: string, detail?: unknown) =>
    recordAudit(db, { actor, source: request.ip, action, detail });
  const view = (request: FastifyRequest, csrfToken?: string) => {
    const admin = request.admin ?? undefined;
    return {
      username: admin?.username,
      role: admin?.role,
      email: admin?.email,
      mustChangePassword: admin?.mustChangePassword,
      csrfToken: csrfToken ?? request.csrfToken,
      idleTimeoutSeconds: IDLE_TIMEOUT_MS / 1000,
    };
  };

  app.post<{ Body: { username: string; password: string } }>(
    '/session',
    {
      config: { public: true, freesSpace: true },
      schema: {
        summary: 'Log in',
        description: 'Answers the session with its CSRF token and sets the session cookie. 5 wrong passwords lock the user out for 3 minutes; one password is checked at a time, the overflow answered VCBOX_ERR_BUSY (503).',
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
      // A browser-session cookie: the idle timeout is the server's (session-store.ts). A Max-Age
      // of 30 minutes, as it once had, dropped the cookie 30 minutes after the login however
      // busy the administrator was.
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        path: '/',
      });
      audit(request, admin.username, 'session.login');
      request.admin = admin;
      return view(request, csrfToken);
    },
  );

  app.post<{ Body: { username: string; email: string; captchaId: string; captcha: string } }>(
    '/session/forgot',
    {
      config: { public: true },
      schema: {
        summary: 'Forgot password: mail a one-time reset link (same answer whether or not the e-mail matches)',
        description: "The link is valid 10 minutes, mailed through the SMTP settings, and built from the service address (web.accessUrl.intranet or web.accessUrl.extranet by where the requester is, else the box's own address), never from the Host header.",
        body: {
          type: 'object',
          required: ['username', 'email', 'captchaId', 'captcha'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 128 },
            email: { type: 'string', minLength: 3, maxLength: 128 },
            captchaId: { type: 'string', maxLength: 64 },
            captcha: { type: 'string', maxLength: 16 },
          },
        },
        response: { 202: { type: 'object', properties: { message: { type: 'string' } } } },
      },
    },
    async (request, reply) => {
      rateLimitForgot(request.ip);
      if (!captchas.check(request.body.captchaId, request.body.captcha)) throw createError('VCBOX_ERR_CAPTCHA');
      const admin = admins.byNameAndEmail(request.body.username, request.body.email);
      audit(request, request.body.username, 'session.password.forgot', { matched: Boolean(admin) });
      if (admin?.email) {
        // The configured service address (or the box's own), never the request's Host header:
        // a forged Host would have the mail carry the reset token to the forger's server.
        const base = accessUrlFor(settings.getAll(), {
          peer: request.ip,
          localAddress: request.socket.localAddress,
          localPort: request.socket.localPort,
          encrypted: request.protocol === 'https',
        });
        const link = `${base}/#/reset/${resets.issue(admin.id)}`;
        // Not awaited: the answer must not take longer when the address matches.
        mailer
          .send({
            to: admin.email,
            subject: 'vcbox: reset your console password / 重置控制台密码',
            text: `Someone asked to reset the password of console user ${admin.username}.\nOpen this link within 10 minutes to choose a new one:\n${link}\n\n如需重置控制台用户 ${admin.username} 的密码，请在 10 分钟内打开上面的链接。\nIf you did not ask for this, ignore this mail.\n`,
          })
          .catch((error: Error) => log.warn({ err: error.message, admin: admin.username }, 'reset mail not sent'));
      }
      const language = request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en';
      return reply.status(202).send({ message: FORGOT_ANSWER[language] });
    },
  );

  app.post<{ Body: { token: string; newPassword: string; confirmPassword: string } }>(
    '/session/reset',
    {
      config: { public: true },
      schema: {
        summary: 'Set a new password with a reset link',
        body: {
          type: 'object',
          required: ['token', 'newPassword', 'confirmPassword'],
          additionalProperties: false,
          properties: {
            token: { type: 'string', minLength: 10, maxLength: 100 },
            newPassword: { type: 'string', minLength: 6, maxLength: 16 },
            confirmPassword: { type: 'string', maxLength: 128 },
          },
        },
      },
    },
    async (request, reply) => {
      rateLimitReset(request.ip);
      confirmNewPassword(request.body.newPassword, request.body.confirmPassword);
      const adminId = resets.consume(request.body.token);
      await admins.resetPassword(adminId, request.body.newPassword);
      sessions.deleteAllOf(adminId);
      audit(request, admins.byId(adminId)?.username ?? '', 'session.password.reset');
      return reply.status(204).send();
    },
  );

  app.get(
    '/session/status',
    {
      config: { public: true },
      schema: {
        summary: 'Whether this browser has a console session (public: the console asks before anything else)',
        response: { 200: { type: 'object', properties: { active: { type: 'boolean' } } } },
      },
    },
    async (request) => {
      const token = request.cookies[SESSION_COOKIE];
      return { active: Boolean(token && sessions.touch(token)) };
    },
  );

  app.get('/session', { schema: { summary: 'The current session', response: { 200: sessionView } } }, async (request) => view(request));

  app.delete('/session', { config: { anyRole: true, freesSpace: true }, schema: { summary: 'Log out' } }, async (request, reply) => {
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
        description: 'Refusals name their field: currentPassword, newPassword or confirmPassword.',
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
      confirmNewPassword(newPassword, confirmPassword); // length rules: the schema and changePassword
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
