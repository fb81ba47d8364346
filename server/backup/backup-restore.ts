/**
 * Restoring a backup — from the list or from an uploaded file, made by this box or by another
 * vcbox — so that it either happens whole or not at all:
 *
 *  1. receive (uploads: streamed to a staging folder, bounded by the upload limit); an
 *     encrypted backup is opened with the passphrase given (a wrong one is refused before
 *     anything else: ./backup-encryption.ts) and decrypted as it is read; read the signed
 *     manifest, check the free space, unpack and verify every entry (./backup-archive.ts);
 *  2. check and migrate the database snapshot in the staging folder (./database-snapshot.ts;
 *     a newer schema than this software's is refused, an older one is migrated forward); check
 *     its settings and re-seal its secrets with this box's key (./backup-secrets.ts);
 *  3. swap the certificate and prompt folders by renames (old ones moved into the staging
 *     folder), then replace the database's contents in one transaction under the open
 *     connection; if that transaction fails, the folders are renamed back.
 *
 * Until step 3 nothing of the box is touched. A crash inside step 3 (between the renames and the
 * commit: milliseconds) is repaired at the next start by `recover`: the staging folder's
 * journal names the restore, and the operation-log row written in the same transaction as the
 * data says whether it committed — if not, the old folders go back.
 *
 * After a restore: the settings store reloads (caches dropped, live settings such as the backup
 * schedule re-applied), console sessions end except the restorer's own (see
 * ./database-snapshot.ts), and the answer says which services must restart for restored
 * settings to take effect (as PATCH /settings does; a restored certificate needs none).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { sessionTokenHash } from '../admin/session-store.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { SCHEMA_VERSION } from '../db/migrations.ts';
import { createError, VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { SettingKey, Settings } from '../settings/settings-schema.ts';
import { settingEffect } from '../settings/setting-effects.ts';
import { receiveUpload } from '../uploads/receive-upload.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { type BackupManifest, DATABASE_ENTRY, readArchive } from './backup-archive.ts';
import { type BackupKeys, decryptFile, openWithPassphrase, readEncryptedHeader } from './backup-encryption.ts';
import { prepareRestoredSettings } from './backup-secrets.ts';
import { type Author, type BackupStore, ensureSpace, STAGING_PREFIX } from './backup-store.ts';
import { prepareRestoredDatabase, replaceContents } from './database-snapshot.ts';

const log = getLogger('backup');
const JOURNAL = 'restore.json';

export type RestoreSource = { readonly from: 'list'; readonly name: string } | { readonly from: 'upload'; readonly size: number };

export interface RestoreResult {
  readonly restored: string;
  readonly from: 'list' | 'upload';
  readonly createdAt: string;
  readonly productVersion: string;
  readonly host: string;
  readonly schemaVersion: { readonly backup: number; readonly box: number };
  readonly migrated: number[];
  readonly rows: number;
  readonly files: { readonly certificates: number; readonly prompts: number };
  readonly settingsChanged: SettingKey[];
  readonly appliedNow: SettingKey[];
  readonly restartRequired: string[];
  readonly sessionKept: boolean;
  readonly message: string;
}

interface Journal {
  readonly id: string;
  /** Folders swapped: the live path, whether it existed, where the box's own copy waits until the commit, and the incoming copy. */
  readonly folders: { readonly live: string; readonly existed: boolean; readonly old: string; readonly incoming: string }[];
}

export interface RestorerOptions {
  readonly db: Db;
  readonly settings: SettingsStore;
  readonly store: BackupStore;
  /** Largest upload accepted, bytes. */
  readonly maxUploadBytes: number;
}

function mebibytes(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

export class BackupRestorer {
  readonly #db: Db;
  readonly #settings: SettingsStore;
  readonly #store: BackupStore;
  readonly #maxUploadBytes: number;

  constructor(options: RestorerOptions) {
    this.#db = options.db;
    this.#settings = options.settings;
    this.#store = options.store;
    this.#maxUploadBytes = options.maxUploadBytes;
  }

  get maxUploadBytes(): number {
    return this.#maxUploadBytes;
  }

  /** Restores backup `name` from the list; `passphrase` opens an encrypted one. */
  async restoreFromList(name: string, author: Author, sessionToken: string | undefined, passphrase: string | undefined): Promise<RestoreResult> {
    return this.#store.exclusive('restore', async () => {
      const file = await this.#store.file(name);
      return this.#audited(author, { from: 'list', name }, () => this.#restore(file, { from: 'list', name }, author, sessionToken, passphrase));
    });
  }

  /**
   * Receives an uploaded backup (`declaredLength` from Content-Length when given) and restores
   * it. Over the limit: VCBOX_ERR_BACKUP_TOO_LARGE, before or while receiving.
   */
  async restoreUpload(body: Readable, declaredLength: number | undefined, author: Author, sessionToken: string | undefined, passphrase: string | undefined): Promise<RestoreResult> {
    return this.#store.exclusive('restore', async () => {
      const staging = await this.#store.staging();
      try {
        const file = path.join(staging, 'upload.backup');
        const size = await this.#audited(author, { from: 'upload' }, () => this.#receive(body, declaredLength, file));
        return await this.#audited(author, { from: 'upload', size }, () => this.#restore(file, { from: 'upload', size }, author, sessionToken, passphrase));
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
  }

  /** Runs `fn`; a failure is written to the operation log (the data is unchanged, the attempt is not hidden). */
  async #audited<T>(author: Author, detail: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const reason = error instanceof VcboxError ? { code: error.code, reason: error.params.reason ?? error.message } : { reason: (error as Error).message };
      recordAudit(this.#db, { ...author, action: 'backup.restore.failed', detail: { ...detail, ...reason } });
      log.warn({ ...detail, ...reason }, 'restore refused or failed; nothing changed');
      throw error;
    }
  }

  #receive(body: Readable, declaredLength: number | undefined, file: string): Promise<number> {
    const limit = this.#maxUploadBytes;
    const tooLarge = () => createError('VCBOX_ERR_BACKUP_TOO_LARGE', { limit: mebibytes(limit), field: 'file' });
    if (declaredLength !== undefined && declaredLength > limit) return Promise.reject(tooLarge());
    return receiveUpload(body, file, { limit, tooLarge });
  }

  async #restore(file: string, source: RestoreSource, author: Author, sessionToken: string | undefined, passphrase: string | undefined): Promise<RestoreResult> {
    const limits = this.#store.limits;
    // Encrypted (this version's backups): the passphrase must open it, and every byte read is
    // authenticated first. Plain (earlier versions'): read as it is.
    const header = await readEncryptedHeader(file);
    let keys: BackupKeys | undefined;
    if (header) {
      if (!passphrase) throw createError('VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED', { reason: 'this backup is encrypted: type the passphrase it was made with', field: 'passphrase' });
      keys = await openWithPassphrase(header, passphrase);
    }
    const opened = header && keys ? { source: () => decryptFile(file, header, keys) } : {};
    const manifest: BackupManifest = await readArchive(file, { limits, ...opened });
    const declared = manifest.entries.reduce((sum, entry) => sum + entry.size, 0);
    // The unpacked files, plus the WAL the one restore transaction writes (about the data again).
    await ensureSpace(this.#store.paths.backups, 2 * declared, 'restore');
    const staging = await this.#store.staging();
    const id = path.basename(staging).slice(STAGING_PREFIX.length);
    try {
      const unpacked = path.join(staging, 'unpacked');
      await readArchive(file, { extractTo: unpacked, limits, ...opened });
      const database = path.join(unpacked, ...DATABASE_ENTRY.split('/'));
      const box = this.#store.boxSealer;
      const migrated = prepareRestoredDatabase(database, manifest, {
        sealSecret: (key, plaintext) => box.seal(key, plaintext),
        inCopy: (copy) => prepareRestoredSettings(copy, box, keys?.secrets),
      });

      const paths = this.#store.paths;
      const certificates = manifest.entries.filter((entry) => entry.path.startsWith('certificates/')).length;
      const prompts = manifest.entries.filter((entry) => entry.path.startsWith('prompts/')).length;
      // The prompts always become the backup's (none in it: the generated ones); the certificate
      // only when the backup has one (a box always needs one).
      const swaps = [
        ...(certificates > 0 ? [{ live: paths.certificates, incoming: path.join(unpacked, 'certificates'), old: path.join(staging, 'old', 'certificates') }] : []),
        { live: paths.prompts, incoming: path.join(unpacked, 'prompts'), old: path.join(staging, 'old', 'prompts') },
      ];
      const journal: Journal = { id, folders: swaps.map((swap) => ({ ...swap, existed: existsSync(swap.live) })) };
      await writeFile(path.join(staging, JOURNAL), JSON.stringify(journal));
      const undo: (() => Promise<void>)[] = [];
      let outcome: ReturnType<typeof replaceContents>;
      let settingsBefore: Settings | undefined;
      try {
        await mkdir(path.join(staging, 'old'));
        for (const swap of swaps) {
          if (existsSync(swap.live)) {
            await rename(swap.live, swap.old);
            undo.push(() => rename(swap.old, swap.live));
          }
          if (existsSync(swap.incoming)) {
            await rename(swap.incoming, swap.live);
            undo.push(() => rename(swap.live, swap.incoming));
          }
        }
        const session = sessionToken ? this.#sessionOf(sessionToken) : undefined;
        settingsBefore = this.#settings.getAll();
        outcome = replaceContents(this.#db, database, {
          ...(session ? { keepSession: session } : {}),
          audit: {
            ...author,
            action: 'backup.restore',
            detail: { restoreId: id, ...source, createdAt: manifest.createdAt, productVersion: manifest.productVersion, host: manifest.host, schemaVersion: manifest.schemaVersion, migrated },
          },
        });
      } catch (error) {
        for (const step of undo.reverse()) await step().catch((undoError: Error) => log.error({ err: undoError.message }, 'could not put a folder back after a failed restore'));
        if (error instanceof VcboxError) throw error;
        throw createError('VCBOX_ERR_RESTORE_FAILED', { step: 'replacing the data', reason: (error as Error).message }, error);
      }

      const changed = this.#settings.reload(settingsBefore as Settings);
      // A restored certificate needs no restart: the HTTPS listener and the signaling service
      // follow the certificate file (control-plane/web-listeners.ts, signaling/main.ts).
      const restart = [...new Set(changed.map(settingEffect).flatMap((e) => (e.applies === 'restart' ? [e.service] : [])))];
      const name = source.from === 'list' ? source.name : manifest.name;
      log.info({ name, from: source.from, migrated, rows: outcome.rows, changed, restart }, 'backup restored');
      return {
        restored: name,
        from: source.from,
        createdAt: manifest.createdAt,
        productVersion: manifest.productVersion,
        host: manifest.host,
        schemaVersion: { backup: manifest.schemaVersion, box: SCHEMA_VERSION },
        migrated,
        rows: outcome.rows,
        files: { certificates, prompts },
        settingsChanged: changed,
        appliedNow: changed.filter((key) => settingEffect(key).applies === 'now'),
        restartRequired: restart,
        sessionKept: outcome.sessionKept,
        message:
          `Restored ${name} (made ${manifest.createdAt} by vcbox ${manifest.productVersion}).` +
          (migrated.length > 0 ? ` Its data was brought from schema ${manifest.schemaVersion} to ${SCHEMA_VERSION}.` : '') +
          (restart.length > 0 ? ` Restored settings take effect when ${restart.join(' and ')} restart${restart.length > 1 ? '' : 's'}.` : '') +
          (outcome.sessionKept ? ' Other console sessions were ended.' : ' All console sessions were ended: log in with the restored credentials.'),
      };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  #sessionOf(token: string): { tokenHash: string; adminId: number; username: string } | undefined {
    const tokenHash = sessionTokenHash(token);
    const row = this.#db.prepare('SELECT s.admin_id AS adminId, a.username AS username FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = ?').get(tokenHash) as
      | { adminId: number; username: string }
      | undefined;
    return row ? { tokenHash, ...row } : undefined;
  }

  /**
   * At start, before anything serves: a restore interrupted between its folder swap and its
   * commit is undone (its old folders put back); one that committed only loses its staging.
   * Then the staging leftovers are swept.
   */
  async recover(): Promise<void> {
    const dir = this.#store.paths.backups;
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.filter((n) => n.startsWith(STAGING_PREFIX))) {
      let journal: Journal;
      try {
        journal = JSON.parse(await readFile(path.join(dir, name, JOURNAL), 'utf8')) as Journal;
      } catch {
        continue;
      }
      const committed = this.#db.prepare("SELECT 1 FROM audit_log WHERE action = 'backup.restore' AND json_extract(detail, '$.restoreId') = ?").get(journal.id) !== undefined;
      if (committed) continue;
      for (const folder of journal.folders) {
        // Moved away (existed, old copy waiting) or moved in (did not exist, incoming gone): undo.
        const movedAway = folder.existed && existsSync(folder.old);
        const movedIn = !folder.existed && !existsSync(folder.incoming) && existsSync(folder.live);
        if (!movedAway && !movedIn) continue;
        await rm(folder.live, { recursive: true, force: true });
        if (movedAway) await rename(folder.old, folder.live);
        log.warn({ folder: folder.live, restore: journal.id }, 'an interrupted restore did not commit: the folder is back as it was');
      }
    }
    await this.#store.sweep();
  }
}
