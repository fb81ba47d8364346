/**
 * Orphan dialogs: confirmed INVITE dialogs whose application connection went away (the control
 * plane was killed or restarted), or that a restarted signaling service read back from its
 * snapshot (./dialog-snapshot.ts). They are kept — not forgotten — so the media keeps flowing
 * and an application that connects again can take them over (`adopt`), or end them (`release`).
 *
 * Bounded against a hostile LAN and a crash loop: at most `maxOrphans` (the oldest beyond it are
 * ended with a BYE), each for at most `ttlMs` (then ended with a BYE saying why). In-dialog
 * requests for an orphan are held for at most `holdMs` (at most HELD_PER_DIALOG per dialog; more
 * are refused 500 with Retry-After at once) and handed to the adopting application; a request
 * still held when its time is up is answered here — BYE 200 (the dialog ends, and the next
 * application learns it from `ended`), anything else 500 with Retry-After. OPTIONS in an orphan
 * is answered 200 here at once (a keep-alive). What is not here: matching a request to its
 * dialog (./dialog-table.ts, which requires our To tag) and sending (the sides of the service).
 */
import { getLogger } from '../../core/logger.ts';
import type { SipRequest } from '../sip/sip-message.ts';
import type { ServerTransaction } from '../transactions/server-transaction.ts';
import type { MessageSource } from '../transports/sip-transport.ts';
import type { Dialog } from './dialog.ts';
import type { DialogTable } from './dialog-table.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('signaling-service');

/** Requests held per orphan dialog while no application has adopted it. */
const HELD_PER_DIALOG = 4;
/** Dialogs ended while orphaned that the next application is told about. */
const MAX_ENDED = 2000;

export interface OrphanPolicy {
  /** Orphans kept at most (default 2000). */
  readonly maxOrphans: number;
  /** How long an orphan waits for an application (ms, default 10 minutes). */
  readonly ttlMs: number;
  /** How long an in-dialog request for an orphan waits for an application (ms, default 20 s: under a client's Timer F of 32 s, so the terminal always gets its answer). */
  readonly holdMs: number;
}

export const DEFAULT_ORPHAN_POLICY: OrphanPolicy = { maxOrphans: 2000, ttlMs: 10 * 60_000, holdMs: 20_000 };

/** An orphan as the control channel lists it: what an application needs to take the call over. */
export interface OrphanInfo {
  readonly id: string;
  readonly role: 'uas' | 'uac';
  readonly callId: string;
  readonly local: string;
  readonly remote: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly remoteTarget: string;
  readonly peer: { readonly protocol: string; readonly address: string; readonly port: number };
  /** Seconds since it lost its application. */
  readonly orphanedSeconds: number;
}

/** A dialog the peer ended (BYE) while no application held it. */
export interface EndedOrphan {
  readonly id: string;
  readonly callId: string;
  readonly at: string;
  readonly reason: string;
}

interface Held {
  readonly request: SipRequest;
  readonly source: MessageSource;
  readonly transaction: ServerTransaction;
}

export interface OrphanDialogsOptions {
  readonly table: DialogTable;
  readonly policy?: Partial<OrphanPolicy>;
  /** Ends a dialog from the box's side: BYE with a Reason (the dialog is already out of the table). */
  readonly hangUp: (dialog: Dialog, reason: string) => void;
  /** Answers a held request here (no application). */
  readonly respond: (transaction: ServerTransaction, status: number, reason: string, extra?: [string, string][]) => void;
  /** Hands a held request to the application that adopted its dialog. */
  readonly forward: (owner: unknown, held: { request: SipRequest; source: MessageSource; transaction: ServerTransaction }, dialog: Dialog) => void;
}

export class OrphanDialogs {
  readonly #table: DialogTable;
  readonly #policy: OrphanPolicy;
  readonly #options: OrphanDialogsOptions;
  /** Orphan id → when it lost its application (insertion order: oldest first). */
  readonly #since = new Map<string, number>();
  readonly #held = new Map<string, Held[]>();
  readonly #ended: EndedOrphan[] = [];

  constructor(options: OrphanDialogsOptions) {
    this.#table = options.table;
    this.#policy = { ...DEFAULT_ORPHAN_POLICY, ...options.policy };
    this.#options = options;
  }

  get size(): number {
    return this.#since.size;
  }

  has(id: string): boolean {
    return this.#since.has(id);
  }

  /**
   * The application connection `owner` went away: its confirmed INVITE dialogs become orphans,
   * the rest (early dialogs, subscriptions) end with it as before.
   */
  takeFrom(owner: unknown, now = monotonicMs()): void {
    const taken: Dialog[] = [];
    for (const dialog of [...this.#table.values()]) {
      if (dialog.owner !== owner) continue;
      if (dialog.method === 'INVITE' && dialog.state === 'confirmed') taken.push(dialog);
      else this.#table.delete(dialog.id);
    }
    for (const dialog of taken) this.keep(dialog, now);
    if (taken.length > 0) log.warn({ dialogs: taken.length, orphans: this.#since.size }, 'the application went away: its calls are kept for the next one to take over');
  }

  /** Keeps a dialog with no application (it is in the table, or is put there). */
  keep(dialog: Dialog, now = monotonicMs()): void {
    dialog.owner = undefined;
    if (this.#table.get(dialog.id) !== dialog) this.#table.set(dialog);
    this.#since.delete(dialog.id);
    this.#since.set(dialog.id, now);
    // Bounded: the oldest beyond the bound are ended now.
    while (this.#since.size > this.#policy.maxOrphans) {
      const [oldest] = this.#since.keys();
      if (oldest === undefined) break;
      this.#end(oldest, 'too many calls waiting for the SIP application');
    }
  }

  /** The orphans now, for an application to take over. */
  list(now = monotonicMs()): OrphanInfo[] {
    const out: OrphanInfo[] = [];
    for (const [id, since] of this.#since) {
      const d = this.#table.get(id);
      if (!d) continue;
      out.push({
        id,
        role: d.role,
        callId: d.callId,
        local: d.local,
        remote: d.remote,
        localTag: d.localTag,
        remoteTag: d.remoteTag,
        remoteTarget: d.remoteTarget,
        peer: { protocol: d.peer.protocol, address: d.peer.address, port: d.peer.port },
        orphanedSeconds: Math.round((now - since) / 1000),
      });
    }
    return out;
  }

  /** Dialogs the peers ended while orphaned (most recent last). */
  ended(): EndedOrphan[] {
    return [...this.#ended];
  }

  /** `owner` takes the orphans `ids` over; the requests held for them go to it now. Returns the ids taken. */
  adopt(ids: readonly string[], owner: unknown): string[] {
    const adopted: string[] = [];
    for (const id of ids) {
      const dialog = this.#table.get(id);
      if (!dialog || !this.#since.has(id)) continue;
      this.#since.delete(id);
      dialog.owner = owner;
      adopted.push(id);
      const held = this.#held.get(id) ?? [];
      this.#held.delete(id);
      for (const h of held) if (h.transaction.pending) this.#options.forward(owner, h, dialog);
    }
    // The peers' ends seen before the adoption have been told.
    if (adopted.length > 0) this.#ended.length = 0;
    return adopted;
  }

  /** Ends an orphan from the box's side (BYE with `reason`); false when there is no such orphan. */
  release(id: string, reason: string): boolean {
    if (!this.#since.has(id)) return false;
    this.#end(id, reason);
    return true;
  }

  /**
   * An in-dialog request for an orphan: OPTIONS is answered at once; the rest waits for an
   * application (bounded per dialog) and is answered here if none comes in time.
   */
  hold(dialog: Dialog, request: SipRequest, source: MessageSource, transaction: ServerTransaction): void {
    if (request.method === 'OPTIONS') {
      this.#options.respond(transaction, 200, 'OK');
      return;
    }
    const held = this.#held.get(dialog.id) ?? [];
    if (held.length >= HELD_PER_DIALOG) {
      this.#options.respond(transaction, 500, 'Server Internal Error', [['retry-after', '5'], ['warning', '399 vcbox "the call is being taken over after a restart; try again"']]);
      return;
    }
    held.push({ request, source, transaction });
    this.#held.set(dialog.id, held);
    const timer = setTimeout(() => this.#expireHeld(dialog.id, transaction), this.#policy.holdMs);
    timer.unref();
  }

  #expireHeld(id: string, transaction: ServerTransaction): void {
    const held = this.#held.get(id);
    const index = held?.findIndex((h) => h.transaction === transaction) ?? -1;
    if (!held || index < 0) return;
    const [h] = held.splice(index, 1);
    if (held.length === 0) this.#held.delete(id);
    if (!h?.transaction.pending) return;
    if (h.request.method === 'BYE') {
      this.#options.respond(h.transaction, 200, 'OK');
      const dialog = this.#table.get(id);
      this.#forget(id);
      if (dialog) this.#remember(dialog, 'hangup');
      return;
    }
    this.#options.respond(h.transaction, 500, 'Server Internal Error', [['retry-after', '5'], ['warning', '399 vcbox "the call is being taken over after a restart; try again"']]);
  }

  /** Ends orphans past their time (called once a second). */
  sweep(now = monotonicMs()): void {
    for (const [id, since] of this.#since) {
      if (now - since < this.#policy.ttlMs) break; // oldest first
      this.#end(id, 'no SIP application took the call over after a restart');
    }
  }

  #end(id: string, reason: string): void {
    const dialog = this.#table.get(id);
    this.#forget(id);
    if (!dialog) return;
    log.warn({ dialog: id, reason }, 'ending a call no application took over');
    this.#options.hangUp(dialog, reason);
  }

  #forget(id: string): void {
    this.#since.delete(id);
    this.#table.delete(id);
    for (const h of this.#held.get(id) ?? []) if (h.transaction.pending) this.#options.respond(h.transaction, 481, 'Call/Transaction Does Not Exist');
    this.#held.delete(id);
  }

  #remember(dialog: Dialog, reason: string): void {
    this.#ended.push({ id: dialog.id, callId: dialog.callId, at: new Date().toISOString(), reason });
    if (this.#ended.length > MAX_ENDED) this.#ended.splice(0, this.#ended.length - MAX_ENDED);
  }

  clear(): void {
    this.#since.clear();
    this.#held.clear();
    this.#ended.length = 0;
  }
}
