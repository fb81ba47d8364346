/**
 * The box's licence state: the trial (table `license_trial` plus the marker file of
 * ./box-identity.ts) and activated licences (table `license_activations`; the newest one is
 * the box's licence, so activating a renewal replaces the old one), and the facts the console
 * shows: status, type, serial, ports, validity, days left.
 *
 * Status: `unlicensed` (neither trial nor licence yet), `trial` (14 days from its start),
 * `active`, `expired` (the licence's validUntil or the trial's end has passed), `revoked` (the
 * serial is on the build's block-list, ./license-revocation.ts). What each status allows is
 * ./license-policy.ts. Every change is in the operation log. All license* tables and the
 * identity folder stay with the box on backup/restore.
 *
 * Time comes from `clock` (default: the process clock), so tests move it.
 */
import type { Db } from '../db/database.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { BoxIdentity, TrialMarker } from './box-identity.ts';
import { type LicensePayload, type TrustedKey, verifyLicense } from './license-format.ts';
import { isRevoked } from './license-revocation.ts';

const log = getLogger('license');

export const TRIAL_DAYS = 14;
/** Concurrent participants during the trial. */
export const TRIAL_PORTS = 16;
const DAY_MS = 86_400_000;

export type LicenseStatus = 'unlicensed' | 'trial' | 'active' | 'expired' | 'revoked';
export type LicenseType = 'trial' | 'term' | 'perpetual';

export interface LicenseFacts {
  readonly status: LicenseStatus;
  /** What the status comes from: the trial, a licence for a term, a perpetual licence. */
  readonly type: LicenseType | null;
  readonly boxId: string;
  readonly serial: string | null;
  /** Concurrent participants allowed (the licence's, or the trial's). */
  readonly ports: number | null;
  readonly validFrom: string | null;
  readonly validUntil: string | null;
  /** Whole days until validUntil (0 on the last day, null when perpetual or none). */
  readonly daysLeft: number | null;
  readonly issuedAt: string | null;
  readonly activatedAt: string | null;
  readonly trial: { readonly used: boolean; readonly startedAt: string | null; readonly endsAt: string | null };
  /** Signed with the project's test key (tests and development only). */
  readonly testKey: boolean;
}

interface ActivationRow {
  serial: string;
  key: string;
  payload: string;
  activated_at: string;
}

export interface Author {
  readonly actor: string;
  readonly source?: string | undefined;
}

export class LicenseStore {
  readonly #db: Db;
  readonly #identity: BoxIdentity;
  readonly #keys: readonly TrustedKey[];
  readonly #clock: () => Date;

  /**
   * @param options.keys the keys trusted to sign licences (./license-keys.ts)
   * @param options.clock the time (default: the process clock)
   */
  constructor(options: { db: Db; identity: BoxIdentity; keys: readonly TrustedKey[]; clock?: () => Date }) {
    this.#db = options.db;
    this.#identity = options.identity;
    this.#keys = options.keys;
    this.#clock = options.clock ?? (() => new Date());
    this.#syncTrialCopies();
  }

  get boxId(): string {
    return this.#identity.boxId;
  }

  now(): Date {
    return this.#clock();
  }

  /** The two copies of the trial marker agree: one found alone is written back to the other. */
  #syncTrialCopies(): void {
    const row = this.#trialRow();
    const file = this.#identity.trialMarker();
    if (row && !file) this.#identity.writeTrialMarker(row);
    if (file && !row) {
      this.#db.prepare('INSERT INTO license_trial (box_id, started_at, ends_at, started_by) VALUES (?, ?, ?, ?)').run(this.boxId, file.startedAt, file.endsAt, 'system');
      log.warn({ startedAt: file.startedAt }, 'trial marker found beside the database only (database reset or replaced): the trial stays used');
    }
  }

  #trialRow(): TrialMarker | undefined {
    const row = this.#db.prepare('SELECT box_id, started_at, ends_at FROM license_trial ORDER BY started_at LIMIT 1').get() as
      | { box_id: string; started_at: string; ends_at: string }
      | undefined;
    return row ? { boxId: row.box_id, startedAt: row.started_at, endsAt: row.ends_at } : undefined;
  }

  #latest(): ActivationRow | undefined {
    return this.#db.prepare('SELECT serial, key, payload, activated_at FROM license_activations ORDER BY id DESC LIMIT 1').get() as ActivationRow | undefined;
  }

  /** The licence state now. */
  facts(): LicenseFacts {
    const now = this.#clock().getTime();
    const trialRow = this.#trialRow() ?? this.#identity.trialMarker();
    const trial = { used: trialRow !== undefined, startedAt: trialRow?.startedAt ?? null, endsAt: trialRow?.endsAt ?? null };
    const daysLeft = (until: string | null) => (until === null ? null : Math.max(0, Math.floor((Date.parse(until) - now) / DAY_MS)));
    const base = { boxId: this.boxId, trial, testKey: false, issuedAt: null, activatedAt: null };
    const latest = this.#latest();
    if (latest) {
      const p = JSON.parse(latest.payload) as LicensePayload;
      const status: LicenseStatus = isRevoked(latest.key, p.serial) ? 'revoked' : p.validUntil !== null && now >= Date.parse(p.validUntil) ? 'expired' : 'active';
      return {
        ...base,
        status,
        type: p.validUntil === null ? 'perpetual' : 'term',
        serial: p.serial,
        ports: p.ports,
        validFrom: p.validFrom,
        validUntil: p.validUntil,
        daysLeft: daysLeft(p.validUntil),
        issuedAt: p.issuedAt,
        activatedAt: latest.activated_at,
        testKey: latest.key === 'test',
      };
    }
    if (trialRow) {
      return {
        ...base,
        status: now < Date.parse(trialRow.endsAt) ? 'trial' : 'expired',
        type: 'trial',
        serial: null,
        ports: TRIAL_PORTS,
        validFrom: trialRow.startedAt,
        validUntil: trialRow.endsAt,
        daysLeft: daysLeft(trialRow.endsAt),
      };
    }
    return { ...base, status: 'unlicensed', type: null, serial: null, ports: null, validFrom: null, validUntil: null, daysLeft: null };
  }

  /** Starts the 14-day trial; once per box, and only on a box that never had a licence. */
  startTrial(author: Author): LicenseFacts {
    const now = this.#clock();
    this.#db.transaction(() => {
      const used = this.#trialRow() ?? this.#identity.trialMarker();
      if (used) throw createError('VCBOX_ERR_LICENSE_TRIAL_USED', { startedAt: used.startedAt, endsAt: used.endsAt });
      const latest = this.#latest();
      if (latest) throw createError('VCBOX_ERR_LICENSE_TRIAL_LICENSED', { serial: latest.serial });
      const marker = { boxId: this.boxId, startedAt: now.toISOString(), endsAt: new Date(now.getTime() + TRIAL_DAYS * DAY_MS).toISOString() };
      // The file first: if the database write then fails the trial still counts as used,
      // never the other way round.
      this.#identity.writeTrialMarker(marker);
      this.#db.prepare('INSERT INTO license_trial (box_id, started_at, ends_at, started_by) VALUES (?, ?, ?, ?)').run(marker.boxId, marker.startedAt, marker.endsAt, author.actor);
      recordAudit(this.#db, { actor: author.actor, source: author.source, action: 'license.trial', detail: { boxId: this.boxId, endsAt: marker.endsAt, ports: TRIAL_PORTS } }, now);
    })();
    log.info({ boxId: this.boxId, actor: author.actor }, 'trial started');
    return this.facts();
  }

  /**
   * Activates a pasted licence: signature (a trusted key), this box, not revoked, valid now.
   * Throws VCBOX_ERR_LICENSE_* saying what is wrong and what to do; then nothing changed.
   */
  activate(text: string, author: Author): LicenseFacts {
    const now = this.#clock();
    const license = verifyLicense(text, this.#keys);
    const p = license.payload;
    if (p.boxId !== this.boxId) throw createError('VCBOX_ERR_LICENSE_OTHER_BOX', { serial: p.serial, licensedBox: p.boxId, boxId: this.boxId, field: 'license' });
    if (isRevoked(license.key, p.serial)) throw createError('VCBOX_ERR_LICENSE_REVOKED', { serial: p.serial, field: 'license' });
    if (p.validUntil !== null && now.getTime() >= Date.parse(p.validUntil)) throw createError('VCBOX_ERR_LICENSE_EXPIRED', { serial: p.serial, validUntil: p.validUntil, field: 'license' });
    if (now.getTime() < Date.parse(p.validFrom)) throw createError('VCBOX_ERR_LICENSE_NOT_YET_VALID', { serial: p.serial, validFrom: p.validFrom, now: now.toISOString(), field: 'license' });
    this.#db.transaction(() => {
      this.#db
        .prepare('INSERT INTO license_activations (serial, key, payload, text, activated_at, activated_by) VALUES (?, ?, ?, ?, ?, ?)')
        .run(p.serial, license.key, JSON.stringify(p), license.text, now.toISOString(), author.actor);
      recordAudit(this.#db, { actor: author.actor, source: author.source, action: 'license.activate', detail: { serial: p.serial, ports: p.ports, validFrom: p.validFrom, validUntil: p.validUntil, key: license.key } }, now);
    })();
    log.info({ serial: p.serial, ports: p.ports, validUntil: p.validUntil, key: license.key }, 'licence activated');
    return this.facts();
  }
}
