/**
 * The warning mail 5 days before the licence (or the trial) expires, to the administrators'
 * e-mail addresses (role admin, e-mail set: the setup wizard's "admin e-mail").
 *
 * node-cron checks every hour (and `start` checks once at once); a licence gets one warning:
 * table `license_warnings` keyed by serial and validUntil (a renewal with a new end date gets
 * its own), written only after a mail went out, so a mail server that is down is retried at
 * the next hour. Time is the licence store's clock and node-cron's timers, so a test moves
 * both with Node's mock timers. `observer` says when a warning was sent or could not be.
 */
import { EventEmitter } from 'node:events';
import cron, { type ScheduledTask } from 'node-cron';
import type { AdminStore } from '../admin/admin-store.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { getLogger } from '../core/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { LicenseFacts, LicenseStore } from './license-store.ts';

const log = getLogger('license');

export const WARNING_DAYS = 5;
const DAY_MS = 86_400_000;

export interface LicenseWarningEvents {
  sent: [subject: string, recipients: string[]];
  failed: [error: Error];
}

/** The mail's text, in English and Chinese (the box does not know the admin's language). */
function warningMail(facts: LicenseFacts): { subject: string; text: string } {
  const what = facts.type === 'trial' ? 'The 14-day trial' : `Licence ${facts.serial}`;
  const whatZh = facts.type === 'trial' ? '14 天试用期' : `授权 ${facts.serial}`;
  return {
    subject: `vcbox: ${facts.type === 'trial' ? 'trial' : 'licence'} expires on ${facts.validUntil} / 授权即将到期`,
    text: [
      `${what} of the vcbox ${facts.boxId} expires on ${facts.validUntil} (in ${facts.daysLeft} days).`,
      'After that no new accounts can be created and meetings are audio only.',
      `Ask the vendor for a licence for box ID ${facts.boxId} and activate it in the console (Maintenance → License).`,
      '',
      `vcbox 设备 ${facts.boxId} 的${whatZh}将于 ${facts.validUntil} 到期（剩余 ${facts.daysLeft} 天）。`,
      '到期后将无法创建新账号，会议仅支持音频。',
      `请向厂商申请设备 ID ${facts.boxId} 的授权，并在控制台（系统维护 → 授权）中激活。`,
      '',
    ].join('\n'),
  };
}

export class LicenseWarning {
  readonly observer = new EventEmitter<LicenseWarningEvents>();
  readonly #db: Db;
  readonly #store: LicenseStore;
  readonly #admins: AdminStore;
  readonly #mailer: Mailer;
  #task: ScheduledTask | undefined;
  #running = false;

  constructor(options: { db: Db; store: LicenseStore; admins: AdminStore; mailer: Mailer }) {
    this.#db = options.db;
    this.#store = options.store;
    this.#admins = options.admins;
    this.#mailer = options.mailer;
  }

  /** Checks every hour on the hour, and once now. */
  start(): this {
    this.#task ??= cron.schedule('0 0 * * * *', () => this.check(), { name: 'license-warning', noOverlap: true });
    void this.check();
    return this;
  }

  nextRun(): Date | null {
    return this.#task?.getNextRun() ?? null;
  }

  /** Sends the warning if the licence ends within 5 days and none was sent for it yet. */
  async check(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#check();
    } catch (error) {
      log.error({ err: (error as Error).message }, 'licence expiry warning not sent');
      this.observer.emit('failed', error as Error);
    } finally {
      this.#running = false;
    }
  }

  async #check(): Promise<void> {
    const facts = this.#store.facts();
    if ((facts.status !== 'active' && facts.status !== 'trial') || facts.validUntil === null) return;
    const left = Date.parse(facts.validUntil) - this.#store.now().getTime();
    if (left > WARNING_DAYS * DAY_MS) return;
    const subject = facts.type === 'trial' ? `trial|${facts.boxId}` : `${facts.serial}|${facts.validUntil}`;
    if (this.#db.prepare('SELECT 1 FROM license_warnings WHERE subject = ?').get(subject)) return;
    const recipients = this.#admins.alarmRecipients();
    if (recipients.length === 0) {
      log.warn({ validUntil: facts.validUntil }, 'the licence expires soon but no administrator has an e-mail address to warn');
      return;
    }
    const mail = warningMail(facts);
    const sent: string[] = [];
    let lastError: Error | undefined;
    for (const to of recipients) {
      try {
        await this.#mailer.send({ to, ...mail });
        sent.push(to);
      } catch (error) {
        lastError = error as Error;
      }
    }
    if (sent.length === 0) throw lastError ?? new Error('no mail sent');
    const now = this.#store.now();
    this.#db.transaction(() => {
      this.#db.prepare('INSERT INTO license_warnings (subject, expires_at, sent_at, recipients) VALUES (?, ?, ?, ?)').run(subject, facts.validUntil, now.toISOString(), JSON.stringify(sent));
      recordAudit(this.#db, { actor: 'system', action: 'license.warning', detail: { serial: facts.serial, type: facts.type, validUntil: facts.validUntil, recipients: sent } }, now);
    })();
    log.info({ serial: facts.serial, validUntil: facts.validUntil, recipients: sent }, 'licence expiry warning sent');
    this.observer.emit('sent', subject, sent);
  }

  close(): void {
    void this.#task?.destroy();
    this.#task = undefined;
  }
}
