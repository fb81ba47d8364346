/**
 * A folder that another, less trusted user can change, used by a process that must not be led
 * anywhere else through it: the root maintenance job working in the vcbox user's
 * `<dataDir>/maintenance/` and `<dataDir>/` (./maintenance-files.ts, server/upgrade/).
 *
 * The folder is opened once (O_DIRECTORY | O_NOFOLLOW: the name itself must not be a link) and
 * every file in it is reached through that open folder — `/proc/self/fd/<fd>/<name>` is
 * Linux's `openat(fd, name)` — so swapping the folder (or a folder above it) for a link after
 * the check changes nothing. Names are single path segments. Files are opened with O_NOFOLLOW
 * and O_NONBLOCK (a link or a FIFO planted under an expected name is refused, not followed or
 * waited on), must be regular files with one link (no hard link to a file elsewhere) and are
 * read up to a bound. New files are created with O_EXCL (never through a planted link) and
 * renamed into place; removing a name removes that entry only (unlink never follows a link).
 *
 * Linux only (the appliance's system); the dev supervisor and tests use it the same way. Node
 * opens every file with O_CLOEXEC: no handle leaks into the commands the job runs.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rmdir, unlink } from 'node:fs/promises';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
/** A name in the folder: one segment, no control characters, not `.` or `..`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const NAME = /^(?!\.\.?$)[^\u0000-\u001f\u007f/]{1,200}$/;

/** Thrown when something in the folder is not what a trusting reader expects; the message says what. */
export class UntrustedFileError extends Error {
  override readonly name = 'UntrustedFileError';
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

export class UntrustedFolder {
  readonly dir: string;
  readonly #fd: number;
  readonly owner: { readonly uid: number; readonly gid: number };
  #closed = false;

  private constructor(dir: string, fd: number, stats: Stats) {
    this.dir = dir;
    this.#fd = fd;
    this.owner = { uid: stats.uid, gid: stats.gid };
  }

  /** Opens `dir` (which must be a folder, not a link to one); undefined when it does not exist. */
  static open(dir: string, shownAs = dir): UntrustedFolder | undefined {
    let fd: number;
    try {
      fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      if (errorCode(error) === 'ELOOP' || errorCode(error) === 'ENOTDIR') throw new UntrustedFileError(`${shownAs} is not a folder (it is a link or a file); refusing to work in it`);
      throw error;
    }
    return new UntrustedFolder(shownAs, fd, fstatSync(fd));
  }

  /** Opens `dir` for the time of `work`, closed afterwards; `work` is not called (undefined) when the folder does not exist. */
  static async with<T>(dir: string, work: (folder: UntrustedFolder) => Promise<T>): Promise<T | undefined> {
    const folder = UntrustedFolder.open(dir);
    if (!folder) return undefined;
    try {
      return await work(folder);
    } finally {
      folder.close();
    }
  }

  /** The path that reaches `name` inside this open folder, whatever happens to the folder's own path. */
  at(name: string): string {
    if (this.#closed) throw new Error(`the folder ${this.dir} was closed`);
    if (!NAME.test(name)) throw new UntrustedFileError(`"${name}" is not a file name`);
    return `/proc/self/fd/${this.#fd}/${name}`;
  }

  /** Where `name` is, for messages (the folder's path as opened). */
  shown(name: string): string {
    return `${this.dir}/${name}`;
  }

  /**
   * Opens `name` for reading: a regular file with one link, at most `maxBytes` long (when
   * given); undefined when there is none. The caller closes the handle.
   */
  async openFile(name: string, maxBytes?: number): Promise<{ handle: FileHandle; stats: Stats } | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.at(name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      if (errorCode(error) === 'ELOOP') throw new UntrustedFileError(`${this.shown(name)} is a symbolic link; refusing to follow it`);
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new UntrustedFileError(`${this.shown(name)} is not a regular file`);
      if (stats.nlink !== 1) throw new UntrustedFileError(`${this.shown(name)} has ${stats.nlink} hard links (a link to a file elsewhere?); refusing it`);
      if (maxBytes !== undefined && stats.size > maxBytes) throw new UntrustedFileError(`${this.shown(name)} holds ${stats.size} bytes, more than the ${maxBytes} expected`);
      return { handle, stats };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Reads `name` whole (see `openFile`); undefined when there is none. */
  async read(name: string, maxBytes: number): Promise<Buffer | undefined> {
    const opened = await this.openFile(name, maxBytes);
    if (!opened) return undefined;
    try {
      // Read one byte past the bound: a file that grew after the check is refused too.
      const buffer = Buffer.alloc(maxBytes + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await opened.handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > maxBytes) throw new UntrustedFileError(`${this.shown(name)} holds more than the ${maxBytes} bytes expected`);
      }
      return buffer.subarray(0, length);
    } finally {
      await opened.handle.close();
    }
  }

  /**
   * Creates `name` new (O_EXCL: an entry of that name, a link included, makes it fail) and
   * returns its handle; the caller writes and closes it.
   */
  async create(name: string, mode: number): Promise<FileHandle> {
    try {
      return await open(this.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') throw new UntrustedFileError(`${this.shown(name)} exists already (something put it there); refusing to write through it`);
      throw error;
    }
  }

  /** Writes `name` whole: a new temporary file renamed over it (a link there is replaced, never followed). */
  async writeAtomically(name: string, content: Buffer | string, options: { mode: number; owner?: { uid: number; gid: number } }): Promise<void> {
    const temporary = `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await this.create(temporary, options.mode);
    try {
      try {
        await handle.writeFile(content);
        if (options.owner) await handle.chown(options.owner.uid, options.owner.gid);
        await handle.chmod(options.mode);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(this.at(temporary), this.at(name));
    } catch (error) {
      await this.remove(temporary);
      throw error;
    }
  }

  /**
   * Copies what `source` holds into `name`, whole: a new temporary file, then renamed over
   * `name` (a link there is replaced, never followed), with `mode` and `owner`.
   */
  async copyIn(name: string, source: FileHandle, options: { mode: number; owner?: { uid: number; gid: number } }): Promise<void> {
    const temporary = `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const target = await this.create(temporary, 0o600);
    try {
      try {
        const buffer = Buffer.alloc(1024 * 1024);
        for (let position = 0; ; ) {
          const { bytesRead } = await source.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) break;
          await target.write(buffer, 0, bytesRead);
          position += bytesRead;
        }
        if (options.owner) await target.chown(options.owner.uid, options.owner.gid);
        await target.chmod(options.mode);
        await target.sync();
      } finally {
        await target.close();
      }
      await rename(this.at(temporary), this.at(name));
    } catch (error) {
      await this.remove(temporary);
      throw error;
    }
  }

  /**
   * Makes the new folder `name` (0700, this process's own: the other user can neither write
   * into it nor read it) and opens it. Fails when anything of that name exists.
   */
  async makePrivateFolder(name: string): Promise<UntrustedFolder> {
    try {
      await mkdir(this.at(name), { mode: 0o700 });
    } catch (error) {
      if (errorCode(error) === 'EEXIST') throw new UntrustedFileError(`${this.shown(name)} exists already (something put it there); refusing to use it`);
      throw error;
    }
    const folder = UntrustedFolder.open(this.at(name), this.shown(name));
    if (!folder) throw new UntrustedFileError(`${this.shown(name)} went away as it was made`);
    const stats = fstatSync(folder.#fd);
    if (stats.uid !== process.geteuid?.() || (stats.mode & 0o077) !== 0) {
      folder.close();
      throw new UntrustedFileError(`${this.shown(name)} is not this process's private folder`);
    }
    return folder;
  }

  /** Removes the entry `name` if it is a file or a link (the link, not its target); no error when there is none. */
  async remove(name: string): Promise<void> {
    try {
      await unlink(this.at(name));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }

  /** The names in the folder. */
  list(): Promise<string[]> {
    return readdir(`/proc/self/fd/${this.#fd}`);
  }

  /** Removes the empty folder `name` (rmdir never follows a link and never removes what is in it). */
  async removeEmptyFolder(name: string): Promise<void> {
    try {
      await rmdir(this.at(name));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
