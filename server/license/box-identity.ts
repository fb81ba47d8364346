/**
 * The box's identity for licensing, and the trial marker kept beside it.
 *
 * Box id: derived once from the OS's /etc/machine-id — never shown raw (machine-id(5) asks for
 * an application-specific hash): HMAC-SHA-256 keyed "vcbox box id v1", 80 bits in base32,
 * `XXXX-XXXX-XXXX-XXXX` — and written to `<identityDir>/box-id`, which is read from then on.
 * The file keeps the id stable when the OS image changes under the data; deriving it from the
 * machine-id means a lost identity folder gives the same id again, so the vendor's licence
 * still fits. Without a machine-id (some containers) a random id is generated and kept.
 *
 * Trial marker: `<identityDir>/trial.json` (box id, start, end) — one of two copies; the other
 * is the `license_trial` table. The identity folder is outside the database: a restore never
 * touches it (license* tables are kept by the box too: server/backup/database-snapshot.ts),
 * and factory reset must keep it (it is "the licence", like the license* tables). A second
 * trial needs both copies gone. Root can delete files on an offline box; this stops resets
 * and restores, not root.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { getLogger } from '../core/logger.ts';

const log = getLogger('license');

const BASE32 = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const BOX_ID = /^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/;

/** 80 bits as 16 base32 characters in groups of four. */
function formatId(bytes: Buffer): string {
  let bits = '';
  for (const byte of bytes.subarray(0, 10)) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < 80; i += 5) out += BASE32[Number.parseInt(bits.slice(i, i + 5), 2)];
  return (out.match(/.{4}/g) ?? []).join('-');
}

export function boxIdFromMachineId(machineId: string): string {
  return formatId(createHmac('sha256', 'vcbox box id v1').update(machineId.trim()).digest());
}

export interface TrialMarker {
  readonly boxId: string;
  readonly startedAt: string;
  readonly endsAt: string;
}

export class BoxIdentity {
  readonly boxId: string;
  readonly #dir: string;

  /**
   * @param options.dir the identity folder (config `license.identityDir`)
   * @param options.machineIdFile where the OS keeps its machine id (tests give their own)
   */
  constructor(options: { dir: string; machineIdFile?: string }) {
    this.#dir = options.dir;
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.#dir, 'box-id');
    const kept = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (BOX_ID.test(kept)) {
      this.boxId = kept;
      return;
    }
    let machineId = '';
    try {
      machineId = readFileSync(options.machineIdFile ?? '/etc/machine-id', 'utf8').trim();
    } catch {
      // none: a generated id below
    }
    this.boxId = machineId ? boxIdFromMachineId(machineId) : formatId(randomBytes(10));
    this.#write('box-id', `${this.boxId}\n`);
    log.info({ boxId: this.boxId, from: machineId ? 'machine-id' : 'random' }, 'box id created');
  }

  /** The trial marker file, if the trial was ever started on this box. */
  trialMarker(): TrialMarker | undefined {
    const file = path.join(this.#dir, 'trial.json');
    if (!existsSync(file)) return undefined;
    try {
      const marker = JSON.parse(readFileSync(file, 'utf8')) as Partial<TrialMarker>;
      if (typeof marker.startedAt === 'string' && typeof marker.endsAt === 'string') return { boxId: String(marker.boxId), startedAt: marker.startedAt, endsAt: marker.endsAt };
    } catch {
      // unreadable
    }
    // A damaged marker still says a trial was used; treat it as one that has ended.
    log.warn({ file }, 'the trial marker is unreadable; the trial counts as used');
    return { boxId: this.boxId, startedAt: new Date(0).toISOString(), endsAt: new Date(0).toISOString() };
  }

  writeTrialMarker(marker: TrialMarker): void {
    this.#write('trial.json', `${JSON.stringify(marker)}\n`);
  }

  /** Written whole or not at all (a temporary file renamed over). */
  #write(name: string, content: string): void {
    const file = path.join(this.#dir, name);
    writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}
