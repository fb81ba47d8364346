/**
 * The settings the media process follows, sent to it by the control plane: the media process
 * never opens the database, so the control plane sends every setting declared
 * `follows: ['media']` (server/settings/settings-schema.ts) as one `configure` request over
 * the media control channel — when the channel connects (the media process started, or this
 * control plane did: the media process outlives a control-plane restart and gets the current
 * values again) and whenever one of them changes in the store, whoever changed it (the
 * settings API, a restore, the setup wizard). The settings API also sends them itself and
 * waits for the answer (server/control-plane/live-settings.ts), to say they are in force.
 * What the media process takes from them is media/media-settings.ts.
 */
import type { ConfigureResult, MediaControl } from '../../media/control/media-control-protocol.ts';
import type { MediaSettings } from '../../media/media-settings.ts';
import { getLogger } from '../core/logger.ts';
import { followedBy, follows, type SettingKey, type Settings } from '../settings/settings-schema.ts';
import type { SettingsStore } from '../settings/settings-store.ts';

const log = getLogger('media-client');

// The stored settings have every setting the media process takes, each of the type it takes
// (a setting added to MediaSettings but not to the schema, or of another type, fails here).
const storedFit = (settings: Settings): MediaSettings => settings;
void storedFit;

/** The settings the media process follows, out of all of them (what `configure` carries). */
export function mediaSettingsFrom(settings: Settings): MediaSettings {
  const picked: Partial<Record<SettingKey, unknown>> = {};
  for (const key of followedBy('media')) picked[key] = settings[key];
  return picked as unknown as MediaSettings;
}

/** What the feed needs of the media client: its `configure` call and its connect event. */
export interface MediaSettingsChannel {
  readonly media: Pick<MediaControl, 'configure'>;
  readonly connected: boolean;
  on(event: 'connect', listener: () => void): unknown;
  off(event: 'connect', listener: () => void): unknown;
}

export class MediaSettingsFeed {
  readonly #channel: MediaSettingsChannel;
  readonly #store: SettingsStore;
  readonly #onConnect = (): void => void this.send('connected');
  readonly #onChanged = (keys: readonly SettingKey[]): void => {
    if (keys.some((key) => follows('media', key))) void this.send('changed');
  };
  #started = false;
  #closed = false;

  constructor(channel: MediaSettingsChannel, store: SettingsStore) {
    this.#channel = channel;
    this.#store = store;
  }

  /** Sends at every connection and change from now on (and now, if the channel is up). */
  start(): this {
    if (this.#closed || this.#started) return this;
    this.#started = true;
    this.#channel.on('connect', this.#onConnect);
    this.#store.observer.on('changed', this.#onChanged);
    if (this.#channel.connected) void this.send('connected');
    return this;
  }

  /**
   * Sends the current values now. Never rejects: a media process that is away gets them when
   * it connects; one that refuses them is a bug, logged as an error.
   */
  async send(why: 'connected' | 'changed'): Promise<ConfigureResult | undefined> {
    if (this.#closed) return undefined;
    try {
      return await this.#channel.media.configure(mediaSettingsFrom(this.#store.getAll()));
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      if (code === 'VCBOX_ERR_MEDIA_UNAVAILABLE') log.debug({ why, err: message }, 'media process away: it gets its settings when it connects');
      else log.error({ why, code, err: message }, 'the media process did not take its settings');
      return undefined;
    }
  }

  /** Stops sending. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.off('connect', this.#onConnect);
    this.#store.observer.off('changed', this.#onChanged);
  }
}
