/**
 * Attack suite: a seeded fuzz pass over every JSON route the API describes (its OpenAPI
 * document, fetched over HTTP from the box), as a logged-in administrator, against the control
 * plane with every optional part switched on. Bodies, query strings and path parameters are
 * generated from and around each route's schema with fast-check: right shapes with edge values,
 * wrong types, 200 000-character strings, unicode, deep nesting, and the prototype keys
 * `__proto__` / `constructor.prototype` in bodies and query strings. No answer may be a 500, the
 * box must keep answering /api/v1/health, the session must survive, and nothing may reach the
 * process's Object prototype. A fixed number of runs per route, seeded: the same requests each
 * time.
 *
 * Skipped, and why: the routes that would end the test's own footing or reach beyond loopback —
 * factory reset, reboot and upgrade (they act on the box itself), restoring a backup (replaces
 * the database under the test), log-out, deleting or changing administrators (the session's
 * own user), the settings change, the wizard's SMTP step and the test mail (fuzzed SMTP, syslog
 * or SNTP hosts would make the box connect to addresses outside loopback). Routes whose body is not JSON (uploads) are
 * covered by their own tests.
 */
import fc from 'fast-check';
import t from 'tap';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startFullConsole } from '../helpers/full-console.ts';

const RUNS_PER_ROUTE = 8;
const SKIP: Record<string, string> = {
  'POST /api/v1/system/factory-reset': 'acts on the box itself',
  'POST /api/v1/system/reboot': 'acts on the box itself',
  'POST /api/v1/system/upgrade': 'acts on the box itself (and its body is a package, not JSON)',
  'POST /api/v1/backups/restore': 'replaces the database under the test',
  'POST /api/v1/backups/{name}/restore': 'replaces the database under the test',
  'DELETE /api/v1/session': "ends the fuzzer's own session",
  'DELETE /api/v1/admins/{id}': "may delete the fuzzer's own administrator",
  'PATCH /api/v1/settings': 'fuzzed SMTP / syslog / SNTP hosts would be connected to beyond loopback',
  'POST /api/v1/settings/smtp/test': 'would connect to fuzzed SMTP hosts beyond loopback',
  'PUT /api/v1/setup/smtp': 'would store a fuzzed SMTP host that later mails connect to',
};

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}
interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

const box = await startFullConsole(t);
await box.admins.create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const admin = new ConsoleClient(box.base);
if ((await admin.login('chief', 'Chief2026')).status !== 200) throw new Error('the administrator could not log in');
// The first start is over: the wizard's admin step then needs the current password, which the fuzzer never sends right.
box.box.settings.update({ 'setup.firstStartDone': true }, { actor: 'test' });

/** Values of the wrong kind for any place. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3, withNullPrototype: false }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constant('x'.repeat(200_000)),
  fc.constantFrom(null, -1, 0, 2 ** 53, -(2 ** 63), 1e308, '', ' ', '0', 'true', '../../etc/passwd', '%00', '\u0000', '<script>', "' OR 1=1 --", '{{7*7}}', ['$', '{7*7}'].join('')),
  fc.integer({ min: 1, max: 60 }).map((depth) => JSON.parse(`${'['.repeat(depth * 10)}${']'.repeat(depth * 10)}`) as unknown),
);

/** Values shaped by a schema (edges included), now and then replaced by junk. */
function shaped(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return junk;
  if (schema.enum) return fc.oneof({ arbitrary: fc.constantFrom(...schema.enum), weight: 4 }, { arbitrary: junk, weight: 1 });
  const types = [schema.type ?? 'any'].flat();
  const byType = types.map((type): fc.Arbitrary<unknown> => {
    switch (type) {
      case 'string':
        return fc.oneof(
          fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 64, 256) }),
          fc.string({ unit: 'grapheme', maxLength: 40 }),
          fc.constant('a'.repeat((schema.maxLength ?? 1000) + 1)),
        );
      case 'integer':
        return fc.oneof(fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 }), fc.constantFrom(schema.minimum ?? 0, schema.maximum ?? 0, -1, 2 ** 31, 1.5));
      case 'number':
        return fc.double({ noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(shaped(schema.items, depth + 1), { maxLength: 6 });
      case 'object': {
        const properties = schema.properties ?? {};
        const record = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, shaped(property, depth + 1)]));
        return fc.tuple(fc.record(record, { requiredKeys: (schema.required ?? []).filter((key) => key in properties) }), fc.dictionary(fc.string({ maxLength: 12 }), junk, { maxKeys: 2 })).map(([known, extra]) => ({
          ...known,
          ...extra,
        }));
      }
      default:
        return junk;
    }
  });
  return fc.oneof({ arbitrary: fc.oneof(...byType), weight: 5 }, { arbitrary: junk, weight: 1 });
}

/** JSON text of a body, the object ones sometimes with prototype keys written in. */
const bodyText = (schema: Schema | undefined) =>
  fc.tuple(shaped(schema), fc.constantFrom('', '"__proto__":{"polluted":"yes","role":"admin"},', '"constructor":{"prototype":{"polluted":"yes"}},')).map(([value, poison]) => {
    const text = JSON.stringify(value) ?? 'null';
    return poison && text.startsWith('{') ? `{${poison}${text.slice(1)}`.replace(/,}$/, '}') : text;
  });

const QUERY_POISON = ['', '__proto__[polluted]=yes', 'constructor[prototype][polluted]=yes', '__proto__.polluted=yes', 'a=1&a=2&a=3'];

const document = (await (await fetch(`${box.base}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, Operation>> };
const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })));

t.test('the OpenAPI document lists the routes to fuzz', async (t) => {
  t.ok(operations.length > 80, `${operations.length} operations`);
  for (const name of Object.keys(SKIP)) t.ok(operations.some((o) => `${o.method} ${o.path}` === name), `${name} exists (skipped: ${SKIP[name]})`);
});

t.test('no generated request makes the API fail, lose the session or pollute a prototype', async (t) => {
  const failures: string[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  for (const [index, { method, path, operation }] of operations.entries()) {
    const name = `${method} ${path}`;
    if (SKIP[name]) continue;
    const contentTypes = Object.keys(operation.requestBody?.content ?? {});
    if (contentTypes.length > 0 && !contentTypes.includes('application/json')) continue; // uploads
    const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path');
    const queryParams = (operation.parameters ?? []).filter((p) => p.in === 'query');
    const requestShape = fc.record({
      params: fc.record(Object.fromEntries(pathParams.map((p) => [p.name, shaped(p.schema)]))),
      query: fc.record(Object.fromEntries(queryParams.map((p) => [p.name, shaped(p.schema)])), { requiredKeys: [] }),
      poison: fc.constantFrom(...QUERY_POISON),
      body: contentTypes.length > 0 ? bodyText(operation.requestBody?.content?.['application/json']?.schema) : fc.constant(undefined),
    });
    for (const sample of fc.sample(requestShape, { numRuns: RUNS_PER_ROUTE, seed: 1600 + index })) {
      const url = path.replace(/\{(\w+)\}/g, (_m, key: string) => encodeURIComponent(String((sample.params as Record<string, unknown>)[key])));
      const query = new URLSearchParams(Object.entries(sample.query as Record<string, unknown>).map(([key, value]): [string, string] => [key, typeof value === 'string' ? value : (JSON.stringify(value) ?? '')])).toString();
      const search = [query, sample.poison].filter(Boolean).join('&');
      const headers: Record<string, string> = { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken };
      if (sample.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${box.base}${url}${search ? `?${search}` : ''}`, { method, headers, ...(sample.body === undefined ? {} : { body: sample.body }) });
      const text = await response.text();
      sent++;
      const statusClass = `${String(response.status).slice(0, 1)}xx`;
      statuses[statusClass] = (statuses[statusClass] ?? 0) + 1;
      if (response.status >= 500 && !/VCBOX_ERR_(MAIL|SMTP|MEDIA|BUSY)/.test(text)) failures.push(`${name} ${url}?${search} body=${String(sample.body).slice(0, 200)} → ${response.status} ${text.slice(0, 200)}`);
    }
    const health = await fetch(`${box.base}/api/v1/health`);
    if (health.status !== 200) failures.push(`after ${name}: /api/v1/health answered ${health.status}`);
    if ((await admin.call('GET', '/api/v1/session')).status !== 200) {
      failures.push(`after ${name}: the session was lost`);
      await admin.login('chief', 'Chief2026');
    }
  }
  t.ok(sent > 500, `${sent} requests sent (${JSON.stringify(statuses)})`);
  t.ok((statuses['2xx'] ?? 0) > 50, 'enough of them got past validation to reach the handlers');
  t.same(failures, [], 'no server error, the box kept answering, the session survived');
  const probe: Record<string, unknown> = {};
  t.equal(probe.polluted, undefined, "the process's Object prototype is untouched");
  t.equal(probe.role, undefined);
});
