/**
 * The secret settings (SECRET_SETTINGS) on their way through a backup, and the settings a
 * restore lets in.
 *
 * On the box they are sealed with the box key (server/secrets/box-key.ts), which never leaves
 * the box: a backup restored onto another box (a replaced appliance) could not open them. So the
 * snapshot in a backup carries them sealed with a key derived from the backup's passphrase
 * (./backup-encryption.ts, `keys.secrets`) instead, and a restore re-seals them with the
 * restoring box's key before the data goes live. A value in clear (a backup of the plain format
 * of earlier versions) is sealed with the box key on restore.
 *
 * A restore also checks every stored setting against its rule (server/settings/settings-schema.ts),
 * as PATCH /settings does: a database edited outside the box (a crafted backup) cannot bring in
 * a value the console would refuse — a local domain with a line break that would reach coturn's
 * configuration and SIP headers, for one.
 */
import type { Db } from '../db/database.ts';
import { createError } from '../core/errors.ts';
import type { BoxSealer } from '../secrets/box-key.ts';
import { seal, sealKind, unseal } from '../secrets/sealed-value.ts';
import { SECRET_SETTINGS } from '../settings/setting-effects.ts';
import { checkSetting, isSettingKey } from '../settings/settings-schema.ts';

function secretRows(db: Db): { key: string; value: unknown }[] {
  const keys = SECRET_SETTINGS.map((key) => `'${key}'`).join(', ');
  return (db.prepare(`SELECT key, value FROM settings WHERE key IN (${keys})`).all() as { key: string; value: string }[]).map((row) => ({ key: row.key, value: JSON.parse(row.value) }));
}

/** In a snapshot (a copy, not the live database): the box-sealed secrets re-sealed with the backup's key. Returns the keys that could not be carried. */
export function sealSecretsForBackup(copy: Db, box: BoxSealer, backupKey: Buffer): string[] {
  const update = copy.prepare('UPDATE settings SET value = ? WHERE key = ?');
  const lost: string[] = [];
  for (const { key, value } of secretRows(copy)) {
    if (typeof value !== 'string' || value === '') continue;
    let plain: string;
    try {
      plain = sealKind(value) === 'box' ? box.unseal(key, value) : sealKind(value) === undefined ? value : '';
    } catch {
      plain = '';
    }
    if (plain === '') lost.push(key);
    update.run(JSON.stringify(plain === '' ? '' : seal('backup', backupKey, key, plain)), key);
  }
  return lost;
}

function refused(reason: string) {
  return createError('VCBOX_ERR_BACKUP_INVALID', { reason, field: 'file' });
}

/**
 * In the restored copy (staging, before it goes live): every setting checked against its rule,
 * and the secrets re-sealed with this box's key — from the backup's key (`backupKey`, the
 * encrypted format) or from clear text (the plain format). Throws VCBOX_ERR_BACKUP_INVALID.
 */
export function prepareRestoredSettings(copy: Db, box: BoxSealer, backupKey: Buffer | undefined): void {
  for (const row of copy.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[]) {
    if (!isSettingKey(row.key) || SECRET_SETTINGS.includes(row.key)) continue;
    let value: unknown;
    try {
      value = JSON.parse(row.value);
    } catch {
      throw refused(`its setting ${row.key} is not JSON`);
    }
    const problem = checkSetting(row.key, value);
    if (problem) throw refused(`its setting ${row.key} is not allowed (${problem})`);
  }
  const update = copy.prepare('UPDATE settings SET value = ? WHERE key = ?');
  for (const { key, value } of secretRows(copy)) {
    if (typeof value !== 'string') throw refused(`its setting ${key} is not text`);
    const kind = sealKind(value);
    let plain: string;
    if (kind === 'backup') {
      if (!backupKey) throw refused(`its setting ${key} is sealed, but the file is not encrypted`);
      try {
        plain = unseal('backup', backupKey, key, value);
      } catch {
        throw refused(`its setting ${key} does not open with this backup's passphrase (the database was changed)`);
      }
    } else if (kind === 'box') {
      // Sealed with some box's own key, which no backup carries: not something a backup holds.
      throw refused(`its setting ${key} is sealed with a box key, which a backup never carries`);
    } else {
      plain = value;
    }
    if (plain !== '' && isSettingKey(key)) {
      const problem = checkSetting(key, plain);
      if (problem) throw refused(`its setting ${key} is not allowed`);
    }
    update.run(JSON.stringify(plain === '' ? '' : box.seal(key, plain)), key);
  }
}
