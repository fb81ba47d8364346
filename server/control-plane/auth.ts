/**
 * Who may call what. Decided by the route the router matched (never by the raw URL: the router
 * percent-decodes paths and accepts absolute-form request lines, so `/%61pi/v1/admins` and
 * `GET http://box/api/v1/settings` reach the same routes as their plain spelling). Deny by
 * default: every route, wherever it is mounted, needs a console session (cookie
 * `vcbox_session`) unless its config says `public` (health, login, the join page, /metrics with
 * its bearer token, provisioning with HTTP Digest, the console's static files); every request
 * that is not a read (anything but GET/HEAD) also needs the session's `X-CSRF-Token` header and
 * the `admin` role — operators only read, except on routes marked `anyRole` (their own
 * password, e-mail, logout), and may not even read routes marked `adminOnly` (a backup file).
 * Requests no route matched go on to the 404 answer.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Admin, AdminStore } from '../admin/admin-store.ts';
import type { SessionStore } from '../admin/session-store.ts';
import { createError } from '../core/errors.ts';

export const SESSION_COOKIE = 'vcbox_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in administrator (set by the auth hook). */
    admin: Admin | undefined;
    sessionToken: string | undefined;
    csrfToken: string | undefined;
  }
  interface FastifyInstance {
    /** Every route registered, with how it is guarded (for the attack suite and the docs). */
    routeTable(): RouteGuard[];
  }
  interface FastifyContextConfig {
    /** No session needed (health, login, the OpenAPI document); the route checks whatever else it needs. */
    public?: boolean;
    /** A change any logged-in role may make (own password, e-mail, logout). */
    anyRole?: boolean;
    /** Even reading needs the admin role (what is read holds the box's secrets: a backup file). */
    adminOnly?: boolean;
    /** Taken even while the data disk is full (server/disk/disk-space-guard.ts): it frees space, or lets an administrator in to do so. */
    freesSpace?: boolean;
  }
}

/** A registered route and what the auth hook asks of it. */
export interface RouteGuard {
  readonly method: string;
  readonly url: string;
  /** No session needed. */
  readonly public: boolean;
  /** Changes allowed to every logged-in role. */
  readonly anyRole: boolean;
  /** Even reading needs the admin role. */
  readonly adminOnly: boolean;
  /** The route's schema as registered (summary, content types; for the API reference). */
  readonly schema: FastifySchema | undefined;
}

/** Methods that only read: everything else is a change (CSRF token and role checked). */
const READS = new Set(['GET', 'HEAD']);

function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerAuth(app: FastifyInstance, stores: { admins: AdminStore; sessions: SessionStore }): void {
  app.decorateRequest('admin', undefined);
  app.decorateRequest('sessionToken', undefined);
  app.decorateRequest('csrfToken', undefined);
  // Route options are kept as given and read when asked: later onRoute hooks (the static
  // files' "public") still change them after this one has run.
  const routes: { method: string | string[]; url: string; config?: { public?: boolean; anyRole?: boolean; adminOnly?: boolean }; schema?: FastifySchema }[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route as (typeof routes)[number]);
  });
  app.decorate('routeTable', () =>
    routes.flatMap((route) =>
      [route.method].flat().map((method) => ({ method, url: route.url, public: route.config?.public === true, anyRole: route.config?.anyRole === true, adminOnly: route.config?.adminOnly === true, schema: route.schema })),
    ),
  );
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    // No route matched: the not-found handler answers 404 and nothing else runs.
    if (request.is404) return;
    const config = request.routeOptions.config;
    if (config.public === true) return;
    const token = request.cookies[SESSION_COOKIE];
    const session = token ? stores.sessions.touch(token) : undefined;
    const admin = session ? stores.admins.byId(session.adminId) : undefined;
    if (!token || !session || !admin) throw createError('VCBOX_ERR_AUTH_REQUIRED');
    request.admin = admin;
    request.sessionToken = token;
    request.csrfToken = session.csrfToken;
    if (config.adminOnly && admin.role !== 'admin') throw createError('VCBOX_ERR_FORBIDDEN_ROLE', { role: admin.role });
    if (READS.has(request.method)) return;
    if (!sameToken(request.headers['x-csrf-token'], session.csrfToken)) throw createError('VCBOX_ERR_CSRF');
    if (admin.role !== 'admin' && config.anyRole !== true) throw createError('VCBOX_ERR_FORBIDDEN_ROLE', { role: admin.role });
  });
}
