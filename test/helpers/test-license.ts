/**
 * How every test box gets its licence — one mechanism for the console API, the SIP box and the
 * appliance run by the run command: a perpetual licence signed with the project's TEST key
 * (test/fixtures/license), activated through the licence store's own activation (signature,
 * box ID, validity and revocation checked; written to the operation log) in the identity folder
 * the box uses. A box without a licence refuses new accounts and takes audio only
 * (server/license/license-policy.ts), so a test about something else must not run on one;
 * tests about the licence itself open their own (unlicensed) licence and pass it in.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../server/core/config.ts';
import type { Db } from '../../server/db/database.ts';
import { issueLicense, type LicensePayload } from '../../server/license/license-format.ts';
import { type License, openLicense } from '../../server/license/open-license.ts';
import { openState } from '../../server/process/open-state.ts';

export const TEST_LICENSE_FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'license');
/** The project's TEST public key, as a box's `license.testPublicKeyFile` names it. */
export const TEST_LICENSE_PUBLIC_KEY_FILE = path.join(TEST_LICENSE_FIXTURES, 'test-public.pem');
/** The suite's licence: no end, more concurrent participants than any test puts in meetings. */
export const SUITE_LICENSE_SERIAL = 'VCB-TEST-SUITE';
export const SUITE_LICENSE_PORTS = 10_000;

/** A licence text for `boxId` signed with the project's TEST private key (the suite's licence unless overridden). */
export function testLicenseText(boxId: string, overrides: Partial<LicensePayload> = {}): string {
  const key = createPrivateKey(readFileSync(path.join(TEST_LICENSE_FIXTURES, 'test-private.pem'), 'utf8'));
  return issueLicense(
    { v: 1, serial: SUITE_LICENSE_SERIAL, boxId, ports: SUITE_LICENSE_PORTS, validFrom: '2000-01-01T00:00:00Z', validUntil: null, issuedAt: '2000-01-01T00:00:00Z', ...overrides },
    key,
  );
}

/**
 * Opens the licence of the box whose database is `db` (identity folder: `identityDir`, by
 * default `identity` beside the database, where the control plane looks) and, when the box has
 * neither a licence nor a trial, activates the suite's licence. A box already licensed (or on
 * its trial) is left as it is.
 */
export function licenseTestBox(db: Db, identityDir = path.join(path.dirname(db.name), 'identity')): License {
  const license = openLicense({ db, identityDir, testPublicKeyFile: TEST_LICENSE_PUBLIC_KEY_FILE });
  if (license.store.facts().status === 'unlicensed') license.store.activate(testLicenseText(license.store.boxId), { actor: 'test-setup' });
  return license;
}

/** The same for an appliance's data folder before the appliance starts (the database is created and migrated if new). */
export function licenseTestDataDir(dataDir: string): void {
  const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
  const state = openState(config);
  try {
    licenseTestBox(state.db, config.license.identityDir);
  } finally {
    state.db.close();
  }
}
