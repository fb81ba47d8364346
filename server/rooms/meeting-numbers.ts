/**
 * Who holds a meeting number. VMRs and meetings take numbers of the one dial plan's meeting
 * shape (server/dial-plan/dial-plan.ts) and never share one, nor take the numbers the settings
 * reserve (the IVR access number, the instant-meeting number). `numberOwner` says who holds a
 * number; `freeNumber` picks an unused one. Read by the VMR and meeting stores.
 */
import type { Db } from '../db/database.ts';
import { classifyDial, dialContextOf, randomDigits, type ReservedNumberSource } from '../dial-plan/dial-plan.ts';

export function numberOwner(db: Db, settings: ReservedNumberSource, number: string, except?: { table: 'vmrs' | 'meetings'; id: number }): string | undefined {
  const dial = classifyDial(number, dialContextOf(settings));
  if (dial.kind === 'ivr') return 'the IVR access number (setting call.ivrAccessNumber)';
  if (dial.kind === 'instant') return 'the instant-meeting number (setting call.instantMeetingNumber)';
  const vmr = db.prepare('SELECT id, name FROM vmrs WHERE number = ?').get(number) as { id: number; name: string } | undefined;
  if (vmr && !(except?.table === 'vmrs' && except.id === vmr.id)) return `VMR "${vmr.name}"`;
  const meeting = db.prepare('SELECT id, subject FROM meetings WHERE number = ?').get(number) as { id: number; subject: string } | undefined;
  if (meeting && !(except?.table === 'meetings' && except.id === meeting.id)) return `meeting "${meeting.subject}"`;
  return undefined;
}

/** An unused meeting number: random, `length` digits (one more after 50 taken tries). */
export function freeNumber(db: Db, settings: ReservedNumberSource, length = 6): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = randomDigits(length);
    if (!numberOwner(db, settings, candidate)) return candidate;
  }
  return freeNumber(db, settings, length + 1);
}
