/**
 * The areas of the control plane's routes, by URL prefix: each route's OpenAPI tag (the
 * chapters of docs/api-reference.md, in this order). A route under no prefix here has no area,
 * and test/foundation/api-reference.test.ts says which one to add.
 */
import type { RouteOptions } from 'fastify';

/** [URL prefix, area]: a route belongs to the longest prefix that is its URL or a parent of it. */
export const ROUTE_AREAS: readonly (readonly [prefix: string, area: string])[] = [
  ['/api/v1/session', 'Session'],
  ['/api/v1/admins', 'Administrators'],
  ['/api/v1/setup', 'Setup wizard'],
  ['/api/v1/dashboard', 'Dashboard'],
  ['/api/v1/system-info', 'System information'],
  ['/api/v1/accounts', 'Accounts'],
  ['/api/v1/online-users', 'Online users'],
  ['/api/v1/rooms', 'Rooms and VMRs'],
  ['/api/v1/vmrs', 'Rooms and VMRs'],
  ['/api/v1/meetings', 'Meetings'],
  ['/api/v1/live-meetings', 'Live meetings'],
  ['/api/v1/layouts', 'Live meetings'],
  ['/api/v1/join', 'Browser join'],
  ['/api/v1/statistics', 'Statistics'],
  ['/api/v1/call-records', 'Call records'],
  ['/api/v1/audit', 'Operation log'],
  ['/api/v1/settings', 'Settings'],
  ['/api/v1/settings/certificate', 'Certificate'],
  ['/api/v1/settings/metrics-token', 'Prometheus metrics'],
  ['/metrics', 'Prometheus metrics'],
  ['/api/v1/ivr', 'IVR prompts'],
  ['/api/v1/disk', 'Disk'],
  ['/api/v1/logs', 'Logs'],
  ['/api/v1/backups', 'Backups'],
  ['/api/v1/license', 'Licence'],
  ['/api/v1/firmware', 'Terminal firmware'],
  ['/provisioning', 'Terminal firmware'],
  ['/api/v1/system', 'System maintenance'],
  ['/api/v1/health', 'Health and API description'],
  ['/api/v1/openapi.json', 'Health and API description'],
  ['/*', 'Console files'],
];

/** The area of a route URL (`/api/v1/accounts/:number` → Accounts), or undefined. */
export function routeArea(url: string): string | undefined {
  let best: readonly [string, string] | undefined;
  for (const entry of ROUTE_AREAS) {
    const [prefix] = entry;
    if ((url === prefix || url.startsWith(`${prefix}/`)) && prefix.length > (best?.[0].length ?? -1)) best = entry;
  }
  return best?.[1];
}

/** onRoute hook: a route without tags gets its area as its OpenAPI tag. */
export function tagByArea(route: RouteOptions): void {
  const area = routeArea(route.url);
  if (area && !route.schema?.tags) route.schema = { ...route.schema, tags: [area] };
}
