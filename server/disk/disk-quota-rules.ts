/**
 * The rules across the disk quotas [001 ch4 磁盘空间设置, 说明], which need the disk and so are
 * checked where it is read (PATCH /settings, before anything is written), not in the settings
 * schema: each part's quota is at least the larger of its default and what it uses now (used
 * rounded up to whole GB: "会议记录默认为 10G，当前使用 0G，则最小值为 10G，如果当前使用了
 * 12G，则最小值为 12G"); the quotas of the parts on one file system add up to no more than the
 * space those parts can have there — its free space plus what they already hold (their files
 * are inside their quotas; counting them as taken as well would refuse every change on a disk
 * that is filling up). Whole numbers are the schema's rule.
 */
import { createError, type VcboxError } from '../core/errors.ts';
import { checkSetting, type SettingKey, type Settings } from '../settings/settings-schema.ts';
import { DISK_PARTS, type DiskUsage, GIB, PART_NAMES, QUOTA_KEYS } from './disk-parts.ts';

const QUOTA_PREFIX = 'disk.quota.';

/** The quota keys among `changes` (a PATCH body). */
export function quotaChanges(changes: Record<string, unknown>): SettingKey[] {
  return Object.keys(changes).filter((key): key is SettingKey => key.startsWith(QUOTA_PREFIX) && (Object.values(QUOTA_KEYS) as string[]).includes(key));
}

/** GB with one decimal, rounded down (what is available) or up (what is used). */
const gb = (bytes: number, round: (n: number) => number) => round((bytes / GIB) * 10) / 10;

/**
 * The refusal of quota values `next` (the settings as they would be) changed in `changed`, or
 * undefined when they keep the rules. Values that break their own rule (not whole numbers) are
 * left to the settings store, which names that rule.
 */
export function checkQuotas(next: Settings, changed: readonly SettingKey[], usage: DiskUsage): VcboxError | undefined {
  if (changed.some((key) => checkSetting(key, next[key]) !== undefined)) return undefined;
  for (const part of usage.parts) {
    if (!changed.includes(part.quotaKey)) continue;
    const value = next[part.quotaKey] as number;
    if (value < part.minimumGB) {
      return createError('VCBOX_ERR_DISK_QUOTA_MIN', {
        key: part.quotaKey,
        field: part.quotaKey,
        part: PART_NAMES[part.id].en,
        partZh: PART_NAMES[part.id].zh,
        min: part.minimumGB,
        default: part.defaultGB,
        used: gb(part.usedBytes, Math.ceil),
      });
    }
  }
  for (const filesystem of usage.filesystems) {
    const here = DISK_PARTS.filter((id) => filesystem.parts.includes(id));
    const key = here.map((id) => QUOTA_KEYS[id]).find((k) => changed.includes(k));
    if (!key) continue;
    const sum = here.reduce((total, id) => total + (next[QUOTA_KEYS[id]] as number), 0);
    if (sum * GIB > filesystem.availableForPartsBytes) {
      return createError('VCBOX_ERR_DISK_QUOTA_SUM', {
        key,
        field: key,
        path: filesystem.path,
        sum,
        available: gb(filesystem.availableForPartsBytes, Math.floor),
        free: gb(filesystem.freeBytes, Math.floor),
        used: gb(filesystem.availableForPartsBytes - filesystem.freeBytes, Math.ceil),
      });
    }
  }
  return undefined;
}
