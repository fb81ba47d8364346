/**
 * Outgoing mail through the SMTP settings (server, port, security none/SSL/STARTTLS, user,
 * password, sender) with nodemailer. A new transport is made per send from the current
 * settings, so a change in the console applies to the next mail. Failures become
 * VCBOX_ERR_MAIL saying which server and why.
 */
import nodemailer from 'nodemailer';
import { createError } from '../errors.ts';
import { getLogger } from '../logging/logger.ts';
import type { SettingsStore } from '../settings/settings-store.ts';

const log = getLogger('mailer');

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly attachments?: { filename: string; content: string | Buffer; contentType?: string }[];
}

export class Mailer {
  readonly #settings: SettingsStore;

  constructor(settings: SettingsStore) {
    this.#settings = settings;
  }

  async send(mail: Mail): Promise<void> {
    const all = this.#settings.getAll();
    const server = all['smtp.server'];
    if (!server) throw createError('VCBOX_ERR_MAIL', { server: '(none)', reason: 'no SMTP server is set' });
    const security = all['smtp.security'];
    const transport = nodemailer.createTransport({
      host: server,
      port: all['smtp.port'],
      secure: security === 'ssl',
      requireTLS: security === 'tls',
      ignoreTLS: security === 'none',
      ...(all['smtp.user'] ? { auth: { user: all['smtp.user'], pass: all['smtp.password'] } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    try {
      await transport.sendMail({ from: all['smtp.sender'] || `vcbox@${all['network.localDomain']}`, ...mail });
      log.info({ to: mail.to, subject: mail.subject }, 'mail sent');
    } catch (error) {
      throw createError('VCBOX_ERR_MAIL', { server: `${server}:${all['smtp.port']}`, reason: (error as Error).message }, error);
    } finally {
      transport.close();
    }
  }
}
