/**
 * The settings each process follows while it runs, declared once next to each setting
 * (`follows` in server/settings/settings-schema.ts), checked against the code each process
 * really re-configures itself with:
 * - signaling: signalingSettingsFrom (server/signaling/signaling-settings.ts, what
 *   server/signaling/main.ts re-applies);
 * - media: mediaFollowingFrom (media/media-settings.ts: the service's configuration, the video
 *   policy, static NAT and the remote syslog collector media/main.ts re-configures itself
 *   with from the settings the control plane sends);
 * - TURN: turnRelayFrom (server/turn/turn-config.ts, what the TURN service re-renders coturn
 *   from at every look);
 * - control plane: its web listeners (listenersWanted) and the backup schedule (cronExpression).
 * Every setting is changed, one at a time and to each of several valid values, from the
 * defaults and from a second base (static NAT and HTTPS on); a setting is followed by a
 * process exactly when some change of it changes what that process derives. Then a real
 * SettingsWatcher on a real store, given the process, reports exactly that process's settings;
 * and the media process, which is sent its settings instead, is sent exactly the declared ones
 * (what the control plane picks, what the channel lets through, the defaults it starts with).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MEDIA_SETTING_KEYS } from '../../media/control/media-control-protocol.ts';
import { checkMediaRequest } from '../../media/control/media-control-server.ts';
import { DEFAULT_MEDIA_SETTINGS, mediaFollowingFrom } from '../../media/media-settings.ts';
import { mediaSettingsFrom } from '../../server/media-client/media-settings-feed.ts';
import { cronExpression } from '../../server/backup/backup-scheduler.ts';
import { listenersWanted } from '../../server/control-plane/web-listeners.ts';
import { openDatabase } from '../../server/db/database.ts';
import { migrate } from '../../server/db/migrations.ts';
import { checkSetting, defaultSettings, FOLLOWERS, type Follower, followedBy, type SettingKey, type Settings } from '../../server/settings/settings-schema.ts';
import { SettingsStore } from '../../server/settings/settings-store.ts';
import { SettingsWatcher } from '../../server/settings/settings-watcher.ts';
import { signalingSettingsFrom } from '../../server/signaling/signaling-settings.ts';
import { turnRelayFrom } from '../../server/turn/turn-config.ts';

/** What each process takes from the settings, by the functions its code uses. */
const DERIVED: Record<Follower, (settings: Settings) => unknown> = {
  signaling: (settings) => signalingSettingsFrom(settings),
  media: (settings) => mediaFollowingFrom(settings, { listenIp: '127.0.0.1', address: '127.0.0.1' }),
  turn: (settings) => turnRelayFrom(settings, { listenIp: '127.0.0.1', mediaAddress: '127.0.0.1', runDir: '/nonexistent' }),
  'control-plane': (settings) => [listenersWanted(settings), settings['backup.auto'] ? cronExpression(settings) : null],
};

/** Strings tried as other values (each kept only where the setting's rule allows it). */
const STRINGS = [
  '1080P/30', 'CIF', '360P/30', '4CIF', '128k', '512k', '4M', '1M', 'longest-unseen', 'round-robin', '1+9', '1+5', '2x2', '5x5', 'single',
  'en', 'zh-CN', 'required', 'off', 'optional', 'example.org', 'vcbox.example.com', '203.0.113.5', '198.51.100.7', '10.1.0.0/16', 'SHA-256', 'SHA-256,MD5',
  'tcp', 'tls', 'udp', 'manual', 'sntp', 'daily', 'monthly', 'weekly', '03:30', '23:59', 'eth2', 'static', 'dhcp', '192.168.5.10', '255.255.0.0', '16',
  'UTC+01:00', 'UTC', 'auto', 'none', 'ssl', 'queue', 'take-over', 'box@example.org', 'operator', 'a passphrase of enough length', '123456', '98765',
  'https://vc.example.org', 'SERIAL-0001', '-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n',
];

/** Other valid values of a setting, from its default's type. */
function alternatives(key: SettingKey, base: Settings): unknown[] {
  const current = base[key] as unknown;
  let candidates: unknown[] = [];
  if (typeof current === 'boolean') candidates = [!current];
  else if (typeof current === 'number') candidates = [current + 1, current - 1, current + 100, current * 2, 0, 1, 5, 10, 300, 9000];
  else if (typeof current === 'string') candidates = STRINGS;
  else if (current && typeof current === 'object' && 'min' in current) {
    const range = current as { min: number; max: number };
    candidates = [
      { min: range.min + 500, max: range.max + 500 },
      { min: range.min - 500, max: range.max - 500 },
      { min: range.min, max: range.max - 10 },
    ];
  }
  return candidates.filter((value) => JSON.stringify(value) !== JSON.stringify(current) && checkSetting(key, value) === undefined);
}

const defaults = defaultSettings();
const bases: Settings[] = [
  defaults,
  {
    ...defaults,
    'nat.enabled': true,
    'nat.publicIp': '203.0.113.9',
    'web.httpsEnabled': true,
    'backup.period': 'monthly',
    'syslog.enabled': true,
    'syslog.host': 'example.org',
    'syslog.protocol': 'tls',
  },
];
const keys = Object.keys(defaults) as SettingKey[];

t.test('each process follows exactly the settings its running configuration is made of', async (t) => {
  const untried = keys.filter((key) => bases.every((base) => alternatives(key, base).length === 0));
  t.same(untried.sort(), ['network.routes', 'setup.steps'], 'every setting but these two (lists and objects nobody follows) is tried with other values');
  for (const process of FOLLOWERS) {
    const derive = DERIVED[process];
    const depends = keys.filter((key) =>
      bases.some((base) => {
        const before = JSON.stringify(derive(base));
        return alternatives(key, base).some((value) => JSON.stringify(derive({ ...base, [key]: value } as Settings)) !== before);
      }),
    );
    t.same(followedBy(process).sort(), depends.sort(), `${process}: the declared settings are the ones its configuration depends on`);
  }
  for (const key of untried) t.same(FOLLOWERS.filter((process) => followedBy(process).includes(key)), [], `${key} is followed by nobody`);
});

t.test('a watcher given its process reports the changes of that process only', async (t) => {
  const db = openDatabase(path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-followers-')), 'vcbox.sqlite'));
  migrate(db);
  t.teardown(() => db.close());
  const store = new SettingsStore(db);
  for (const process of ['signaling'] as const) {
    const watcher = new SettingsWatcher(store, { follows: process, pollMs: 60_000 });
    const all = new SettingsWatcher(store, { pollMs: 60_000 });
    t.teardown(() => {
      watcher.close();
      all.close();
    });
    const change: Partial<Record<SettingKey, unknown>> = {};
    for (const key of keys) {
      const [value] = alternatives(key, store.getAll());
      if (value !== undefined && key !== 'setup.firstStartDone') change[key] = value;
    }
    // Applied one at a time: some combinations are refused across keys (ports apart, quotas).
    for (const [key, value] of Object.entries(change)) {
      try {
        store.update({ [key]: value } as Partial<Settings>, { actor: 'test' });
      } catch {
        delete change[key as SettingKey];
      }
    }
    const seen = all.check();
    const followed = watcher.check();
    t.ok(seen.length > 40, `${seen.length} settings changed`);
    t.same(followed.sort(), seen.filter((key) => followedBy(process).includes(key)).sort(), `${process}: the watcher reports its own settings, and all of them`);
    t.ok(followed.length > 0, `${process}: some of its settings were among the changes`);
  }
});

t.test('the media process is sent exactly the settings it follows', async (t) => {
  const declared = followedBy('media').sort();
  t.same([...MEDIA_SETTING_KEYS].sort(), declared, 'the control channel takes exactly the declared settings in configure (MediaSettings)');
  const sent = mediaSettingsFrom({ ...defaults, 'call.rtpTimeoutSeconds': 120 });
  t.same(Object.keys(sent).sort(), declared, 'the control plane sends exactly the declared settings');
  t.equal(sent['call.rtpTimeoutSeconds'], 120, 'with their current values');
  t.doesNotThrow(() => checkMediaRequest('configure', [sent]), 'what the control plane sends passes the media side check');
  const picked = Object.fromEntries(declared.map((key) => [key, defaults[key]]));
  t.same(DEFAULT_MEDIA_SETTINGS, picked, "what the media process uses until the first configure is the settings' defaults");
  const { 'call.maxBandwidth': _left, ...missing } = sent;
  t.throws(() => checkMediaRequest('configure', [missing]), /configure: param 1 \(settings\)\.call\.maxBandwidth is missing/, 'one missing is refused, by name');
  t.throws(() => checkMediaRequest('configure', [{ ...sent, 'call.srtp': 'off' }]), /does not take: "call\.srtp"/, 'one more (not followed) is refused, by name');
  t.throws(() => checkMediaRequest('configure', [{ ...sent, 'media.mcuPorts': { min: '1', max: 2 } }]), /media\.mcuPorts\.min must be a number/, 'a wrong type is refused, by name');
});
