/**
 * Meetings API: schedule (with recurrence, participants, PINs), the calendar window with
 * occurrences, edit before the start, cancel, instant meetings, and invitation mails with an
 * iCalendar attachment to the participant accounts. Every change audited.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Account, AccountStore } from '../../accounts/account-store.ts';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import type { Mailer } from '../../mail/mailer.ts';
import { dialString, type InvitationContext, joinLink, sendInvitations } from '../../meetings/invitation.ts';
import type { Meeting, MeetingInput, MeetingStore } from '../../meetings/meeting-store.ts';
import type { SettingsStore } from '../../settings/settings-store.ts';
import { minuteBudget } from '../rate-limit.ts';
import { auditAction } from '../route-helpers.ts';
import { mailOutcomeSchema } from '../schemas.ts';
import { ACCOUNT_NUMBER_PATTERN, formatDial, MEETING_NUMBER_PATTERN, OPTIONAL_PIN_PATTERN, STORED_PIN_PATTERN } from '../../dial-plan/dial-plan.ts';

interface Options {
  readonly db: Db;
  readonly meetings: MeetingStore;
  readonly accounts: AccountStore;
  readonly settings: SettingsStore;
  readonly mailer: Mailer;
}

const meetingProperties = {
  subject: { type: 'string', minLength: 1, maxLength: 255, description: 'a subject of 1 to 255 characters' },
  start: { type: 'string', format: 'date-time', description: 'a date and time' },
  durationMinutes: { type: 'integer', minimum: 5, maximum: 1440, description: 'a whole number of minutes from 5 to 1440 (24 hours)' },
  recurrence: {
    type: ['object', 'null'],
    required: ['freq', 'until'],
    additionalProperties: false,
    properties: { freq: { type: 'string', enum: ['daily', 'weekly', 'monthly'] }, until: { type: 'string', format: 'date-time', description: 'a date (the last day an occurrence may start)' } },
  },
  accounts: { type: 'array', maxItems: 500, items: { type: 'string', pattern: ACCOUNT_NUMBER_PATTERN } },
  rooms: { type: 'array', maxItems: 100, items: { type: 'integer' } },
  number: { type: 'string', pattern: MEETING_NUMBER_PATTERN, description: 'a meeting number of 5 to 12 digits (4 digits are accounts)' },
  hostPin: { type: 'string', pattern: STORED_PIN_PATTERN, description: 'a PIN of 4 to 8 digits' },
  guestPin: { type: 'string', pattern: OPTIONAL_PIN_PATTERN, description: 'a PIN of 4 to 8 digits, or empty for none' },
} as const;


export const meetingRoutes: FastifyPluginAsync<Options> = async (app, { db, meetings, accounts, settings, mailer }) => {
  const audit = (request: FastifyRequest, action: string, detail: unknown) => auditAction(db, request, action, detail);
  const mailBudget = minuteBudget(10);
  const contextOf = (request: FastifyRequest): InvitationContext => {
    const all = settings.getAll();
    return {
      domain: all['network.localDomain'],
      consoleUrl: `${request.protocol}://${request.host}`,
      zone: all['time.zone'],
      sender: all['smtp.sender'] || `vcbox@${all['network.localDomain']}`,
    };
  };
  /** A meeting as the console shows it: with the ways in that the invitation mail gives (guest dial string, browser link) and the host's. */
  const withWaysIn = <M extends Meeting>(request: FastifyRequest, meeting: M) => {
    const context = contextOf(request);
    return { ...meeting, dialString: dialString(meeting, context.domain), hostDialString: `${formatDial(meeting.number, meeting.hostPin)}@${context.domain}`, joinLink: joinLink(meeting, context) };
  };
  const invite = async (request: FastifyRequest, meeting: Meeting) => {
    mailBudget(request.admin?.username ?? request.ip);
    const context = contextOf(request);
    const invitees = meeting.accounts.map((n) => accounts.findByNumber(n)).filter((a): a is Account => a !== undefined);
    const outcome = await sendInvitations(mailer, meeting, invitees, context);
    audit(request, 'meeting.invite', { id: meeting.id, sent: outcome.sent, failed: outcome.failed.map((f) => f.number) });
    return outcome;
  };

  app.get<{ Querystring: { from: string; to: string; q?: string } }>(
    '/meetings',
    {
      schema: {
        summary: 'Meetings with an occurrence in a window (calendar and list views)',
        querystring: {
          type: 'object',
          required: ['from', 'to'],
          additionalProperties: false,
          properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, q: { type: 'string', maxLength: 255 } },
        },
      },
    },
    async (request) => {
      const from = new Date(request.query.from);
      const to = new Date(request.query.to);
      if (to.getTime() - from.getTime() > 400 * 86_400_000 || to < from) {
        throw createError('VCBOX_ERR_VALIDATION', { field: 'to', reason: 'the window is at most 400 days and ends after it starts' });
      }
      return meetings.window(from, to, request.query.q).map((meeting) => withWaysIn(request, meeting));
    },
  );

  app.post<{ Body: MeetingInput & { sendInvitations?: boolean } }>(
    '/meetings',
    {
      schema: {
        summary: 'Schedule a meeting (number and PINs generated when not given)',
        description: 'Recurrence daily, weekly or monthly until a date. sendInvitations mails each participant the time, ID, PIN, ID**PIN@domain and the browser link, with an iCalendar attachment. Every meeting answered carries its ways in: dialString (ID**guestPIN@domain, as in the invitation), hostDialString and joinLink (/join/?m=ID).',
        body: {
          type: 'object',
          required: ['subject', 'start', 'durationMinutes'],
          additionalProperties: false,
          properties: { ...meetingProperties, sendInvitations: { type: 'boolean', default: false } },
        },
      },
    },
    async (request, reply) => {
      const { sendInvitations: mail, ...input } = request.body;
      const meeting = meetings.create(input, request.admin?.username ?? '');
      audit(request, 'meeting.create', { id: meeting.id, number: meeting.number, subject: meeting.subject });
      return reply.status(201).send({ ...withWaysIn(request, meeting), ...(mail ? { mail: await invite(request, meeting) } : {}) });
    },
  );

  app.post<{ Body: { subject?: string; accounts?: string[]; rooms?: number[]; durationMinutes?: number } }>(
    '/meetings/instant',
    {
      schema: {
        summary: 'Start an instant meeting now',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { subject: meetingProperties.subject, accounts: meetingProperties.accounts, rooms: meetingProperties.rooms, durationMinutes: meetingProperties.durationMinutes },
        },
      },
    },
    async (request, reply) => {
      const meeting = meetings.create(
        {
          subject: request.body.subject ?? `Instant meeting ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
          start: new Date().toISOString(),
          durationMinutes: request.body.durationMinutes ?? 60,
          ...(request.body.accounts ? { accounts: request.body.accounts } : {}),
          ...(request.body.rooms ? { rooms: request.body.rooms } : {}),
        },
        request.admin?.username ?? '',
        'instant',
      );
      audit(request, 'meeting.instant', { id: meeting.id, number: meeting.number });
      return reply.status(201).send(withWaysIn(request, meeting));
    },
  );

  app.patch<{ Params: { id: number }; Body: Partial<MeetingInput> }>(
    '/meetings/:id',
    {
      schema: {
        summary: 'Change a meeting before it starts',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
        body: { type: 'object', minProperties: 1, additionalProperties: false, properties: meetingProperties },
      },
    },
    async (request) => {
      const meeting = meetings.update(request.params.id, request.body);
      audit(request, 'meeting.update', { id: meeting.id, changes: Object.keys(request.body) });
      return withWaysIn(request, meeting);
    },
  );

  app.post<{ Params: { id: number }; Body: { notify?: boolean } }>(
    '/meetings/:id/cancel',
    {
      schema: {
        summary: 'Cancel a meeting (optionally telling the participants)',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
        body: { type: ['object', 'null'], additionalProperties: false, properties: { notify: { type: 'boolean' } } },
      },
    },
    async (request) => {
      const meeting = meetings.cancel(request.params.id);
      audit(request, 'meeting.cancel', { id: meeting.id, number: meeting.number });
      return { ...withWaysIn(request, meeting), ...(request.body?.notify ? { mail: await invite(request, meeting) } : {}) };
    },
  );

  app.post<{ Params: { id: number } }>(
    '/meetings/:id/invitations',
    { schema: { summary: 'Mail (again) the invitation to the participant accounts', params: { type: 'object', properties: { id: { type: 'integer' } } }, response: { 200: mailOutcomeSchema } } },
    async (request) => {
      const meeting = meetings.get(request.params.id);
      if (!meeting) throw createError('VCBOX_ERR_ROOM_NOT_FOUND', { kind: 'meeting', id: request.params.id });
      return invite(request, meeting);
    },
  );
};
