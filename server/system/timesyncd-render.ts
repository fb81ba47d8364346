/**
 * Time: the systemd-timesyncd drop-in (/etc/systemd/timesyncd.conf.d/vcbox.conf) with the SNTP
 * server of `time.sntpServer` — or no server when `time.mode` is manual (the appliance then
 * also turns NTP off) — and the zone name file (/etc/vcbox/timezone) with the tz database zone
 * of `time.zone` + `time.dst` (./time-zones.ts), which the appliance sets with timedatectl.
 */
import type { Settings } from '../settings/settings-schema.ts';
import { OWNED_FILES, type RenderedFile } from './system-files.ts';
import { zoneName } from './time-zones.ts';

/** The tz database zone of the settings (the zone list is checked by the settings schema). */
export function settingsZone(settings: Settings): string {
  return zoneName(settings['time.zone'], settings['time.dst'] === 'auto' ? 'auto' : 'off') ?? 'Etc/UTC';
}

export function renderTime(settings: Settings): RenderedFile[] {
  const sntp = settings['time.mode'] === 'sntp';
  const timesyncd = [
    '# Time of the vcbox appliance, written from its settings (time.mode, time.sntpServer).',
    '# Change it in the console: vcbox rewrites this file on every change.',
    '[Time]',
    ...(sntp ? [`NTP=${settings['time.sntpServer']}`] : ['# Manual time: no SNTP server (the appliance turns NTP off).', 'NTP=']),
  ];
  return [
    { file: OWNED_FILES.timesyncd, content: `${timesyncd.join('\n')}\n` },
    { file: OWNED_FILES.timeZone, content: `${settingsZone(settings)}\n` },
  ];
}
