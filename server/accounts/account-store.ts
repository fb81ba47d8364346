/**
 * Accounts as the SIP side needs them: the 4-digit number a terminal registers with, a name,
 * and the digest credentials — stored only as HA1 values (MD5 and SHA-256 of
 * `number:realm:password`), never the password. The console API (accounts issue) builds its
 * CRUD, search and Excel import on this store; the registrar reads it.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { likeAny, likePattern } from '../db/like-search.ts';
import { isAccountNumber } from '../dial-plan/dial-plan.ts';
import { createError } from '../core/errors.ts';

export const MAX_ACCOUNTS = 10_000;

export interface Account {
  readonly id: number;
  readonly number: string;
  readonly name: string;
  readonly email: string | null;
  readonly realm: string;
  readonly ha1Md5: string;
  readonly ha1Sha256: string;
  readonly createdAt: string;
}

/** Spec input rules: at most 128 characters, `<>,"'&` illegal, user@domain or user@IP. */
export function checkEmail(email: string): string | undefined {
  if (email.length > 128) return 'an e-mail address has at most 128 characters';
  if (/[<>,"'&\s]/.test(email)) return 'an e-mail address may not contain spaces or < > , " \' &';
  if (!/^[^@]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\d{1,3}(\.\d{1,3}){3})$/.test(email)) return 'an e-mail address looks like user@domain or user@IP';
  return undefined;
}

export interface AccountQuery {
  /** Matches number, name or e-mail (case-insensitive substring). */
  readonly q?: string;
  readonly page?: number;
  readonly pageSize?: number;
  readonly sort?: 'number' | 'name' | 'email' | 'created';
  readonly order?: 'asc' | 'desc';
}

export function ha1(algorithm: 'MD5' | 'SHA-256', user: string, realm: string, password: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(`${user}:${realm}:${password}`).digest('hex');
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < 6 || password.length > 16) {
    throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'password', reason: 'a password has 6 to 16 characters' });
  }
}

interface Row {
  id: number;
  number: string;
  name: string;
  email: string | null;
  realm: string;
  ha1_md5: string;
  ha1_sha256: string;
  created_at: string;
}

const toAccount = (row: Row): Account => ({
  id: row.id,
  number: row.number,
  name: row.name,
  email: row.email,
  realm: row.realm,
  ha1Md5: row.ha1_md5,
  ha1Sha256: row.ha1_sha256,
  createdAt: row.created_at,
});

export class AccountStore {
  readonly #db: Db;
  /** Compiled once: the registrar looks accounts up on every authenticated request. */
  readonly #byNumber: ReturnType<Db['prepare']>;
  /** Only what a digest check needs (the signaling service's fast registrar reads it at each REGISTER). */
  readonly #ha1: ReturnType<Db['prepare']>;
  /** Compiled list queries by their SQL (a handful of shapes: search or not, sort, order). */
  readonly #statements = new Map<string, ReturnType<Db['prepare']>>();

  constructor(db: Db) {
    this.#db = db;
    this.#byNumber = db.prepare('SELECT * FROM accounts WHERE number = ?');
    this.#ha1 = db.prepare('SELECT ha1_md5, ha1_sha256 FROM accounts WHERE number = @number AND realm = @realm');
  }

  create(input: { number: string; name: string; email?: string; password: string }, realm: string): Account {
    if (!isAccountNumber(input.number)) {
      throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'number', reason: 'an account number is exactly 4 digits' });
    }
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 128) {
      throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'name', reason: 'a name has 1 to 128 characters' });
    }
    const emailProblem = input.email ? checkEmail(input.email) : undefined;
    if (emailProblem) throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'email', reason: emailProblem });
    checkPassword(input.password);
    const now = new Date().toISOString();
    return this.#db.transaction(() => {
      const count = (this.#db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n;
      if (count >= MAX_ACCOUNTS) throw createError('VCBOX_ERR_ACCOUNT_LIMIT', { limit: MAX_ACCOUNTS });
      if (this.findByNumber(input.number)) throw createError('VCBOX_ERR_ACCOUNT_EXISTS', { number: input.number });
      this.#db
        .prepare(
          'INSERT INTO accounts (number, name, email, realm, ha1_md5, ha1_sha256, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(input.number, input.name, input.email ?? null, realm, ha1('MD5', input.number, realm, input.password), ha1('SHA-256', input.number, realm, input.password), now, now);
      return this.findByNumber(input.number) as Account;
    })();
  }

  findByNumber(number: string): Account | undefined {
    const row = this.#byNumber.get(number) as Row | undefined;
    return row ? toAccount(row) : undefined;
  }

  /** The account's digest credentials, if it exists and its HA1 values were made for `realm`. */
  credentials(number: string, realm: string): Account | undefined {
    const account = this.findByNumber(number);
    return account && account.realm === realm ? account : undefined;
  }

  /** The account's HA1 values, if it exists and they were made for `realm` (nothing else read). */
  ha1(number: string, realm: string): { ha1Md5: string; ha1Sha256: string } | undefined {
    const row = this.#ha1.get({ number, realm }) as { ha1_md5: string; ha1_sha256: string } | undefined;
    return row ? { ha1Md5: row.ha1_md5, ha1Sha256: row.ha1_sha256 } : undefined;
  }

  /** One page of accounts matching the query, and how many match in all. */
  list(query: AccountQuery = {}): { total: number; items: Account[] } {
    const columns = { number: 'number', name: 'name COLLATE NOCASE', email: 'email COLLATE NOCASE', created: 'created_at' } as const;
    const order = `${columns[query.sort ?? 'number']} ${query.order === 'desc' ? 'DESC' : 'ASC'}, number ASC`;
    const pageSize = Math.min(Math.max(query.pageSize ?? 20, 1), 500);
    const offset = (Math.max(query.page ?? 1, 1) - 1) * pageSize;
    // Three characters or more: the trigram index finds substrings without scanning; shorter
    // searches fall back to LIKE (with its wildcards escaped, so both take the text literally).
    const q = query.q ?? '';
    let where = '';
    let params: Record<string, string> = {};
    if (q.length >= 3) {
      where = 'WHERE id IN (SELECT rowid FROM accounts_fts WHERE accounts_fts MATCH @fts)';
      params = { fts: `"${q.replace(/"/g, '""')}"` };
    } else if (q !== '') {
      where = `WHERE ${likeAny(['number', 'name', 'email'])}`;
      params = { q: likePattern(q) };
    }
    const total = (this.#statement(`SELECT count(*) AS n FROM accounts ${where}`).get(params) as { n: number }).n;
    const rows = this.#statement(`SELECT * FROM accounts ${where} ORDER BY ${order} LIMIT @limit OFFSET @offset`).all({
      ...params,
      limit: pageSize,
      offset,
    }) as Row[];
    return { total, items: rows.map(toAccount) };
  }

  #statement(sql: string): ReturnType<Db['prepare']> {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Changes name and/or e-mail; throws VCBOX_ERR_ACCOUNT_NOT_FOUND or _INVALID. */
  update(number: string, changes: { name?: string; email?: string | null }): Account {
    if (!this.findByNumber(number)) throw createError('VCBOX_ERR_ACCOUNT_NOT_FOUND', { number });
    if (changes.name !== undefined && (changes.name.trim() === '' || changes.name.length > 128)) {
      throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'name', reason: 'a name has 1 to 128 characters' });
    }
    const emailProblem = changes.email ? checkEmail(changes.email) : undefined;
    if (emailProblem) throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'email', reason: emailProblem });
    this.#db
      .prepare('UPDATE accounts SET name = COALESCE(?, name), email = CASE WHEN ? THEN ? ELSE email END, updated_at = ? WHERE number = ?')
      .run(changes.name ?? null, changes.email !== undefined ? 1 : 0, changes.email ?? null, new Date().toISOString(), number);
    return this.findByNumber(number) as Account;
  }

  /** Deletes the given accounts at once; returns the numbers that existed. */
  delete(numbers: readonly string[]): string[] {
    const remove = this.#db.prepare('DELETE FROM accounts WHERE number = ?');
    return this.#db.transaction(() => numbers.filter((number) => remove.run(number).changes > 0))();
  }

  setPassword(number: string, password: string, realm: string): void {
    if (!this.findByNumber(number)) throw createError('VCBOX_ERR_ACCOUNT_NOT_FOUND', { number });
    checkPassword(password);
    this.#db
      .prepare('UPDATE accounts SET realm = ?, ha1_md5 = ?, ha1_sha256 = ?, updated_at = ? WHERE number = ?')
      .run(realm, ha1('MD5', number, realm, password), ha1('SHA-256', number, realm, password), new Date().toISOString(), number);
  }
}
