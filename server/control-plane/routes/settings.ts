/**
 * System settings (spec "Call settings", "Network & services"): every setting with its value
 * (secrets only as "set"), its rule and when a change takes effect; changing several at once
 * (all validated with the spec's ranges and the cross-checks — TLS port ≠ UDP/TCP port, media
 * ranges ≥ 1000 wide and apart — before anything is written; audited by the store), answered
 * with what applies now and which services must restart, and for the operating system's
 * settings (NICs, routes, SSH, time) which files were rendered and whether they were applied
 * (server/system/system-configurator.ts), with the spec's warning that network changes
 * restart the conferencing service, and for ports the running services move to (or why one
 * could not: control-plane/live-settings.ts). "Send test mail": the SMTP settings as
 * stored, or as typed in the form and not saved yet, tried with a real mail (audited). Remote
 * syslog's link as it is now (connected, buffering, drops). Disk quotas are also checked against
 * the disk (each at least max(default, used), their sum within the free space).
 */
import type { FastifyPluginAsync } from 'fastify';
import { checkEmail } from '../../accounts/account-store.ts';
import type { Db } from '../../db/database.ts';
import { createError, VcboxError } from '../../core/errors.ts';
import type { RemoteSyslog } from '../../logging/remote-syslog.ts';
import { type Mailer, type SmtpSettings, securityName } from '../../mail/mailer.ts';
import { SETTINGS, type SettingKey, type Settings } from '../../settings/settings-schema.ts';
import { NETWORK_WARNING, SECRET_SETTINGS, settingEffect } from '../../settings/setting-effects.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import type { SystemConfigurator } from '../../system/system-configurator.ts';
import { applyLive, type LiveTargets } from '../live-settings.ts';
import type { DiskParts } from '../../disk/disk-parts.ts';
import { checkQuotas, quotaChanges } from '../../disk/disk-quota-rules.ts';
import { auditAction } from '../route-helpers.ts';

interface TestMailBody {
  to: string;
  server?: string;
  port?: number;
  security?: 'none' | 'ssl' | 'tls';
  sender?: string;
  user?: string;
  password?: string;
}

interface Options {
  readonly settings: SettingsStore;
  readonly db: Db;
  readonly mailer: Mailer;
  readonly syslog?: RemoteSyslog;
  /** Renders (and on an appliance applies) the operating system's settings. */
  readonly system: SystemConfigurator;
  /** The running services a change is applied to at once (ports), and asked what they did. */
  readonly live?: LiveTargets;
  /** The disk's parts: quota changes are checked against what they use and the free space. */
  readonly disk?: DiskParts;
}

export const settingRoutes: FastifyPluginAsync<Options> = async (app, { settings, db, mailer, syslog, system, live: targets, disk }) => {
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

  app.get('/settings', { schema: { summary: 'Every setting: value (secrets only as "(set)"), rule, and when a change takes effect', description: "When a change takes effect: now — with a scope where not everything follows at once: listeners (SIP and web ports: the listener moves, connections and calls in progress stay), new-calls (media port ranges), running-pictures (max video resolution, per-call bandwidth: composed pictures in progress restart), running-content (max content resolution: a presentation in progress is re-encoded) —; restart (of the named service); stored (until its part of the box is built); system (network, SSH, time: rendered to the operating system's files and applied on an appliance)." } }, async () => view());

  app.patch<{ Body: Record<string, unknown> }>(
    '/settings',
    {
      schema: {
        summary: 'Change settings (all or nothing); says what applies now and which services must restart',
        description: "Every key is checked with its rule and the cross-checks (TLS port not a UDP/TCP port, HTTPS not the HTTP port, media port ranges, disk quotas against the disk) before anything is written. The answer lists what applies now and what is only stored; for network, SSH and time the system files rendered and whether they were applied; under live what the running services did (where the signaling service listens now, whether the media process took the settings, the web listeners' ports); a port that could not be bound is named in problems and put back (reverted, audited).",
        body: { type: 'object', minProperties: 1, maxProperties: 64 },
      },
    },
    async (request) => {
      const changes = { ...request.body };
      // A secret left as shown ("(set)") is not a change.
      for (const key of SECRET_SETTINGS) if (changes[key] === '(set)') delete changes[key];
      // Disk quotas: the minimum and sum rules need the disk (server/disk/disk-quota-rules.ts).
      const quotas = quotaChanges(changes);
      if (disk && quotas.length > 0) {
        const next = { ...settings.getAll(), ...changes } as Settings;
        const refusal = checkQuotas(next, quotas, await disk.usage(next));
        if (refusal) throw refusal;
      }
      const author = { actor: request.admin?.username ?? '', source: request.ip };
      const changed = settings.update(changes, author);
      const restart = [...new Set(changed.map(settingEffect).flatMap((e) => (e.applies === 'restart' ? [e.service] : [])))];
      const systemChange = await system.settingsChanged(changed, settings.getAll());
      const live = targets && (targets.web || targets.signaling || targets.media) ? await applyLive(changed, settings, targets, author) : undefined;
      const warning = systemChange?.targets.includes('network') ? NETWORK_WARNING : undefined;
      const messages = [
        'Saved.',
        ...(restart.length > 0 ? [`The change takes effect when ${restart.join(' and ')} restart${restart.length > 1 ? '' : 's'} (ongoing calls on that service are ended).`] : []),
        ...(systemChange ? [systemChange.note] : []),
        ...(warning && systemChange?.applied && systemChange.commands.length > 0 ? [warning] : []),
        ...(live?.messages ?? []),
      ];
      return {
        changed,
        appliedNow: changed.filter((key) => settingEffect(key).applies === 'now'),
        restartRequired: restart,
        storedOnly: changed.filter((key) => settingEffect(key).applies === 'stored'),
        ...(systemChange ? { system: { ...systemChange, ...(warning ? { warning } : {}) } } : {}),
        ...(live ? { live } : {}),
        message: messages.join(' '),
      };
    },
  );

  app.post<{ Body: TestMailBody }>(
    '/settings/smtp/test',
    {
      schema: {
        summary: 'Send a test mail with the SMTP settings — the stored ones, each overridden by a field given here (not saved)',
        description: 'Answers what the server said, or why it failed: VCBOX_ERR_SMTP_CONNECT (unreachable), VCBOX_ERR_SMTP_TLS (SSL or STARTTLS for the port, or an untrusted certificate: in-house CAs go in tls.trustedCertificates), VCBOX_ERR_SMTP_AUTH (login refused), VCBOX_ERR_SMTP_REFUSED (sender or recipient refused).',
        body: {
          type: 'object',
          required: ['to'],
          additionalProperties: false,
          properties: {
            to: { type: 'string', minLength: 3, maxLength: 128, description: 'recipient of the test mail' },
            server: { type: 'string', minLength: 1, maxLength: 128 },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            security: { type: 'string', enum: ['none', 'ssl', 'tls'], description: 'none, ssl (implicit TLS, usually 465) or tls (STARTTLS)' },
            sender: { type: 'string', maxLength: 128 },
            user: { type: 'string', maxLength: 128 },
            password: { type: 'string', maxLength: 128, description: 'omitted or "(set)": the stored password' },
          },
        },
      },
    },
    async (request) => {
      const { to, server, port, security, sender, user, password } = request.body;
      const toProblem = checkEmail(to);
      if (toProblem) throw createError('VCBOX_ERR_VALIDATION', { field: 'to', reason: toProblem });
      const senderProblem = sender ? checkEmail(sender) : undefined;
      if (senderProblem) throw createError('VCBOX_ERR_VALIDATION', { field: 'sender', reason: senderProblem });
      const overrides: Partial<Record<keyof SmtpSettings, unknown>> = {
        ...(server === undefined ? {} : { 'smtp.server': server }),
        ...(port === undefined ? {} : { 'smtp.port': port }),
        ...(security === undefined ? {} : { 'smtp.security': security }),
        ...(sender === undefined ? {} : { 'smtp.sender': sender }),
        ...(user === undefined ? {} : { 'smtp.user': user }),
        ...(password === undefined || password === '(set)' ? {} : { 'smtp.password': password }),
      };
      const tried = { ...settings.getAll(), ...overrides } as SmtpSettings;
      const detail = { to, server: `${tried['smtp.server']}:${tried['smtp.port']}`, security: tried['smtp.security'], unsaved: Object.keys(overrides) };
      try {
        const result = await mailer.sendTest(to, overrides as Partial<SmtpSettings>);
        auditAction(db, request, 'smtp.test', { ...detail, result: 'sent' });
        return {
          sent: true,
          to,
          server: result.server,
          security: result.security,
          response: result.response,
          message: `The SMTP server ${result.server} (${securityName(result.security)}) accepted the test mail to ${to}; check that it arrives.`,
        };
      } catch (error) {
        auditAction(db, request, 'smtp.test', { ...detail, result: error instanceof VcboxError ? error.code : 'failed' });
        throw error;
      }
    },
  );

  app.get(
    '/settings/syslog/status',
    { schema: { summary: 'Remote syslog now: target, connected / connecting / waiting (buffering), queued, sent, dropped, last error', description: 'What is sent and how: docs/operations.md, Remote syslog.' } },
    async () => {
      if (!syslog) return { enabled: false, carries: [], state: 'not running in this process' };
      return syslog.status();
    },
  );
};
