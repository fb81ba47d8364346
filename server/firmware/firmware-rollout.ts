/**
 * "Update now" and what follows, per terminal (spec "Maintenance"): every registered terminal of
 * a model whose reported version differs from the model's latest firmware is told to upgrade
 * (the check-sync NOTIFY, see server/sip-app/firmware/check-sync.ts), and its progress is
 * followed — notified (the NOTIFY answered 2xx, or why not), downloaded (the provisioning URL
 * served it the whole file), updated (it registered again reporting the new version).
 *
 * Progress lives in table `firmware_progress` (migration 12), one row per terminal and model:
 * a terminal restarts to install the firmware and re-registers minutes later, and the box itself
 * may restart meanwhile, so memory would lose exactly what the administrator wants to see. A
 * terminal is its RFC 5626 instance id when it sends one, else its address (a terminal keeps its
 * address across the restart on a LAN; its Contact port often changes). A terminal that fetches
 * the file without being asked gets a row too. A new "update now" starts the row over.
 *
 * Registrations are seen through the location service's `registered` event; only terminals with
 * a progress row still waiting for their new version cost a database read (a set in memory),
 * so REGISTER throughput does not pay for this.
 */
import { recordAudit } from '../audit/audit-log.ts';
import type { Db } from '../db/database.ts';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { RequestOutcome } from '../sip-app/out-of-dialog-request.ts';
import type { Binding, LocationService } from '../sip-app/registrar/location-service.ts';
import { type Author, type FirmwareInfo, type FirmwareStore, modelKey } from './firmware-store.ts';

const log = getLogger('firmware');

export type TerminalState = 'notifying' | 'notified' | 'notify-failed' | 'downloaded' | 'updated';

export interface TerminalProgress {
  readonly id: number;
  readonly firmwareId: number;
  readonly account: string;
  readonly terminal: string;
  readonly model: string;
  readonly address: string | null;
  readonly fromVersion: string;
  readonly targetVersion: string;
  readonly state: TerminalState;
  readonly requestedAt: string | null;
  readonly requestedBy: string | null;
  readonly notifiedAt: string | null;
  /** The SIP status the NOTIFY got (null: none, see notifyError). */
  readonly notifyStatus: number | null;
  readonly notifyError: string | null;
  readonly downloadedAt: string | null;
  /** The version the terminal reported at its last registration since the request. */
  readonly seenVersion: string | null;
  readonly seenAt: string | null;
  readonly updatedAt: string | null;
  /** Whether it is registered now, and the version it reports now. */
  readonly online: boolean;
  readonly currentVersion: string | null;
}

export interface UpdateOutcome {
  readonly firmware: FirmwareInfo;
  /** The terminals told to upgrade, as far as their answers came within the wait. */
  readonly told: TerminalProgress[];
  /** Registered terminals of the model already on the latest version (not told). */
  readonly upToDate: { readonly account: string; readonly terminal: string; readonly address: string; readonly version: string }[];
}

export interface RolloutOptions {
  readonly db: Db;
  readonly store: FirmwareStore;
  readonly location: Pick<LocationService, 'online' | 'lookup' | 'on' | 'off'>;
  /** Sends the check-sync NOTIFY to a terminal (the SIP application's). */
  readonly checkSync: (binding: Binding) => Promise<RequestOutcome>;
}

interface Row {
  id: number;
  firmware_id: number;
  model_key: string;
  account: string;
  terminal: string;
  model: string;
  address: string | null;
  contact: string | null;
  from_version: string;
  target_version: string;
  requested_at: string | null;
  requested_by: string | null;
  notified_at: string | null;
  notify_status: number | null;
  notify_error: string | null;
  downloaded_at: string | null;
  seen_version: string | null;
  seen_at: string | null;
  updated_at: string | null;
}

/** Which terminal a binding is: its instance id, else its address. */
export function terminalOf(binding: Pick<Binding, 'instance' | 'source'>): string {
  return binding.instance ?? binding.source.address;
}

function stateOf(row: Row): TerminalState {
  if (row.updated_at) return 'updated';
  if (row.downloaded_at) return 'downloaded';
  if (row.notified_at) return 'notified';
  if (row.notify_error || row.notify_status !== null) return 'notify-failed';
  return 'notifying';
}

const pendingKey = (model: string, account: string, terminal: string) => `${modelKey(model)}|${account}|${terminal}`;

export class FirmwareRollout {
  readonly #db: Db;
  readonly #store: FirmwareStore;
  readonly #location: RolloutOptions['location'];
  readonly #checkSync: RolloutOptions['checkSync'];
  /** Terminals with a row still waiting for their new version. */
  readonly #pending = new Set<string>();
  #closed = false;

  constructor(options: RolloutOptions) {
    this.#db = options.db;
    this.#store = options.store;
    this.#location = options.location;
    this.#checkSync = options.checkSync;
    for (const row of this.#db.prepare('SELECT model_key, account, terminal FROM firmware_progress WHERE updated_at IS NULL').all() as Row[]) {
      this.#pending.add(pendingKey(row.model_key, row.account, row.terminal));
    }
    this.#location.on('registered', this.#onRegistered);
  }

  /**
   * Tells every registered terminal of `model` whose version differs from its latest firmware
   * to upgrade; answers once every NOTIFY has its answer or after `waitMs` (later answers still
   * reach the progress).
   */
  async updateNow(model: string, author: Author, waitMs = 4000): Promise<UpdateOutcome> {
    const firmware = this.#store.latest(model);
    if (!firmware) throw createError('VCBOX_ERR_FIRMWARE_NO_LATEST', { model, field: 'model' });
    if (firmware.missing) throw createError('VCBOX_ERR_FIRMWARE_NOT_FOUND', { id: firmware.id });
    const key = modelKey(firmware.model);
    // One binding per terminal (the newest registration), across every account.
    const terminals = new Map<string, Binding>();
    for (const { bindings } of this.#location.online()) {
      for (const binding of bindings) {
        if (modelKey(binding.model) !== key) continue;
        const id = `${binding.account}|${terminalOf(binding)}`;
        const known = terminals.get(id);
        if (!known || known.registeredAt < binding.registeredAt) terminals.set(id, binding);
      }
    }
    const upToDate: UpdateOutcome['upToDate'][number][] = [];
    const told: { id: number; answer: Promise<void> }[] = [];
    const requestedAt = new Date().toISOString();
    for (const binding of terminals.values()) {
      if (binding.version === firmware.version) {
        upToDate.push({ account: binding.account, terminal: terminalOf(binding), address: binding.source.address, version: binding.version });
        continue;
      }
      const id = this.#start(firmware, binding, { requestedAt, requestedBy: author.actor });
      const answer = this.#checkSync(binding)
        .then((outcome) => this.#notified(id, requestedAt, outcome))
        .catch((error: Error) => log.error({ id, err: error.message }, 'could not note the answer to a check-sync NOTIFY'));
      told.push({ id, answer });
    }
    recordAudit(this.#db, {
      ...author,
      action: 'firmware.update',
      detail: { model: firmware.model, id: firmware.id, version: firmware.version, told: told.length, upToDate: upToDate.length },
    });
    log.info({ model: firmware.model, version: firmware.version, told: told.length, upToDate: upToDate.length }, 'terminals told to upgrade');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(told.map((t) => t.answer)), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    const ids = new Set(told.map((t) => t.id));
    return { firmware, told: this.progress().filter((p) => ids.has(p.id)), upToDate };
  }

  /** Every terminal's progress (of one model, when given), newest request first. */
  progress(model?: string): TerminalProgress[] {
    const rows = (
      model === undefined
        ? this.#db.prepare('SELECT * FROM firmware_progress ORDER BY COALESCE(requested_at, downloaded_at) DESC, account, id')
        : this.#db.prepare('SELECT * FROM firmware_progress WHERE model_key = ? ORDER BY COALESCE(requested_at, downloaded_at) DESC, account, id')
    ).all(...(model === undefined ? [] : [modelKey(model)])) as Row[];
    return rows.map((row) => this.#view(row));
  }

  /**
   * The provisioning URL served the whole file of `firmwareId` to account `account` from
   * `address`: that terminal counts as downloaded (a terminal that was not told gets a row).
   */
  downloaded(firmwareId: number, account: string, address: string): void {
    const firmware = this.#store.get(firmwareId);
    const now = new Date().toISOString();
    const rows = this.#db.prepare('SELECT * FROM firmware_progress WHERE firmware_id = ? AND account = ? ORDER BY downloaded_at IS NOT NULL, requested_at DESC').all(firmwareId, account) as Row[];
    const row = rows.find((r) => r.address === address || r.terminal === address) ?? (rows.length === 1 ? rows[0] : rows.find((r) => !r.downloaded_at));
    if (row) {
      this.#db.prepare('UPDATE firmware_progress SET downloaded_at = ? WHERE id = ?').run(now, row.id);
      log.info({ account, address, model: firmware.model, version: firmware.version }, 'terminal downloaded the firmware');
      return;
    }
    const key = modelKey(firmware.model);
    const candidates = this.#location.lookup(account).filter((b) => modelKey(b.model) === key);
    const binding = candidates.find((b) => b.source.address === address) ?? candidates.at(-1);
    const id = binding
      ? this.#start(firmware, binding, { requestedAt: null, requestedBy: null })
      : this.#insert(firmware, { account, terminal: address, model: firmware.model, address, contact: null, fromVersion: '' }, { requestedAt: null, requestedBy: null });
    this.#db.prepare('UPDATE firmware_progress SET downloaded_at = ? WHERE id = ?').run(now, id);
    log.info({ account, address, model: firmware.model, version: firmware.version }, 'terminal downloaded the firmware without being told to');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#location.off('registered', this.#onRegistered);
  }

  /** A (new) row for a terminal told to upgrade or found downloading; returns its id. */
  #start(firmware: FirmwareInfo, binding: Binding, request: { requestedAt: string | null; requestedBy: string | null }): number {
    return this.#insert(
      firmware,
      { account: binding.account, terminal: terminalOf(binding), model: binding.model, address: binding.source.address, contact: binding.contact, fromVersion: binding.version },
      request,
    );
  }

  #insert(
    firmware: FirmwareInfo,
    terminal: { account: string; terminal: string; model: string; address: string; contact: string | null; fromVersion: string },
    request: { requestedAt: string | null; requestedBy: string | null },
  ): number {
    const key = modelKey(firmware.model);
    const id = this.#db
      .prepare(
        `INSERT INTO firmware_progress (firmware_id, model_key, account, terminal, model, address, contact, from_version, target_version, requested_at, requested_by, seen_version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model_key, account, terminal) DO UPDATE SET
           firmware_id = excluded.firmware_id, model = excluded.model, address = excluded.address, contact = excluded.contact,
           from_version = excluded.from_version, target_version = excluded.target_version, requested_at = excluded.requested_at,
           requested_by = excluded.requested_by, notified_at = NULL, notify_status = NULL, notify_error = NULL, downloaded_at = NULL,
           seen_version = excluded.seen_version, seen_at = NULL, updated_at = NULL
         RETURNING id`,
      )
      .pluck()
      .get(firmware.id, key, terminal.account, terminal.terminal, terminal.model, terminal.address, terminal.contact, terminal.fromVersion, firmware.version, request.requestedAt, request.requestedBy, terminal.fromVersion) as number;
    this.#pending.add(pendingKey(key, terminal.account, terminal.terminal));
    return id;
  }

  /** The NOTIFY's answer, unless the row was started over since (another "update now"). */
  #notified(id: number, requestedAt: string, outcome: RequestOutcome): void {
    if (this.#closed) return;
    const ok = 'status' in outcome && outcome.status >= 200 && outcome.status < 300;
    const error = 'error' in outcome ? outcome.error : ok ? null : `${outcome.status} ${outcome.reason}`.trim();
    this.#db
      .prepare('UPDATE firmware_progress SET notified_at = ?, notify_status = ?, notify_error = ? WHERE id = ? AND requested_at = ?')
      .run(ok ? new Date().toISOString() : null, 'status' in outcome ? outcome.status : null, error, id, requestedAt);
    if (!ok) log.warn({ id, error }, 'a terminal did not take the check-sync NOTIFY');
  }

  readonly #onRegistered = (binding: Binding): void => {
    const terminal = terminalOf(binding);
    const key = pendingKey(binding.model, binding.account, terminal);
    if (!this.#pending.has(key)) return;
    const row = this.#db.prepare('SELECT * FROM firmware_progress WHERE model_key = ? AND account = ? AND terminal = ?').get(modelKey(binding.model), binding.account, terminal) as Row | undefined;
    if (!row || row.updated_at) {
      this.#pending.delete(key);
      return;
    }
    const now = new Date().toISOString();
    if (binding.version === row.target_version) {
      this.#db
        .prepare('UPDATE firmware_progress SET updated_at = ?, seen_version = ?, seen_at = ?, address = ?, contact = ? WHERE id = ?')
        .run(now, binding.version, now, binding.source.address, binding.contact, row.id);
      this.#pending.delete(key);
      log.info({ account: binding.account, terminal, model: binding.model, version: binding.version }, 'terminal registered with its new firmware');
    } else if (binding.version !== row.seen_version) {
      this.#db.prepare('UPDATE firmware_progress SET seen_version = ?, seen_at = ? WHERE id = ?').run(binding.version, now, row.id);
    }
  };

  #view(row: Row): TerminalProgress {
    const current = this.#location.lookup(row.account).filter((b) => terminalOf(b) === row.terminal && modelKey(b.model) === row.model_key);
    const newest = current.sort((a, b) => b.registeredAt - a.registeredAt)[0];
    return {
      id: row.id,
      firmwareId: row.firmware_id,
      account: row.account,
      terminal: row.terminal,
      model: row.model,
      address: row.address,
      fromVersion: row.from_version,
      targetVersion: row.target_version,
      state: stateOf(row),
      requestedAt: row.requested_at,
      requestedBy: row.requested_by,
      notifiedAt: row.notified_at,
      notifyStatus: row.notify_status,
      notifyError: row.notify_error,
      downloadedAt: row.downloaded_at,
      seenVersion: row.seen_version,
      seenAt: row.seen_at,
      updatedAt: row.updated_at,
      online: newest !== undefined,
      currentVersion: newest?.version ?? null,
    };
  }
}
