/**
 * Revoked licences: a block-list of serials per signing key, compiled into the build.
 *
 * The box is offline, so it cannot ask the vendor; a new list reaches it with a system upgrade
 * (itself signed). A licence whose serial is listed cannot be activated, and an activated one
 * that a later build lists shows `revoked` (accounts and video as when expired). A signed
 * revocation file an admin could upload between upgrades would be the next step; not built.
 */

/** Serials revoked, by the name of the key that signed them (./license-keys.ts). */
const REVOKED: Readonly<Record<string, readonly string[]>> = {
  vendor: [],
  // A serial the tests use to see a revoked licence refused (test key only).
  test: ['VCB-TEST-REVOKED'],
};

export function isRevoked(key: string, serial: string): boolean {
  return REVOKED[key]?.includes(serial) ?? false;
}
