/**
 * Physical meeting rooms [001 ch6]: a name (≤255) and a type — `normal`, or `video` when a
 * terminal sits in it, bound to that terminal's account (the list shows the bound device's
 * model from its registration). Deleting an account unbinds its room.
 */
import type { Db } from '../db/database.ts';
import { likeAny, likePattern } from '../db/like-search.ts';
import { createError } from '../core/errors.ts';

export type RoomType = 'normal' | 'video';

export interface Room {
  readonly id: number;
  readonly name: string;
  readonly type: RoomType;
  readonly account: string | null;
  readonly createdAt: string;
}

interface Row {
  id: number;
  name: string;
  type: RoomType;
  account_number: string | null;
  created_at: string;
}

const toRoom = (row: Row): Room => ({ id: row.id, name: row.name, type: row.type, account: row.account_number, createdAt: row.created_at });

export class RoomStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  #check(input: { name: string; type: RoomType; account?: string | null }): void {
    if (input.name.trim() === '' || input.name.length > 255) throw createError('VCBOX_ERR_ROOM', { field: 'name', reason: 'a room name has 1 to 255 characters' });
    if (input.type === 'video') {
      if (!input.account) throw createError('VCBOX_ERR_ROOM', { field: 'account', reason: 'a video room is bound to the account of its terminal' });
      if (!this.#db.prepare('SELECT 1 FROM accounts WHERE number = ?').get(input.account)) {
        throw createError('VCBOX_ERR_ROOM', { field: 'account', reason: `there is no account ${input.account}` });
      }
    } else if (input.account) {
      throw createError('VCBOX_ERR_ROOM', { field: 'account', reason: 'only a video room is bound to an account' });
    }
  }

  create(input: { name: string; type: RoomType; account?: string | null }): Room {
    this.#check(input);
    const result = this.#db
      .prepare('INSERT INTO rooms (name, type, account_number, created_at) VALUES (?, ?, ?, ?)')
      .run(input.name, input.type, input.type === 'video' ? (input.account ?? null) : null, new Date().toISOString());
    return this.get(Number(result.lastInsertRowid)) as Room;
  }

  get(id: number): Room | undefined {
    const row = this.#db.prepare('SELECT * FROM rooms WHERE id = ?').get(id) as Row | undefined;
    return row ? toRoom(row) : undefined;
  }

  update(id: number, changes: { name?: string; type?: RoomType; account?: string | null }): Room {
    const current = this.get(id);
    if (!current) throw createError('VCBOX_ERR_ROOM_NOT_FOUND', { kind: 'room', id });
    const next = { name: changes.name ?? current.name, type: changes.type ?? current.type, account: changes.account === undefined ? current.account : changes.account };
    if (next.type === 'normal') next.account = null;
    this.#check(next);
    this.#db.prepare('UPDATE rooms SET name = ?, type = ?, account_number = ? WHERE id = ?').run(next.name, next.type, next.account, id);
    return this.get(id) as Room;
  }

  list(query: { q?: string; type?: RoomType } = {}): Room[] {
    const where: string[] = [];
    const params: Record<string, string> = {};
    if (query.q) {
      where.push(likeAny(['name', 'account_number']));
      params.q = likePattern(query.q);
    }
    if (query.type) {
      where.push('type = @type');
      params.type = query.type;
    }
    const sql = `SELECT * FROM rooms ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name COLLATE NOCASE, id`;
    return (this.#db.prepare(sql).all(params) as Row[]).map(toRoom);
  }

  delete(ids: readonly number[]): number[] {
    const remove = this.#db.prepare('DELETE FROM rooms WHERE id = ?');
    return this.#db.transaction(() => ids.filter((id) => remove.run(id).changes > 0))();
  }
}
