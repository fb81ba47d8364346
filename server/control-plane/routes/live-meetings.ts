/**
 * Live meetings and meeting control (spec "Rooms and meetings" control, "Meeting behaviour"):
 * the meetings with people in them now, each participant with name, role, type, codec,
 * bitrates, packet loss, jitter and RTT from the media service and a `quality` that turns
 * "red" at the spec's thresholds (delay ≥250 ms, jitter ≥50 ms, audio loss ≥10 %, video loss
 * ≥3 %); lock and
 * unlock, mute and unmute one or all, remove a participant, invite a registered account (the
 * box calls its terminal in), the composed layout and the
 * participant pinned to its big pane (with the picture SIP terminals see now), broadcast a
 * site (every other SIP terminal sees it full screen) and watch a site (one terminal sees the
 * site chosen for it), the presenter (who shares content now, since when, for how long) and
 * the chair actions on the content floor (stop the presentation, give the floor to a
 * participant with a content stream: BFCP FloorRequestStatus and FloorStatus go to the
 * terminals, the media service stops or switches the forwarding). Changes are audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type LayoutChoice, panes } from '../../../media/mcu/layouts.ts';
import type { MediaControl } from '../../../media/control/media-control-protocol.ts';
import type { ParticipantSnapshot } from '../../../media/meetings/meeting-media.ts';
import type { MeetingFloors } from '../../bfcp/meeting-floors.ts';
import type { Db } from '../../db/database.ts';
import { createError } from '../../core/errors.ts';
import type { LiveMeeting, LiveMeetings } from '../../meetings/live-meetings.ts';
import { VMR_LAYOUTS } from '../../rooms/vmr-store.ts';
import { auditAction } from '../route-helpers.ts';
import { ACCOUNT_NUMBER_PATTERN, MEETING_NUMBER_PATTERN } from '../../dial-plan/dial-plan.ts';

/** Spec thresholds for "red" network quality; the delay is half the measured round trip. */
export const QUALITY_RED = { delayMs: 250, jitterMs: 50, audioLoss: 0.1, videoLoss: 0.03 } as const;
/**
 * Nothing received from a participant for this long (not on hold) is its own quality state,
 * `no-media`, shown red in words: a terminal whose media cannot reach the box (a firewall, an
 * address the box cannot send to) is seen long before the RTP timeout ends its call.
 */
export const NO_MEDIA_MS = 5000;

export function quality(p: Pick<ParticipantSnapshot, 'rttMs' | 'jitterMs' | 'packetLoss' | 'videoPacketLoss'> & { noMediaMs?: number }): 'good' | 'red' | 'no-media' {
  if ((p.noMediaMs ?? 0) >= NO_MEDIA_MS) return 'no-media';
  return p.rttMs / 2 >= QUALITY_RED.delayMs || p.jitterMs >= QUALITY_RED.jitterMs || p.packetLoss >= QUALITY_RED.audioLoss || p.videoPacketLoss >= QUALITY_RED.videoLoss
    ? 'red'
    : 'good';
}

const streamSchema = {
  type: 'object',
  properties: {
    codec: { type: 'string' },
    bitrateIn: { type: 'number', description: 'bit/s from the participant to the box' },
    bitrateOut: { type: 'number', description: 'bit/s from the box to the participant' },
    packetsIn: { type: 'number' },
    packetsOut: { type: 'number' },
    packetLoss: { type: 'number', description: 'packets lost towards the box, 0-1' },
    jitterMs: { type: 'number' },
  },
} as const;

const participantSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    displayName: { type: 'string' },
    account: { type: ['string', 'null'] },
    role: { type: 'string', enum: ['host', 'guest'] },
    watching: { type: ['string', 'null'], description: 'The participant this SIP terminal is made to watch full screen (null: the meeting picture)' },
    type: { type: 'string' },
    source: { type: 'string' },
    transport: { type: 'string' },
    joinedAt: { type: 'string' },
    audioCodec: { type: 'string' },
    srtp: { type: 'boolean' },
    muted: { type: 'boolean' },
    direction: { type: 'string' },
    bitrateIn: { type: 'number' },
    bitrateOut: { type: 'number' },
    packetLoss: { type: 'number', description: 'audio packets lost towards the box, 0-1' },
    videoPacketLoss: { type: 'number', description: 'video packets lost towards the box, 0-1 (0 without video)' },
    jitterMs: { type: 'number' },
    rttMs: { type: 'number' },
    audio: streamSchema,
    video: { ...streamSchema, type: ['object', 'null'], description: 'null: no video' },
    canPresent: { type: 'boolean', description: 'the call has a content stream (a content line with BFCP): the floor can be given to it' },
    noMediaSeconds: { type: 'number', description: 'seconds since anything was received from the participant (0 while media arrives or it holds the call)' },
    quality: {
      type: 'string',
      enum: ['good', 'red', 'no-media'],
      description: 'red at the spec thresholds; no-media when nothing has been received for 5 s (the RTP timeout ends the call later)',
    },
  },
} as const;

const meetingSchema = {
  type: 'object',
  properties: {
    number: { type: 'string' },
    kind: { type: 'string' },
    subject: { type: 'string' },
    locked: { type: 'boolean' },
    startedAt: { type: 'string' },
    layout: { type: 'string', enum: [...VMR_LAYOUTS] },
    pinned: { type: ['string', 'null'] },
    broadcast: { type: ['string', 'null'], description: 'The participant every other SIP terminal sees full screen (null: none)' },
    picture: {
      type: ['object', 'null'],
      description: 'The composed picture SIP terminals see now (null while nobody receives one)',
      properties: {
        layout: { type: 'string' },
        panes: {
          type: 'array',
          items: {
            type: 'object',
            properties: { participantId: { type: 'string' }, x: { type: 'integer' }, y: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' }, big: { type: 'boolean' } },
          },
        },
        outputs: { type: 'array', items: { type: 'string' } },
      },
    },
    presenter: {
      type: ['object', 'null'],
      description: 'Who presents content now (the content floor holder; null: nobody)',
      properties: {
        participantId: { type: 'string' },
        displayName: { type: 'string' },
        kind: { type: 'string', enum: ['sip', 'browser'] },
        since: { type: 'string', description: 'when the floor was granted (ISO time)' },
        seconds: { type: 'integer', description: 'how long it has presented' },
      },
    },
    contentShared: { type: 'boolean', description: 'someone has presented content in this meeting' },
    participants: { type: 'array', items: participantSchema },
  },
} as const;

const numberParams = { type: 'object', required: ['number'], properties: { number: { type: 'string', pattern: MEETING_NUMBER_PATTERN } } } as const;
const participantParams = { type: 'object', required: ['number', 'id'], properties: { ...numberParams.properties, id: { type: 'string', maxLength: 64 } } } as const;

export const liveMeetingRoutes: FastifyPluginAsync<{
  db: Db;
  live: LiveMeetings;
  media?: MediaControl;
  dialOut?: (number: string, account: string) => Promise<{ participantId: string }>;
  floors?: () => MeetingFloors | undefined;
}> = async (app, { db, live, media, dialOut, floors }) => {
  const describe = async (meeting: LiveMeeting) => {
    const snapshot = media ? await media.snapshot(meeting.number).catch(() => []) : [];
    const picture = media ? await media.pictureState(meeting.number).catch(() => null) : null;
    const stats = new Map((snapshot[0]?.participants ?? []).map((p) => [p.id, p]));
    const floor = floors?.();
    const presenting = meeting.presenter ? meeting.participants.get(meeting.presenter.participantId) : undefined;
    return {
      number: meeting.number,
      kind: meeting.kind,
      subject: meeting.subject,
      locked: meeting.locked,
      startedAt: meeting.startedAt.toISOString(),
      layout: meeting.layout,
      pinned: meeting.pinned,
      broadcast: meeting.broadcast,
      picture: picture ? { layout: picture.layout, panes: picture.panes, outputs: picture.outputs } : null,
      presenter:
        meeting.presenter && presenting
          ? {
              participantId: presenting.id,
              displayName: presenting.displayName,
              kind: presenting.type === 'web' ? 'browser' : 'sip',
              since: meeting.presenter.since.toISOString(),
              seconds: Math.max(0, Math.floor((Date.now() - meeting.presenter.since.getTime()) / 1000)),
            }
          : null,
      contentShared: meeting.contentShared,
      participants: [...meeting.participants.values()].map((p) => {
        const s = stats.get(p.id);
        return {
          id: p.id,
          displayName: p.displayName,
          account: p.account,
          role: p.role,
          type: p.type,
          source: p.source,
          transport: p.transport,
          joinedAt: p.joinedAt.toISOString(),
          watching: meeting.watching.get(p.id) ?? null,
          audioCodec: s?.audioCodec ?? '',
          srtp: s?.srtp ?? false,
          muted: s?.muted ?? false,
          direction: s?.direction ?? 'sendrecv',
          bitrateIn: s?.bitrateIn ?? 0,
          bitrateOut: s?.bitrateOut ?? 0,
          packetLoss: s?.packetLoss ?? 0,
          videoPacketLoss: s?.videoPacketLoss ?? 0,
          jitterMs: s?.jitterMs ?? 0,
          rttMs: s?.rttMs ?? 0,
          audio: s?.audio ?? { codec: '', bitrateIn: 0, bitrateOut: 0, packetsIn: 0, packetsOut: 0, packetLoss: 0, jitterMs: 0 },
          video: s?.video ?? null,
          canPresent: floor?.canPresent(meeting.number, p.id) ?? false,
          noMediaSeconds: Math.floor((s?.noMediaMs ?? 0) / 1000),
          quality: s ? quality(s) : 'good',
        };
      }),
    };
  };
  const liveMeeting = (number: string): LiveMeeting => {
    const meeting = live.get(number);
    if (!meeting) throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: number });
    return meeting;
  };
  const participantOf = (meeting: LiveMeeting, id: string) => {
    const participant = meeting.participants.get(id);
    if (!participant) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id, meeting: meeting.number });
    return participant;
  };

  app.get(
    '/layouts',
    {
      schema: {
        summary: 'Every composed layout with its panes on a 160×90 picture (the console draws the layout picker from it)',
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                layout: { type: 'string' },
                panes: { type: 'array', items: { type: 'object', properties: { x: { type: 'integer' }, y: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' }, big: { type: 'boolean' } } } },
              },
            },
          },
        },
      },
    },
    async () => VMR_LAYOUTS.map((layout) => ({ layout, panes: layout === 'auto' ? [] : panes(layout, 160, 90) })),
  );

  app.get('/live-meetings', { schema: { summary: 'Meetings with people in them now', response: { 200: { type: 'array', items: meetingSchema } } } }, async () =>
    Promise.all(live.list().map(describe)),
  );

  app.get<{ Params: { number: string } }>(
    '/live-meetings/:number',
    { schema: { summary: 'One live meeting with its participants', description: 'Per participant: name, role, SIP or browser, transport, codec, SRTP, muted, bitrates, packet loss, jitter, RTT and quality — red at delay (half the RTT) ≥ 250 ms, jitter ≥ 50 ms, audio loss ≥ 10 % or video loss (videoPacketLoss) ≥ 3 %.', params: numberParams, response: { 200: meetingSchema } } },
    async (request) => describe(liveMeeting(request.params.number)),
  );

  app.post<{ Params: { number: string }; Body: { locked: boolean } }>(
    '/live-meetings/:number/lock',
    {
      schema: {
        summary: 'Lock (new callers get "call rejected") or unlock a live meeting',
        params: numberParams,
        body: { type: 'object', required: ['locked'], additionalProperties: false, properties: { locked: { type: 'boolean' } } },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      meeting.locked = request.body.locked;
      auditAction(db, request, request.body.locked ? 'meeting.lock' : 'meeting.unlock', { number: meeting.number });
      return describe(meeting);
    },
  );

  app.post<{ Params: { number: string }; Body: { layout: LayoutChoice; pinned?: string | null } }>(
    '/live-meetings/:number/layout',
    {
      schema: {
        summary: 'Change the composed layout live (no call is renegotiated) and pin a participant to the big pane (null: voice activation decides)',
        params: numberParams,
        body: {
          type: 'object',
          required: ['layout'],
          additionalProperties: false,
          properties: { layout: { type: 'string', enum: [...VMR_LAYOUTS] }, pinned: { type: ['string', 'null'], maxLength: 64 } },
        },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      const { layout, pinned = null } = request.body;
      if (pinned) participantOf(meeting, pinned);
      if (!media) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'no media service' });
      await media.setLayout(meeting.number, layout, pinned);
      meeting.layout = layout;
      meeting.pinned = pinned;
      auditAction(db, request, 'meeting.layout', { number: meeting.number, layout, pinned: pinned ?? '' });
      return describe(meeting);
    },
  );

  app.post<{ Params: { number: string }; Body: { participantId: string | null } }>(
    '/live-meetings/:number/broadcast',
    {
      schema: {
        summary: 'Broadcast a site: every other SIP terminal sees this participant full screen (null: back to the layout); live, no call renegotiated',
        description: "The site itself keeps the meeting's picture; the broadcast ends when the site leaves.",
        params: numberParams,
        body: { type: 'object', required: ['participantId'], additionalProperties: false, properties: { participantId: { type: ['string', 'null'], maxLength: 64 } } },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      const { participantId } = request.body;
      const participant = participantId === null ? null : participantOf(meeting, participantId);
      if (!media) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'no media service' });
      await media.setBroadcast(meeting.number, participantId);
      meeting.broadcast = participantId;
      auditAction(db, request, participant ? 'meeting.broadcast' : 'meeting.broadcast.stop', { number: meeting.number, participant: participant?.displayName ?? '' });
      return describe(meeting);
    },
  );

  const floorsOf = (): MeetingFloors => {
    const floor = floors?.();
    if (!floor) throw createError('VCBOX_ERR_CONTENT_UNAVAILABLE', { reason: 'the BFCP floor control is not listening' });
    return floor;
  };

  app.post<{ Params: { number: string } }>(
    '/live-meetings/:number/presentation/stop',
    {
      schema: {
        summary: 'Stop the presentation: the content floor is revoked from its holder (BFCP chair action)',
        description:
          "The presenter's BFCP client gets FloorRequestStatus Revoked, every subscribed client FloorStatus; the presenter's content stops reaching the others (a request waiting in the queue gets the floor). Refused when nobody presents.",
        params: numberParams,
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      const floor = floorsOf();
      const presenter = meeting.presenter ? meeting.participants.get(meeting.presenter.participantId) : undefined;
      if (!floor.revokeFloor(meeting.number)) throw createError('VCBOX_ERR_NO_PRESENTATION', { meeting: meeting.number });
      auditAction(db, request, 'meeting.presentation.stop', { number: meeting.number, participant: presenter?.id ?? '', name: presenter?.displayName ?? '' });
      return describe(meeting);
    },
  );

  app.post<{ Params: { number: string }; Body: { participantId: string } }>(
    '/live-meetings/:number/presentation/give',
    {
      schema: {
        summary: 'Give the content floor to a participant with a content stream (BFCP chair action)',
        description:
          "The participant's BFCP client gets FloorRequestStatus Granted (a holder before it Revoked), every subscribed client FloorStatus; its content is forwarded to the others from then. Refused for a participant whose call has no content stream.",
        params: numberParams,
        body: { type: 'object', required: ['participantId'], additionalProperties: false, properties: { participantId: { type: 'string', maxLength: 64 } } },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      const participant = participantOf(meeting, request.body.participantId);
      const floor = floorsOf();
      if (!floor.giveFloor(meeting.number, participant.id)) throw createError('VCBOX_ERR_PARTICIPANT_CANNOT_PRESENT', { name: participant.displayName });
      auditAction(db, request, 'meeting.presentation.give', { number: meeting.number, participant: participant.id, name: participant.displayName });
      return describe(meeting);
    },
  );

  app.post<{ Params: { number: string; id: string }; Body: { watched: string | null } }>(
    '/live-meetings/:number/participants/:id/watch',
    {
      schema: {
        summary: "Watch a site: this SIP terminal sees the watched participant full screen (null: the meeting's picture again); live",
        description: 'Browsers show every site themselves; watching ends when the watched site leaves.',
        params: participantParams,
        body: { type: 'object', required: ['watched'], additionalProperties: false, properties: { watched: { type: ['string', 'null'], maxLength: 64 } } },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      const viewer = participantOf(meeting, request.params.id);
      const { watched } = request.body;
      const target = watched === null || watched === viewer.id ? null : participantOf(meeting, watched);
      if (viewer.type !== 'sip') throw createError('VCBOX_ERR_WATCH_NOT_SIP', { name: viewer.displayName });
      if (!media) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'no media service' });
      await media.setWatch(meeting.number, viewer.id, target?.id ?? null);
      if (target) meeting.watching.set(viewer.id, target.id);
      else meeting.watching.delete(viewer.id);
      auditAction(db, request, target ? 'meeting.watch' : 'meeting.watch.stop', { number: meeting.number, viewer: viewer.displayName, watched: target?.displayName ?? '' });
      return describe(meeting);
    },
  );

  app.post<{ Params: { number: string }; Body: { account: string } }>(
    '/live-meetings/:number/invite',
    {
      schema: {
        summary: "Invite a registered account: the box calls its terminal into the meeting (answers when the terminal has joined, or says why it did not)",
        description: "The box calls the account's newest registered terminal: an INVITE without SDP, the terminal's offer in its 200 OK, the box's answer in the ACK. Refused in words when the account is not registered or the terminal declines (busy, no answer).",
        params: numberParams,
        body: {
          type: 'object',
          required: ['account'],
          additionalProperties: false,
          properties: { account: { type: 'string', pattern: ACCOUNT_NUMBER_PATTERN, description: 'an account number of exactly 4 digits (0000-9999)' } },
        },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      if (!dialOut) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'this control plane runs without the SIP application' });
      try {
        const { participantId } = await dialOut(meeting.number, request.body.account);
        auditAction(db, request, 'meeting.invite', { number: meeting.number, account: request.body.account, participant: participantId });
      } catch (error) {
        auditAction(db, request, 'meeting.invite', { number: meeting.number, account: request.body.account, result: (error as { code?: string }).code ?? 'failed' });
        throw error;
      }
      return describe(meeting);
    },
  );

  app.post<{ Params: { number: string }; Body: { muted: boolean; participantId?: string } }>(
    '/live-meetings/:number/mute',
    {
      schema: {
        summary: 'Mute or unmute one participant, or everyone (no participantId; hosts stay unmuted when muting all)',
        params: numberParams,
        body: {
          type: 'object',
          required: ['muted'],
          additionalProperties: false,
          properties: { muted: { type: 'boolean' }, participantId: { type: 'string', maxLength: 64 } },
        },
      },
    },
    async (request) => {
      const meeting = liveMeeting(request.params.number);
      const { muted, participantId } = request.body;
      if (!media) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'no media service' });
      if (participantId) {
        participantOf(meeting, participantId);
        await media.setMuted(meeting.number, participantId, muted);
      } else {
        for (const p of meeting.participants.values()) if (!muted || p.role !== 'host') await media.setMuted(meeting.number, p.id, muted);
      }
      auditAction(db, request, muted ? 'meeting.mute' : 'meeting.unmute', { number: meeting.number, participant: participantId ?? '*' });
      return describe(meeting);
    },
  );

  app.delete<{ Params: { number: string; id: string } }>(
    '/live-meetings/:number/participants/:id',
    {
      schema: {
        summary: 'Remove a participant (the box hangs up its call)',
        params: participantParams,
      },
    },
    async (request, reply) => {
      const meeting = liveMeeting(request.params.number);
      const participant = participantOf(meeting, request.params.id);
      participant.hangUp('removed by the administrator');
      auditAction(db, request, 'meeting.remove-participant', { number: meeting.number, participant: participant.id, name: participant.displayName });
      return reply.status(204).send();
    },
  );
};
