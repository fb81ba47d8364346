/**
 * Who may call the API: every route under /api/v1 needs a console session (cookie
 * `vcbox_session`) unless its config says `public`; every change (POST/PUT/PATCH/DELETE) also
 * needs the session's `X-CSRF-Token` header and the `admin` role — operators only read, except
 * on routes marked `anyRole` (their own password, e-mail, logout), and may not even read routes
 * marked `adminOnly` (a backup file).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Admin, AdminStore } from '../admin/admin-store.ts';
import type { SessionStore } from '../admin/session-store.ts';
import { createError } from '../errors.ts';

export const SESSION_COOKIE = 'vcbox_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in administrator (set by the auth hook). */
    admin: Admin | undefined;
    sessionToken: string | undefined;
    csrfToken: string | undefined;
  }
  interface FastifyContextConfig {
    /** No session needed (health, login, the OpenAPI document). */
    public?: boolean;
    /** A change any logged-in role may make (own password, e-mail, logout). */
    anyRole?: boolean;
    /** Even reading needs the admin role (what is read holds the box's secrets: a backup file). */
    adminOnly?: boolean;
  }
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function registerAuth(app: FastifyInstance, stores: { admins: AdminStore; sessions: SessionStore }): void {
  app.decorateRequest('admin', undefined);
  app.decorateRequest('sessionToken', undefined);
  app.decorateRequest('csrfToken', undefined);
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!request.url.startsWith('/api/')) return;
    const config = request.routeOptions.config;
    if (config.public) return;
    const token = request.cookies[SESSION_COOKIE];
    const session = token ? stores.sessions.touch(token) : undefined;
    const admin = session ? stores.admins.byId(session.adminId) : undefined;
    if (!token || !session || !admin) throw createError('VCBOX_ERR_AUTH_REQUIRED');
    request.admin = admin;
    request.sessionToken = token;
    request.csrfToken = session.csrfToken;
    if (config.adminOnly && admin.role !== 'admin') throw createError('VCBOX_ERR_FORBIDDEN_ROLE', { role: admin.role });
    if (!CHANGES.has(request.method)) return;
    if (request.headers['x-csrf-token'] !== session.csrfToken) throw createError('VCBOX_ERR_CSRF');
    if (admin.role !== 'admin' && !config.anyRole) throw createError('VCBOX_ERR_FORBIDDEN_ROLE', { role: admin.role });
  });
}
