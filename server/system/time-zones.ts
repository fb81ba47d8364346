/**
 * The time zones the console offers (spec "Network & services" → Time; the list of [001
 * appendix A], which names zones by their UTC offset and cities) and the tz database zone the
 * box is set to for each. The setting `time.zone` stores the offset (UTC+08:00); `time.dst`
 * says whether summer time follows the zone's rules ("auto": the appendix's first city's zone)
 * or never ("off": a zone of constant offset — Etc/GMT∓N, whose sign POSIX inverts; for the
 * half-hour offsets, which have no Etc zone, a city of the appendix without summer time, or
 * the appendix's city where none exists).
 */

interface ZoneChoice {
  /** The zone when summer time follows the region's rules (dst auto). */
  readonly auto: string;
  /** The zone of constant offset (dst off). */
  readonly off: string;
}

const ZONES: Readonly<Record<string, ZoneChoice>> = {
  'UTC-11:00': { auto: 'Pacific/Pago_Pago', off: 'Etc/GMT+11' },
  'UTC-10:00': { auto: 'Pacific/Honolulu', off: 'Etc/GMT+10' },
  'UTC-09:00': { auto: 'America/Anchorage', off: 'Etc/GMT+9' },
  'UTC-08:00': { auto: 'America/Los_Angeles', off: 'Etc/GMT+8' },
  'UTC-07:00': { auto: 'America/Denver', off: 'Etc/GMT+7' },
  'UTC-06:00': { auto: 'America/Chicago', off: 'Etc/GMT+6' },
  'UTC-05:00': { auto: 'America/New_York', off: 'Etc/GMT+5' },
  // Caracas, as the appendix names it (Venezuela has kept UTC-04:00 since 2016).
  'UTC-04:30': { auto: 'America/Caracas', off: 'America/Caracas' },
  'UTC-04:00': { auto: 'America/Halifax', off: 'Etc/GMT+4' },
  'UTC-03:30': { auto: 'America/St_Johns', off: 'America/St_Johns' },
  'UTC-03:00': { auto: 'America/Sao_Paulo', off: 'Etc/GMT+3' },
  'UTC-02:00': { auto: 'America/Noronha', off: 'Etc/GMT+2' },
  'UTC-01:00': { auto: 'Atlantic/Azores', off: 'Etc/GMT+1' },
  'UTC+00:00': { auto: 'Europe/London', off: 'Etc/UTC' },
  'UTC+01:00': { auto: 'Europe/Berlin', off: 'Etc/GMT-1' },
  'UTC+02:00': { auto: 'Europe/Athens', off: 'Etc/GMT-2' },
  'UTC+03:00': { auto: 'Europe/Moscow', off: 'Etc/GMT-3' },
  'UTC+03:30': { auto: 'Asia/Tehran', off: 'Asia/Tehran' },
  'UTC+04:00': { auto: 'Asia/Dubai', off: 'Etc/GMT-4' },
  'UTC+04:30': { auto: 'Asia/Kabul', off: 'Asia/Kabul' },
  'UTC+05:00': { auto: 'Asia/Karachi', off: 'Etc/GMT-5' },
  'UTC+05:30': { auto: 'Asia/Kolkata', off: 'Asia/Kolkata' },
  'UTC+05:45': { auto: 'Asia/Kathmandu', off: 'Asia/Kathmandu' },
  'UTC+06:00': { auto: 'Asia/Dhaka', off: 'Etc/GMT-6' },
  'UTC+06:30': { auto: 'Asia/Yangon', off: 'Asia/Yangon' },
  'UTC+07:00': { auto: 'Asia/Bangkok', off: 'Etc/GMT-7' },
  'UTC+08:00': { auto: 'Asia/Shanghai', off: 'Etc/GMT-8' },
  'UTC+09:00': { auto: 'Asia/Tokyo', off: 'Etc/GMT-9' },
  'UTC+09:30': { auto: 'Australia/Adelaide', off: 'Australia/Darwin' },
  'UTC+10:00': { auto: 'Australia/Sydney', off: 'Etc/GMT-10' },
  'UTC+11:00': { auto: 'Asia/Magadan', off: 'Etc/GMT-11' },
  'UTC+12:00': { auto: 'Pacific/Auckland', off: 'Etc/GMT-12' },
  'UTC+13:00': { auto: 'Pacific/Tongatapu', off: 'Etc/GMT-13' },
};

/** The offsets of the list, west to east (UTC-11:00 … UTC+13:00). */
export const TIME_ZONE_OFFSETS: readonly string[] = Object.keys(ZONES);

export const isTimeZoneOffset = (value: unknown): value is string => typeof value === 'string' && Object.hasOwn(ZONES, value);

/** The tz database zone for a zone setting and summer-time choice (undefined when not in the list). */
export function zoneName(offset: string, dst: 'auto' | 'off'): string | undefined {
  return Object.hasOwn(ZONES, offset) ? ZONES[offset]?.[dst] : undefined;
}
