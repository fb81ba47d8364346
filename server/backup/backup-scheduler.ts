/**
 * Automatic backups: node-cron runs one task from the settings `backup.auto` (on by default),
 * `backup.period` (daily / weekly / monthly), `backup.day` (weekly: 1 = Monday … 7 = Sunday;
 * monthly: day of the month 1-28) and `backup.time` (HH:MM), in the box's local time. Each run
 * makes an `AutoBackup<time>` and then keeps the newest `backup.keep` automatic backups.
 * Automatic backups are encrypted like every backup, with the passphrase an administrator set
 * for them (`backup.passphrase`): the schedule runs with nobody there to type one, so the box
 * keeps it — sealed with the box key in the settings table (server/settings/settings-store.ts),
 * never shown by the API and never in clear in a backup. Until one is set a run fails, logged
 * and told to the observer, and no unencrypted backup is ever made instead.
 * A settings change (PATCH /settings, or a restore) reschedules at once: the store's observer.
 *
 * Time comes from the process clock only (node-cron's timers and Date), so a test drives the
 * schedule with an injected clock (Node's mock timers) instead of waiting for real time; the
 * `observer` tells when a run finished or failed.
 */
import { EventEmitter } from 'node:events';
import cron, { type ScheduledTask } from 'node-cron';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { follows, type SettingKey, type Settings } from '../settings/settings-schema.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import type { BackupInfo, BackupStore } from './backup-store.ts';

const log = getLogger('backup');

export interface SchedulerEvents {
  /** An automatic backup was made; `removed` are the old ones rotation deleted. */
  ran: [backup: BackupInfo, removed: string[]];
  failed: [error: Error];
}

type Schedule = Pick<Settings, 'backup.auto' | 'backup.period' | 'backup.day' | 'backup.time'>;

/** The six-field cron expression (seconds first) of a schedule. */
export function cronExpression(schedule: Schedule): string {
  const [hour, minute] = schedule['backup.time'].split(':').map(Number);
  const day = schedule['backup.day'];
  switch (schedule['backup.period']) {
    case 'daily':
      return `0 ${minute} ${hour} * * *`;
    case 'weekly':
      return `0 ${minute} ${hour} * * ${day % 7}`; // cron: 0 = Sunday
    default:
      return `0 ${minute} ${hour} ${day} * *`;
  }
}

export class BackupScheduler {
  /** 'ran' after each automatic backup, 'failed' when one could not be made. */
  readonly observer = new EventEmitter<SchedulerEvents>();
  readonly #settings: SettingsStore;
  readonly #store: BackupStore;
  readonly #onSettings = (keys: SettingKey[]) => {
    if (keys.some((key) => key.startsWith('backup.') && follows('control-plane', key))) this.reschedule();
  };
  #task: ScheduledTask | undefined;
  #expression: string | undefined;
  #closed = false;

  constructor(settings: SettingsStore, store: BackupStore) {
    this.#settings = settings;
    this.#store = store;
  }

  /** Schedules from the current settings and follows their changes. */
  start(): this {
    this.#settings.observer.on('changed', this.#onSettings);
    this.reschedule();
    return this;
  }

  /** Replaces the task by one for the current settings (none when automatic backup is off). */
  reschedule(): void {
    if (this.#closed) return;
    const settings = this.#settings.getAll();
    const expression = settings['backup.auto'] ? cronExpression(settings) : undefined;
    if (expression === this.#expression && (this.#task !== undefined) === (expression !== undefined)) return;
    void this.#task?.destroy();
    this.#task = undefined;
    this.#expression = expression;
    if (expression) {
      this.#task = cron.schedule(expression, () => this.runNow(), { name: 'auto-backup', noOverlap: true });
    }
    log.info({ expression: expression ?? 'off', next: this.nextRun()?.toISOString() ?? null }, 'automatic backup scheduled');
  }

  /** When the next automatic backup is due (null when off). */
  nextRun(): Date | null {
    return this.#task?.getNextRun() ?? null;
  }

  /** One automatic backup and the rotation after it (what the schedule runs). */
  async runNow(): Promise<void> {
    try {
      const passphrase = this.#settings.get('backup.passphrase');
      if (!passphrase) {
        throw createError('VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', { reason: 'automatic backups are encrypted with the passphrase set for them (setting backup.passphrase, on the backups page), and none is set', field: 'backup.passphrase' });
      }
      const backup = await this.#store.create('auto', { actor: 'system' }, undefined, passphrase);
      const removed = await this.#store.rotate(this.#settings.get('backup.keep'));
      this.observer.emit('ran', backup, removed);
    } catch (error) {
      log.error({ err: (error as Error).message }, 'automatic backup failed');
      this.observer.emit('failed', error as Error);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settings.observer.off('changed', this.#onSettings);
    void this.#task?.destroy();
    this.#task = undefined;
  }
}
