/**
 * Sealing a short secret (a password the box must present to another server) for storage:
 * AES-256-GCM with a random 96-bit nonce, the purpose (`aad`, e.g. the setting's key) bound in as
 * additional data so a sealed value cannot be moved to another field, written as
 * `<prefix><base64url(nonce | ciphertext | tag)>`. The prefix names the key that sealed it:
 * `vcbox-sealed:box:v1:` (this box's key, ./box-key.ts) or `vcbox-sealed:backup:v1:` (a key
 * derived from a backup's passphrase, server/backup/backup-encryption.ts). Nothing here knows
 * where keys live.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type SealKind = 'box' | 'backup';

const PREFIX: Record<SealKind, string> = { box: 'vcbox-sealed:box:v1:', backup: 'vcbox-sealed:backup:v1:' };
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Which key sealed `value`, or undefined when it is not a sealed value (plain text). */
export function sealKind(value: unknown): SealKind | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.startsWith(PREFIX.box)) return 'box';
  if (value.startsWith(PREFIX.backup)) return 'backup';
  return undefined;
}

export function seal(kind: SealKind, key: Buffer, aad: string, plaintext: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(`${kind}\n${aad}`, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${PREFIX[kind]}${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/** The plain text of a value sealed by `seal(kind, key, aad, …)`; throws when the key, purpose or bytes differ. */
export function unseal(kind: SealKind, key: Buffer, aad: string, sealed: string): string {
  if (sealKind(sealed) !== kind) throw new Error(`not a value sealed with the ${kind} key`);
  const bytes = Buffer.from(sealed.slice(PREFIX[kind].length), 'base64url');
  if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('the sealed value is cut short');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(`${kind}\n${aad}`, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}
