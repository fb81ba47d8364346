/**
 * The disk's caretaker in the control plane: node-cron runs a check every minute (and `start`
 * runs one at once, as does a change of a `disk.*` setting) that
 *  1. brings every part within its quota by deleting its oldest files (server logs: each module
 *     within its share) — the spec's "when a quota is full the oldest files are overwritten";
 *     what went is written to the operation log (`disk.overwrite`, by the system);
 *  2. watches the storage path's file system (and the log folder's, when it is another one):
 *     above 80 % used, the administrators get one alert mail (setting `disk.alertAbove80`, on
 *     by default) — one per crossing: the state is kept in table `disk_alerts`, so neither the
 *     next check nor a restart mails again; back at 78 % or below counts as below again (two
 *     points of hysteresis, or a disk hovering at 80 % would mail at every check), and the next
 *     rise above 80 % is a new crossing with its own mail. A mail that could not be sent is
 *     tried again at the next check while the disk stays above.
 *
 * Time is the process clock only (node-cron's timers and Date), so a test moves it with Node's
 * mock timers; `observer` tells when a check ran, a mail went out or something failed.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { AdminStore } from '../admin/admin-store.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { getLogger } from '../core/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { SettingKey } from '../settings/settings-schema.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { type DiskParts, type DiskUsage, GIB, MODULE_NAMES, PART_NAMES } from './disk-parts.ts';
import { type StorageSpace, storageSpace } from './storage-space.ts';

const log = getLogger('disk');

export const ALERT_ABOVE_PERCENT = 80;
/** Usage at or below this counts as "back below" (re-arms the alert). */
export const ALERT_REARM_PERCENT = 78;

export interface DiskAlertState {
  readonly path: string;
  readonly above: boolean;
  readonly percent: number;
  readonly checkedAt: string;
  readonly crossedAt: string | null;
  readonly mailedAt: string | null;
  readonly recipients: string[];
}

export interface DiskKeeperEvents {
  /** A check finished: what was deleted to keep the quotas, and the watched file systems. */
  checked: [overwritten: number, spaces: StorageSpace[]];
  /** An alert mail went out for `path`. */
  alerted: [path: string, percent: number, recipients: string[]];
  failed: [error: Error];
}

interface AlertRow {
  path: string;
  above: number;
  percent: number;
  checked_at: string;
  crossed_at: string | null;
  mailed_at: string | null;
  recipients: string | null;
}

const size = (bytes: number) => (bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GB` : `${Math.ceil(bytes / 1024 ** 2)} MB`);

/** The alert mail, in English and Chinese (the box does not know the administrator's language). */
function alertMail(space: StorageSpace, usage: DiskUsage): { subject: string; text: string } {
  const parts = usage.parts.map((p) => ({ en: `${PART_NAMES[p.id].en}: ${size(p.usedBytes)} of ${p.quotaGB} GB`, zh: `${PART_NAMES[p.id].zh}：已用 ${size(p.usedBytes)}，配额 ${p.quotaGB} GB` }));
  const figures = `${size(space.usedBytes)} used of ${size(space.totalBytes)}, ${size(space.freeBytes)} free`;
  const figuresZh = `总共 ${size(space.totalBytes)}，已用 ${size(space.usedBytes)}，可用 ${size(space.freeBytes)}`;
  return {
    subject: `vcbox: disk ${space.usedPercent} % full (${space.path}) / 磁盘使用率超过 ${ALERT_ABOVE_PERCENT}%`,
    text: [
      `The disk holding ${space.path} on the vcbox ${os.hostname()} is ${space.usedPercent} % full (${figures}), above the ${ALERT_ABOVE_PERCENT} % alert level.`,
      ...parts.map((p) => `  - ${p.en}`),
      'Free space in the console (Settings → Disk): clean a part now, or lower the quotas; when a part\'s quota is full its oldest files are overwritten.',
      `This mail is sent once each time usage goes above ${ALERT_ABOVE_PERCENT} %.`,
      '',
      `vcbox 设备 ${os.hostname()} 上 ${space.path} 所在磁盘已使用 ${space.usedPercent}%（${figuresZh}），超过 ${ALERT_ABOVE_PERCENT}% 的告警线。`,
      ...parts.map((p) => `  - ${p.zh}`),
      '请在控制台（系统设置 → 磁盘）中立即清理某部分，或调低配额；某部分配额用满后将自动覆盖最旧的文件。',
      `每次磁盘使用率超过 ${ALERT_ABOVE_PERCENT}% 时只发送一封此邮件。`,
      '',
    ].join('\n'),
  };
}

export class DiskKeeper {
  readonly observer = new EventEmitter<DiskKeeperEvents>();
  readonly #db: Db;
  readonly #settings: SettingsStore;
  readonly #parts: DiskParts;
  readonly #admins: AdminStore;
  readonly #mailer: Mailer;
  readonly #onSettings = (keys: SettingKey[]) => {
    if (keys.some((key) => key.startsWith('disk.'))) void this.check();
  };
  #task: ScheduledTask | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: { db: Db; settings: SettingsStore; parts: DiskParts; admins: AdminStore; mailer: Mailer }) {
    this.#db = options.db;
    this.#settings = options.settings;
    this.#parts = options.parts;
    this.#admins = options.admins;
    this.#mailer = options.mailer;
  }

  /** Checks every minute on the minute, once now, and after every change of a disk setting. */
  start(): this {
    if (this.#closed || this.#task) return this;
    // A check already under way (at start, after a settings change) is as fresh as this one.
    this.#task = cron.schedule('0 * * * * *', () => this.#running ?? this.check(), { name: 'disk-keeper', noOverlap: true });
    this.#settings.observer.on('changed', this.#onSettings);
    void this.check();
    return this;
  }

  nextRun(): Date | null {
    return this.#task?.getNextRun() ?? null;
  }

  /** The alert state of each watched folder (for the console). */
  alerts(): DiskAlertState[] {
    return (this.#db.prepare('SELECT * FROM disk_alerts ORDER BY path').all() as AlertRow[]).map((row) => ({
      path: row.path,
      above: row.above === 1,
      percent: row.percent,
      checkedAt: row.checked_at,
      crossedAt: row.crossed_at,
      mailedAt: row.mailed_at,
      recipients: row.recipients ? (JSON.parse(row.recipients) as string[]) : [],
    }));
  }

  /** One check (quotas, then the alert); a check asked for while one runs follows it. */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#check();
        } catch (error) {
          log.error({ err: (error as Error).message }, 'disk check failed');
          this.observer.emit('failed', error as Error);
        }
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #check(): Promise<void> {
    if (this.#closed) return;
    const settings = this.#settings.getAll();
    const overwritten = await this.#parts.trim(settings, { actor: 'system' });
    for (const { part, module, removal } of overwritten) {
      const detail = { part, ...(module ? { module } : {}), files: removal.deleted.length, freedBytes: removal.freedBytes, names: removal.deleted.slice(0, 20) };
      recordAudit(this.#db, { actor: 'system', action: 'disk.overwrite', detail });
      log.info({ ...detail, names: undefined }, `${PART_NAMES[part].en}${module ? ` (${MODULE_NAMES[module]})` : ''} over quota: oldest files deleted`);
    }
    const spaces: StorageSpace[] = [];
    for (const folder of await this.#parts.watchedFolders()) {
      const space = await storageSpace(folder);
      spaces.push(space);
      await this.#alert(space, settings['disk.alertAbove80']);
    }
    this.observer.emit('checked', overwritten.reduce((sum, o) => sum + o.removal.deleted.length, 0), spaces);
  }

  async #alert(space: StorageSpace, enabled: boolean): Promise<void> {
    const now = new Date().toISOString();
    const row = this.#db.prepare('SELECT * FROM disk_alerts WHERE path = ?').get(space.path) as AlertRow | undefined;
    let above = row?.above === 1;
    let crossedAt = row?.crossed_at ?? null;
    let mailedAt = row?.mailed_at ?? null;
    let recipients = row?.recipients ?? null;
    if (space.usedPercent > ALERT_ABOVE_PERCENT && !above) {
      above = true;
      crossedAt = now;
      mailedAt = null;
      recipients = null;
      log.warn({ path: space.path, percent: space.usedPercent }, `disk usage above ${ALERT_ABOVE_PERCENT} %`);
    } else if (space.usedPercent <= ALERT_REARM_PERCENT && above) {
      above = false;
      log.info({ path: space.path, percent: space.usedPercent }, `disk usage back at ${ALERT_REARM_PERCENT} % or below`);
    }
    this.#db
      .prepare(
        `INSERT INTO disk_alerts (path, above, percent, checked_at, crossed_at, mailed_at, recipients) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET above = excluded.above, percent = excluded.percent, checked_at = excluded.checked_at,
           crossed_at = excluded.crossed_at, mailed_at = excluded.mailed_at, recipients = excluded.recipients`,
      )
      .run(space.path, above ? 1 : 0, space.usedPercent, now, crossedAt, mailedAt, recipients);
    if (!above || mailedAt !== null || !enabled) return;

    const to = this.#admins.alarmRecipients();
    if (to.length === 0) {
      log.warn({ path: space.path }, 'the disk is filling up but no administrator has an e-mail address to alert');
      return;
    }
    const mail = alertMail(space, await this.#parts.usage(this.#settings.getAll()));
    const sent: string[] = [];
    let lastError: Error | undefined;
    for (const address of to) {
      try {
        await this.#mailer.send({ to: address, ...mail });
        sent.push(address);
      } catch (error) {
        lastError = error as Error;
      }
    }
    if (sent.length === 0) throw lastError ?? new Error('no alert mail sent');
    const at = new Date().toISOString();
    this.#db.transaction(() => {
      this.#db.prepare('UPDATE disk_alerts SET mailed_at = ?, recipients = ? WHERE path = ?').run(at, JSON.stringify(sent), space.path);
      recordAudit(this.#db, { actor: 'system', action: 'disk.alert', detail: { path: space.path, percent: space.usedPercent, recipients: sent } });
    })();
    log.info({ path: space.path, percent: space.usedPercent, recipients: sent }, 'disk alert mail sent');
    this.observer.emit('alerted', space.path, space.usedPercent, sent);
  }

  /** Stops the schedule (idempotent); a check running finishes on its own. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settings.observer.off('changed', this.#onSettings);
    void this.#task?.destroy();
    this.#task = undefined;
  }
}
