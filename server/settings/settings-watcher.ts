/**
 * Following the settings from a process that does not write them (the signaling service; the
 * media process reads no database and is sent its settings instead,
 * server/media-client/media-settings-feed.ts): every `pollMs` the store is read — a `PRAGMA data_version` check when nothing
 * moved, see settings-store.ts — and the keys whose value differs from the last look are
 * emitted as `changed`, whoever wrote them (the console's PATCH, a restore, the setup wizard).
 * Given the process it runs in (`follows`), it emits only the settings that process follows as
 * settings-schema.ts declares them. The control plane, which writes the settings, listens to
 * the store's own observer instead.
 */
import { EventEmitter } from 'node:events';
import { getLogger } from '../core/logger.ts';
import { type Follower, follows, type SettingKey, type Settings } from './settings-schema.ts';
import type { SettingsStore } from './settings-store.ts';

const log = getLogger('settings');

export interface SettingsWatcherEvents {
  /** Keys whose value changed since the last look, and all settings as they are now. */
  changed: [keys: SettingKey[], settings: Settings];
}

export class SettingsWatcher extends EventEmitter<SettingsWatcherEvents> {
  readonly #store: SettingsStore;
  readonly #pollMs: number;
  readonly #follower: Follower | undefined;
  #last: Settings;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(store: SettingsStore, options: { pollMs?: number; follows?: Follower } = {}) {
    super();
    this.#store = store;
    this.#pollMs = options.pollMs ?? 500;
    this.#follower = options.follows;
    this.#last = store.getAll();
  }

  /** The settings as of the last look. */
  get current(): Settings {
    return this.#last;
  }

  start(): this {
    if (this.#closed || this.#timer) return this;
    this.#timer = setInterval(() => this.check(), this.#pollMs);
    this.#timer.unref();
    return this;
  }

  /** Looks now (also what the timer does); returns the keys that changed (of those followed). */
  check(): SettingKey[] {
    if (this.#closed) return [];
    let now: Settings;
    try {
      this.#store.refresh();
      now = this.#store.getAll();
    } catch (error) {
      // A busy or closing database is no reason to stop following; the next look retries.
      log.debug({ err: (error as Error).message }, 'settings watcher: read failed');
      return [];
    }
    const follower = this.#follower;
    const changed = (Object.keys(now) as SettingKey[]).filter((key) => (follower === undefined || follows(follower, key)) && JSON.stringify(now[key]) !== JSON.stringify(this.#last[key]));
    this.#last = now;
    if (changed.length > 0) this.emit('changed', changed, now);
    return changed;
  }

  /** Stops following. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.removeAllListeners();
  }
}
