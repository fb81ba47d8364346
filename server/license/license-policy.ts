/**
 * What the licence status allows — the one place the rules live (SPEC "License": not active
 * or expired → accounts cannot be created and video calls fall back to audio):
 *
 * | status     | new accounts | video | concurrent participants |
 * |------------|--------------|-------|-------------------------|
 * | unlicensed | no           | audio | TRIAL_PORTS             |
 * | trial      | yes          | yes   | TRIAL_PORTS             |
 * | active     | yes          | yes   | the licence's ports     |
 * | expired    | no           | audio | the licence's/trial's   |
 * | revoked    | no           | audio | the licence's           |
 *
 * `unlicensed` (a box that has neither started its trial nor been activated) is restricted like
 * an expired trial [001 FAQ: "licence not activated" is a reason accounts cannot be created and
 * calls are audio only]: the setup wizard still works (it needs neither), and its licence step
 * starts the 14-day trial in one click (POST /setup/license/trial).
 *
 * Callers: meeting admission (ports, audio only), the accounts API (creation, import). They
 * get errors from the one error table with the reason in words.
 */
import { createError, type VcboxError } from '../core/errors.ts';
import { type LicenseFacts, type LicenseStatus, type LicenseStore, TRIAL_PORTS } from './license-store.ts';

export interface Allowances {
  readonly accounts: boolean;
  readonly video: boolean;
  /** Concurrent participants box-wide (null: no limit). */
  readonly ports: number | null;
}

export function allowances(facts: LicenseFacts): Allowances {
  switch (facts.status) {
    case 'unlicensed':
      return { accounts: false, video: false, ports: TRIAL_PORTS };
    case 'trial':
    case 'active':
      return { accounts: true, video: true, ports: facts.ports };
    default:
      return { accounts: false, video: false, ports: facts.ports };
  }
}

/** Why the status restricts the box, in the admin's words (for the error messages): en, zh. */
function statusDetail(facts: LicenseFacts): [string, string] {
  const what = facts.type === 'trial' ? ['the trial', '试用期'] : [`licence ${facts.serial}`, `授权 ${facts.serial}`];
  if (facts.status === 'revoked') return [`${what[0]} was revoked by the vendor`, `${what[1]} 已被厂商吊销`];
  return [`${what[0]} expired on ${facts.validUntil}`, `${what[1]} 已于 ${facts.validUntil} 到期`];
}

const STATUS_ZH: Record<LicenseStatus, string> = { unlicensed: '未授权', trial: '试用', active: '已激活', expired: '已过期', revoked: '已吊销' };

export class LicensePolicy {
  readonly #store: LicenseStore;

  constructor(store: LicenseStore) {
    this.#store = store;
  }

  facts(): LicenseFacts {
    return this.#store.facts();
  }

  allowances(): Allowances {
    return allowances(this.#store.facts());
  }

  /** VCBOX_ERR_LICENSE_ACCOUNTS when new accounts are not allowed now, else undefined. */
  accountCreationRefusal(): VcboxError | undefined {
    const facts = this.#store.facts();
    if (allowances(facts).accounts) return undefined;
    if (facts.status === 'unlicensed') return createError('VCBOX_ERR_LICENSE_NONE_ACCOUNTS', { trialPorts: TRIAL_PORTS });
    const [detail, detailZh] = statusDetail(facts);
    return createError('VCBOX_ERR_LICENSE_ACCOUNTS', { status: facts.status, statusZh: STATUS_ZH[facts.status], detail, detailZh });
  }

  assertAccountCreation(): void {
    const refusal = this.accountCreationRefusal();
    if (refusal) throw refusal;
  }

  /**
   * The refusal of one more participant when `inUse` are already in meetings (or on their way
   * in), box-wide; undefined when there is room.
   */
  portsRefusal(inUse: number): VcboxError | undefined {
    const { ports } = this.allowances();
    if (ports === null || inUse < ports) return undefined;
    return createError('VCBOX_ERR_LICENSE_PORTS', { ports });
  }

  /** Meetings take audio only (video offers are declined) in this status. */
  audioOnly(): boolean {
    return !this.allowances().video;
  }
}
