/**
 * Which public keys a box trusts to sign licences.
 *
 * Production: only `VENDOR_PUBLIC_KEY`, compiled into the build. Its private half is kept by the
 * vendor, never in this repository.
 *
 * Tests and development: the process configuration (`license.testPublicKeyFile`, env
 * `VCBOX_LICENSE_TEST_KEY_FILE`; read by server/core/config.ts only, never from the database,
 * the settings API or a backup) may add the project's TEST key. The file must contain exactly
 * `TEST_PUBLIC_KEY` — also compiled in — or the process refuses to start, so no key of anyone's
 * choosing can ever be trusted: the only keys a build can trust are the two constants below.
 * The test private key is public (test/fixtures/license/), so licences signed with it are
 * shown as `testKey: true` and the start is logged as a warning; the installer copies neither
 * test/ nor the setting, so an appliance trusts the vendor key alone unless root changes its
 * configuration — and root could as well change the code.
 */
import { vendorAndTestKeys } from '../security/trusted-keys.ts';
import type { TrustedKey } from './license-format.ts';

/** The vendor's Ed25519 public key (SPKI DER, base64). */
export const VENDOR_PUBLIC_KEY = 'MCowBQYDK2VwAyEAw7wa3vRXrMu9Y4E7/Fqvrvp+uimpl7N6ve9wd0UpBZI=';
/** The project's TEST key (private half: test/fixtures/license/test-private.pem). */
export const TEST_PUBLIC_KEY = 'MCowBQYDK2VwAyEAFVDf6ii8Vv44y8GkF5CgnrCET5JQnIdvEz4P7uYQPy0=';

/** The keys this process trusts: the vendor's, plus the test key when configured (checked: server/security/trusted-keys.ts). */
export function trustedKeys(options: { testPublicKeyFile?: string | undefined } = {}): TrustedKey[] {
  return vendorAndTestKeys({
    vendorKey: VENDOR_PUBLIC_KEY,
    testKey: TEST_PUBLIC_KEY,
    testPublicKeyFile: options.testPublicKeyFile,
    field: 'license.testPublicKeyFile (VCBOX_LICENSE_TEST_KEY_FILE)',
    what: 'licence',
  });
}
