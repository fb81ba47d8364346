/**
 * The one dial plan: 4-digit numbers are accounts; VMRs and meetings take 5-12 digits and never
 * share a number. `numberOwner` says who holds a number; `freeNumber` picks an unused one.
 */
import { randomInt } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { SETTINGS } from '../settings/settings-schema.ts';

export function numberOwner(db: Db, number: string, except?: { table: 'vmrs' | 'meetings'; id: number }): string | undefined {
  for (const key of ['call.instantMeetingNumber', 'call.ivrAccessNumber'] as const) {
    const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    if (number === (row ? (JSON.parse(row.value) as string) : SETTINGS[key].default)) {
      return key === 'call.ivrAccessNumber' ? 'the IVR access number (setting call.ivrAccessNumber)' : 'the instant-meeting number (setting call.instantMeetingNumber)';
    }
  }
  const vmr = db.prepare('SELECT id, name FROM vmrs WHERE number = ?').get(number) as { id: number; name: string } | undefined;
  if (vmr && !(except?.table === 'vmrs' && except.id === vmr.id)) return `VMR "${vmr.name}"`;
  const meeting = db.prepare('SELECT id, subject FROM meetings WHERE number = ?').get(number) as { id: number; subject: string } | undefined;
  if (meeting && !(except?.table === 'meetings' && except.id === meeting.id)) return `meeting "${meeting.subject}"`;
  return undefined;
}

/** Random digits, the first not 0. */
export function randomDigits(length: number): string {
  return Array.from({ length }, (_, i) => String(randomInt(i === 0 ? 1 : 0, 10))).join('');
}

export function freeNumber(db: Db, length = 6): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = randomDigits(length);
    if (!numberOwner(db, candidate)) return candidate;
  }
  return freeNumber(db, length + 1);
}
