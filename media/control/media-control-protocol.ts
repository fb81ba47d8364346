/**
 * The media control protocol: every message between the control plane (server/media-client)
 * and the media service (./media-control-server.ts), written out here as named types — one
 * request (its params, positional) and one response per method, and the events. Newline-
 * delimited JSON over a Unix socket in the data directory (server/core/line-json-ipc.ts):
 *   request  {"id":1,"method":"joinSip","params":["meeting",{…SipLegRequest}]}
 *   response {"id":1,"result":…} | {"id":1,"error":{"code":"VCBOX_ERR_…","message":"…","params":{}}}
 *   event    {"event":"participantclosed","args":[meeting, participantId, reason]}
 * `MEDIA_REQUEST_SHAPES` describes each request's params for the server's runtime check (a
 * request of an unknown method or the wrong shape is answered with an error naming the method
 * and the field); its type ties it to the params types, so the two cannot drift apart. The
 * media service implements the protocol (`MediaHandlers`, checked in the server) and the
 * control plane calls it (`MediaControl`).
 */
import type { types } from 'mediasoup';
import { CONTENT_RESOLUTIONS, EQUAL_SPLIT_LAYOUTS, ONE_PLUS_N_LAYOUTS, VIDEO_RESOLUTIONS } from '../../server/core/call-settings.ts';
import type { MediaSettings } from '../media-settings.ts';
import type { PictureState } from '../mcu/composed-picture.ts';
import type { LayoutChoice } from '../mcu/layouts.ts';
import type { ContentCap, ContentInfo, ParticipantSnapshot, ProducerInfo, SipLegAnswer, SipLegInfo, SipLegRequest, WebConsumerInfo, WebJoin } from '../meetings/meeting-media.ts';

// ------------------------------------------------------------------ requests and responses

/** A request answered with no result (`"result":null` on the wire). */
// biome-ignore lint/suspicious/noConfusingVoidType: it is a return type — the media service's methods that return nothing implement these requests
export type NoResult = void;

/** A SIP caller joins a meeting's media: its SDP answer. */
export type JoinSipParams = [meeting: string, request: SipLegRequest];
export type JoinSipResult = SipLegAnswer;
/** A SIP leg's re-INVITE: the new SDP answer. */
export type UpdateSipParams = [meeting: string, participantId: string, offer: string];
export type UpdateSipResult = string;
/** A SIP terminal asked for a key frame (SIP INFO). */
export type RequestKeyFrameParams = [meeting: string, participantId: string];
export type RequestKeyFrameResult = NoResult;
/** A browser joins (`remoteAddress` picks the ICE address under static NAT). */
export type JoinWebParams = [meeting: string, participantId: string, displayName: string, remoteAddress?: string];
export type JoinWebResult = WebJoin;
export type ConnectWebParams = [meeting: string, participantId: string, transportId: string, dtlsParameters: types.DtlsParameters];
export type ConnectWebResult = NoResult;
/** A browser's microphone or camera: the producer id. */
export type ProduceWebParams = [meeting: string, participantId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters];
export type ProduceWebResult = string;
/** A browser shares its screen: its content producer (forwarded while it holds the floor), its codec, whether SIP content lines can take it (H.264). */
export type ProduceWebContentParams = [meeting: string, participantId: string, rtpParameters: types.RtpParameters];
/** `cap`: the content cap the share should keep within (the page applies it: forwarded as sent, not transcoded, when it does). */
export type ProduceWebContentResult = { producerId: string; mimeType: string; reachesSip: boolean; cap: ContentCap };
/** A browser stopped sharing (or lost the floor): its content producer closed; false when it shared none. */
export type StopWebContentParams = [meeting: string, participantId: string];
export type StopWebContentResult = boolean;
export type ConsumeWebParams = [meeting: string, participantId: string, producerId: string, rtpCapabilities: types.RtpCapabilities];
export type ConsumeWebResult = WebConsumerInfo;
/** A browser receives the composed picture instead of each camera. */
export type ConsumeComposedWebParams = [meeting: string, participantId: string, rtpCapabilities: types.RtpCapabilities];
export type ConsumeComposedWebResult = WebConsumerInfo;
export type ResumeWebParams = [meeting: string, participantId: string, consumerId: string];
export type ResumeWebResult = NoResult;
/** The participant hung up or was removed (no participantclosed event follows). */
export type LeaveParams = [meeting: string, participantId: string, reason?: string];
export type LeaveResult = NoResult;
/** Mutes one participant, or everyone (`'*'`) but `except`. */
export type SetMutedParams = [meeting: string, participantId: string, muted: boolean, except?: string];
export type SetMutedResult = NoResult;
/** The live meetings' media (one, or all). */
export type SnapshotParams = [meeting?: string];
export type SnapshotResult = { readonly meeting: string; readonly workerPid: number; readonly participants: ParticipantSnapshot[] }[];
/** Every SIP leg now (all meetings), with the control plane's note and the latest offer. */
export type SipLegsParams = [];
export type SipLegsResult = SipLegInfo[];
/** Who each SIP leg of a meeting sees. */
export type VideoRoutingParams = [meeting: string];
export type VideoRoutingResult = Record<string, string | null>;
export type SetLayoutParams = [meeting: string, choice: LayoutChoice, pinned?: string | null];
export type SetLayoutResult = NoResult;
/** Broadcast a site to the meeting; null stops it. */
export type SetBroadcastParams = [meeting: string, participantId: string | null];
export type SetBroadcastResult = NoResult;
/**
 * Who presents content (the BFCP floor's holder, a SIP participant with a content line); null:
 * nobody. Only that participant's content is forwarded, to every other SIP leg with a content line.
 */
export type SetPresenterParams = [meeting: string, participantId: string | null];
export type SetPresenterResult = NoResult;
/** A SIP terminal watches a site; null: the meeting's picture again. */
export type SetWatchParams = [meeting: string, viewerId: string, watchedId: string | null];
export type SetWatchResult = NoResult;
/** The composed picture now (as `participantId` sees it), or null. */
export type PictureStateParams = [meeting: string, participantId?: string];
export type PictureStateResult = (PictureState & { choice: LayoutChoice; pinned: string | null; pictures: number }) | null;
/** Answers an IVR call's offer from the IVR port range; digits arrive as `ivrdigit` events. */
export type IvrStartParams = [callId: string, offer: string, remoteAddress?: string];
export type IvrStartResult = { sdp: string; codec: string; port: number };
export type IvrPlayParams = [callId: string, language: string, prompts: string[]];
export type IvrPlayResult = 'done' | 'interrupted';
export type IvrDigitParams = [callId: string, digit: string];
export type IvrDigitResult = NoResult;
export type IvrStopParams = [callId: string];
export type IvrStopResult = NoResult;
/**
 * The settings the media process follows, all of them (the control plane sends them when it
 * connects and when one changes): what changed is in force on the answer — new calls' port
 * ranges and RTP timeout, the video policy (pictures in progress restart with it), static NAT,
 * remote syslog. `followed`: false from a media service that follows no settings (a test's).
 */
export type ConfigureParams = [settings: MediaSettings];
export type ConfigureResult = { followed: boolean };
/** Load figures (Prometheus metrics). */
export type StatsParams = [];
export type StatsResult = {
  readonly workers: { readonly index: number; readonly pid: number; readonly cpuSeconds: number; readonly routers: number }[];
  /** Workers the pool should have (a dead one is missing from `workers` until replaced). */
  readonly configuredWorkers: number;
  readonly meetings: number;
  readonly ivrSessions: number;
  /** The media process's event-loop delay over the last 10 s (p50, p99, worst; ms). */
  readonly eventLoopDelay: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
};
/** Liveness: the media process's meetings, pid and uptime (the dashboard's service status). */
export type PingParams = [];
export type PingResult = { meetings: number; pid: number; uptimeSeconds: number };

/** Every method: its params and its result. */
export interface MediaRequests {
  joinSip: { params: JoinSipParams; result: JoinSipResult };
  updateSip: { params: UpdateSipParams; result: UpdateSipResult };
  requestKeyFrame: { params: RequestKeyFrameParams; result: RequestKeyFrameResult };
  joinWeb: { params: JoinWebParams; result: JoinWebResult };
  connectWeb: { params: ConnectWebParams; result: ConnectWebResult };
  produceWeb: { params: ProduceWebParams; result: ProduceWebResult };
  produceWebContent: { params: ProduceWebContentParams; result: ProduceWebContentResult };
  stopWebContent: { params: StopWebContentParams; result: StopWebContentResult };
  consumeWeb: { params: ConsumeWebParams; result: ConsumeWebResult };
  consumeComposedWeb: { params: ConsumeComposedWebParams; result: ConsumeComposedWebResult };
  resumeWeb: { params: ResumeWebParams; result: ResumeWebResult };
  leave: { params: LeaveParams; result: LeaveResult };
  setMuted: { params: SetMutedParams; result: SetMutedResult };
  snapshot: { params: SnapshotParams; result: SnapshotResult };
  sipLegs: { params: SipLegsParams; result: SipLegsResult };
  videoRouting: { params: VideoRoutingParams; result: VideoRoutingResult };
  setLayout: { params: SetLayoutParams; result: SetLayoutResult };
  setBroadcast: { params: SetBroadcastParams; result: SetBroadcastResult };
  setPresenter: { params: SetPresenterParams; result: SetPresenterResult };
  setWatch: { params: SetWatchParams; result: SetWatchResult };
  pictureState: { params: PictureStateParams; result: PictureStateResult };
  ivrStart: { params: IvrStartParams; result: IvrStartResult };
  ivrPlay: { params: IvrPlayParams; result: IvrPlayResult };
  ivrDigit: { params: IvrDigitParams; result: IvrDigitResult };
  ivrStop: { params: IvrStopParams; result: IvrStopResult };
  configure: { params: ConfigureParams; result: ConfigureResult };
  stats: { params: StatsParams; result: StatsResult };
  ping: { params: PingParams; result: PingResult };
}
export type MediaMethod = keyof MediaRequests;

/** What the control plane can ask of the media service. */
export type MediaControl = { [M in MediaMethod]: (...params: MediaRequests[M]['params']) => Promise<MediaRequests[M]['result']> };

/**
 * What the media service answers with, method by method (`ping` is the channel's own): the
 * server checks at compile time that MediaService is one.
 */
export type MediaHandlers = { [M in Exclude<MediaMethod, 'ping'>]: (...params: MediaRequests[M]['params']) => MediaRequests[M]['result'] | Promise<MediaRequests[M]['result']> };

// ------------------------------------------------------------------ events

/** What the media service pushes to every connected control plane. */
export interface MediaEvents {
  ivrdigit: [callId: string, digit: string];
  keyframerequest: [meeting: string, participantId: string];
  newproducer: [meeting: string, info: ProducerInfo];
  producerclosed: [meeting: string, producerId: string, participantId: string];
  participantclosed: [meeting: string, participantId: string, reason: string];
  dominantspeaker: [meeting: string, participantId: string];
  /** Who presents content now and its producer (null: nobody), for browsers' content view. */
  content: [meeting: string, info: ContentInfo | null];
}
export type MediaEvent = keyof MediaEvents;
export const MEDIA_EVENTS = ['participantclosed', 'dominantspeaker', 'newproducer', 'producerclosed', 'keyframerequest', 'ivrdigit', 'content'] as const satisfies readonly MediaEvent[];

// ------------------------------------------------------------------ request shapes (runtime)

/** How one param is checked: its JSON kind, whether it may be missing or null, its allowed values. */
export interface ParamShape<K extends ParamKind = ParamKind> {
  readonly name: string;
  readonly kind: K;
  readonly optional?: true;
  readonly nullable?: true;
  readonly oneOf?: readonly string[];
  /** An object's own fields, checked the same way. */
  readonly fields?: readonly ParamShape[];
  /** The object has no fields but `fields` (one more is refused, by name). */
  readonly exact?: true;
}
export type ParamKind = 'string' | 'number' | 'boolean' | 'strings' | 'object';
type KindOf<T> = [NonNullable<T>] extends [string]
  ? 'string'
  : [NonNullable<T>] extends [number]
    ? 'number'
    : [NonNullable<T>] extends [boolean]
      ? 'boolean'
      : [NonNullable<T>] extends [readonly string[]]
        ? 'strings'
        : 'object';
/** One shape per param, in order, each of the param's kind. */
type ShapesOf<P extends readonly unknown[]> = { readonly [I in keyof P]-?: ParamShape<KindOf<P[I]>> };

const text = (name: string, extra: Omit<ParamShape<'string'>, 'name' | 'kind'> = {}): ParamShape<'string'> => ({ name, kind: 'string', ...extra });
const object = (name: string, extra: Omit<ParamShape<'object'>, 'name' | 'kind'> = {}): ParamShape<'object'> => ({ name, kind: 'object', ...extra });
const meeting = text('meeting');
const participant = text('participantId');
const LAYOUT_CHOICES: readonly string[] = ['auto', 'single', ...EQUAL_SPLIT_LAYOUTS, ...ONE_PLUS_N_LAYOUTS];
const number = (name: string): ParamShape<'number'> => ({ name, kind: 'number' });
const range = (name: string): ParamShape<'object'> => object(name, { exact: true, fields: [number('min'), number('max')] });

/**
 * Each followed setting's shape in `configure` (its type ties it to MediaSettings: a setting
 * added there and not here, or of another kind, is a compile error). The values' own rules
 * (a range's width, an address) are the control plane's, which stored them.
 */
const MEDIA_SETTING_SHAPES: { readonly [K in keyof MediaSettings]-?: ParamShape<KindOf<MediaSettings[K]>> } = {
  'media.mcuPorts': range('media.mcuPorts'),
  'media.ivrPorts': range('media.ivrPorts'),
  'call.rtpTimeoutSeconds': number('call.rtpTimeoutSeconds'),
  'call.maxVideoResolution': text('call.maxVideoResolution', { oneOf: VIDEO_RESOLUTIONS }),
  'call.maxBandwidth': text('call.maxBandwidth'),
  'call.maxContentResolution': text('call.maxContentResolution', { oneOf: CONTENT_RESOLUTIONS }),
  'call.layout.equalSplitMax': text('call.layout.equalSplitMax', { oneOf: EQUAL_SPLIT_LAYOUTS }),
  'call.layout.onePlusNMax': text('call.layout.onePlusNMax', { oneOf: ONE_PLUS_N_LAYOUTS }),
  'call.polling.intervalSeconds': number('call.polling.intervalSeconds'),
  'call.polling.rule': text('call.polling.rule', { oneOf: ['round-robin', 'longest-unseen'] }),
  'call.selfViewExclusionMax': number('call.selfViewExclusionMax'),
  'nat.enabled': { name: 'nat.enabled', kind: 'boolean' },
  'nat.publicIp': text('nat.publicIp'),
  'nat.localNetworks': text('nat.localNetworks'),
  'syslog.enabled': { name: 'syslog.enabled', kind: 'boolean' },
  'syslog.host': text('syslog.host'),
  'syslog.port': number('syslog.port'),
  'syslog.protocol': text('syslog.protocol', { oneOf: ['udp', 'tcp', 'tls'] }),
  'tls.trustedCertificates': text('tls.trustedCertificates'),
};

/** The names of the settings `configure` carries: the media process follows exactly these. */
export const MEDIA_SETTING_KEYS = Object.keys(MEDIA_SETTING_SHAPES) as (keyof MediaSettings)[];

/** The params of every method, as the media service checks them before it runs one. */
export const MEDIA_REQUEST_SHAPES: { readonly [M in MediaMethod]: ShapesOf<MediaRequests[M]['params']> } = {
  joinSip: [
    meeting,
    object('request', {
      fields: [text('participantId'), text('displayName'), text('offer'), text('srtp', { oneOf: ['optional', 'required', 'off'] }), text('remoteAddress', { optional: true }), text('note', { optional: true })],
    }),
  ],
  updateSip: [meeting, participant, text('offer')],
  requestKeyFrame: [meeting, participant],
  joinWeb: [meeting, participant, text('displayName'), text('remoteAddress', { optional: true })],
  connectWeb: [meeting, participant, text('transportId'), object('dtlsParameters')],
  produceWeb: [meeting, participant, text('kind', { oneOf: ['audio', 'video'] }), object('rtpParameters')],
  produceWebContent: [meeting, participant, object('rtpParameters')],
  stopWebContent: [meeting, participant],
  consumeWeb: [meeting, participant, text('producerId'), object('rtpCapabilities')],
  consumeComposedWeb: [meeting, participant, object('rtpCapabilities')],
  resumeWeb: [meeting, participant, text('consumerId')],
  leave: [meeting, participant, text('reason', { optional: true })],
  setMuted: [meeting, participant, { name: 'muted', kind: 'boolean' }, text('except', { optional: true })],
  snapshot: [text('meeting', { optional: true })],
  sipLegs: [],
  videoRouting: [meeting],
  setLayout: [meeting, text('choice', { oneOf: LAYOUT_CHOICES }), text('pinned', { optional: true, nullable: true })],
  setBroadcast: [meeting, text('participantId', { nullable: true })],
  setPresenter: [meeting, text('participantId', { nullable: true })],
  setWatch: [meeting, text('viewerId'), text('watchedId', { nullable: true })],
  pictureState: [meeting, text('participantId', { optional: true })],
  ivrStart: [text('callId'), text('offer'), text('remoteAddress', { optional: true })],
  ivrPlay: [text('callId'), text('language'), { name: 'prompts', kind: 'strings' }],
  ivrDigit: [text('callId'), text('digit')],
  ivrStop: [text('callId')],
  configure: [object('settings', { exact: true, fields: Object.values(MEDIA_SETTING_SHAPES) })],
  stats: [],
  ping: [],
};

export const MEDIA_METHODS = Object.keys(MEDIA_REQUEST_SHAPES) as MediaMethod[];

/** Longest line either side accepts (an SDP offer is a few kB). */
export const MAX_LINE_BYTES = 256 * 1024;
