/**
 * The operating-system files the box owns, written under a root folder (`/` on an installed
 * appliance; a staging or test folder otherwise): only the paths listed in `OWNED_FILES`, each
 * written whole and atomically (a temporary file beside it, flushed, then renamed over it), so
 * a reader — systemd-networkd, sshd, timesyncd — sees the old file or the new one, never half.
 * No other file is read, changed or removed. What the files say: the renderers beside this
 * module; when they are applied: ./system-configurator.ts.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';

const log = getLogger('system-files');

/** Every file the box writes, as paths on the installed system. */
export const OWNED_FILES = {
  lanNetwork: '/etc/systemd/network/10-vcbox-lan.network',
  wanNetwork: '/etc/systemd/network/10-vcbox-wan.network',
  sshd: '/etc/ssh/sshd_config.d/vcbox.conf',
  timesyncd: '/etc/systemd/timesyncd.conf.d/vcbox.conf',
  /** The tz database zone name the box is set to (one line); applied with timedatectl. */
  timeZone: '/etc/vcbox/timezone',
} as const;

export type OwnedFile = (typeof OWNED_FILES)[keyof typeof OWNED_FILES];

/** One file to write: where on the system, and its whole content. */
export interface RenderedFile {
  readonly file: OwnedFile;
  readonly content: string;
}

export class SystemFiles {
  readonly #root: string;

  constructor(root: string) {
    this.#root = path.resolve(root);
  }

  get root(): string {
    return this.#root;
  }

  /** Where a system path lies under the root. */
  pathOf(file: OwnedFile): string {
    return path.join(this.#root, file);
  }

  /**
   * Writes the file when its content differs; returns whether it changed. Throws
   * VCBOX_ERR_SYSTEM_RENDER (the old file stays as it was).
   */
  write({ file, content }: RenderedFile): boolean {
    if (!(Object.values(OWNED_FILES) as string[]).includes(file)) throw new Error(`not a file vcbox owns: ${file}`);
    const target = this.pathOf(file);
    if (this.#read(target) === content) return false;
    // Beside the target (same file system, so the rename is atomic) and named so no reader
    // takes it for a configuration file (*.network, *.conf) should it be left behind.
    const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
    try {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      const fd = openSync(temporary, 'w', 0o644);
      try {
        writeSync(fd, content);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, target);
    } catch (error) {
      try {
        rmSync(temporary, { force: true });
      } catch {
        // the folder itself is what failed: there is no temporary file to remove
      }
      throw createError('VCBOX_ERR_SYSTEM_RENDER', { file: target, reason: (error as Error).message }, error);
    }
    log.info({ file: target }, 'system file written');
    return true;
  }

  #read(target: string): string | undefined {
    try {
      return readFileSync(target, 'utf8');
    } catch {
      return undefined;
    }
  }
}
