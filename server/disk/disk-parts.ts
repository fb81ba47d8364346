/**
 * The parts of the box's storage that have a quota [001 ch4 磁盘空间设置] — meeting records,
 * server logs (Web, SIP, MCU, TURN, each its share of the server-log quota), terminal logs,
 * backups, terminal firmware — with their folders, what each uses, "clean now" and trimming a
 * full part by deleting its oldest files (the spec's "oldest files overwritten when full").
 *
 * The storage path is the data directory (`dataDir` in the process configuration): every
 * process of the box reads it when it starts, so it is shown, not changed, from the console.
 * The logs live in `logDir` (`<dataDir>/logs` unless configured elsewhere, e.g. /var/log/vcbox
 * on the appliance); a part on another file system is measured against that one's free space.
 *
 * What each part's files are, and how they may go:
 *  - records `<dataDir>/records`: the box does not record meetings yet; whatever is put there counts;
 *  - server logs `<logDir>/<module>/`: the file a process is writing is emptied, never deleted
 *    (server/logs/system-log-files.ts);
 *  - terminal logs `<logDir>/terminals/`: any file (server/logs/terminal-log-files.ts);
 *  - backups `<dataDir>/backups`: through the backup store (audited as backup.delete); trimming
 *    keeps the newest backup whatever its size;
 *  - firmware `<dataDir>/firmware`: through the firmware store — clean now keeps each model's
 *    latest; a full quota refuses uploads there rather than overwriting (./firmwarePart).
 * Sizes are file sizes (what a file holds), in bytes; quotas are whole GB of 1024³ bytes.
 */
import path from 'node:path';
import type { BackupStore } from '../backup/backup-store.ts';
import type { FirmwareStore } from '../firmware/firmware-store.ts';
import { createError } from '../core/errors.ts';
import { LOG_MODULES, type LogModule, SystemLogFiles } from '../logs/system-log-files.ts';
import { TerminalLogFiles } from '../logs/terminal-log-files.ts';
import { SERVER_LOG_SHARES, type SettingKey, SETTINGS, type Settings } from '../settings/settings-schema.ts';
import { addRemovals, deleteFiles, filesUnder, NOTHING_REMOVED, oldestBeyond, type Removal, removeEmptyFolders, totalSize } from './folder-files.ts';
import { type StorageSpace, storageSpace } from './storage-space.ts';

export const GIB = 1024 ** 3;

export const DISK_PARTS = ['records', 'serverLogs', 'terminalLogs', 'backups', 'firmware'] as const;
export type DiskPartId = (typeof DISK_PARTS)[number];

export const QUOTA_KEYS = {
  records: 'disk.quota.recordsGB',
  serverLogs: 'disk.quota.serverLogsGB',
  terminalLogs: 'disk.quota.terminalLogsGB',
  backups: 'disk.quota.backupsGB',
  firmware: 'disk.quota.firmwareGB',
} as const satisfies Record<DiskPartId, SettingKey>;

/** The parts' names in messages, as the manual names them. */
export const PART_NAMES: Readonly<Record<DiskPartId, { en: string; zh: string }>> = {
  records: { en: 'meeting records', zh: '会议记录' },
  serverLogs: { en: 'server logs', zh: '服务器日志' },
  terminalLogs: { en: 'terminal logs', zh: '终端日志' },
  backups: { en: 'backups', zh: '备份空间' },
  firmware: { en: 'terminal firmware', zh: '设备固件' },
};
export const MODULE_NAMES: Readonly<Record<LogModule, string>> = { web: 'Web', sip: 'SIP', mcu: 'MCU', turn: 'TURN' };

export function isDiskPart(value: string): value is DiskPartId {
  return (DISK_PARTS as readonly string[]).includes(value);
}

export interface Author {
  readonly actor: string;
  readonly source?: string | undefined;
}

/** How one part's files are counted, cleaned and trimmed. */
export interface PartHandler {
  readonly folder: string;
  usage(): Promise<{ bytes: number; files: number }>;
  /** Deletes the part's files; undefined when this part is not cleaned here (then `note` says why). */
  readonly clean?: (author: Author) => Promise<Removal>;
  /** Deletes the oldest files until the part holds at most `limit` bytes; undefined: not overwritten. */
  readonly trim?: (limit: number, author: Author) => Promise<Removal>;
  /** What an administrator should know about the part (English and Chinese). */
  readonly note?: { readonly en: string; readonly zh: string };
}

/** A folder of plain files: counted, cleaned and trimmed as they are. */
export function folderPart(folder: string, note?: PartHandler['note']): PartHandler {
  return {
    folder,
    async usage() {
      const files = await filesUnder(folder);
      return { bytes: totalSize(files), files: files.length };
    },
    async clean() {
      const removal = await deleteFiles(await filesUnder(folder));
      await removeEmptyFolders(folder);
      return removal;
    },
    async trim(limit) {
      const removal = await deleteFiles(oldestBeyond(await filesUnder(folder), limit));
      if (removal.deleted.length > 0) await removeEmptyFolders(folder);
      return removal;
    },
    ...(note ? { note } : {}),
  };
}

/** Backups, through the backup store (its audit, its name rules); the newest one always stays. */
export function backupsPart(folder: string, store: BackupStore | undefined): PartHandler {
  const staging = (name: string) => name.startsWith('.staging-') || name.endsWith('.tmp');
  const remove = async (names: string[], sizes: Map<string, number>, author: Author): Promise<Removal> => {
    if (names.length === 0 || !store) return NOTHING_REMOVED;
    const { deleted, files } = await store.delete(names, author);
    return { deleted: files, truncated: [], freedBytes: deleted.reduce((sum, n) => sum + (sizes.get(n) ?? 0), 0) };
  };
  return {
    folder,
    async usage() {
      const files = await filesUnder(folder, staging);
      return { bytes: totalSize(files), files: files.length };
    },
    ...(store
      ? {
          async clean(author: Author) {
            const backups = await store.list();
            return remove(backups.map((b) => b.name), new Map(backups.map((b) => [b.name, b.size])), author);
          },
          async trim(limit: number, author: Author) {
            const backups = await store.list(); // newest first
            let total = totalSize(backups);
            const old: string[] = [];
            for (const backup of [...backups].slice(1).reverse()) {
              if (total <= limit) break;
              old.push(backup.name);
              total -= backup.size;
            }
            return remove(old, new Map(backups.map((b) => [b.name, b.size])), author);
          },
        }
      : {}),
  };
}

/**
 * Terminal firmware, through the firmware store when this process has one: "clean now" deletes
 * every file that is not its model's latest (the store's rule; audited as firmware.delete). A
 * full quota is not overwritten: the store refuses uploads beyond it instead, since an old file
 * may be what some terminals still need and a model's latest must never vanish.
 */
export function firmwarePart(folder: string, store: FirmwareStore | undefined): PartHandler {
  const note = store
    ? {
        en: 'Clean now deletes every firmware file that is not its model\'s latest. A full quota is not overwritten: uploads beyond it are refused.',
        zh: '立即清理将删除各型号最新固件以外的所有固件文件。配额用满时不会覆盖旧文件，而是拒绝继续上传。',
      }
    : {
        en: 'Firmware files are deleted on the firmware page, which keeps each model\'s latest file; uploads beyond this quota are refused.',
        zh: '固件文件请在设备升级页面删除（该页面会保留每个型号的最新固件）；超出此配额的上传会被拒绝。',
      };
  return {
    folder,
    usage: folderPart(folder).usage,
    note,
    ...(store
      ? {
          async clean(author: Author) {
            const old = store.list().filter((file) => !file.latest);
            for (const file of old) store.delete(file.id, author);
            return { deleted: old.map((file) => `${file.id}.rom`), truncated: [], freedBytes: totalSize(old) };
          },
        }
      : {}),
  };
}

export interface DiskPartsOptions {
  /** The data directory: the storage path. */
  readonly dataDir: string;
  readonly logDir: string;
  /** The backup store, when this process runs one (backups are deleted through it). */
  readonly backups?: BackupStore;
  /** The firmware store, when this process runs one (firmware files are deleted through it). */
  readonly firmware?: FirmwareStore;
}

export interface ModuleUsage {
  readonly id: LogModule;
  readonly folder: string;
  readonly percent: number;
  readonly quotaBytes: number;
  readonly usedBytes: number;
  readonly files: number;
}

export interface PartUsage {
  readonly id: DiskPartId;
  readonly folder: string;
  readonly usedBytes: number;
  readonly files: number;
  readonly quotaKey: SettingKey;
  readonly quotaGB: number;
  readonly quotaBytes: number;
  readonly defaultGB: number;
  /** The smallest quota allowed now: max(default, used rounded up to whole GB). */
  readonly minimumGB: number;
  readonly cleanable: boolean;
  readonly overwritesOldest: boolean;
  readonly note?: { readonly en: string; readonly zh: string };
  /** Server logs: the modules and their shares. */
  readonly modules?: ModuleUsage[];
  /** The file system it lives on (its path in `filesystems`). */
  readonly filesystem: string;
}

export interface FilesystemUsage extends StorageSpace {
  readonly parts: DiskPartId[];
  /** Space the parts there may have: free plus what they use now. */
  readonly availableForPartsBytes: number;
  readonly quotaBytes: number;
}

export interface DiskUsage {
  readonly storagePath: StorageSpace & { readonly changeable: false; readonly note: string };
  /** The storage path's file system first, then the log folder's when it is another one. */
  readonly filesystems: FilesystemUsage[];
  readonly parts: PartUsage[];
  readonly measuredAt: string;
}

/** The smallest quota in GB allowed for a part using `usedBytes`: max(its default, used rounded up). */
export function minimumQuotaGB(part: DiskPartId, usedBytes: number): number {
  return Math.max(SETTINGS[QUOTA_KEYS[part]].default, Math.ceil(usedBytes / GIB));
}

export class DiskParts {
  readonly #dataDir: string;
  readonly #logDir: string;
  readonly systemLogs: SystemLogFiles;
  readonly terminalLogs: TerminalLogFiles;
  readonly #handlers: Record<Exclude<DiskPartId, 'serverLogs'>, PartHandler>;

  constructor(options: DiskPartsOptions) {
    this.#dataDir = options.dataDir;
    this.#logDir = options.logDir;
    this.systemLogs = new SystemLogFiles(options.logDir);
    this.terminalLogs = new TerminalLogFiles(path.join(options.logDir, 'terminals'));
    this.#handlers = {
      records: folderPart(path.join(options.dataDir, 'records'), {
        en: 'The box does not record meetings yet: files put in this folder are counted, cleaned and overwritten.',
        zh: '本设备尚不支持会议录制：放入此目录的文件会被统计、清理和覆盖。',
      }),
      terminalLogs: {
        folder: this.terminalLogs.folder,
        usage: () => this.terminalLogs.usage(),
        clean: () => this.terminalLogs.clean(),
        trim: (limit) => this.terminalLogs.trim(limit),
      },
      backups: backupsPart(path.join(options.dataDir, 'backups'), options.backups),
      firmware: firmwarePart(path.join(options.dataDir, 'firmware'), options.firmware),
    };
  }

  get storagePath(): string {
    return this.#dataDir;
  }

  /** The folders whose file systems are watched: the storage path, and the log folder when elsewhere. */
  async watchedFolders(): Promise<string[]> {
    const [data, logs] = await Promise.all([storageSpace(this.#dataDir), storageSpace(this.#logDir)]);
    return data.device === logs.device ? [this.#dataDir] : [this.#dataDir, this.#logDir];
  }

  /** Each part's use against its quota, the server-log modules, and the file systems they are on. */
  async usage(settings: Settings): Promise<DiskUsage> {
    const [data, logs] = await Promise.all([storageSpace(this.#dataDir), storageSpace(this.#logDir)]);
    const parts: PartUsage[] = [];
    for (const id of DISK_PARTS) {
      const quotaKey = QUOTA_KEYS[id];
      const quotaGB = settings[quotaKey];
      let used: { bytes: number; files: number };
      let folder: string;
      let modules: ModuleUsage[] | undefined;
      let handler: PartHandler | undefined;
      if (id === 'serverLogs') {
        modules = [];
        for (const [i, module] of LOG_MODULES.entries()) {
          const percent = settings[SERVER_LOG_SHARES[i] as (typeof SERVER_LOG_SHARES)[number]];
          const moduleUsage = await this.systemLogs.usage(module);
          modules.push({ id: module, folder: this.systemLogs.folder(module), percent, quotaBytes: Math.floor((quotaGB * GIB * percent) / 100), usedBytes: moduleUsage.bytes, files: moduleUsage.files });
        }
        used = { bytes: totalSize(modules.map((m) => ({ size: m.usedBytes }))), files: modules.reduce((sum, m) => sum + m.files, 0) };
        folder = this.#logDir;
      } else {
        handler = this.#handlers[id];
        used = await handler.usage();
        folder = handler.folder;
      }
      const onLogs = id === 'serverLogs' || id === 'terminalLogs';
      parts.push({
        id,
        folder,
        usedBytes: used.bytes,
        files: used.files,
        quotaKey,
        quotaGB,
        quotaBytes: quotaGB * GIB,
        defaultGB: SETTINGS[quotaKey].default,
        minimumGB: minimumQuotaGB(id, used.bytes),
        cleanable: id === 'serverLogs' || Boolean(handler?.clean),
        overwritesOldest: id === 'serverLogs' || Boolean(handler?.trim),
        ...(handler?.note ? { note: handler.note } : {}),
        ...(modules ? { modules } : {}),
        filesystem: onLogs && logs.device !== data.device ? this.#logDir : this.#dataDir,
      });
    }
    const filesystems = (logs.device === data.device ? [data] : [data, { ...logs, path: this.#logDir }]).map((space) => {
      const here = parts.filter((p) => p.filesystem === space.path);
      return {
        ...space,
        parts: here.map((p) => p.id),
        availableForPartsBytes: space.freeBytes + totalSize(here.map((p) => ({ size: p.usedBytes }))),
        quotaBytes: totalSize(here.map((p) => ({ size: p.quotaBytes }))),
      };
    });
    return {
      storagePath: {
        ...data,
        path: this.#dataDir,
        changeable: false,
        note: 'The storage path is the data directory (dataDir in the process configuration, VCBOX_DATA_DIR): every service reads it when it starts, so it is changed there, not from the console. Logs are in logDir.',
      },
      filesystems,
      parts,
      measuredAt: new Date().toISOString(),
    };
  }

  /** "Clean now": deletes a part's files (server logs: all modules, or one). */
  async clean(part: DiskPartId, author: Author, module?: LogModule): Promise<Removal> {
    if (part === 'serverLogs') {
      const removals: Removal[] = [];
      for (const m of module ? [module] : LOG_MODULES) removals.push(await this.systemLogs.clean(m));
      return addRemovals(...removals);
    }
    const handler = this.#handlers[part];
    if (!handler.clean) {
      throw createError('VCBOX_ERR_DISK_CLEAN_UNSUPPORTED', { part: PART_NAMES[part].en, partZh: PART_NAMES[part].zh, reason: handler.note?.en ?? '', reasonZh: handler.note?.zh ?? '', field: 'part' });
    }
    return handler.clean(author);
  }

  /**
   * Brings every part within its quota (server logs: each module within its share) by deleting
   * its oldest files; returns what went, per part (and module), leaving out parts within quota.
   */
  async trim(settings: Settings, author: Author): Promise<{ part: DiskPartId; module?: LogModule; removal: Removal }[]> {
    const out: { part: DiskPartId; module?: LogModule; removal: Removal }[] = [];
    for (const id of DISK_PARTS) {
      const limit = settings[QUOTA_KEYS[id]] * GIB;
      if (id === 'serverLogs') {
        for (const [i, module] of LOG_MODULES.entries()) {
          const percent = settings[SERVER_LOG_SHARES[i] as (typeof SERVER_LOG_SHARES)[number]];
          const removal = await this.systemLogs.trim(module, Math.floor((limit * percent) / 100));
          if (removal.deleted.length > 0) out.push({ part: id, module, removal });
        }
        continue;
      }
      const handler = this.#handlers[id];
      if (!handler.trim || (await handler.usage()).bytes <= limit) continue;
      const removal = await handler.trim(limit, author);
      if (removal.deleted.length > 0) out.push({ part: id, removal });
    }
    return out;
  }
}
