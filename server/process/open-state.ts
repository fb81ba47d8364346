/**
 * Opening the appliance's state the same way in every process: the database (migrated to this
 * software's schema; safe when several processes start together) and its settings store.
 */
import { type Config, dataPaths } from '../config/config.ts';
import { type Db, openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrations.ts';
import { SettingsStore } from '../settings/settings-store.ts';

export interface AppState {
  readonly db: Db;
  readonly settings: SettingsStore;
}

export function openState(config: Config): AppState {
  const db = openDatabase(dataPaths(config).database);
  try {
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return { db, settings: new SettingsStore(db) };
}
