/**
 * The dashboard (spec "Dashboard & status", refreshed by the console every 10 s):
 * GET /dashboard — system time and zone, uptime, version, online users and live meetings
 * (counts; the lists are /online-users and /live-meetings), the licence (placeholder), the
 * newest system sample and each service's status; GET /dashboard/history — one metric's
 * line chart (CPU, memory, network, disk) over the last minutes (up to the sampler's 24 h),
 * bounded in points, with the box's time zone for the chart's time labels. Media ports in use
 * follow the manual's rule (../../meetings/media-ports.ts: 6 a call, 8 with content).
 * Sampling is ../../observability/system-sampler.ts, service status
 * ../../observability/service-health.ts.
 */
import os from 'node:os';
import type { FastifyPluginAsync } from 'fastify';
import type { MeetingFloors } from '../../bfcp/meeting-floors.ts';
import type { LiveMeetings } from '../../meetings/live-meetings.ts';
import { callsThatFit, liveCalls, portsInUse, rangeSize } from '../../meetings/media-ports.ts';
import type { ServiceHealth } from '../../observability/service-health.ts';
import { METRICS, type Metric, type SystemSample, type SystemSampler } from '../../observability/system-sampler.ts';
import type { LicenseFacts } from '../../license/license-store.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { zoneName } from '../../system/time-zones.ts';
import { BUILD_INFO } from '../../core/version.ts';
import type { OnlineLookup } from './online-users.ts';

export interface DashboardRouteOptions {
  readonly settings: SettingsStore;
  readonly live: LiveMeetings;
  readonly online: OnlineLookup;
  readonly health: ServiceHealth;
  /** Absent: no system figures (`system: null`, empty charts). */
  readonly sampler?: SystemSampler;
  /** The licence's facts (status, concurrent ports, expiry); absent: `license: null`. */
  readonly license?: () => LicenseFacts;
  /** Who can send or receive content (a call with a content line takes 8 media ports); absent: nobody. */
  readonly floors?: () => MeetingFloors | undefined;
}

const nullableNumber = { type: ['number', 'null'] } as const;

const sampleSchema = {
  type: ['object', 'null'],
  properties: {
    at: { type: 'string' },
    cpuPercent: nullableNumber,
    memory: { type: ['object', 'null'], properties: { usedBytes: { type: 'number' }, totalBytes: { type: 'number' }, percent: { type: 'number' } } },
    network: {
      type: 'array',
      items: { type: 'object', properties: { iface: { type: 'string' }, rxBytesPerSecond: nullableNumber, txBytesPerSecond: nullableNumber } },
    },
    disk: {
      type: ['object', 'null'],
      properties: {
        path: { type: 'string' },
        usedBytes: { type: 'number' },
        totalBytes: { type: 'number' },
        percent: { type: 'number' },
        readsPerSecond: nullableNumber,
        writesPerSecond: nullableNumber,
      },
    },
  },
} as const;

const serviceSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', enum: ['control-plane', 'signaling', 'media'] },
    status: { type: 'string', enum: ['up', 'down', 'unknown'] },
    pid: { type: ['integer', 'null'] },
    uptimeSeconds: { type: ['integer', 'null'] },
    detail: { type: 'string' },
    meetings: { type: 'integer' },
    rttMs: { type: 'number' },
  },
} as const;

function licenseView(facts: LicenseFacts, portsInUse: number) {
  return { status: facts.status, type: facts.type, ports: facts.ports, portsInUse, validUntil: facts.validUntil, daysLeft: facts.daysLeft };
}

export const dashboardRoutes: FastifyPluginAsync<DashboardRouteOptions> = async (app, { settings, live, online, health, sampler, license, floors }) => {
  app.get(
    '/dashboard',
    {
      schema: {
        summary: 'Dashboard: time, uptime, version, counts, licence, the newest system sample, service status',
        description: 'Service status per process: control-plane (up while it answers), signaling (up while the SIP application holds its authenticated connection to the signaling service), media (up when its control socket answers a ping within 1 s), turn (up when the relay answers a STUN Binding request within 1 s; off when turned off in the settings); unknown for a service this process runs without.',
        response: {
          200: {
            type: 'object',
            properties: {
              time: { type: 'string' },
              timeZone: { type: 'string' },
              uptimeSeconds: { type: 'integer', description: 'the machine’s' },
              version: { type: 'string' },
              buildTime: { type: 'string' },
              onlineUsers: { type: 'integer', description: 'accounts with a registered terminal' },
              onlineDevices: { type: 'integer' },
              liveMeetings: { type: 'integer' },
              participants: { type: 'integer', description: 'in all live meetings' },
              license: {
                type: ['object', 'null'],
                description: 'the licence: status, type, concurrent ports, ports in use (meeting participants now), expiry',
                properties: {
                  status: { type: 'string' },
                  type: { type: ['string', 'null'] },
                  ports: { type: ['integer', 'null'] },
                  portsInUse: { type: 'integer' },
                  validUntil: { type: ['string', 'null'] },
                  daysLeft: { type: ['integer', 'null'] },
                },
              },
              mediaPorts: {
                type: 'object',
                description: "the meetings' media ports by the manual's rule (a call takes 6 ports, 8 when it sends or receives content) against the MCU port range (media.mcuPorts)",
                properties: {
                  inUse: { type: 'integer', description: 'ports the live calls take' },
                  contentCalls: { type: 'integer', description: 'live calls with a content line' },
                  range: { type: 'integer', description: 'ports in the MCU range' },
                  callsThatFit: { type: 'integer', description: 'more calls without content that fit' },
                  contentCallsThatFit: { type: 'integer', description: 'more calls with content that fit' },
                },
              },
              system: sampleSchema,
              sampling: {
                type: ['object', 'null'],
                properties: { intervalSeconds: { type: 'number' }, samples: { type: 'integer' }, capacity: { type: 'integer' }, lastCostMs: nullableNumber },
              },
              services: { type: 'array', items: serviceSchema },
            },
          },
        },
      },
    },
    async () => {
      const users = online();
      const meetings = live.list().filter((m) => m.participants.size > 0);
      const latest = sampler?.latest();
      const participants = meetings.reduce((n, m) => n + m.participants.size, 0);
      const floor = floors?.();
      const calls = liveCalls(meetings, floor && ((meeting, id) => floor.canPresent(meeting, id)));
      const inUse = portsInUse(calls);
      const range = settings.get('media.mcuPorts');
      return {
        time: new Date().toISOString(),
        timeZone: settings.get('time.zone'),
        uptimeSeconds: Math.round(os.uptime()),
        version: BUILD_INFO.version,
        buildTime: BUILD_INFO.buildTime,
        onlineUsers: users.filter((u) => u.bindings.length > 0).length,
        onlineDevices: users.reduce((n, u) => n + u.bindings.length, 0),
        liveMeetings: meetings.length,
        participants,
        license: license ? licenseView(license(), participants) : null,
        mediaPorts: {
          inUse,
          contentCalls: calls.filter((c) => c.content).length,
          range: rangeSize(range),
          callsThatFit: callsThatFit(range, inUse, false),
          contentCallsThatFit: callsThatFit(range, inUse, true),
        },
        system: latest ? presentSample(latest) : null,
        sampling: sampler ? { intervalSeconds: sampler.intervalMs / 1000, samples: sampler.size, capacity: sampler.capacity, lastCostMs: sampler.lastCostMs } : null,
        services: await health.status(),
      };
    },
  );

  app.get<{ Querystring: { metric: Metric; minutes: number; iface?: string; maxPoints: number } }>(
    '/dashboard/history',
    {
      schema: {
        summary: 'One metric over the last minutes, for the dashboard charts (averaged down to at most maxPoints points)',
        description: 'Sampled every 10 s into 8 640 samples (24 hours, in memory: empty after a restart); network: one interface or all summed; timeZone (from time.zone and time.dst) for the time labels.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['metric'],
          properties: {
            metric: { type: 'string', enum: [...METRICS] },
            minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 },
            iface: { type: 'string', maxLength: 64, description: 'network: one interface (default: all summed)' },
            maxPoints: { type: 'integer', minimum: 10, maximum: 1440, default: 360 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              metric: { type: 'string' },
              minutes: { type: 'integer' },
              intervalSeconds: nullableNumber,
              timeZone: { type: ['string', 'null'], description: 'the box’s tz database zone (from time.zone and time.dst), for the chart’s time labels' },
              interfaces: { type: 'array', items: { type: 'string' } },
              points: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    at: { type: 'string' },
                    percent: nullableNumber,
                    usedBytes: nullableNumber,
                    totalBytes: nullableNumber,
                    rxBytesPerSecond: nullableNumber,
                    txBytesPerSecond: nullableNumber,
                    readsPerSecond: nullableNumber,
                    writesPerSecond: nullableNumber,
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const { metric, minutes, iface, maxPoints } = request.query;
      return {
        metric,
        minutes,
        intervalSeconds: sampler ? sampler.intervalMs / 1000 : null,
        timeZone: zoneName(settings.get('time.zone'), settings.get('time.dst') === 'auto' ? 'auto' : 'off') ?? null,
        interfaces: sampler?.interfaces() ?? [],
        points: sampler?.series(metric, minutes, { maxPoints, ...(iface ? { iface } : {}) }) ?? [],
      };
    },
  );
};

function presentSample(s: SystemSample) {
  const percent = (used: number, total: number) => (total > 0 ? Math.round((1000 * used) / total) / 10 : 0);
  return {
    at: new Date(s.at).toISOString(),
    cpuPercent: s.cpuPercent,
    memory: s.memory ? { ...s.memory, percent: percent(s.memory.usedBytes, s.memory.totalBytes) } : null,
    network: s.network,
    disk: s.disk ? { ...s.disk, percent: percent(s.disk.usedBytes, s.disk.totalBytes) } : null,
  };
}
