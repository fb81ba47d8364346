/**
 * The rule shared by every signature the box checks against keys compiled into the build
 * (licences: server/license/license-keys.ts; release packages: server/upgrade/release-keys.ts):
 * the vendor's Ed25519 public key is always trusted; the project's TEST key only when the
 * process configuration names a file holding exactly that key — any other key in the file
 * stops the process at start, so no key of anyone's choosing can be brought in. What each key
 * signs, and where its constants live, is the callers' business.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';

const log = getLogger('security');

export interface TrustedKey {
  readonly name: 'vendor' | 'test';
  readonly key: KeyObject;
}

/** An SPKI DER public key given as base64. */
export const publicKeyFromDer = (base64: string): KeyObject => createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });

/**
 * The vendor key, plus the test key when `testPublicKeyFile` is given and holds exactly
 * `testKey`. `field` names the configuration entry in errors; `what` what the keys sign
 * ("licence", "release"), for the messages.
 */
export function vendorAndTestKeys(options: { vendorKey: string; testKey: string; testPublicKeyFile?: string | undefined; field: string; what: string }): TrustedKey[] {
  const keys: TrustedKey[] = [{ name: 'vendor', key: publicKeyFromDer(options.vendorKey) }];
  const file = options.testPublicKeyFile;
  if (!file) return keys;
  let given: string;
  try {
    given = createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'der' }).toString('base64');
  } catch (error) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', { field: options.field, reason: `${file}: ${(error as Error).message}` }, error);
  }
  if (given !== options.testKey) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field: options.field,
      reason: `${file} is not the project's test ${options.what} key; only that key can be trusted besides the vendor's`,
    });
  }
  log.warn({ file }, `the TEST ${options.what} key is trusted (tests and development only)`);
  keys.push({ name: 'test', key: publicKeyFromDer(options.testKey) });
  return keys;
}
