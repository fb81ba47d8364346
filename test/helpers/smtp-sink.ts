/**
 * A real SMTP server for tests (npm smtp-server) on a loopback port: accepts mail (optionally
 * requiring a user/password, optionally refusing some recipients; plain, or with a
 * certificate either implicit TLS or offering STARTTLS) and keeps it, decoded from
 * quoted-printable, for the test to read.
 */
import { SMTPServer } from 'smtp-server';
import { freePort } from './ports.ts';

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly raw: string;
  /** The raw text with quoted-printable soft breaks and escapes undone. */
  readonly decoded: string;
  /** Whether the mail came over TLS (implicit or after STARTTLS). */
  readonly secure: boolean;
}

function decodeQuotedPrintable(text: string): string {
  const bytes = Buffer.from(text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))), 'latin1');
  return bytes.toString('utf8');
}

/** The decoded content of a MIME part whose Content-Disposition names `filename`. */
export function attachment(mail: ReceivedMail, filename: string): string | undefined {
  const parts = mail.raw.split(/\r?\n--[^\r\n]+\r?\n/);
  const part = parts.find((p) => new RegExp(`filename="?${filename.replace('.', '\\.')}"?`, 'i').test(p));
  if (!part) return undefined;
  const split = part.search(/\r?\n\r?\n/);
  const headers = part.slice(0, split);
  const body = part.slice(split).trim();
  if (/Content-Transfer-Encoding:\s*base64/i.test(headers)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/Content-Transfer-Encoding:\s*quoted-printable/i.test(headers)) return decodeQuotedPrintable(body);
  return body;
}

export interface SmtpSinkOptions {
  user?: string;
  password?: string;
  rejectRecipients?: string[];
  /** Key and certificate: with `implicitTls` the connection starts with TLS (SSL, port 465 style), else STARTTLS is offered. */
  tls?: { key: Buffer | string; cert: Buffer | string };
  implicitTls?: boolean;
}

export async function startSmtpSink(options: SmtpSinkOptions = {}) {
  const port = await freePort();
  const mails: ReceivedMail[] = [];
  /** Every AUTH attempt, with the user name and password the client sent (tests check where a password went). */
  const auths: { username: string; password: string }[] = [];
  const waiters: ((mail: ReceivedMail) => void)[] = [];
  const server = new SMTPServer({
    secure: Boolean(options.tls && options.implicitTls),
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    disabledCommands: options.tls && !options.implicitTls ? [] : ['STARTTLS'],
    authOptional: !options.user,
    onAuth(auth, _session, callback) {
      auths.push({ username: auth.username ?? '', password: auth.password ?? '' });
      if (auth.username === options.user && auth.password === options.password) callback(null, { user: auth.username });
      else callback(new Error('invalid credentials'));
    },
    onRcptTo(address, _session, callback) {
      if (options.rejectRecipients?.includes(address.address.toLowerCase())) callback(new Error(`550 mailbox ${address.address} unavailable`));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('latin1');
        const mail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          decoded: decodeQuotedPrintable(raw),
          secure: Boolean(session.secure),
        };
        mails.push(mail);
        waiters.shift()?.(mail);
        callback();
      });
    },
  });
  // A client that gives up (e.g. during the TLS handshake, not trusting the certificate) is
  // something a test provokes on purpose, not a crash of the server.
  const errors: Error[] = [];
  server.on('error', (error) => errors.push(error));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    port,
    mails,
    auths,
    errors,
    next(timeoutMs = 10_000): Promise<ReceivedMail> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no mail arrived')), timeoutMs);
        waiters.push((mail) => {
          clearTimeout(timer);
          resolve(mail);
        });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
