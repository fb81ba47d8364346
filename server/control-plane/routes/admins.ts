/**
 * Console administrators (beyond the manual's single admin): list, add (role `admin` or the
 * read-only `operator`), remove. Only admins may change them; removing oneself is refused.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AdminStore } from '../../admin/admin-store.ts';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import { auditAction } from '../route-helpers.ts';

const adminView = {
  type: 'object',
  properties: { id: { type: 'integer' }, username: { type: 'string' }, email: { type: ['string', 'null'] }, role: { type: 'string' } },
} as const;

export const adminRoutes: FastifyPluginAsync<{ db: Db; admins: AdminStore }> = async (app, { db, admins }) => {
  app.get('/admins', { schema: { summary: 'List console administrators', response: { 200: { type: 'array', items: adminView } } } }, async () => admins.list());

  app.post<{ Body: { username: string; password: string; email?: string; role: 'admin' | 'operator' } }>(
    '/admins',
    {
      schema: {
        summary: 'Add a console administrator',
        body: {
          type: 'object',
          required: ['username', 'password', 'role'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            password: { type: 'string', minLength: 6, maxLength: 16 },
            email: { type: 'string', maxLength: 128 },
            role: { type: 'string', enum: ['admin', 'operator'] },
          },
        },
        response: { 201: adminView },
      },
    },
    async (request, reply) => {
      const admin = await admins.create({ ...request.body, mustChangePassword: true });
      auditAction(db, request, 'admin.create', { username: admin.username, role: admin.role });
      return reply.status(201).send(admin);
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/admins/:id',
    { schema: { summary: 'Remove a console administrator', params: { type: 'object', properties: { id: { type: 'integer' } } } } },
    async (request, reply) => {
      if (request.params.id === request.admin?.id) throw createError('VCBOX_ERR_VALIDATION', { field: 'id', reason: 'you cannot remove yourself' });
      const target = admins.byId(request.params.id);
      if (!target || !admins.delete(request.params.id)) throw createError('VCBOX_ERR_NOT_FOUND', { method: 'DELETE', url: request.url });
      auditAction(db, request, 'admin.delete', { username: target.username });
      return reply.status(204).send();
    },
  );
};
