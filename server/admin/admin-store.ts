/**
 * Console administrators: user name, scrypt password hash, e-mail (for reset and alarm mails),
 * role (`admin` may change things, `operator` may only read), and the login lock-out the spec
 * asks for (5 wrong passwords → locked 3 minutes). On a new box one `admin` exists with a
 * random password written to `<dataDir>/secrets/initial-admin-password`, to be changed at the
 * first login.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/database.ts';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import { boundedRemainingMs } from '../core/clock.ts';

const log = getLogger('admins');

export type AdminRole = 'admin' | 'operator';

export interface Admin {
  readonly id: number;
  readonly username: string;
  readonly email: string | null;
  readonly role: AdminRole;
  readonly mustChangePassword: boolean;
}

export const LOGIN_LOCKOUT = { failures: 5, durationMs: 3 * 60_000 } as const;

interface Row {
  id: number;
  username: string;
  password_hash: string;
  email: string | null;
  role: AdminRole;
  must_change_password: number;
  failed_logins: number;
  locked_until: string | null;
}

const toAdmin = (row: Row): Admin => ({
  id: row.id,
  username: row.username,
  email: row.email,
  role: row.role,
  mustChangePassword: row.must_change_password === 1,
});

export function checkAdminPassword(password: unknown): string | undefined {
  if (typeof password !== 'string' || password.length < 6 || password.length > 16) return 'a password has 6 to 16 characters';
  return undefined;
}

/** The "new password" and "confirm" fields of every password form must agree. */
export function confirmNewPassword(newPassword: unknown, confirmation: unknown): void {
  if (newPassword !== confirmation) throw passwordRefused('confirmPassword', 'the confirmation differs from the new password', '两次输入的新密码不一致');
}

/** A password form's refusal, naming the field the console shows it by, in both languages. */
function passwordRefused(field: 'currentPassword' | 'newPassword' | 'confirmPassword', reason: string, reasonZh: string) {
  return createError('VCBOX_ERR_PASSWORD_CHANGE', { field, reason, reasonZh });
}

const PASSWORD_LENGTH_ZH = '密码须为 6 到 16 个字符';

export class AdminStore {
  readonly #db: Db;
  readonly #byId: ReturnType<Db['prepare']>;

  constructor(db: Db) {
    this.#db = db;
    this.#byId = db.prepare('SELECT * FROM admins WHERE id = ?');
  }

  #row(username: string): Row | undefined {
    return this.#db.prepare('SELECT * FROM admins WHERE username = ?').get(username) as Row | undefined;
  }

  byId(id: number): Admin | undefined {
    const row = this.#byId.get(id) as Row | undefined;
    return row ? toAdmin(row) : undefined;
  }

  list(): Admin[] {
    return (this.#db.prepare('SELECT * FROM admins ORDER BY username').all() as Row[]).map(toAdmin);
  }

  /** Where alarm mails go (licence expiry, disk full): the e-mail of every administrator (not operators) who set one. */
  alarmRecipients(): string[] {
    return this.list()
      .filter((admin) => admin.role === 'admin' && admin.email)
      .map((admin) => admin.email as string);
  }

  async create(input: { username: string; password: string; email?: string | null; role: AdminRole; mustChangePassword?: boolean }): Promise<Admin> {
    const reason = checkAdminPassword(input.password);
    if (reason) throw createError('VCBOX_ERR_VALIDATION', { field: 'password', reason });
    const hash = await hashPassword(input.password);
    if (this.#row(input.username)) throw createError('VCBOX_ERR_ADMIN_EXISTS', { username: input.username });
    this.#db
      .prepare('INSERT INTO admins (username, password_hash, email, role, must_change_password, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(input.username, hash, input.email ?? null, input.role, input.mustChangePassword ? 1 : 0, new Date().toISOString());
    return toAdmin(this.#row(input.username) as Row);
  }

  delete(id: number): boolean {
    return this.#db.prepare('DELETE FROM admins WHERE id = ?').run(id).changes > 0;
  }

  /**
   * Checks a login. Unknown user and wrong password give the same error; the fifth wrong
   * password in a row locks the user for three minutes (the lock is said, with the time left).
   *
   * The attempt is counted before the password is checked, in one statement (SQLite runs it
   * atomically), and only while the user is not locked: logins sent all at once cannot all
   * read "no failures yet" and slip past the lock-out — the fifth attempt counted locks the
   * user, whatever the others are still doing. A right password clears the count and the lock.
   */
  async login(username: string, password: string, now = Date.now()): Promise<Admin> {
    const row = this.#row(username);
    if (!row) {
      await hashPassword(password); // same time as a real check: no user enumeration by timing
      throw createError('VCBOX_ERR_LOGIN_FAILED');
    }
    const lockUntil = new Date(now + LOGIN_LOCKOUT.durationMs).toISOString();
    // The lock is kept in the database (wall clock: it outlives restarts). One further away than
    // its duration was set before the clock went back: it ends a duration from now at the latest
    // (server/core/clock.ts), instead of by the size of the jump.
    this.#db.prepare('UPDATE admins SET locked_until = @lockUntil WHERE id = @id AND locked_until > @lockUntil').run({ id: row.id, lockUntil });
    const counted = this.#db
      .prepare(
        `UPDATE admins SET
           failed_logins = CASE WHEN failed_logins + 1 >= @failures THEN 0 ELSE failed_logins + 1 END,
           locked_until = CASE WHEN failed_logins + 1 >= @failures THEN @lockUntil ELSE NULL END
         WHERE id = @id AND (locked_until IS NULL OR locked_until <= @now)
         RETURNING locked_until`,
      )
      .get({ id: row.id, failures: LOGIN_LOCKOUT.failures, lockUntil, now: new Date(now).toISOString() }) as { locked_until: string | null } | undefined;
    if (!counted) {
      const current = this.#db.prepare('SELECT locked_until FROM admins WHERE id = ?').get(row.id) as { locked_until: string | null } | undefined;
      const lockedUntil = current?.locked_until ? Date.parse(current.locked_until) : now;
      throw createError('VCBOX_ERR_LOGIN_LOCKED', { seconds: Math.max(1, Math.ceil(boundedRemainingMs(lockedUntil, LOGIN_LOCKOUT.durationMs, now) / 1000)) });
    }
    if (!(await verifyPassword(password, row.password_hash))) {
      if (counted.locked_until) throw createError('VCBOX_ERR_LOGIN_LOCKED', { seconds: LOGIN_LOCKOUT.durationMs / 1000 });
      throw createError('VCBOX_ERR_LOGIN_FAILED');
    }
    this.#db.prepare('UPDATE admins SET failed_logins = 0, locked_until = NULL WHERE id = ?').run(row.id);
    return toAdmin(row);
  }

  async changePassword(id: number, current: string, next: string): Promise<void> {
    const row = this.#db.prepare('SELECT * FROM admins WHERE id = ?').get(id) as Row | undefined;
    if (!row || !(await verifyPassword(current, row.password_hash))) {
      throw passwordRefused('currentPassword', 'the current password is wrong', '当前密码不正确');
    }
    const reason = checkAdminPassword(next);
    if (reason) throw passwordRefused('newPassword', reason, PASSWORD_LENGTH_ZH);
    if (next === current) throw passwordRefused('newPassword', 'the new password equals the current one', '新密码不能与当前密码相同');
    this.#db.prepare('UPDATE admins SET password_hash = ?, must_change_password = 0 WHERE id = ?').run(await hashPassword(next), id);
  }

  /** The administrator with this name and registered e-mail (e-mail compared case-insensitively). */
  byNameAndEmail(username: string, email: string): Admin | undefined {
    const row = this.#row(username);
    return row?.email && row.email.toLowerCase() === email.toLowerCase() ? toAdmin(row) : undefined;
  }

  /** Sets a password without the current one (reset link); clears any lock. */
  async resetPassword(id: number, password: string): Promise<void> {
    const reason = checkAdminPassword(password);
    if (reason) throw passwordRefused('newPassword', reason, PASSWORD_LENGTH_ZH);
    this.#db
      .prepare('UPDATE admins SET password_hash = ?, must_change_password = 0, failed_logins = 0, locked_until = NULL WHERE id = ?')
      .run(await hashPassword(password), id);
  }

  setEmail(id: number, email: string): void {
    this.#db.prepare('UPDATE admins SET email = ? WHERE id = ?').run(email, id);
  }

  /** On a box without administrators: creates `admin` with a random password, written for the installer to read. */
  async ensureInitialAdmin(secretsDir: string): Promise<void> {
    if ((this.#db.prepare('SELECT count(*) AS n FROM admins').get() as { n: number }).n > 0) return;
    const password = randomBytes(9).toString('base64url').slice(0, 12);
    await this.create({ username: 'admin', password, role: 'admin', mustChangePassword: true }).catch((error: { code?: string }) => {
      if (error.code !== 'VCBOX_ERR_ADMIN_EXISTS') throw error; // another process was first
    });
    mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    const file = path.join(secretsDir, 'initial-admin-password');
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    log.warn({ file }, 'created the console administrator "admin"; its first password is in this file and must be changed at the first login');
  }
}
