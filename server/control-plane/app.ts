/**
 * The control plane's HTTP application (Fastify): the versioned JSON API under /api/v1 and
 * the web console's static files from web/. Built by `buildApp` so tests can start it on any
 * port; the process entry point is ./main.ts. Errors reach callers as
 * `{ code, message, field? }` from the one error table (server/errors.ts).
 */
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { PROJECT_ROOT } from '../config/config.ts';
import { VcboxError, createError } from '../errors.ts';
import { getLogger } from '../logging/logger.ts';
import type { AppState } from '../process/open-state.ts';
import { healthRoutes } from './routes/health.ts';

const log = getLogger('control-plane');

export const API_PREFIX = '/api/v1';

export interface AppOptions {
  readonly state: AppState;
  /** Folder served as the console; defaults to the project's web/. */
  readonly webRoot?: string;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, trustProxy: false });

  app.addHook('onResponse', async (request, reply) => {
    log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof VcboxError) {
      const language = request.headers['accept-language']?.startsWith('zh') ? 'zh' : 'en';
      return reply.status(error.statusCode).send({ code: error.code, message: error.localized(language), ...error.params });
    }
    const fastifyError = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      return reply.status(fastifyError.statusCode).send({ code: fastifyError.code ?? 'VCBOX_ERR_REQUEST', message: fastifyError.message });
    }
    log.error({ err: error, url: request.url }, 'request failed');
    return reply.status(500).send({ code: 'VCBOX_ERR_INTERNAL', message: 'Internal error; the server log has the details.' });
  });

  app.setNotFoundHandler((request, reply) => {
    const error = createError('VCBOX_ERR_NOT_FOUND', { method: request.method, url: request.url });
    return reply.status(404).send({ code: error.code, message: error.message });
  });

  await app.register(healthRoutes, { prefix: API_PREFIX, state: options.state });
  await app.register(fastifyStatic, { root: options.webRoot ?? path.join(PROJECT_ROOT, 'web'), index: 'index.html' });
  return app;
}
