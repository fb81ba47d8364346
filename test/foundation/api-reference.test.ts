/**
 * docs/api-reference.md never goes stale: it is regenerated here from the control plane built
 * in-process (every optional part on) and must equal the committed file. Every route has a
 * summary and an area (its OpenAPI tag); the access shown is what the auth hook's route table
 * says; the renderer writes a schema's rules (required, lengths, ranges, enums, patterns,
 * nested fields) as the document has them.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { describeApi } from '../../scripts/api-reference/describe-api.ts';
import { BUILD_COMMAND, referenceRoutes, renderReference } from '../../scripts/api-reference/render-reference.ts';
import { REFERENCE_FILE } from '../../scripts/build-api-reference.ts';
import { ROUTE_AREAS, routeArea } from '../../server/control-plane/route-areas.ts';
import { ERRORS } from '../../server/core/errors.ts';

const api = await describeApi();
const routes = referenceRoutes(api, routeArea);

t.test('the committed reference is the one the control plane describes now', async (t) => {
  const expected = renderReference({ api, areas: ROUTE_AREAS, areaOf: routeArea, errors: ERRORS });
  const committed = readFileSync(REFERENCE_FILE, 'utf8');
  const a = committed.split('\n');
  const b = expected.split('\n');
  const line = a.findIndex((text, index) => text !== b[index]);
  const first = line === -1 && a.length === b.length ? undefined : line === -1 ? Math.min(a.length, b.length) : line;
  t.equal(first, undefined, `docs/api-reference.md is stale from line ${(first ?? 0) + 1} (committed: ${JSON.stringify(a[first ?? 0])}, now: ${JSON.stringify(b[first ?? 0])}): run ${BUILD_COMMAND}`);
});

t.test('every route has a summary and an area', async (t) => {
  t.ok(routes.length > 100, `${routes.length} routes`);
  for (const route of routes) {
    t.ok(route.summary ?? route.description, `${route.method} ${route.path} has a summary (add schema.summary to the route)`);
    t.ok(route.area, `${route.method} ${route.path} has an area (add its prefix to ROUTE_AREAS in server/control-plane/route-areas.ts)`);
  }
  for (const [path, operations] of Object.entries(api.document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) t.ok(operation.tags?.length, `${method.toUpperCase()} ${path} carries its area as an OpenAPI tag`);
  }
});

t.test('every route of the route table is in the reference, with the access the auth hook gives it', async (t) => {
  const text = readFileSync(REFERENCE_FILE, 'utf8');
  const gets = new Set(api.routes.filter((route) => route.method === 'GET').map((route) => route.url));
  for (const route of api.routes) {
    if (route.method === 'HEAD' && gets.has(route.url)) continue;
    const path = route.url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}');
    t.ok(text.includes(`### \`${route.method} ${path}\``), `${route.method} ${route.url} is in the reference`);
  }
  const access = (method: string, path: string) => routes.find((route) => route.method === method && route.path === path);
  t.match(access('POST', '/api/v1/session'), { access: 'public', csrf: false }, 'log-in is public');
  t.match(access('GET', '/api/v1/accounts'), { access: 'operator', csrf: false }, 'reading accounts: any console session');
  t.match(access('POST', '/api/v1/accounts'), { access: 'administrator', csrf: true }, 'creating an account: administrators, with the CSRF token');
  t.match(access('PUT', '/api/v1/session/password'), { access: 'operator', csrf: true }, 'own password: either role, with the CSRF token');
  t.match(access('GET', '/api/v1/backups/{name}/download'), { access: 'administrator', csrf: false }, 'a backup file: administrators only, even to read');
  t.match(access('GET', '/api/v1/join/ws'), { access: 'public', documented: false }, 'the join socket: public, not in the OpenAPI document');
});

t.test('the renderer writes what a schema says', async (t) => {
  const text = renderReference({
    api: {
      document: {
        paths: {
          '/api/v1/things/{id}': {
            patch: {
              summary: 'Change a thing',
              tags: ['Things'],
              parameters: [
                { in: 'path', name: 'id', required: true, schema: { type: 'integer', minimum: 1 } },
                { in: 'query', name: 'mode', schema: { type: 'string', enum: ['a', 'b'], default: 'a' } },
              ],
              requestBody: {
                required: true,
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      required: ['name'],
                      additionalProperties: false,
                      properties: {
                        name: { type: 'string', minLength: 1, maxLength: 64, description: 'a name | with a pipe' },
                        code: { type: 'string', pattern: '^[0-9]{4}$' },
                        parts: { type: 'array', maxItems: 3, items: { type: 'object', required: ['size'], properties: { size: { type: 'number', maximum: 10 } } } },
                      },
                    },
                  },
                },
              },
              responses: { '200': { description: 'Default Response', content: { 'application/json': { schema: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } } } } } } } },
            },
          },
        },
      },
      routes: [{ method: 'PATCH', url: '/api/v1/things/:id', public: false, anyRole: false, adminOnly: false, schema: undefined }],
    },
    areas: [['/api/v1/things', 'Things']],
    areaOf: () => undefined,
    errors: { VCBOX_ERR_EXAMPLE: { statusCode: 409, en: 'Thing {id} is *busy*.', zh: '' } },
  });
  t.match(text, '- [Things](#things) (1)');
  t.match(text, '| PATCH | `/api/v1/things/{id}` | administrator | Change a thing |');
  t.match(text, 'Access: **administrator, with the X-CSRF-Token header**.');
  t.match(text, '| `id` | integer | yes | ≥ 1 |  |');
  t.match(text, '| `mode` | string |  | one of `"a"`, `"b"`; default `"a"` |  |');
  t.match(text, 'Body (JSON; no other fields):');
  t.match(text, '| `name` | string | yes | length 1–64 characters | a name \\| with a pipe |');
  t.match(text, '| `code` | string |  | pattern `^[0-9]{4}$` |  |');
  t.match(text, '| `parts` | array of object |  | ≤ 3 items |  |');
  t.match(text, '| `parts[].size` | number | yes | ≤ 10 |  |');
  t.match(text, 'Answer `200`, array of object:');
  t.match(text, '| `[].id` | integer |  |');
  t.match(text, '| `VCBOX_ERR_EXAMPLE` | 409 | Thing {id} is \\*busy\\*. |');
});
