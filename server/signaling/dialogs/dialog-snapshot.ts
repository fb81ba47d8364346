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
 * not know it, ends it with a BYE the terminal answers 481). A file older than 10 minutes is not read (the box was
 * off: those calls are over). Not here: deciding what to do with the dialogs.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
  #last = '';

  constructor(file: string) {
    this.#file = file;
  }

  /** The dialogs the file holds (none when it is missing, too large or unreadable); owner-less. */
  read(): Dialog[] {
    let text: string;
    try {
      if (Date.now() - statSync(this.#file).mtimeMs > MAX_AGE_MS) return [];
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return [];
    }
    if (text.length > MAX_FILE_BYTES) {
      log.warn({ file: this.#file }, 'dialog snapshot too large; not read');
      return [];
    }
    this.#last = text;
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch {
      log.warn({ file: this.#file }, 'dialog snapshot unreadable; not read');
      return [];
    }
    if (!Array.isArray(rows)) return [];
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

  /** Writes the confirmed INVITE dialogs when they changed since the last write. */
  write(dialogs: Iterable<Dialog>): void {
    const rows: SavedDialog[] = [];
    for (const d of dialogs) if (d.method === 'INVITE' && d.state === 'confirmed' && d.localTag && d.remoteTag) rows.push(saved(d));
    const text = JSON.stringify(rows);
    if (text === this.#last) return;
    try {
      const temporary = `${this.#file}.${process.pid}.tmp`;
      writeFileSync(temporary, text, { mode: 0o600 });
      renameSync(temporary, this.#file);
      this.#last = text;
    } catch (error) {
      log.warn({ file: this.#file, err: (error as Error).message }, 'could not write the dialog snapshot');
    }
  }
}
