/**
 * The media service: the worker pool plus the live meetings' media (one MeetingMedia, i.e.
 * one router and one mixer, per meeting while it has people), placed on the least-loaded
 * worker. This is what the control plane's SIP application drives (over the media control
 * socket, ./control). A meeting whose worker dies is closed and its participants reported
 * gone with reason `media-restart`; the control plane re-attaches them (SIP legs by
 * re-INVITE, browsers by reconnecting).
 */
import { type EventLoopDelayFigures, eventLoopDelay } from '../server/core/event-loop-delay.ts';
import { EventEmitter } from 'node:events';
import { createError } from '../server/core/errors.ts';
import { getLogger } from '../server/core/logger.ts';
import type { AudioMixerOptions } from './audio-mixer/audio-mixer.ts';
import type { types } from 'mediasoup';
import {
  type ContentInfo,
  type MediaNetwork,
  MeetingMedia,
  type ParticipantSnapshot,
  type ProducerInfo,
  type SipLegAnswer,
  type SipLegInfo,
  type SipLegRequest,
  type WebConsumerInfo,
  type WebJoin,
} from './meetings/meeting-media.ts';
import { IvrSession } from './ivr/ivr-session.ts';
import type { LayoutChoice } from './mcu/layouts.ts';
import type { MediaSettings } from './media-settings.ts';
import type { VideoPolicy } from './mcu/video-policy.ts';
import type { ContentPolicy } from './meetings/content-policy.ts';
import type { ContentRoutingState } from './meetings/content-routing.ts';
import type { ContentCap } from './meetings/meeting-types.ts';
import { natAddressFor, type StaticNat } from '../server/core/static-nat.ts';
import type { WorkerPool } from './worker-pool/worker-pool.ts';
import { setCallPortRanges } from './rtp/internal-ports.ts';

const log = getLogger('media-service');

export interface MediaServiceOptions {
  readonly pool: WorkerPool;
  readonly network: MediaNetwork;
  readonly rtpTimeoutMs?: number;
  readonly mixer?: AudioMixerOptions;
  /** SIP legs per worker before a meeting spreads to other workers (default 200). */
  readonly legsPerWorker?: number;
  /** The IVR's port range (setting media.ivrPorts). */
  readonly ivrPorts?: { readonly min: number; readonly max: number };
  /** The call settings for composed video (read live from the settings). */
  readonly videoPolicy?: () => VideoPolicy;
  /** The content cap: max content resolution and the call's bandwidth (read live from the settings). */
  readonly contentPolicy?: () => ContentPolicy;
  /** Static NAT in force (read live from the settings). */
  readonly nat?: () => StaticNat | undefined;
  /**
   * Applies the settings the control plane sent (`configure` over the control channel;
   * media/main.ts: what changed is in force on return, so the control plane can say so).
   */
  readonly followSettings?: (settings: MediaSettings) => void;
}

export interface MediaServiceEvents {
  ivrdigit: [callId: string, digit: string];
  keyframerequest: [meeting: string, participantId: string];
  /** A SIP presenter should send a content key frame: SIP INFO naming its content line's label. */
  contentkeyframerequest: [meeting: string, participantId: string, label: string];
  newproducer: [meeting: string, info: ProducerInfo];
  producerclosed: [meeting: string, producerId: string, participantId: string];
  participantclosed: [meeting: string, participantId: string, reason: string];
  dominantspeaker: [meeting: string, participantId: string];
  content: [meeting: string, info: ContentInfo | null];
}

export interface MediaStats {
  readonly workers: { readonly index: number; readonly pid: number; readonly cpuSeconds: number; readonly routers: number }[];
  /** Workers the pool should have (a dead one is missing from `workers` until replaced). */
  readonly configuredWorkers: number;
  readonly meetings: number;
  readonly ivrSessions: number;
  /** The media process's event-loop delay over the last 10 s. */
  readonly eventLoopDelay: EventLoopDelayFigures;
}

export interface MeetingSnapshot {
  readonly meeting: string;
  readonly workerPid: number;
  readonly participants: ParticipantSnapshot[];
}

export class MediaService extends EventEmitter<MediaServiceEvents> {
  readonly #options: MediaServiceOptions;
  readonly #meetings = new Map<string, MeetingMedia>();
  readonly #ivr = new Map<string, IvrSession>();
  /** Meetings being created, so two callers arriving together share one router. */
  readonly #creating = new Map<string, Promise<MeetingMedia>>();
  /** Layouts chosen for meetings (kept for one whose media is not up yet, and across restarts of it). */
  readonly #layouts = new Map<string, { choice: LayoutChoice; pinned: string | null }>();
  /** meeting → who presents content (kept across a meeting's media restart; the control plane clears it). */
  readonly #presenters = new Map<string, string>();
  /** Broadcast and watched sites per meeting, kept so a meeting rebuilt on another worker keeps them. */
  readonly #focus = new Map<string, { broadcast: string | null; watching: Map<string, string> }>();
  #network: MediaNetwork;
  #rtpTimeoutMs: number;
  #ivrPorts: { readonly min: number; readonly max: number };
  #closed = false;

  constructor(options: MediaServiceOptions) {
    super();
    this.#options = options;
    this.#network = options.network;
    this.#rtpTimeoutMs = options.rtpTimeoutMs ?? 60_000;
    this.#ivrPorts = options.ivrPorts ?? { min: 30000, max: 37999 };
    setCallPortRanges([this.#network.portRange, this.#ivrPorts]);
  }

  /**
   * Settings changed (media/main.ts follows them): new transports and IVR calls use the new
   * addresses and port ranges, legs already up keep their ports; the RTP timeout applies to
   * every leg at its next check.
   */
  reconfigure(changes: { network?: MediaNetwork; rtpTimeoutMs?: number; ivrPorts?: { readonly min: number; readonly max: number } }): void {
    if (changes.network) this.#network = changes.network;
    if (changes.rtpTimeoutMs) this.#rtpTimeoutMs = changes.rtpTimeoutMs;
    if (changes.ivrPorts) this.#ivrPorts = changes.ivrPorts;
    setCallPortRanges([this.#network.portRange, this.#ivrPorts]);
  }

  /** The settings it follows, from the control plane (`configure`): what changed is in force on return. */
  configure(settings: MediaSettings): { followed: boolean } {
    this.#options.followSettings?.(settings);
    return { followed: this.#options.followSettings !== undefined };
  }

  /** The call settings for composed video changed: every meeting's running pictures follow. */
  videoPolicyChanged(): void {
    for (const meeting of this.#meetings.values()) meeting.videoPolicyChanged();
  }

  /** The content cap changed: every presentation in progress is re-encoded with it. */
  contentPolicyChanged(): void {
    for (const meeting of this.#meetings.values()) meeting.contentPolicyChanged();
  }

  async #meeting(key: string): Promise<MeetingMedia> {
    const live = this.#meetings.get(key);
    if (live && !live.closed) return live;
    const pending = this.#creating.get(key);
    if (pending) return pending;
    const creating = this.#options.pool.acquire().then((worker) => MeetingMedia.create(key, worker, {
      network: () => this.#network,
      rtpTimeoutMs: () => this.#rtpTimeoutMs,
      ...(this.#options.mixer ? { mixer: this.#options.mixer } : {}),
      legsPerWorker: this.#options.legsPerWorker ?? 200,
      placeLeg: () => this.#options.pool.leastLoaded(),
      ...(this.#options.videoPolicy ? { videoPolicy: this.#options.videoPolicy } : {}),
      ...(this.#options.contentPolicy ? { contentPolicy: this.#options.contentPolicy } : {}),
      ...(this.#options.nat ? { nat: this.#options.nat } : {}),
    }));
    this.#creating.set(key, creating);
    try {
      const meeting = await creating;
      this.#meetings.set(key, meeting);
      const layout = this.#layouts.get(key);
      if (layout) meeting.setLayout(layout.choice, layout.pinned);
      const focus = this.#focus.get(key);
      if (focus?.broadcast) meeting.setBroadcast(focus.broadcast);
      const presenter = this.#presenters.get(key);
      if (presenter) meeting.setPresenter(presenter);
      for (const [viewer, watched] of focus?.watching ?? []) meeting.setWatch(viewer, watched);
      meeting.on('participantclosed', (id, reason) => {
        const kept = this.#focus.get(key);
        if (kept?.broadcast === id) kept.broadcast = null;
        for (const [viewer, watched] of [...(kept?.watching ?? [])]) if (viewer === id || watched === id) kept?.watching.delete(viewer);
        this.emit('participantclosed', key, id, reason);
        if (meeting.idle) meeting.close();
      });
      meeting.on('dominantspeaker', (id) => this.emit('dominantspeaker', key, id));
      meeting.on('newproducer', (info) => this.emit('newproducer', key, info));
      meeting.on('content', (info) => this.emit('content', key, info));
      meeting.on('keyframerequest', (id) => this.emit('keyframerequest', key, id));
      meeting.on('contentkeyframerequest', (id, label) => this.emit('contentkeyframerequest', key, id, label));
      meeting.on('producerclosed', (producerId, participantId) => this.emit('producerclosed', key, producerId, participantId));
      meeting.once('close', () => {
        if (this.#meetings.get(key) === meeting) this.#meetings.delete(key);
      });
      log.info({ meeting: key, worker: meeting.router.appData.workerPid }, 'meeting media up');
      return meeting;
    } finally {
      this.#creating.delete(key);
    }
  }

  async #join<T>(meeting: string, add: (media: MeetingMedia) => Promise<T>): Promise<T> {
    const media = await this.#meeting(meeting);
    try {
      return await add(media);
    } catch (error) {
      if (media.idle) media.close();
      throw error;
    }
  }

  joinSip(meeting: string, request: SipLegRequest): Promise<SipLegAnswer> {
    return this.#join(meeting, (media) => media.addSipLeg(request));
  }

  /**
   * A browser joins: its two WebRtcTransports and what it can consume. `remoteAddress` (the
   * browser's, as the control plane sees it) picks the ICE candidates' address under static NAT.
   */
  joinWeb(meeting: string, participantId: string, displayName: string, remoteAddress?: string): Promise<WebJoin> {
    return this.#join(meeting, (media) => media.addWebPeer(participantId, displayName, remoteAddress));
  }

  connectWeb(meeting: string, participantId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    return this.#live(meeting).connectWebTransport(participantId, transportId, dtlsParameters);
  }

  produceWeb(meeting: string, participantId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<string> {
    return this.#live(meeting).produceWeb(participantId, kind, rtpParameters);
  }

  consumeWeb(meeting: string, participantId: string, producerId: string, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    return this.#live(meeting).consumeWeb(participantId, producerId, rtpCapabilities);
  }

  /** A browser receives the composed picture instead of each camera (the join page's composed view). */
  /** A browser shares its screen: its content producer (forwarded while it holds the floor). */
  produceWebContent(meeting: string, participantId: string, rtpParameters: types.RtpParameters): Promise<{ producerId: string; mimeType: string; reachesSip: boolean; cap: ContentCap }> {
    return this.#live(meeting).produceWebContent(participantId, rtpParameters);
  }

  /** A browser stopped sharing its screen (or lost the floor); false when it shared none. */
  stopWebContent(meeting: string, participantId: string): boolean {
    return this.#meetings.get(meeting)?.closeWebContent(participantId) ?? false;
  }

  consumeComposedWeb(meeting: string, participantId: string, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    return this.#live(meeting).consumeComposedWeb(participantId, rtpCapabilities);
  }

  resumeWeb(meeting: string, participantId: string, consumerId: string): Promise<void> {
    return this.#live(meeting).resumeWebConsumer(participantId, consumerId);
  }

  updateSip(meeting: string, participantId: string, offer: string): Promise<string> {
    return this.#live(meeting).updateSipLeg(participantId, offer);
  }

  /** A SIP terminal asked for a key frame by SIP INFO: the video it is sent makes one (its content, when the INFO names its content line's label). */
  requestKeyFrame(meeting: string, participantId: string, streamId?: string): Promise<void> {
    return this.#live(meeting).requestKeyFrame(participantId, streamId);
  }

  /** The participant hung up or was removed by the SIP side: no participantclosed event. */
  leave(meeting: string, participantId: string, reason = 'hangup'): void {
    const media = this.#meetings.get(meeting);
    if (!media) return;
    media.removeParticipant(participantId, reason, true);
    if (media.idle) media.close();
  }

  async setMuted(meeting: string, participantId: string | '*', muted: boolean, except?: string): Promise<void> {
    const media = this.#live(meeting);
    if (participantId === '*') await media.muteAll(muted, except);
    else await media.setMuted(participantId, muted);
  }

  #live(meeting: string): MeetingMedia {
    const media = this.#meetings.get(meeting);
    if (!media || media.closed) {
      throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: meeting });
    }
    return media;
  }

  /** Every SIP leg now, with its note and latest offer: what a restarted control plane takes over. */
  sipLegs(): SipLegInfo[] {
    const out: SipLegInfo[] = [];
    for (const [meeting, media] of this.#meetings) if (!media.closed) for (const leg of media.sipLegs()) out.push({ meeting, ...leg });
    return out;
  }

  async snapshot(meeting?: string): Promise<MeetingSnapshot[]> {
    const out: MeetingSnapshot[] = [];
    for (const [key, media] of this.#meetings) {
      if (meeting !== undefined && key !== meeting) continue;
      out.push({ meeting: key, workerPid: media.router.appData.workerPid as number, participants: await media.snapshot() });
    }
    return out;
  }

  // ------------------------------------------------------------------ IVR media

  /** Answers an IVR call's offer from the IVR port range; digits arrive as `ivrdigit` events. */
  async ivrStart(callId: string, offer: string, remoteAddress?: string): Promise<{ sdp: string; codec: string; port: number }> {
    this.#ivr.get(callId)?.close();
    const { session, sdp } = await IvrSession.start(callId, offer, {
      address: natAddressFor(this.#options.nat?.(), remoteAddress) ?? this.#network.announcedAddress,
      listenIp: this.#network.listenIp,
      ports: this.#ivrPorts,
    });
    this.#ivr.set(callId, session);
    session.on('digit', (digit) => this.emit('ivrdigit', callId, digit));
    return { sdp, codec: session.codec, port: session.port };
  }

  /** Plays prompts to an IVR caller; 'interrupted' when a digit came first. */
  ivrPlay(callId: string, language: string, prompts: string[]): Promise<'done' | 'interrupted'> {
    const session = this.#ivr.get(callId);
    if (!session) return Promise.resolve('interrupted');
    return session.play(language, prompts);
  }

  /** A digit the SIP side received (SIP INFO) for an IVR call. */
  ivrDigit(callId: string, digit: string): void {
    this.#ivr.get(callId)?.digit(digit);
  }

  /** Ends an IVR call's media (its ports are free again). */
  ivrStop(callId: string): void {
    this.#ivr.get(callId)?.close();
    this.#ivr.delete(callId);
  }

  get ivrSessions(): number {
    return this.#ivr.size;
  }

  /**
   * A meeting's layout (the VMR's, or the console's layout picker) and the participant pinned
   * to the big pane; applied live to the composed picture, or when the meeting's media starts.
   */
  setLayout(meeting: string, choice: LayoutChoice, pinned: string | null = null): void {
    if (choice === 'auto' && !pinned) this.#layouts.delete(meeting);
    else this.#layouts.set(meeting, { choice, pinned });
    this.#meetings.get(meeting)?.setLayout(choice, pinned);
  }

  /**
   * Broadcast a site (the console's meeting control): every other SIP terminal of the meeting
   * sees `participantId` full screen; null stops it. Live, no call is renegotiated.
   */
  setBroadcast(meeting: string, participantId: string | null): void {
    this.#focusOf(meeting).broadcast = participantId;
    this.#meetings.get(meeting)?.setBroadcast(participantId);
  }

  /**
   * Who presents content in a meeting (the floor's holder, told by the control plane's floor
   * control); null: nobody. Kept for the meeting's media (re)start; its content goes to every
   * other participant in the form it takes (meetings/content-routing.ts).
   */
  setPresenter(meeting: string, participantId: string | null): void {
    if (participantId === null) this.#presenters.delete(meeting);
    else this.#presenters.set(meeting, participantId);
    this.#meetings.get(meeting)?.setPresenter(participantId);
  }

  /** Watch a site: the SIP terminal `viewerId` sees `watchedId` full screen; null: the meeting's picture again. */
  setWatch(meeting: string, viewerId: string, watchedId: string | null): void {
    const focus = this.#focusOf(meeting);
    if (watchedId === null) focus.watching.delete(viewerId);
    else focus.watching.set(viewerId, watchedId);
    this.#meetings.get(meeting)?.setWatch(viewerId, watchedId);
  }

  #focusOf(meeting: string): { broadcast: string | null; watching: Map<string, string> } {
    let focus = this.#focus.get(meeting);
    if (!focus) {
      focus = { broadcast: null, watching: new Map() };
      this.#focus.set(meeting, focus);
    }
    return focus;
  }

  /** The composed picture of a meeting now (layout, panes, outputs; the one a participant sees), or null. */
  pictureState(meeting: string, participantId?: string): ReturnType<MeetingMedia['pictureState']> {
    return this.#meetings.get(meeting)?.pictureState(participantId) ?? null;
  }

  /** Milliseconds from the latest change to the first encoded frame showing it (benchmark). */
  measurePictureChange(meeting: string): Promise<number | undefined> {
    return this.#live(meeting).measurePictureChange();
  }

  /** The transcoders running in a meeting (source>codec: cameras for SIP legs, then content). */
  transcoders(meeting: string): string[] {
    return this.#live(meeting).transcoders;
  }

  /** How a meeting's presentation reaches each receiver (forwarded, transcoded; the transcoders and who takes them). */
  contentState(meeting: string): ContentRoutingState {
    return this.#live(meeting).contentState();
  }

  /** Who each SIP leg of a meeting sees (voice-activated video). */
  videoRouting(meeting: string): Record<string, string | null> {
    return this.#live(meeting).videoRouting();
  }

  /** Load figures (Prometheus metrics): per worker its CPU time so far and routers; meetings; IVR calls. */
  async stats(): Promise<MediaStats> {
    const pool = this.#options.pool;
    const workers = await Promise.all(
      pool.workers.map(async (worker) => {
        const usage = await worker.getResourceUsage().catch(() => undefined);
        return {
          index: Number(worker.appData.index ?? 0),
          pid: worker.pid,
          cpuSeconds: usage ? (usage.ru_utime + usage.ru_stime) / 1000 : 0,
          routers: pool.routersOn(worker),
        };
      }),
    );
    return { workers, configuredWorkers: pool.size, meetings: this.#meetings.size, ivrSessions: this.#ivr.size, eventLoopDelay: eventLoopDelay() };
  }

  get meetingCount(): number {
    return this.#meetings.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const media of this.#meetings.values()) media.close();
    this.#meetings.clear();
    for (const session of this.#ivr.values()) session.close();
    this.#ivr.clear();
    this.removeAllListeners();
  }
}
