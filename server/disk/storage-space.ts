/**
 * The file system a folder lives on: its size, what is used and free, and which device it is
 * (two folders on one device share its free space). Used and free are counted as `df` counts
 * them — free is what an unprivileged process may still write (blocks available), and "used %"
 * is used / (used + available), the figure an administrator sees in `df`.
 */
import { stat, statfs } from 'node:fs/promises';
import path from 'node:path';

export interface StorageSpace {
  /** The folder asked about (the nearest existing ancestor is measured when it is missing). */
  readonly path: string;
  readonly device: number;
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly freeBytes: number;
  /** used / (used + free), 0-100, one decimal. */
  readonly usedPercent: number;
}

async function existingAncestor(folder: string): Promise<string> {
  let current = path.resolve(folder);
  for (let guard = 0; guard < 64; guard++) {
    if (await stat(current).then(() => true, () => false)) return current;
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

export async function storageSpace(folder: string): Promise<StorageSpace> {
  const measured = await existingAncestor(folder);
  const [fs, info] = await Promise.all([statfs(measured), stat(measured)]);
  const totalBytes = fs.blocks * fs.bsize;
  const usedBytes = (fs.blocks - fs.bfree) * fs.bsize;
  const freeBytes = fs.bavail * fs.bsize;
  const usedPercent = usedBytes + freeBytes === 0 ? 0 : Math.round((usedBytes / (usedBytes + freeBytes)) * 1000) / 10;
  return { path: folder, device: info.dev, totalBytes, usedBytes, freeBytes, usedPercent };
}
