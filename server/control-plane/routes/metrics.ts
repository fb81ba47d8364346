/**
 * Prometheus metrics for operators who already run Prometheus: GET /metrics (outside /api/v1,
 * where scrapers look) in the text exposition format, gathered at each scrape
 * (server/observability/box-metrics.ts). Scrapers cannot log in, so it takes a bearer token
 * (`Authorization: Bearer <token>`; server/observability/metrics-token.ts) — there is none
 * until an administrator creates it, so the metrics are never open by default; without the
 * right token the answer is 401 saying what to do. The token routes are under
 * /api/v1/settings/metrics-token (administrators; the token is shown once; audited).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import { getLogger } from '../../core/logger.ts';
import { type BoxMetricSources, collectBoxMetrics } from '../../observability/box-metrics.ts';
import type { MetricsTokenStore } from '../../observability/metrics-token.ts';
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE } from '../../observability/prometheus-text.ts';
import { auditAction } from '../route-helpers.ts';

const log = getLogger('metrics');

export const metricsRoutes: FastifyPluginAsync<{ tokens: MetricsTokenStore; sources: BoxMetricSources }> = async (app, { tokens, sources }) => {
  app.get('/metrics', { config: { public: true }, schema: { hide: true, summary: 'Prometheus metrics (text format 0.0.4) for the bearer token of /settings/metrics-token' } }, async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const token = header.match(/^Bearer\s+(\S+)$/i)?.[1];
    const verdict = tokens.check(token);
    if (verdict !== 'ok') {
      if (verdict === 'wrong') log.warn({ source: request.ip, given: token ? 'a wrong token' : 'no token' }, 'metrics scrape refused');
      reply.header('www-authenticate', 'Bearer realm="vcbox metrics"');
      throw createError(verdict === 'off' ? 'VCBOX_ERR_METRICS_OFF' : 'VCBOX_ERR_METRICS_TOKEN');
    }
    const families = await collectBoxMetrics(sources);
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(formatPrometheus(families));
  });
};

export const metricsTokenRoutes: FastifyPluginAsync<{ db: Db; tokens: MetricsTokenStore }> = async (app, { db, tokens }) => {
  app.get('/settings/metrics-token', { schema: { summary: 'Whether a Prometheus metrics token is set, when and by whom it was created, when it was last used' } }, async () => tokens.status());

  app.post('/settings/metrics-token', { schema: { summary: 'Create the metrics token (replacing the previous one, which stops working at once); answered once', description: 'Only its SHA-256 is kept.' } }, async (request) => {
    const replaced = tokens.status().set;
    const { token, status } = tokens.create(request.admin?.username ?? '');
    auditAction(db, request, 'metrics.token.create', { replaced });
    return {
      token,
      ...status,
      message: `${replaced ? 'A new token replaces the previous one, which no longer works. ' : ''}Give it to the Prometheus scrape job of this box as its bearer token (authorization: credentials); it is shown only now.`,
    };
  });

  app.delete('/settings/metrics-token', { schema: { summary: 'Remove the metrics token: /metrics answers 401 until a new one is created' } }, async (request) => {
    const removed = tokens.remove();
    auditAction(db, request, 'metrics.token.remove', { removed });
    return { set: false, message: removed ? 'The metrics token is removed: /metrics is off until a new token is created.' : 'There was no metrics token: /metrics is off.' };
  });
};
