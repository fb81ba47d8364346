/**
 * Opening the box's licence the same way in every process that needs it (the control plane;
 * tests): the identity folder, the trusted keys from the process configuration, the store and
 * the policy over it.
 */
import type { Db } from '../db/database.ts';
import { BoxIdentity } from './box-identity.ts';
import { trustedKeys } from './license-keys.ts';
import { LicensePolicy } from './license-policy.ts';
import { LicenseStore } from './license-store.ts';

export interface License {
  readonly store: LicenseStore;
  readonly policy: LicensePolicy;
}

/**
 * @param options.identityDir config `license.identityDir`
 * @param options.testPublicKeyFile config `license.testPublicKeyFile` (tests only)
 * @param options.machineIdFile the OS machine id (default /etc/machine-id)
 * @param options.clock the time (default: the process clock)
 */
export function openLicense(options: {
  db: Db;
  identityDir: string;
  testPublicKeyFile?: string | undefined;
  machineIdFile?: string;
  clock?: () => Date;
}): License {
  const identity = new BoxIdentity({ dir: options.identityDir, ...(options.machineIdFile ? { machineIdFile: options.machineIdFile } : {}) });
  const store = new LicenseStore({
    db: options.db,
    identity,
    keys: trustedKeys({ testPublicKeyFile: options.testPublicKeyFile }),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { store, policy: new LicensePolicy(store) };
}
