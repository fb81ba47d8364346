/**
 * The dialog snapshot: the confirmed INVITE dialogs written to a file in the data directory
 * (`<dataDir>/run/signaling-dialogs.json`) within 100 ms of a change (../signaling-service.ts), so that a
 * signaling service that was killed or restarted knows its calls again: it reads the file at
 * start and keeps them as orphans (./orphan-dialogs.ts) until the application takes them over.
 * Written whole to a temporary file and renamed (a kill mid-write leaves the previous one). What
 * a dialog needs to go on: identifiers, tags, sequence numbers (ours raised on restore, so a
 * request sent after a restart is never below one the peer saw), remote target, route set, peer.
 * A call set up within the last 100 ms before a kill may be missed (it then ends by the RTP
 * timeout, as before), and one that ended then may be read back (the application, which does
 * not know it, ends it with a BYE the terminal answers 481). A file whose writer was last alive
 * more than 10 minutes ago is not read (the box was off: those calls are over): the file says
 * so on the monotonic clock (server/core/clock.ts) — its boot and when it was written, rewritten
 * at least once a minute while its writer runs — so neither a wall clock set forward or back nor
 * a long call without any change fools the age, and a file from before a reboot is never read.
 * (A file of the former format, a bare list, is judged by its modification time.) Not here:
 * deciding what to do with the dialogs.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { bootId, monotonicMs } from '../../core/clock.ts';
import { getLogger } from '../../core/logger.ts';
import type { TransportProtocol } from '../transports/sip-transport.ts';
import { type Dialog, newDialog } from './dialog.ts';

const log = getLogger('signaling-service');

/** Our CSeq numbers after a restore start this far above the saved one (requests sent since the last write). */
const SEQ_MARGIN = 1000;
/** Dialogs read back at most (the orphan bound is 2000; a file is never trusted beyond it). */
const MAX_RESTORED = 5000;
/** A file larger than this is not read (4 MiB). */
const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** A file older than this is not read: its calls are long over (the box was off; an orphan lives 10 minutes). */
const MAX_AGE_MS = 10 * 60_000;
/** The file is written again at least this often, changed or not, so its age says when its writer was last alive. */
export const SNAPSHOT_HEARTBEAT_MS = 60_000;

/** The file: this boot, when it was written (monotonic ms) and the dialogs. */
interface SnapshotFile {
  readonly v: 2;
  readonly boot: string;
  readonly writtenAtMs: number;
  readonly dialogs: SavedDialog[];
}

interface SavedDialog {
  id: string;
  role: 'uas' | 'uac';
  callId: string;
  local: string;
  remote: string;
  localTag: string;
  remoteTag: string;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: string;
  routeSet: string[];
  peer: { protocol: TransportProtocol; address: string; port: number };
  inviteSeq: number;
}

function saved(d: Dialog): SavedDialog {
  return {
    id: d.id,
    role: d.role,
    callId: d.callId,
    local: d.local,
    remote: d.remote,
    localTag: d.localTag,
    remoteTag: d.remoteTag,
    localSeq: d.localSeq,
    remoteSeq: d.remoteSeq,
    remoteTarget: d.remoteTarget,
    routeSet: d.routeSet,
    // A stream's connection does not outlive the process: the remote target is used again.
    peer: { protocol: d.peer.protocol, address: d.peer.address, port: d.peer.port },
    inviteSeq: d.inviteSeq,
  };
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length < 8192;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31;

function valid(v: Partial<SavedDialog>): v is SavedDialog {
  return (
    isText(v.id) &&
    (v.role === 'uas' || v.role === 'uac') &&
    isText(v.callId) &&
    isText(v.local) &&
    isText(v.remote) &&
    isText(v.localTag) &&
    v.localTag !== '' &&
    isText(v.remoteTag) &&
    isCount(v.localSeq) &&
    isCount(v.remoteSeq) &&
    isCount(v.inviteSeq) &&
    isText(v.remoteTarget) &&
    Array.isArray(v.routeSet) &&
    v.routeSet.length < 32 &&
    v.routeSet.every(isText) &&
    typeof v.peer === 'object' &&
    v.peer !== null &&
    ['udp', 'tcp', 'tls'].includes(v.peer.protocol) &&
    isText(v.peer.address) &&
    isCount(v.peer.port)
  );
}

export class DialogSnapshot {
  readonly #file: string;
  readonly #boot = bootId();
  /** The dialogs as last written (or read), and when (monotonic ms). */
  #last = '';
  #writtenAt = Number.NEGATIVE_INFINITY;

  constructor(file: string) {
    this.#file = file;
  }

  /**
   * The dialogs the file holds (none when it is missing, too large, unreadable, from another
   * boot or written more than 10 minutes ago); owner-less.
   */
  read(now = monotonicMs()): Dialog[] {
    let text: string;
    let modifiedAt: number;
    try {
      const stat = statSync(this.#file);
      if (stat.size > MAX_FILE_BYTES) {
        log.warn({ file: this.#file }, 'dialog snapshot too large; not read');
        return [];
      }
      modifiedAt = stat.mtimeMs;
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return [];
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      log.warn({ file: this.#file }, 'dialog snapshot unreadable; not read');
      return [];
    }
    let rows: unknown;
    if (Array.isArray(parsed)) {
      // The former format: its file time is all there is (wall clock).
      if (Date.now() - modifiedAt > MAX_AGE_MS) return [];
      rows = parsed;
    } else {
      const file = parsed as Partial<SnapshotFile> | null;
      if (file?.v !== 2 || typeof file.writtenAtMs !== 'number' || !Array.isArray(file.dialogs)) return [];
      if (file.boot !== this.#boot) {
        log.info({ file: this.#file }, 'dialog snapshot from before a reboot; not read (those calls are over)');
        return [];
      }
      if (now - file.writtenAtMs > MAX_AGE_MS) return [];
      rows = file.dialogs;
    }
    if (!Array.isArray(rows)) return [];
    this.#last = JSON.stringify(rows);
    return rows
      .slice(0, MAX_RESTORED)
      .filter((row): row is SavedDialog => typeof row === 'object' && row !== null && valid(row as Partial<SavedDialog>))
      .map((s) =>
        newDialog({
          ...s,
          localSeq: s.localSeq + SEQ_MARGIN,
          peer: { protocol: s.peer.protocol, address: s.peer.address, port: s.peer.port },
          owner: undefined,
          method: 'INVITE',
          state: 'confirmed',
        }),
      );
  }

  /**
   * Writes the confirmed INVITE dialogs when they changed since the last write, or when the last
   * write is SNAPSHOT_HEARTBEAT_MS old (the file's age then says this process still runs), or
   * always with `force` (an orderly stop: the file then says when this process stopped).
   */
  write(dialogs: Iterable<Dialog>, now = monotonicMs(), force = false): void {
    const rows: SavedDialog[] = [];
    for (const d of dialogs) if (d.method === 'INVITE' && d.state === 'confirmed' && d.localTag && d.remoteTag) rows.push(saved(d));
    const text = JSON.stringify(rows);
    if (!force && text === this.#last && now - this.#writtenAt < SNAPSHOT_HEARTBEAT_MS) return;
    try {
      const temporary = `${this.#file}.${process.pid}.tmp`;
      const file: SnapshotFile = { v: 2, boot: this.#boot, writtenAtMs: now, dialogs: rows };
      writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
      renameSync(temporary, this.#file);
      this.#last = text;
      this.#writtenAt = now;
    } catch (error) {
      log.warn({ file: this.#file, err: (error as Error).message }, 'could not write the dialog snapshot');
    }
  }
}
