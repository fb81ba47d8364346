/**
 * The box key: 32 random bytes in `<dataDir>/secrets/box-key.secret` (mode 0600, folder 0700;
 * made on first use by server/process/shared-secret.ts), with which the secrets the box must
 * present to other servers are sealed in the database (./sealed-value.ts). It is never written
 * to the database and never put into a backup: a copy of the database alone (a stolen disk
 * image of the database, a backup without its passphrase, an operator's export) does not give
 * those secrets away. Lose the key and the sealed secrets must be typed again (the settings
 * read as empty and the log says why).
 */
import path from 'node:path';
import type { Db } from '../db/database.ts';
import { sharedSecret } from '../process/shared-secret.ts';
import { type SealKind, seal, unseal } from './sealed-value.ts';

const KEY_NAME = 'box-key';

/** Seals and unseals with one box key. */
export interface BoxSealer {
  seal(aad: string, plaintext: string): string;
  unseal(aad: string, sealed: string): string;
}

export function sealerWith(kind: SealKind, key: Buffer): BoxSealer {
  return { seal: (aad, plaintext) => seal(kind, key, aad, plaintext), unseal: (aad, sealed) => unseal(kind, key, aad, sealed) };
}

/** The box key of the data directory whose secrets folder is `secretsDir` (made on first use). */
export function boxKey(secretsDir: string): Buffer {
  return Buffer.from(sharedSecret(secretsDir, KEY_NAME), 'hex');
}

/**
 * The secrets folder of the data directory that holds `db` (`<dataDir>/vcbox.sqlite`, see
 * server/core/config.ts dataPaths), or undefined for an in-memory database.
 */
export function secretsDirOf(db: Db): string | undefined {
  if (!db.name || db.name === ':memory:') return undefined;
  return path.join(path.dirname(db.name), 'secrets');
}

/** A sealer with the box key of `secretsDir`, read the first time it is used. */
export function boxSealer(secretsDir: string | undefined): BoxSealer {
  let sealer: BoxSealer | undefined;
  const get = () => {
    // An in-memory database has no data directory: its secrets live as long as the process.
    sealer ??= sealerWith('box', secretsDir ? boxKey(secretsDir) : Buffer.from(crypto.getRandomValues(new Uint8Array(32))));
    return sealer;
  };
  return { seal: (aad, plaintext) => get().seal(aad, plaintext), unseal: (aad, sealed) => get().unseal(aad, sealed) };
}
