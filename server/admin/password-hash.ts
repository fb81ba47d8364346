/**
 * Console passwords hashed with scrypt (memory-hard: N=2^15, r=8 → 32 MiB per hash), stored as
 * `scrypt$N$r$p$salt$hash`; verification is constant-time. SIP credentials are not here — SIP
 * needs HA1 values (server/accounts).
 *
 * Each hash costs a core for a while and 32 MiB, so a flood of logins must not run them all at
 * once: at most HASH_CONCURRENCY run together, at most HASH_QUEUE wait their turn, and a request
 * beyond that is refused at once (VCBOX_ERR_BUSY, "try again in a few seconds"). Only hashes of
 * stored parameters are accepted (a stored N or r beyond ours is refused, not computed).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { createError } from '../core/errors.ts';

const rawScrypt = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** Hashes computed at the same time (the box has few cores; the event loop keeps the rest). */
export const HASH_CONCURRENCY = 1;
/** Hashes waiting for their turn; beyond this, callers are refused instead of queued. */
export const HASH_QUEUE = 16;

let running = 0;
const waiting: (() => void)[] = [];

/** scrypt within the concurrency cap; refuses (VCBOX_ERR_BUSY) when the queue is full. */
async function scryptAsync(password: string, salt: Buffer, keylen: number, options: object): Promise<Buffer> {
  if (running >= HASH_CONCURRENCY) {
    if (waiting.length >= HASH_QUEUE) throw createError('VCBOX_ERR_BUSY');
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    running++;
  }
  try {
    return await rawScrypt(password, salt, keylen, options);
  } finally {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next in line
    else running--;
  }
}
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash || Number(n) > N || Number(r) > R || Number(p) > P) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
