/**
 * GET /statistics (spec "Statistics"): meetings held in a period by type (P2P, instant,
 * scheduled, VMR), how many of them had content shared and the maximum concurrency in that period and ever (participants at once,
 * meetings at once). Figures from ../../cdr/statistics.ts; the call records behind them are
 * listed and exported by ./call-records.ts with the same period parameters.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type PeriodQuery, periodQueryProperties, rangeOf } from '../../cdr/report-period.ts';
import { MeetingStatistics } from '../../cdr/statistics.ts';
import type { Db } from '../../db/database.ts';

const concurrencySchema = {
  type: 'object',
  properties: {
    participants: { type: 'integer', description: 'most meeting participants at once, all meetings together' },
    participantsAt: { type: ['string', 'null'] },
    meetings: { type: 'integer', description: 'most meetings with someone in them at once' },
    meetingsAt: { type: ['string', 'null'] },
  },
} as const;

export const statisticsRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  const statistics = new MeetingStatistics(db);
  app.get<{ Querystring: PeriodQuery }>(
    '/statistics',
    {
      schema: {
        summary: 'Meetings by type and maximum concurrency, for a period and ever',
        description: 'Types: p2p (answered point-to-point calls), instant, scheduled, vmr (meetings, from their first participant). Maximum concurrency: the most meeting participants at once (all meetings, SIP and browsers) and the most meetings at once, with when, kept per UTC day as participants join; point-to-point calls do not count (their media does not pass through the box).',
        querystring: { type: 'object', additionalProperties: false, properties: periodQueryProperties },
        response: {
          200: {
            type: 'object',
            properties: {
              from: { type: ['string', 'null'] },
              to: { type: ['string', 'null'] },
              meetings: {
                type: 'object',
                properties: {
                  p2p: { type: 'integer' },
                  instant: { type: 'integer' },
                  scheduled: { type: 'integer' },
                  vmr: { type: 'integer' },
                  total: { type: 'integer' },
                  participants: { type: 'integer' },
                  withContent: { type: 'integer', description: 'conference meetings in which someone shared content (held the content floor)' },
                },
              },
              maxConcurrency: { type: 'object', properties: { period: concurrencySchema, ever: concurrencySchema } },
            },
          },
        },
      },
    },
    async (request) => {
      const range = rangeOf(request.query);
      return {
        from: range.from?.toISOString() ?? null,
        to: range.to?.toISOString() ?? null,
        meetings: statistics.counts(range),
        maxConcurrency: { period: statistics.maxConcurrency(range), ever: statistics.maxConcurrency({ from: null, to: null }) },
      };
    },
  );
};
