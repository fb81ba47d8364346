/**
 * Which public keys a box trusts to sign release packages (system upgrades) — the rule of
 * server/security/trusted-keys.ts with a key pair of its own, apart from the licence keys: a
 * leaked licence key must not let anyone install software, nor the other way round.
 *
 * Production: only `VENDOR_RELEASE_PUBLIC_KEY`, compiled into the build. Its private half is
 * kept by the vendor outside this repository (on this project's build machine:
 * `~/.config/vcbox-vendor/release-signing-key.pem`) and given to scripts/build-release.ts with
 * `--key`.
 *
 * Tests and development: the process configuration (`upgrade.testPublicKeyFile`, env
 * `VCBOX_RELEASE_TEST_KEY_FILE`; read by server/core/config.ts only) may add the project's
 * TEST release key; the file must hold exactly `TEST_RELEASE_PUBLIC_KEY`. The test private key
 * is public (test/fixtures/release/): packages it signs are shown with `key: "test"`.
 */
import { type TrustedKey, vendorAndTestKeys } from '../security/trusted-keys.ts';

/** The vendor's Ed25519 release-signing public key (SPKI DER, base64). */
export const VENDOR_RELEASE_PUBLIC_KEY = 'MCowBQYDK2VwAyEAdYM6KkUGN/ieoFwTKnZxTosuFH2qRwr6cZhUDWfWC3E=';
/** The project's TEST release key (private half: test/fixtures/release/test-release-private.pem). */
export const TEST_RELEASE_PUBLIC_KEY = 'MCowBQYDK2VwAyEARUGghNUOkEEj0jHRMYrJK22UpN/yrxzmtVxEET4tKEc=';

/** The keys this process trusts for release packages: the vendor's, plus the test key when configured. */
export function trustedReleaseKeys(options: { testPublicKeyFile?: string | undefined } = {}): TrustedKey[] {
  return vendorAndTestKeys({
    vendorKey: VENDOR_RELEASE_PUBLIC_KEY,
    testKey: TEST_RELEASE_PUBLIC_KEY,
    testPublicKeyFile: options.testPublicKeyFile,
    field: 'upgrade.testPublicKeyFile (VCBOX_RELEASE_TEST_KEY_FILE)',
    what: 'release',
  });
}
