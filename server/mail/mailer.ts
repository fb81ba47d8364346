/**
 * Outgoing mail through the SMTP settings (server, port, security none/SSL/STARTTLS, user,
 * password, sender) with nodemailer. A new transport is made per send from the current
 * settings, so a change in the console applies to the next mail. Failures become
 * VCBOX_ERR_MAIL saying which server and why; the console's "send test mail" (`sendTest`, with
 * settings not saved yet laid over the stored ones) gets them sorted into what went wrong —
 * unreachable, secure connection, login, refused — each with what to do. The stored password
 * is only ever sent to the stored server, port, security and user.
 */
import nodemailer from 'nodemailer';
import { createError, type VcboxError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import type { Settings } from '../settings/settings-schema.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { trustedCertificates } from '../core/trusted-certificates.ts';

const log = getLogger('mailer');

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly attachments?: { filename: string; content: string | Buffer; contentType?: string }[];
}

export type SmtpSettings = Pick<Settings, 'smtp.server' | 'smtp.port' | 'smtp.security' | 'smtp.sender' | 'smtp.user' | 'smtp.password'>;

/** What the SMTP server answered to a test mail. */
export interface TestMailResult {
  /** `host:port` */
  readonly server: string;
  readonly security: SmtpSettings['smtp.security'];
  /** The server's last reply, e.g. `250 OK: queued as …`. */
  readonly response: string;
}

/** What decides where the password goes. */
const DESTINATION = ['smtp.server', 'smtp.port', 'smtp.security', 'smtp.user'] as const;

const SECURITY_NAMES: Readonly<Record<string, string>> = { none: 'no encryption', ssl: 'SSL', tls: 'STARTTLS' };

/** How the console names an `smtp.security` value. */
export function securityName(security: string): string {
  return SECURITY_NAMES[security] ?? security;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  message: string;
}

export class Mailer {
  readonly #settings: SettingsStore;

  constructor(settings: SettingsStore) {
    this.#settings = settings;
  }

  async send(mail: Mail): Promise<void> {
    const smtp = this.#settings.getAll();
    if (!smtp['smtp.server']) throw createError('VCBOX_ERR_MAIL', { server: '(none)', reason: 'no SMTP server is set' });
    try {
      await this.#deliver(smtp, mail);
    } catch (error) {
      throw createError('VCBOX_ERR_MAIL', { server: serverName(smtp), reason: (error as Error).message }, error);
    }
  }

  /**
   * Sends a test mail to `to` with the stored SMTP settings, each overridden by `overrides`
   * (what the admin typed but has not saved). Throws VCBOX_ERR_SMTP_* naming the server,
   * what went wrong and what to do.
   */
  async sendTest(to: string, overrides: Partial<SmtpSettings> = {}): Promise<TestMailResult> {
    const stored = this.#settings.getAll();
    const smtp = { ...stored, ...overrides };
    // The stored password goes only where it was saved for: the stored server, port, security
    // and user. A test of anything else must bring its own password (else a request could
    // send the stored one to any server, even in clear).
    const elsewhere = DESTINATION.filter((key) => smtp[key] !== stored[key]);
    if (elsewhere.length > 0 && smtp['smtp.user'] !== '' && overrides['smtp.password'] === undefined && stored['smtp.password'] !== '') {
      throw createError('VCBOX_ERR_SMTP_PASSWORD_NEEDED', { changed: elsewhere.map((key) => key.slice('smtp.'.length)).join(', '), field: 'password' });
    }
    const now = new Date().toISOString();
    try {
      const response = await this.#deliver(smtp, {
        to,
        subject: 'vcbox test mail / vcbox 测试邮件',
        text: [
          `This test mail was sent by the video conferencing box through ${serverName(smtp)} (${securityName(smtp['smtp.security'])}) at ${now}.`,
          'If you can read it, the SMTP settings work.',
          '',
          `这是视频会议设备通过 ${serverName(smtp)}（${securityName(smtp['smtp.security'])}）于 ${now} 发送的测试邮件。`,
          '收到此邮件说明 SMTP 设置可用。',
        ].join('\n'),
      });
      return { server: serverName(smtp), security: smtp['smtp.security'], response };
    } catch (error) {
      throw explainFailure(error as SmtpFailure, smtp);
    }
  }

  /** One mail through a transport made from `smtp`; resolves with the server's reply. */
  async #deliver(smtp: SmtpSettings & Pick<Settings, 'network.localDomain' | 'tls.trustedCertificates'>, mail: Mail): Promise<string> {
    const server = smtp['smtp.server'];
    if (!server) throw createError('VCBOX_ERR_SMTP_NOT_SET', { field: 'smtp.server' });
    const security = smtp['smtp.security'];
    const ca = trustedCertificates(smtp['tls.trustedCertificates']);
    const transport = nodemailer.createTransport({
      host: server,
      port: smtp['smtp.port'],
      secure: security === 'ssl',
      requireTLS: security === 'tls',
      ignoreTLS: security === 'none',
      ...(ca ? { tls: { ca } } : {}),
      ...(smtp['smtp.user'] ? { auth: { user: smtp['smtp.user'], pass: smtp['smtp.password'] } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    try {
      const info = await transport.sendMail({ from: smtp['smtp.sender'] || `vcbox@${smtp['network.localDomain']}`, ...mail });
      log.info({ to: mail.to, subject: mail.subject, server: serverName(smtp) }, 'mail sent');
      return String(info.response ?? '');
    } finally {
      transport.close();
    }
  }
}

function serverName(smtp: SmtpSettings): string {
  return `${smtp['smtp.server'] || '(none)'}:${smtp['smtp.port']}`;
}

const TLS_TROUBLE = /certificate|self[- ]signed|ssl|tls|wrong version|handshake|starttls|alert/i;

/** Sorts a nodemailer failure into the error an admin can act on. */
function explainFailure(error: SmtpFailure | VcboxError, smtp: SmtpSettings): VcboxError {
  if ('localized' in error) return error;
  const server = serverName(smtp);
  const reason = (error.response || error.message || 'unknown failure').trim();
  const security = securityName(smtp['smtp.security']);
  const code = error.code ?? '';
  const reply = error.responseCode ?? 0;
  if (code === 'EAUTH' || code === 'ENOAUTH' || reply === 530 || reply === 534 || reply === 535) {
    return createError('VCBOX_ERR_SMTP_AUTH', { server, user: smtp['smtp.user'] || '(none)', reason }, error);
  }
  if (code === 'ETLS' || code === 'EREQUIRETLS' || (code !== 'EENVELOPE' && !reply && TLS_TROUBLE.test(reason))) {
    return createError('VCBOX_ERR_SMTP_TLS', { server, security, reason }, error);
  }
  if (code === 'EENVELOPE' || code === 'EMESSAGE' || (reply >= 500 && reply < 600)) {
    return createError('VCBOX_ERR_SMTP_REFUSED', { server, sender: smtp['smtp.sender'] || '(none)', reason }, error);
  }
  if (code === 'EDNS' || code === 'ECONNECTION' || code === 'ESOCKET' || code === 'ETIMEDOUT') {
    return createError('VCBOX_ERR_SMTP_CONNECT', { server, reason }, error);
  }
  return createError('VCBOX_ERR_MAIL', { server, reason }, error);
}
