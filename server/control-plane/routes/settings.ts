/**
 * System settings (spec "Call settings", "Network & services"): every setting with its value
 * (secrets only as "set"), its rule and when a change takes effect; changing several at once
 * (all validated with the spec's ranges and the cross-checks — TLS port ≠ UDP/TCP port, media
 * ranges ≥ 1000 wide and apart — before anything is written; audited by the store), answered
 * with what applies now and which services must restart.
 */
import type { FastifyPluginAsync } from 'fastify';
import { SETTINGS, type SettingKey } from '../../settings/settings-schema.ts';
import { SECRET_SETTINGS, settingEffect } from '../../settings/setting-effects.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';

export const settingRoutes: FastifyPluginAsync<{ settings: SettingsStore }> = async (app, { settings }) => {
  const view = () => {
    const values = settings.getAll() as Record<string, unknown>;
    return Object.fromEntries(
      (Object.keys(SETTINGS) as SettingKey[]).map((key) => [
        key,
        {
          value: SECRET_SETTINGS.includes(key) ? (values[key] ? '(set)' : '') : values[key],
          rule: SETTINGS[key].describe,
          effect: settingEffect(key),
        },
      ]),
    );
  };

  app.get('/settings', { schema: { summary: 'Every setting: value (secrets only as "(set)"), rule, and when a change takes effect' } }, async () => view());

  app.patch<{ Body: Record<string, unknown> }>(
    '/settings',
    {
      schema: {
        summary: 'Change settings (all or nothing); says what applies now and which services must restart',
        body: { type: 'object', minProperties: 1, maxProperties: 64 },
      },
    },
    async (request) => {
      const changes = { ...request.body };
      // A secret left as shown ("(set)") is not a change.
      for (const key of SECRET_SETTINGS) if (changes[key] === '(set)') delete changes[key];
      const changed = settings.update(changes, { actor: request.admin?.username ?? '', source: request.ip });
      const restart = [...new Set(changed.map(settingEffect).flatMap((e) => (e.applies === 'restart' ? [e.service] : [])))];
      return {
        changed,
        appliedNow: changed.filter((key) => settingEffect(key).applies === 'now'),
        restartRequired: restart,
        storedOnly: changed.filter((key) => settingEffect(key).applies === 'stored'),
        message:
          restart.length > 0
            ? `Saved. The change takes effect when ${restart.join(' and ')} restart${restart.length > 1 ? '' : 's'} (ongoing calls on that service are ended).`
            : 'Saved.',
      };
    },
  );
};
