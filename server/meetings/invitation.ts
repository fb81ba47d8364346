/**
 * Meeting invitations: a bilingual mail with the time (in the box's time zone and UTC), the
 * meeting ID, the guest PIN, the SIP dial string (`ID**PIN@domain`) and the browser join link,
 * with an iCalendar (RFC 5545) attachment — recurrence included — so mail programs put the
 * meeting in the calendar. Each recipient's failure is reported separately.
 */
import type { MailOutcome } from '../accounts/account-mail.ts';
import type { Account } from '../accounts/account-store.ts';
import { formatDial } from '../dial-plan/dial-plan.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Meeting } from './meeting-store.ts';

export interface InvitationContext {
  readonly domain: string;
  /** Console address as the invitee's browser reaches it (https://host:port). */
  readonly consoleUrl: string;
  /** The box time zone setting, e.g. UTC+08:00. */
  readonly zone: string;
  readonly sender: string;
}

const icsDate = (iso: string) => new Date(iso).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
/** Control characters RFC 5545 allows in no value (it allows HTAB in TEXT only; CR and LF end a line). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters removed
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;
/**
 * RFC 5545 §3.3.11 TEXT: backslash, semicolon and comma escaped, every line break — CRLF, LF
 * and a bare CR alike — written as `\n`, other control characters removed: a subject or
 * description can never end the line and start a property of its own.
 */
const icsText = (text: string) =>
  text.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r\n|\r|\n/g, '\\n').replace(CONTROL, '');
/** A URI or identifier value (UID, ORGANIZER, URL): no escaping in RFC 5545, so control characters are dropped. */
const icsValue = (text: string) => text.replace(CONTROL, '');

/** RFC 5545 §3.1: lines longer than 75 octets continue on the next line after a space. */
function fold(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= 75) return line;
  const parts: string[] = [];
  let current = '';
  for (const char of line) {
    if (Buffer.byteLength(current + char, 'utf8') > (parts.length === 0 ? 75 : 74)) {
      parts.push(current);
      current = '';
    }
    current += char;
  }
  parts.push(current);
  return parts.join('\r\n ');
}

export function dialString(meeting: Meeting, domain: string): string {
  return `${formatDial(meeting.number, meeting.guestPin)}@${domain}`;
}

/** The browser join page with the meeting filled in (web/join reads `?m=`). */
export function joinLink(meeting: Meeting, context: InvitationContext): string {
  return `${context.consoleUrl}/join/?m=${meeting.number}`;
}

function localTime(iso: string, zone: string): string {
  const match = /^UTC([+-])(\d{2}):(\d{2})$/.exec(zone);
  const offset = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
  return `${new Date(Date.parse(iso) + offset * 60_000).toISOString().slice(0, 16).replace('T', ' ')} (${zone})`;
}

export function icsFor(meeting: Meeting, context: InvitationContext, now = new Date()): string {
  const end = new Date(Date.parse(meeting.start) + meeting.durationMinutes * 60_000).toISOString();
  const description = [
    `Meeting ID / 会议号: ${meeting.number}`,
    meeting.guestPin ? `PIN / 密码: ${meeting.guestPin}` : '',
    `SIP: ${dialString(meeting, context.domain)}`,
    `Browser / 浏览器: ${joinLink(meeting, context)}`,
  ]
    .filter(Boolean)
    .join('\n');
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//vcbox//meetings//EN',
    'METHOD:REQUEST',
    'CALSCALE:GREGORIAN',
    'BEGIN:VEVENT',
    `UID:meeting-${meeting.id}@${icsValue(context.domain)}`,
    `DTSTAMP:${icsDate(now.toISOString())}`,
    `DTSTART:${icsDate(meeting.start)}`,
    `DTEND:${icsDate(end)}`,
    ...(meeting.recurrence ? [`RRULE:FREQ=${meeting.recurrence.freq.toUpperCase()};UNTIL=${icsDate(meeting.recurrence.until)}`] : []),
    `SUMMARY:${icsText(meeting.subject)}`,
    `LOCATION:${icsText(dialString(meeting, context.domain))}`,
    `DESCRIPTION:${icsText(description)}`,
    `URL:${icsValue(joinLink(meeting, context))}`,
    `ORGANIZER:mailto:${icsValue(context.sender)}`,
    `STATUS:${meeting.status === 'cancelled' ? 'CANCELLED' : 'CONFIRMED'}`,
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return `${lines.map(fold).join('\r\n')}\r\n`;
}

export function invitationText(meeting: Meeting, context: InvitationContext, invitee: string): string {
  const recurrence = meeting.recurrence ? `\nRepeats / 重复: ${meeting.recurrence.freq} until / 至 ${meeting.recurrence.until.slice(0, 10)}` : '';
  return [
    `${invitee}, you are invited / 您被邀请参加会议: ${meeting.subject}`,
    '',
    `Time / 时间:        ${localTime(meeting.start, context.zone)}, ${meeting.durationMinutes} min${recurrence}`,
    `Meeting ID / 会议号: ${meeting.number}`,
    `PIN / 密码:         ${meeting.guestPin || '(none / 无)'}`,
    `SIP terminal / 终端: ${dialString(meeting, context.domain)}`,
    `Browser / 浏览器:   ${joinLink(meeting, context)}`,
    '',
  ].join('\n');
}

export async function sendInvitations(mailer: Mailer, meeting: Meeting, invitees: readonly Account[], context: InvitationContext): Promise<MailOutcome> {
  const outcome: MailOutcome = { sent: [], failed: [] };
  const ics = icsFor(meeting, context);
  for (const account of invitees) {
    if (!account.email) {
      outcome.failed.push({ number: account.number, email: null, reason: 'the account has no e-mail address' });
      continue;
    }
    try {
      await mailer.send({
        to: account.email,
        subject: `${meeting.status === 'cancelled' ? 'Cancelled / 已取消' : 'Invitation / 会议邀请'}: ${meeting.subject}`,
        text: invitationText(meeting, context, account.name),
        attachments: [{ filename: 'meeting.ics', content: ics, contentType: 'text/calendar; method=REQUEST; charset=utf-8' }],
      });
      outcome.sent.push(account.number);
    } catch (error) {
      outcome.failed.push({ number: account.number, email: account.email, reason: (error as Error).message });
    }
  }
  return outcome;
}
