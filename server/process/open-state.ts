/**
 * Opening the appliance's state the same way in every process: the database (migrated to this
 * software's schema; safe when several processes start together; secrets stored in clear by an
 * older version sealed with the box key) and its settings store.
 */
import { type Config, dataPaths } from '../core/config.ts';
import { type Db, openDatabase } from '../db/database.ts';
import { MIGRATIONS, migrate } from '../db/migrations.ts';
import { boxSealer } from '../secrets/box-key.ts';
import { SettingsStore } from '../settings/settings-store.ts';

export interface AppState {
  readonly db: Db;
  readonly settings: SettingsStore;
}

export function openState(config: Config): AppState {
  const paths = dataPaths(config);
  const db = openDatabase(paths.database);
  const sealer = boxSealer(paths.secrets);
  try {
    migrate(db, MIGRATIONS, { sealSecret: (key, plaintext) => sealer.seal(key, plaintext) });
  } catch (error) {
    db.close();
    throw error;
  }
  return { db, settings: new SettingsStore(db, { secretsDir: paths.secrets }) };
}
