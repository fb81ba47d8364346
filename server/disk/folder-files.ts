/**
 * The regular files under a folder with their sizes and modification times — what the disk
 * parts add up, and the order ("oldest first") in which a full quota drops them. Bounded: at
 * most MAX_DEPTH folders down and MAX_FILES files, so a folder that is not what it should be
 * cannot make a check walk forever. Links are not followed. Deleting files is left to the parts.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, rmdir, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface StoredFile {
  readonly path: string;
  /** The path below the part's folder, with `/` (how it is named in an export). */
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
}

const MAX_DEPTH = 4;
const MAX_FILES = 200_000;

/** Regular files under `dir` (none when it does not exist); `skip` leaves out names (e.g. staging folders). */
export async function filesUnder(dir: string, skip: (name: string) => boolean = () => false): Promise<StoredFile[]> {
  const out: StoredFile[] = [];
  const walk = async (folder: string, prefix: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (out.length >= MAX_FILES || skip(entry.name)) continue;
      const file = path.join(folder, entry.name);
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(file, name, depth + 1);
      } else if (entry.isFile()) {
        try {
          const info = await lstat(file);
          out.push({ path: file, name, size: info.size, mtimeMs: info.mtimeMs });
        } catch {
          // gone between the listing and the look: nothing to count
        }
      }
    }
  };
  await walk(dir, '', 0);
  return out;
}

export function totalSize(files: readonly { size: number }[]): number {
  return files.reduce((sum, file) => sum + file.size, 0);
}

/** Oldest first (then by name, so equal times keep a stable order). */
export function oldestFirst<T extends StoredFile>(files: readonly T[]): T[] {
  return [...files].sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

/** What cleaning or trimming did. */
export interface Removal {
  /** Files deleted (names below the part's folder). */
  readonly deleted: string[];
  /** Files emptied instead of deleted because a process is writing them. */
  readonly truncated: string[];
  readonly freedBytes: number;
}

export const NOTHING_REMOVED: Removal = { deleted: [], truncated: [], freedBytes: 0 };

export function addRemovals(...removals: Removal[]): Removal {
  return {
    deleted: removals.flatMap((r) => r.deleted),
    truncated: removals.flatMap((r) => r.truncated),
    freedBytes: removals.reduce((sum, r) => sum + r.freedBytes, 0),
  };
}

/** Deletes `files` (a file already gone counts as deleted, freeing nothing more). */
export async function deleteFiles(files: readonly StoredFile[]): Promise<Removal> {
  const deleted: string[] = [];
  let freedBytes = 0;
  for (const file of files) {
    try {
      await unlink(file.path);
      freedBytes += file.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    deleted.push(file.name);
  }
  return { deleted, truncated: [], freedBytes };
}

/** Empties `files` in place: a process appending to one keeps writing to it, from its start. */
export async function truncateFiles(files: readonly StoredFile[]): Promise<Removal> {
  const truncated: string[] = [];
  let freedBytes = 0;
  for (const file of files) {
    try {
      await truncate(file.path, 0);
      freedBytes += file.size;
      truncated.push(file.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return { deleted: [], truncated, freedBytes };
}

/** The oldest of `files` whose removal brings their total to at most `limit` bytes. */
export function oldestBeyond<T extends StoredFile>(files: readonly T[], limit: number): T[] {
  let total = totalSize(files);
  const out: T[] = [];
  for (const file of oldestFirst(files)) {
    if (total <= limit) break;
    out.push(file);
    total -= file.size;
  }
  return out;
}

/** Removes empty sub-folders left under `dir` (not `dir` itself). */
export async function removeEmptyFolders(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const folder = path.join(dir, entry.name);
    await removeEmptyFolders(folder);
    if ((await readdir(folder).catch(() => ['?'])).length === 0) await rmdir(folder).catch(() => undefined);
  }
}
