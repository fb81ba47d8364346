/**
 * docs/api-reference.md as text, from the control plane's OpenAPI document and route table
 * (./describe-api.ts) and the error table: every route grouped by area (its tag, in the order
 * of server/control-plane/route-areas.ts), sorted by path then method, with who may call it,
 * its path, query, header and body fields (type, rules, required), its responses, and at the
 * end every error code. Pure: the same description gives the same text.
 */
import type { RouteGuard } from '../../server/control-plane/auth.ts';
import type { ErrorDefinition } from '../../server/core/errors.ts';
import type { ApiDescription, JsonSchema, OpenApiOperation } from './describe-api.ts';

export const BUILD_COMMAND = 'node scripts/build-api-reference.ts';

/** One route as the reference shows it. */
export interface ReferenceRoute {
  readonly method: string;
  /** OpenAPI spelling: `/api/v1/accounts/{number}`. */
  readonly path: string;
  readonly area: string | undefined;
  readonly summary: string | undefined;
  readonly description: string | undefined;
  readonly access: 'public' | 'operator' | 'administrator';
  /** A change: needs the session's X-CSRF-Token header. */
  readonly csrf: boolean;
  /** Described in the OpenAPI document (hidden routes are not: not JSON, a WebSocket, the document itself). */
  readonly documented: boolean;
  readonly operation: OpenApiOperation | undefined;
  readonly consumes: readonly string[];
  readonly produces: readonly string[];
}

const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const READS = new Set(['GET', 'HEAD']);

/** `/x/:id(^\\d+)` → `/x/{id}` (how @fastify/swagger writes path parameters). */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}');
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** Every route of the table (HEAD only where it is not a GET's twin) with its operation. */
export function referenceRoutes(api: ApiDescription, areaOf: (url: string) => string | undefined): ReferenceRoute[] {
  const gets = new Set(api.routes.filter((route) => route.method === 'GET').map((route) => route.url));
  const seen = new Set<string>();
  const routes: ReferenceRoute[] = [];
  for (const route of api.routes) {
    if (route.method === 'HEAD' && gets.has(route.url)) continue;
    const path = openApiPath(route.url);
    const key = `${route.method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const operation = api.document.paths?.[path]?.[route.method.toLowerCase()];
    const schema = (route.schema ?? {}) as { summary?: unknown; description?: unknown; tags?: unknown; consumes?: unknown; produces?: unknown };
    const summary = operation?.summary ?? (typeof schema.summary === 'string' ? schema.summary : undefined);
    const description = operation?.description ?? (typeof schema.description === 'string' ? schema.description : undefined);
    routes.push({
      method: route.method,
      path,
      area: operation?.tags?.[0] ?? stringList(schema.tags)[0] ?? areaOf(route.url),
      summary: summary?.trim() || undefined,
      description: description?.trim() || undefined,
      ...accessOf(route),
      documented: operation !== undefined,
      operation,
      consumes: stringList(schema.consumes),
      produces: stringList(schema.produces),
    });
  }
  return routes.sort(compareRoutes);
}

function accessOf(route: RouteGuard): Pick<ReferenceRoute, 'access' | 'csrf'> {
  if (route.public) return { access: 'public', csrf: false };
  if (READS.has(route.method)) return { access: route.adminOnly ? 'administrator' : 'operator', csrf: false };
  return { access: route.anyRole ? 'operator' : 'administrator', csrf: true };
}

function compareRoutes(a: ReferenceRoute, b: ReferenceRoute): number {
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  const rank = (method: string) => (METHOD_ORDER.includes(method) ? METHOD_ORDER.indexOf(method) : METHOD_ORDER.length);
  return rank(a.method) - rank(b.method) || (a.method < b.method ? -1 : a.method > b.method ? 1 : 0);
}

// ---- Markdown ----

/** Inline code, safe in a table cell. */
function code(text: string): string {
  const body = text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return body.includes('`') ? `\`\` ${body} \`\`` : `\`${body}\``;
}

/** Prose from a schema: its `code` spans kept, Markdown's special characters outside them escaped. */
function prose(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part, index) => (index % 2 === 1 ? part.replace(/\|/g, '\\|') : part.replace(/([\\*_<|[\]])/g, '\\$1')))
    .join('');
}

function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function table(header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return [];
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`), ''];
}

// ---- Schemas ----

function typeOf(schema: JsonSchema | undefined): string {
  if (!schema) return 'any';
  if (schema.oneOf ?? schema.anyOf) return (schema.oneOf ?? schema.anyOf ?? []).map(typeOf).join(' or ');
  const types = [schema.type ?? []].flat();
  if (schema.nullable && !types.includes('null')) types.push('null');
  const named = types.map((type) => (type === 'array' ? `array of ${typeOf(schema.items)}` : type));
  if (named.length === 0) return schema.properties ? 'object' : schema.enum || schema.const !== undefined ? 'value' : 'any';
  return named.join(' or ');
}

function range(low: number | undefined, high: number | undefined, unit = ''): string | undefined {
  if (low !== undefined && high !== undefined) return low === high ? `exactly ${low}${unit}` : `${low}–${high}${unit}`;
  if (low !== undefined) return `≥ ${low}${unit}`;
  if (high !== undefined) return `≤ ${high}${unit}`;
  return undefined;
}

function rulesOf(schema: JsonSchema | undefined): string {
  if (!schema) return '';
  const rules: string[] = [];
  if (schema.enum) rules.push(`one of ${schema.enum.map((value) => code(JSON.stringify(value))).join(', ')}`);
  if (schema.const !== undefined) rules.push(`always ${code(JSON.stringify(schema.const))}`);
  const length = range(schema.minLength, schema.maxLength, ' characters');
  if (length) rules.push(`length ${length}`);
  const bounds = range(schema.minimum, schema.maximum);
  if (bounds) rules.push(bounds);
  if (schema.exclusiveMinimum !== undefined) rules.push(`> ${schema.exclusiveMinimum}`);
  if (schema.exclusiveMaximum !== undefined) rules.push(`< ${schema.exclusiveMaximum}`);
  const items = range(schema.minItems, schema.maxItems, ' items');
  if (items) rules.push(items);
  if (schema.pattern) rules.push(`pattern ${code(schema.pattern)}`);
  if (schema.format) rules.push(`format ${schema.format}`);
  if (schema.items && schema.type === 'array') {
    const inner = rulesOf({ ...schema.items, default: undefined });
    if (inner) rules.push(`each: ${inner}`);
  }
  if (schema.additionalProperties === false && schema.properties) rules.push('no other fields');
  if (schema.default !== undefined) rules.push(`default ${code(JSON.stringify(schema.default))}`);
  return rules.join('; ');
}

interface FieldRow {
  readonly name: string;
  readonly schema: JsonSchema;
  readonly required: boolean;
}

/** The fields of an object schema, nested ones as `parent.child` and `list[].child`. */
function fieldsOf(schema: JsonSchema | undefined, prefix = '', depth = 0): FieldRow[] {
  if (!schema || depth > 6) return [];
  const rows: FieldRow[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    rows.push({ name: path, schema: field, required: required.has(name) });
    if (field.properties) rows.push(...fieldsOf(field, `${path}.`, depth + 1));
    if (field.items?.properties) rows.push(...fieldsOf(field.items, `${path}[].`, depth + 1));
  }
  if (typeof schema.additionalProperties === 'object') {
    const path = `${prefix}<any key>`;
    rows.push({ name: path, schema: schema.additionalProperties, required: false });
    rows.push(...fieldsOf(schema.additionalProperties, `${path}.`, depth + 1));
  }
  return rows;
}

function fieldTable(rows: readonly FieldRow[], withRequired: boolean): string[] {
  return table(
    withRequired ? ['Field', 'Type', 'Required', 'Rules', 'Description'] : ['Field', 'Type', 'Description'],
    rows.map((row) => {
      const description = row.schema.description ? prose(row.schema.description) : '';
      return withRequired ? [code(row.name), typeOf(row.schema), row.required ? 'yes' : '', rulesOf(row.schema), description] : [code(row.name), typeOf(row.schema), description];
    }),
  );
}

// ---- One route ----

function accessText(route: ReferenceRoute): string {
  return `${route.access}${route.csrf ? ', with the X-CSRF-Token header' : ''}`;
}

function renderRoute(route: ReferenceRoute): string[] {
  const lines = [`### \`${route.method} ${route.path}\``, ''];
  if (route.summary) lines.push(prose(route.summary), '');
  if (route.description && route.description !== route.summary) lines.push(prose(route.description), '');
  lines.push(`Access: **${accessText(route)}**.${route.documented ? '' : ' Not in the OpenAPI document.'}`, '');
  const operation = route.operation;
  const parameters = operation?.parameters ?? [];
  for (const [place, title] of [
    ['path', 'Path parameters'],
    ['query', 'Query'],
    ['header', 'Headers'],
  ] as const) {
    const rows = parameters
      .filter((parameter) => parameter.in === place)
      .map((parameter) => ({ name: parameter.name, schema: { ...parameter.schema, description: parameter.description ?? parameter.schema?.description }, required: parameter.required === true }));
    if (rows.length > 0) lines.push(`${title}:`, '', ...fieldTable(rows, true));
  }
  const body = operation?.requestBody;
  const json = body?.content?.['application/json']?.schema;
  if (json) {
    const rows = fieldsOf(json);
    const rules = rulesOf(json);
    if (rows.length > 0) lines.push(`Body (JSON${rules ? `; ${rules}` : ''}${body?.required ? '' : '; optional'}):`, '', ...fieldTable(rows, true));
    else lines.push(`Body (JSON): ${typeOf(json)}${rules ? `; ${rules}` : ''}.`, '');
  } else if (route.consumes.length > 0) {
    lines.push(`Body: the file itself, as ${route.consumes.map(code).join(', ')}.`, '');
  }
  for (const [status, response] of Object.entries(operation?.responses ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const schema = response.content?.['application/json']?.schema;
    const said = response.description && response.description !== 'Default Response' ? ` ${prose(response.description)}` : '';
    if (!schema && !said) continue;
    const list = schema?.type === 'array' && schema.items?.properties !== undefined;
    const rows = list ? fieldsOf(schema?.items, '[].') : fieldsOf(schema);
    const shape = schema ? ` ${typeOf(schema)}` : '';
    if (rows.length > 0) lines.push(`Answer \`${status}\`${said}${list ? `, ${typeOf(schema)}` : ''}:`, '', ...fieldTable(rows, false));
    else lines.push(`Answer \`${status}\`${said}${said && shape ? ',' : ''}${shape}.`, '');
  }
  if (route.produces.length > 0) lines.push(`Answers ${route.produces.map(code).join(', ')}.`, '');
  return lines;
}

// ---- The document ----

export interface RenderInput {
  readonly api: ApiDescription;
  /** Area order and the area of a URL the document gives no tag (server/control-plane/route-areas.ts). */
  readonly areas: readonly (readonly [prefix: string, area: string])[];
  readonly areaOf: (url: string) => string | undefined;
  readonly errors: Readonly<Record<string, ErrorDefinition>>;
}

export const NO_AREA = 'Routes without an area';

export function renderReference({ api, areas, areaOf, errors }: RenderInput): string {
  const routes = referenceRoutes(api, areaOf);
  const order = [...new Set(areas.map(([, area]) => area))];
  const byArea = new Map<string, ReferenceRoute[]>();
  for (const route of routes) {
    const area = route.area ?? NO_AREA;
    byArea.set(area, [...(byArea.get(area) ?? []), route]);
  }
  const chapters = [...order.filter((area) => byArea.has(area)), ...[...byArea.keys()].filter((area) => !order.includes(area)).sort()];
  const lines = [
    `<!-- Generated by scripts/build-api-reference.ts; do not edit. Run: ${BUILD_COMMAND} -->`,
    '# API reference',
    '',
    `Generated from the control plane's OpenAPI document and route table — do not edit; run \`${BUILD_COMMAND}\` (with the Node of \`scripts/setup.sh\`). test/foundation/api-reference.test.ts fails while this file is stale.`,
    'What the schemas do not say — sessions, the CSRF token, the error format, rate limits, paging, the join socket — is in [api.md](api.md).',
    '',
    `${routes.length} routes. Access: **public** needs no session; **operator** needs a console session of either role; **administrator** needs the \`admin\` role. A change (anything but GET/HEAD) also needs the session's \`X-CSRF-Token\` header. Every GET also answers HEAD.`,
    '',
    '## Contents',
    '',
    ...chapters.map((area) => `- [${area}](#${slug(area)}) (${byArea.get(area)?.length ?? 0})`),
    `- [Error codes](#error-codes) (${Object.keys(errors).length})`,
    '',
  ];
  for (const area of chapters) {
    const inArea = byArea.get(area) ?? [];
    lines.push(`## ${area}`, '');
    lines.push(...table(['Method', 'Path', 'Access', 'Summary'], inArea.map((route) => [route.method, code(route.path), route.access, route.summary ? prose(route.summary) : ''])));
    for (const route of inArea) lines.push(...renderRoute(route));
  }
  lines.push('## Error codes', '', 'Every error the box answers is `{ code, message, …params }` with one of these codes and its HTTP status (server/core/errors.ts); `{name}` stands for a detail filled in. The message comes in Chinese for `Accept-Language: zh`.', '');
  lines.push(
    ...table(
      ['Code', 'HTTP', 'Message'],
      Object.entries(errors)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, definition]) => [code(name), String(definition.statusCode), prose(definition.en)]),
    ),
  );
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}
