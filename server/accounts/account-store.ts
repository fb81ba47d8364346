/**
 * Accounts as the SIP side needs them: the 4-digit number a terminal registers with, a name,
 * and the digest credentials — stored only as HA1 values (MD5 and SHA-256 of
 * `number:realm:password`), never the password. The console API (accounts issue) builds its
 * CRUD, search and Excel import on this store; the registrar reads it.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { createError } from '../errors.ts';

export const MAX_ACCOUNTS = 10_000;

export interface Account {
  readonly id: number;
  readonly number: string;
  readonly name: string;
  readonly email: string | null;
  readonly realm: string;
  readonly ha1Md5: string;
  readonly ha1Sha256: string;
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
}

const toAccount = (row: Row): Account => ({
  id: row.id,
  number: row.number,
  name: row.name,
  email: row.email,
  realm: row.realm,
  ha1Md5: row.ha1_md5,
  ha1Sha256: row.ha1_sha256,
});

export class AccountStore {
  readonly #db: Db;
  /** Compiled once: the registrar looks accounts up on every authenticated request. */
  readonly #byNumber: ReturnType<Db['prepare']>;

  constructor(db: Db) {
    this.#db = db;
    this.#byNumber = db.prepare('SELECT * FROM accounts WHERE number = ?');
  }

  create(input: { number: string; name: string; email?: string; password: string }, realm: string): Account {
    if (!/^\d{4}$/.test(input.number)) {
      throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'number', reason: 'an account number is exactly 4 digits' });
    }
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 128) {
      throw createError('VCBOX_ERR_ACCOUNT_INVALID', { field: 'name', reason: 'a name has 1 to 128 characters' });
    }
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

  setPassword(number: string, password: string, realm: string): void {
    checkPassword(password);
    this.#db
      .prepare('UPDATE accounts SET realm = ?, ha1_md5 = ?, ha1_sha256 = ?, updated_at = ? WHERE number = ?')
      .run(realm, ha1('MD5', number, realm, password), ha1('SHA-256', number, realm, password), new Date().toISOString(), number);
  }
}
