/**
 * Virtual meeting rooms (VMRs): a fixed number callers dial, a name, an owner account, a host
 * PIN and an optional guest PIN, a capacity and a layout. VMR numbers have 5 to 12 digits, so
 * they never collide with the 4-digit accounts in the one dial plan; PINs are 4-8 digits and
 * the host and guest PINs differ (the PIN decides the role). Missing number or PINs are generated.
 */
import type { Db } from '../db/database.ts';
import { likeAny, likePattern } from '../db/like-search.ts';
import { createError } from '../core/errors.ts';
import { EQUAL_SPLIT_LAYOUTS, ONE_PLUS_N_LAYOUTS } from '../core/call-settings.ts';
import { isMeetingNumber, isStoredPin, randomDigits, type ReservedNumberSource } from '../dial-plan/dial-plan.ts';
import { SettingsStore } from '../settings/settings-store.ts';
import { freeNumber, numberOwner } from './meeting-numbers.ts';

export const VMR_LAYOUTS = ['auto', 'single', ...EQUAL_SPLIT_LAYOUTS, ...ONE_PLUS_N_LAYOUTS] as const;
export type VmrLayout = (typeof VMR_LAYOUTS)[number];

export interface Vmr {
  readonly id: number;
  readonly number: string;
  readonly name: string;
  readonly owner: string | null;
  readonly hostPin: string;
  readonly guestPin: string;
  readonly capacity: number;
  readonly layout: VmrLayout;
  readonly createdAt: string;
}

export interface VmrInput {
  number?: string;
  name: string;
  owner?: string | null;
  hostPin?: string;
  guestPin?: string;
  capacity?: number;
  layout?: VmrLayout;
}

interface Row {
  id: number;
  number: string;
  name: string;
  owner: string | null;
  host_pin: string;
  guest_pin: string;
  capacity: number;
  layout: VmrLayout;
  created_at: string;
}

const toVmr = (row: Row): Vmr => ({
  id: row.id,
  number: row.number,
  name: row.name,
  owner: row.owner,
  hostPin: row.host_pin,
  guestPin: row.guest_pin,
  capacity: row.capacity,
  layout: row.layout,
  createdAt: row.created_at,
});

export class VmrStore {
  readonly #db: Db;
  /** The numbers the settings reserve (IVR access, instant meeting): no VMR takes them. */
  readonly #reserved: ReservedNumberSource;

  constructor(db: Db, settings: ReservedNumberSource = new SettingsStore(db)) {
    this.#db = db;
    this.#reserved = settings;
  }

  #check(vmr: Omit<Vmr, 'id' | 'createdAt'>, id?: number): void {
    const fail = (field: string, reason: string) => createError('VCBOX_ERR_ROOM', { field, reason });
    if (!isMeetingNumber(vmr.number)) throw fail('number', 'a VMR number has 5 to 12 digits (4 digits are accounts)');
    if (vmr.name.trim() === '' || vmr.name.length > 128) throw fail('name', 'a name has 1 to 128 characters');
    if (!isStoredPin(vmr.hostPin)) throw fail('hostPin', 'a PIN has 4 to 8 digits');
    if (vmr.guestPin !== '' && !isStoredPin(vmr.guestPin)) throw fail('guestPin', 'a PIN has 4 to 8 digits, or is empty for no guest PIN');
    if (vmr.guestPin === vmr.hostPin) throw fail('guestPin', 'the guest PIN must differ from the host PIN (the PIN decides the role)');
    if (!Number.isInteger(vmr.capacity) || vmr.capacity < 2 || vmr.capacity > 500) throw fail('capacity', 'a capacity is 2 to 500 participants');
    if (!(VMR_LAYOUTS as readonly string[]).includes(vmr.layout)) throw fail('layout', `one of ${VMR_LAYOUTS.join(', ')}`);
    if (vmr.owner && !this.#db.prepare('SELECT 1 FROM accounts WHERE number = ?').get(vmr.owner)) throw fail('owner', `there is no account ${vmr.owner}`);
    const owner = numberOwner(this.#db, this.#reserved, vmr.number, id === undefined ? undefined : { table: 'vmrs', id });
    if (owner) throw createError('VCBOX_ERR_ROOM_EXISTS', { number: vmr.number, owner });
  }

  create(input: VmrInput): Vmr {
    const number = input.number ?? freeNumber(this.#db, this.#reserved);
    const hostPin = input.hostPin ?? randomDigits(6);
    let guestPin = input.guestPin;
    while (guestPin === undefined || (input.guestPin === undefined && guestPin === hostPin)) guestPin = randomDigits(4);
    const vmr = { number, name: input.name, owner: input.owner ?? null, hostPin, guestPin, capacity: input.capacity ?? 16, layout: input.layout ?? 'auto' };
    this.#check(vmr);
    const result = this.#db
      .prepare('INSERT INTO vmrs (number, name, owner, host_pin, guest_pin, capacity, layout, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(vmr.number, vmr.name, vmr.owner, vmr.hostPin, vmr.guestPin, vmr.capacity, vmr.layout, new Date().toISOString());
    return this.get(Number(result.lastInsertRowid)) as Vmr;
  }

  get(id: number): Vmr | undefined {
    const row = this.#db.prepare('SELECT * FROM vmrs WHERE id = ?').get(id) as Row | undefined;
    return row ? toVmr(row) : undefined;
  }

  byNumber(number: string): Vmr | undefined {
    const row = this.#db.prepare('SELECT * FROM vmrs WHERE number = ?').get(number) as Row | undefined;
    return row ? toVmr(row) : undefined;
  }

  update(id: number, changes: Partial<VmrInput>): Vmr {
    const current = this.get(id);
    if (!current) throw createError('VCBOX_ERR_ROOM_NOT_FOUND', { kind: 'VMR', id });
    const next = {
      number: changes.number ?? current.number,
      name: changes.name ?? current.name,
      owner: changes.owner === undefined ? current.owner : changes.owner,
      hostPin: changes.hostPin ?? current.hostPin,
      guestPin: changes.guestPin ?? current.guestPin,
      capacity: changes.capacity ?? current.capacity,
      layout: changes.layout ?? current.layout,
    };
    this.#check(next, id);
    this.#db
      .prepare('UPDATE vmrs SET number = ?, name = ?, owner = ?, host_pin = ?, guest_pin = ?, capacity = ?, layout = ? WHERE id = ?')
      .run(next.number, next.name, next.owner, next.hostPin, next.guestPin, next.capacity, next.layout, id);
    return this.get(id) as Vmr;
  }

  list(q?: string): Vmr[] {
    const where = q ? `WHERE ${likeAny(['number', 'name', 'owner'])}` : '';
    const params = q ? { q: likePattern(q) } : {};
    return (this.#db.prepare(`SELECT * FROM vmrs ${where} ORDER BY number`).all(params) as Row[]).map(toVmr);
  }

  delete(ids: readonly number[]): number[] {
    const remove = this.#db.prepare('DELETE FROM vmrs WHERE id = ?');
    return this.#db.transaction(() => ids.filter((id) => remove.run(id).changes > 0))();
  }
}
