/**
 * Which public keys a box trusts to sign licences.
 *
 * Production: only `VENDOR_PUBLIC_KEY`, compiled into the build. Its private half is kept by the
 * vendor, never in this repository.
 *
 * Tests and development: the process configuration (`license.testPublicKeyFile`, env
 * `VCBOX_LICENSE_TEST_KEY_FILE`; read by server/config/config.ts only, never from the database,
 * the settings API or a backup) may add the project's TEST key. The file must contain exactly
 * `TEST_PUBLIC_KEY` — also compiled in — or the process refuses to start, so no key of anyone's
 * choosing can ever be trusted: the only keys a build can trust are the two constants below.
 * The test private key is public (test/fixtures/license/), so licences signed with it are
 * shown as `testKey: true` and the start is logged as a warning; the installer copies neither
 * test/ nor the setting, so an appliance trusts the vendor key alone unless root changes its
 * configuration — and root could as well change the code.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createError } from '../errors.ts';
import { getLogger } from '../logging/logger.ts';
import type { TrustedKey } from './license-format.ts';

const log = getLogger('license');

/** The vendor's Ed25519 public key (SPKI DER, base64). */
export const VENDOR_PUBLIC_KEY = 'MCowBQYDK2VwAyEAw7wa3vRXrMu9Y4E7/Fqvrvp+uimpl7N6ve9wd0UpBZI=';
/** The project's TEST key (private half: test/fixtures/license/test-private.pem). */
export const TEST_PUBLIC_KEY = 'MCowBQYDK2VwAyEAFVDf6ii8Vv44y8GkF5CgnrCET5JQnIdvEz4P7uYQPy0=';

const fromDer = (base64: string): KeyObject => createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });

/** The keys this process trusts: the vendor's, plus the test key when configured (checked). */
export function trustedKeys(options: { testPublicKeyFile?: string | undefined } = {}): TrustedKey[] {
  const keys: TrustedKey[] = [{ name: 'vendor', key: fromDer(VENDOR_PUBLIC_KEY) }];
  const file = options.testPublicKeyFile;
  if (!file) return keys;
  let given: string;
  try {
    given = createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'der' }).toString('base64');
  } catch (error) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', { field: 'license.testPublicKeyFile (VCBOX_LICENSE_TEST_KEY_FILE)', reason: `${file}: ${(error as Error).message}` }, error);
  }
  if (given !== TEST_PUBLIC_KEY) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field: 'license.testPublicKeyFile (VCBOX_LICENSE_TEST_KEY_FILE)',
      reason: `${file} is not the project's test licence key; only that key can be trusted besides the vendor's`,
    });
  }
  log.warn({ file }, 'the TEST licence key is trusted (tests and development only)');
  keys.push({ name: 'test', key: fromDer(TEST_PUBLIC_KEY) });
  return keys;
}
