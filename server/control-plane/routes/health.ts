/**
 * GET /api/v1/health: is the control plane up, which version, which database schema. Open
 * without login on purpose (monitoring and the supervisor probe it); it reveals nothing an
 * unauthenticated LAN user could misuse beyond the version.
 */
import type { FastifyPluginAsync } from 'fastify';
import { BUILD_INFO } from '../../core/version.ts';
import { monotonicMs } from '../../core/clock.ts';

const startedAt = Date.now();
/** Uptime on the monotonic clock (the wall clock may be set meanwhile); `startedAt` is for people. */
const startedMonotonic = monotonicMs();

export const healthRoutes: FastifyPluginAsync<{ schemaVersion: () => number }> = async (app, { schemaVersion }) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        summary: 'Whether the control plane is up: version, build, uptime, database schema version',
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              version: { type: 'string' },
              buildTime: { type: 'string' },
              build: { type: 'string', description: 'release build id (UTC YYYYMMDDhhmmss); empty when running from a source tree' },
              uptimeSeconds: { type: 'number' },
              startedAt: { type: 'string', description: 'when this control plane process started (a restart changes it)' },
              schemaVersion: { type: 'integer' },
            },
          },
        },
      },
    },
    async () => ({
      status: 'ok',
      version: BUILD_INFO.version,
      buildTime: BUILD_INFO.buildTime,
      build: BUILD_INFO.build,
      uptimeSeconds: Math.round((monotonicMs() - startedMonotonic) / 1000),
      startedAt: new Date(startedAt).toISOString(),
      schemaVersion: schemaVersion(),
    }),
  );
};
