/**
 * What a maintenance request (`<dataDir>/maintenance/request.json`, ./maintenance-files.ts) may
 * hold, checked strictly by whoever takes it — on an appliance the root job, for which the file
 * comes from the vcbox user and is hostile until proven otherwise. The job id names files and
 * folders (`package-<id>.tar.gz`, `database-<id>/`, `releases/.incoming-<id>`), so it must be
 * exactly what `newJobId` makes; every other field is bounded and typed, and nothing else may be
 * in the request. A request that fails is refused as a whole, saying which field is wrong.
 */
import { randomBytes } from 'node:crypto';
import { createError, type VcboxError } from '../core/errors.ts';
import type { MaintenanceRequest } from './maintenance-files.ts';

/** A job id: milliseconds since 1970 in base 36, a dash, 8 hex digits (`newJobId`). */
export const JOB_ID = /^[0-9a-z]{1,12}-[0-9a-f]{8}$/;
/** The only health URLs a request may name: the control plane's own, on loopback. */
export const LOOPBACK_HEALTH = /^http:\/\/(127\.0\.0\.1|\[::1\]):\d{1,5}\/api\/v1\/health$/;
const MAX_TEXT = 200;
const KINDS = ['upgrade', 'restart', 'reboot'] as const;
const FIELDS = new Set(['id', 'kind', 'requestedAt', 'by', 'package', 'health']);

export const newJobId = (): string => `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

/** Whether `id` is a job id (see JOB_ID). */
export const isJobId = (id: unknown): id is string => typeof id === 'string' && JOB_ID.test(id);

/** Shows a hostile value in a message: quoted, cut short, control characters escaped. */
export function shownValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const cut = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return JSON.stringify(cut);
}

/** Throws unless `id` is a job id: before it becomes part of any path. */
export function assertJobId(id: unknown): asserts id is string {
  if (!isJobId(id)) throw new Error(`${shownValue(id)} is not a maintenance job id (like ${newJobId()})`);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
const text = (value: unknown, max = MAX_TEXT): value is string => typeof value === 'string' && value.length > 0 && value.length <= max && !CONTROL.test(value);

/**
 * Checks a parsed request file. `packageFile(id)` is where an upgrade's package must be (the
 * request names it; it must be exactly that file). Throws VCBOX_ERR_MAINTENANCE_REFUSED.
 */
export function checkRequest(value: unknown, file: string, packageFile: (id: string) => string): MaintenanceRequest {
  const refuse = (reason: string): VcboxError => createError('VCBOX_ERR_MAINTENANCE_REFUSED', { file, reason });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('it is not a JSON object');
  const r = value as Record<string, unknown>;
  const unknown = Object.keys(r).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) throw refuse(`it has fields a request does not have (${unknown.slice(0, 5).map(shownValue).join(', ')})`);
  if (!isJobId(r.id)) throw refuse(`its id ${shownValue(r.id)} is not a job id (letters a-z and digits, a dash, 8 hex digits)`);
  if (!(KINDS as readonly unknown[]).includes(r.kind)) throw refuse(`its kind ${shownValue(r.kind)} is none of ${KINDS.join(', ')}`);
  if (!text(r.requestedAt, 40) || Number.isNaN(Date.parse(r.requestedAt))) throw refuse(`its requestedAt ${shownValue(r.requestedAt)} is not a time`);
  const by = r.by as Record<string, unknown> | null;
  if (typeof by !== 'object' || by === null || Array.isArray(by) || Object.keys(by).some((key) => key !== 'actor' && key !== 'source')) throw refuse('its "by" is not {actor, source}');
  if (by.actor !== '' && !text(by.actor)) throw refuse(`its by.actor ${shownValue(by.actor)} is not a name`);
  if (by.source !== undefined && !text(by.source)) throw refuse(`its by.source ${shownValue(by.source)} is not an address`);
  if (r.kind === 'upgrade') {
    if (r.package !== packageFile(r.id)) throw refuse(`its package ${shownValue(r.package)} is not the job's package file ${packageFile(r.id)}`);
    if (r.health !== undefined && !(text(r.health, 100) && LOOPBACK_HEALTH.test(r.health))) throw refuse(`its health URL ${shownValue(r.health)} is not the control plane's on loopback`);
  } else if (r.package !== undefined || r.health !== undefined) {
    throw refuse(`a ${r.kind} request names no package or health URL`);
  }
  return r as unknown as MaintenanceRequest;
}
