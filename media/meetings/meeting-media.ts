/**
 * The media of one live meeting: a mediasoup router on one worker, the meeting's audio mixer
 * with its loopback PlainTransport, and its participants — SIP legs (sip-leg.ts) and browsers
 * (web-peer.ts), each owning its transports, producers and consumers. What participants see is
 * the meeting's pictures (meeting-pictures.ts); their live figures, its stats
 * (meeting-stats.ts); the shapes it speaks in, meeting-types.ts. The meeting admits and removes
 * participants, mutes them, hangs up a leg whose RTP stops, and tells the media service what
 * happened (events). Content: the presenter's (the floor's holder, `setPresenter`: a SIP leg's
 * content line or a browser's shared screen) content reaches every other participant in the
 * form it takes — SIP content lines forwarded or transcoded to H.264 within the content cap,
 * browsers as sent or transcoded (content-routing.ts) —; legs without a content line see it in
 * the content layout of their composed picture (meeting-pictures.ts); browsers are told who
 * presents (`content`) to consume it. `close()` is idempotent and cascades: pictures, content,
 * participants, mixer, router.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';
import { natAddressFor } from '../../server/core/static-nat.ts';
import { AudioMixer } from '../audio-mixer/audio-mixer.ts';
import type { LayoutChoice } from '../mcu/layouts.ts';
import { DEFAULT_VIDEO_POLICY, type VideoPolicy } from '../mcu/video-policy.ts';
import { assertServable, parseSdp } from '../sdp/sip-sdp.ts';
import { type ContentPolicy, DEFAULT_CONTENT_POLICY } from './content-policy.ts';
import { ContentRouting, type ContentRoutingState, reachesSip } from './content-routing.ts';
import { MeetingPictures, type MeetingPictureState } from './meeting-pictures.ts';
import { sipLegSnapshot, webPeerSnapshot } from './meeting-stats.ts';
import {
  type ContentCap,
  type MediaNetwork,
  type MeetingMediaEvents,
  type MeetingMediaOptions,
  type MeetingParts,
  type ParticipantSnapshot,
  type ProducerInfo,
  ROUTER_CODECS,
  type SdpSession,
  type SipLegAnswer,
  type SipLegInfo,
  type SipLegRequest,
  type WebConsumerInfo,
  type WebJoin,
} from './meeting-types.ts';
import { pickMeetingAudio, SipLeg } from './sip-leg.ts';
import { WebPeer } from './web-peer.ts';
import { monotonicMs } from '../../server/core/clock.ts';
import { internalListenInfo } from '../rtp/internal-ports.ts';

// The shapes of a meeting's media, where they were before meeting-types.ts (importers keep working).
export {
  type ContentCap,
  type ContentInfo,
  type MediaNetwork,
  type MeetingMediaEvents,
  type MeetingMediaOptions,
  type ParticipantSnapshot,
  type ProducerInfo,
  ROUTER_CODECS,
  type SipLegAnswer,
  type SipLegInfo,
  type SipLegRequest,
  type SrtpPolicy,
  type StreamStats,
  type WebConsumerInfo,
  type WebJoin,
  type WebTransportInfo,
} from './meeting-types.ts';

const log = getLogger('meeting-media');

export class MeetingMedia extends EventEmitter<MeetingMediaEvents> {
  readonly key: string;
  readonly router: types.Router;
  readonly #worker: types.Worker;
  readonly #options: MeetingMediaOptions;
  readonly #mixer: AudioMixer;
  readonly #parts: MeetingParts;
  readonly #legs = new Map<string, SipLeg>();
  readonly #webPeers = new Map<string, WebPeer>();
  /** Participants whose leg or peer is being built (a second join with the same id is refused). */
  readonly #joining = new Set<string>();
  readonly #muted = new Set<string>();
  /** Who presents content (the floor's holder) and where the presentation goes. */
  readonly #content: ContentRouting;
  readonly #pictures: MeetingPictures;
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  static async create(key: string, worker: types.Worker, options: MeetingMediaOptions): Promise<MeetingMedia> {
    const router = await worker.createRouter({ mediaCodecs: ROUTER_CODECS, appData: { meeting: key, workerPid: worker.pid } });
    let mixer: AudioMixer | undefined;
    try {
      mixer = new AudioMixer(options.mixer);
      const mixerPort = await mixer.bind('127.0.0.1');
      const mixerTransport = await router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: true, comedia: false });
      await mixerTransport.connect({ ip: '127.0.0.1', port: mixerPort });
      mixer.connect('127.0.0.1', mixerTransport.tuple.localPort);
      return new MeetingMedia({ key, worker, router, mixer, mixerTransport }, options);
    } catch (error) {
      mixer?.close();
      router.close();
      throw error;
    }
  }

  private constructor(parts: MeetingParts, options: MeetingMediaOptions) {
    super();
    this.key = parts.key;
    this.#worker = parts.worker;
    this.router = parts.router;
    this.#mixer = parts.mixer;
    this.#parts = parts;
    this.#options = options;
    this.#content = new ContentRouting({
      key: parts.key,
      router: parts.router,
      legs: () => [...this.#legs.values()],
      peers: () => [...this.#webPeers.values()],
      policy: () => this.#contentPolicy(),
      keyFrameNeeded: (id) => {
        const label = this.#legs.get(id)?.content?.label;
        if (label !== undefined) this.emit('contentkeyframerequest', id, label);
      },
      tell: (info) => this.emit('content', info),
    });
    this.#pictures = new MeetingPictures({
      key: parts.key,
      router: parts.router,
      legs: () => [...this.#legs.values()],
      peers: () => [...this.#webPeers.values()],
      isLeg: (id) => this.#legs.has(id),
      policy: () => this.#policy(),
      keyFrameNeeded: (id) => this.emit('keyframerequest', id),
      contentKeyFrameNeeded: () => this.#content.keyFrameFromPresenter(),
      // The content layout shows the presenter's content, a SIP terminal's or a browser's.
      content: () => this.#content.source(),
    });
    parts.mixer.on('dominantspeaker', (id) => {
      this.#pictures.dominantSpeaker(id);
      this.emit('dominantspeaker', id);
    });
    parts.router.observer.once('close', () => this.#routerLost());
    this.#timer = setInterval(() => void this.#checkRtp(), Math.min(5000, Math.max(500, options.rtpTimeoutMs() / 4)));
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The router closed under the meeting (its worker died): every participant has lost media
   * and is reported so (`media-restart`) for the control plane to re-attach them.
   */
  #routerLost(): void {
    if (this.#closed) return;
    const lost = [...this.#legs.keys(), ...this.#webPeers.keys()];
    if (lost.length > 0) log.warn({ meeting: this.key, participants: lost.length }, 'meeting media lost with its worker; the SIP side re-attaches the legs');
    for (const id of lost) this.removeParticipant(id, 'media-restart');
    this.close();
  }

  /** The content cap now (the settings' word, followed live). */
  #contentPolicy(): ContentPolicy {
    return this.#options.contentPolicy?.() ?? DEFAULT_CONTENT_POLICY;
  }

  get size(): number {
    return this.#legs.size + this.#webPeers.size;
  }

  /** Nobody is in the meeting and nobody is joining it: it may close (a join in flight keeps its router). */
  get idle(): boolean {
    return this.size === 0 && this.#joining.size === 0;
  }

  has(participantId: string): boolean {
    return this.#legs.has(participantId) || this.#webPeers.has(participantId);
  }

  /** Refuses a second join of the same participant, and joins to a closed meeting. */
  #admit(participantId: string): void {
    if (this.#closed) throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: this.key });
    if (this.has(participantId) || this.#joining.has(participantId)) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `participant ${participantId} is already in the meeting` });
    }
  }

  /** The worker for a new leg: the meeting's, or once it carries `legsPerWorker` legs the least-loaded one. */
  #placeLeg(): types.Worker {
    const onMeetingWorker = [...this.#legs.values()].filter((l) => l.legRouter === this.router || l.legWorker === this.#worker).length;
    const spread = this.#options.placeLeg !== undefined && onMeetingWorker >= (this.#options.legsPerWorker ?? Number.POSITIVE_INFINITY);
    return spread && this.#options.placeLeg ? this.#options.placeLeg() : this.#worker;
  }

  async addSipLeg(request: SipLegRequest, session?: SdpSession): Promise<SipLegAnswer> {
    const id = request.participantId;
    this.#admit(id);
    this.#joining.add(id);
    try {
      const { leg, offer, audio, crypto } = await SipLeg.create(this.#parts, request, {
        network: this.#networkFor(request.remoteAddress),
        worker: () => this.#placeLeg(),
        ...(session ? { session } : {}),
        // Its own router closing under it (its worker died): the leg has lost media.
        onLost: () => {
          if (!this.#closed) this.removeParticipant(id, 'media-restart');
        },
      });
      if (this.#closed) {
        leg.close();
        throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: this.key });
      }
      this.#legs.set(id, leg);
      log.info({ meeting: this.key, participant: id, codec: leg.audioCodec, srtp: leg.srtp, port: leg.transport.tuple.localPort }, 'SIP leg joined');
      this.emit('newproducer', { producerId: leg.meetingAudio.id, participantId: id, displayName: leg.displayName, kind: 'audio' });
      if (leg.video) this.emit('newproducer', { producerId: leg.video.meetingProducer.id, participantId: id, displayName: leg.displayName, kind: 'video' });
      this.#pictures.refresh();
      if (leg.content) this.#content.route();
      const sdp = leg.answer(offer.media, audio, crypto, this.#contentPolicy());
      leg.lastAnswer = sdp;
      return { sdp, audioCodec: leg.audioCodec, srtp: leg.srtp };
    } finally {
      this.#joining.delete(id);
    }
  }

  /** A re-INVITE or UPDATE with a new offer: hold/resume (direction) and a moved address. */
  async updateSipLeg(participantId: string, offerText: string): Promise<string> {
    const leg = this.#leg(participantId);
    const offer = parseSdp(offerText);
    const audio = offer.media.find((m) => m.kind === 'audio');
    if (!audio) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'the new offer has no audio stream' });
    assertServable(audio, 'meeting', leg.network.listenIp);
    if (leg.offersSameAudio(audio)) {
      const hadContent = Boolean(leg.content);
      const answer = await leg.renegotiate(offer, audio, this.#contentPolicy());
      leg.offer = offerText;
      leg.lastAnswer = answer;
      if (!hadContent && leg.content) {
        this.#content.route();
        // A leg that now has a content line leaves the content layout (and may be the presenter).
        this.#pictures.refresh();
      }
      return answer;
    }
    // A codec change: the leg is rebuilt for the new offer (new transports and ports, the
    // same SDP session, the next version); the old leg stays if the new offer is refused.
    const request: SipLegRequest = { participantId, displayName: leg.displayName, offer: offerText, srtp: leg.srtpPolicy, ...(leg.note === undefined ? {} : { note: leg.note }) };
    const chosen = audio.port > 0 ? pickMeetingAudio(audio) : undefined;
    if (!chosen) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { warning: 305, reason: `none of the offered audio codecs (${audio.codecs.map((c) => c.name).join(', ') || 'none'}) is supported; keep ${leg.codec.name}` });
    }
    this.removeParticipant(participantId, 'codec-change', true);
    const answer = await this.addSipLeg(request, { sessionId: leg.sessionId, version: leg.version + 1 });
    log.info({ meeting: this.key, participant: participantId, from: leg.codec.name, to: answer.audioCodec }, 'audio codec changed by re-INVITE');
    return answer.sdp;
  }

  #leg(participantId: string): SipLeg {
    const leg = this.#legs.get(participantId);
    if (!leg) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: participantId, meeting: this.key });
    return leg;
  }

  /** The media addresses for a caller: with static NAT, the public IP for one outside the LAN. */
  #networkFor(remoteAddress: string | undefined): MediaNetwork {
    const network = this.#options.network();
    const publicIp = natAddressFor(this.#options.nat?.(), remoteAddress);
    return publicIp ? { ...network, announcedAddress: publicIp } : network;
  }

  #policy(): VideoPolicy {
    return this.#options.videoPolicy?.() ?? DEFAULT_VIDEO_POLICY;
  }

  // ------------------------------------------------------------------ what participants see

  /** The call settings for composed video changed (see MeetingPictures.videoPolicyChanged). */
  videoPolicyChanged(): void {
    this.#pictures.videoPolicyChanged();
  }

  /** The meeting's layout (the console's layout picker) and who is pinned to the big pane. */
  setLayout(choice: LayoutChoice, pinned?: string | null): void {
    this.#pictures.setLayout(choice, pinned);
  }

  /** Broadcast a site (null: stop): every other SIP terminal sees it full screen. */
  setBroadcast(participantId: string | null): void {
    this.#pictures.setBroadcast(participantId);
  }

  /**
   * Who presents content (null: nobody): every other participant receives that participant's
   * content in the form it takes (content-routing.ts); legs without a content line switch to the
   * content layout (and back when null).
   */
  setPresenter(participantId: string | null): void {
    if (this.#content.presenter === participantId) return;
    log.info({ meeting: this.key, presenter: participantId, previous: this.#content.presenter }, 'content presenter changed');
    this.#content.setPresenter(participantId);
    this.#pictures.refresh();
  }

  /** Who presents content now. */
  get presenter(): string | null {
    return this.#content.presenter;
  }

  /** The content cap changed (call.maxContentResolution, the call's bandwidth): the presentation is re-encoded with it. */
  contentPolicyChanged(): void {
    this.#content.policyChanged();
  }

  /** How the presentation reaches each receiver now (forwarded, transcoded), for tests and the console. */
  contentState(): ContentRoutingState {
    return this.#content.state();
  }

  /** Watch a site: the SIP terminal `viewerId` sees `watchedId` full screen (null: the meeting's picture again). */
  setWatch(viewerId: string, watchedId: string | null): void {
    this.#pictures.setWatch(viewerId, watchedId);
  }

  /** Who is broadcast and who watches whom now. */
  get videoFocus(): { broadcast: string | null; watching: Record<string, string> } {
    return this.#pictures.videoFocus;
  }

  /**
   * The composed picture now (layout, who is in which pane, outputs) — the shared one, or the
   * one `participantId` sees — or null without one.
   */
  pictureState(participantId?: string): MeetingPictureState | null {
    return this.#pictures.pictureState(participantId);
  }

  /** Milliseconds from the latest change to the first encoded frame showing it (the benchmark). */
  measurePictureChange(): Promise<number | undefined> {
    return this.#pictures.measurePictureChange();
  }

  /**
   * A SIP terminal asked for a key frame by SIP INFO (picture_fast_update, RFC 5168) instead of
   * RTCP: the video it is sent is asked for one, as mediasoup does for its PLI/FIR — its content
   * when the INFO names its content line's label (`stream_id`), else its people video.
   */
  async requestKeyFrame(participantId: string, streamId?: string): Promise<void> {
    const leg = this.#legs.get(participantId);
    if (streamId !== undefined && leg?.content && streamId === leg.content.label) {
      await this.#content.receiverAskedKeyFrame(leg);
      return;
    }
    const consumer = leg?.video?.consumer;
    if (consumer && !consumer.closed) await consumer.requestKeyFrame();
  }

  /** Who each SIP leg sees now (participant ids), for the console and tests. */
  videoRouting(): Record<string, string | null> {
    return this.#pictures.videoRouting();
  }

  /** Transcoders running now (source>codec keys): the cameras' for SIP legs, then the content's. */
  get transcoders(): string[] {
    return [...this.#pictures.transcoders, ...this.#content.transcoders];
  }

  // ------------------------------------------------------------------ muting

  /** Mutes a participant for everyone: out of the mix, and its audio producers paused (SFU). */
  async setMuted(participantId: string, muted: boolean): Promise<void> {
    const producers = this.#audioProducersOf(participantId);
    if (muted) this.#muted.add(participantId);
    else this.#muted.delete(participantId);
    this.#mixer.setMuted(participantId, muted);
    for (const producer of producers) await (muted ? producer.pause() : producer.resume());
  }

  async muteAll(muted: boolean, except?: string): Promise<void> {
    for (const id of [...this.#legs.keys(), ...this.#webPeers.keys()]) if (id !== except) await this.setMuted(id, muted);
  }

  #audioProducersOf(participantId: string): types.Producer[] {
    const leg = this.#legs.get(participantId);
    if (leg) return [leg.producer];
    const peer = this.#webPeers.get(participantId);
    if (peer) return peer.producers.filter((p) => p.kind === 'audio');
    throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: participantId, meeting: this.key });
  }

  /** Every producer browsers may consume (everyone's but the asking peer's own). */
  producers(except?: string): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const leg of this.#legs.values()) {
      if (leg.id === except) continue;
      out.push({ producerId: leg.meetingAudio.id, participantId: leg.id, displayName: leg.displayName, kind: 'audio' });
      if (leg.video) out.push({ producerId: leg.video.meetingProducer.id, participantId: leg.id, displayName: leg.displayName, kind: 'video' });
    }
    for (const peer of this.#webPeers.values()) {
      if (peer.id === except) continue;
      for (const producer of peer.producers) out.push({ producerId: producer.id, participantId: peer.id, displayName: peer.displayName, kind: producer.kind });
    }
    return out;
  }

  // ------------------------------------------------------------------ browsers (SFU)

  /** A browser joins; one outside the LAN (static NAT) gets ICE candidates on the public IP. */
  async addWebPeer(participantId: string, displayName: string, remoteAddress?: string): Promise<WebJoin> {
    this.#admit(participantId);
    this.#joining.add(participantId);
    try {
      const peer = await WebPeer.create(this.#parts, participantId, displayName, this.#networkFor(remoteAddress), () => this.removeParticipant(participantId, 'connection-lost'));
      if (this.#closed) {
        peer.close();
        throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: this.key });
      }
      this.#webPeers.set(participantId, peer);
      log.info({ meeting: this.key, participant: participantId }, 'browser joined');
      return { routerRtpCapabilities: this.router.rtpCapabilities, send: WebPeer.transportInfo(peer.send), recv: WebPeer.transportInfo(peer.recv), producers: this.producers(participantId), content: this.#content.info() };
    } finally {
      this.#joining.delete(participantId);
    }
  }

  #peer(participantId: string): WebPeer {
    const peer = this.#webPeers.get(participantId);
    if (!peer) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: participantId, meeting: this.key });
    return peer;
  }

  connectWebTransport(participantId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    return this.#peer(participantId).connect(transportId, dtlsParameters);
  }

  async produceWeb(participantId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<string> {
    const peer = this.#peer(participantId);
    const producer = await peer.produce(kind, rtpParameters, () => this.#muted.has(participantId));
    this.emit('newproducer', { producerId: producer.id, participantId, displayName: peer.displayName, kind });
    if (kind === 'video') this.#pictures.refresh();
    return producer.id;
  }

  async consumeWeb(participantId: string, producerId: string, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    const peer = this.#peer(participantId);
    // The content: as sent, or transcoded for a browser that cannot decode it (marked: closed when the presenter changes).
    if (producerId === this.#content.source()?.producer.id) return this.#content.consumeForBrowser(peer, rtpCapabilities);
    if (!this.router.canConsume({ producerId, rtpCapabilities })) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `this browser cannot receive producer ${producerId} (no common codec)` });
    }
    return peer.consume(producerId, rtpCapabilities);
  }

  /**
   * A browser shares its screen: its content producer (H.264 when it can, which SIP content
   * lines take as it is; the join page prefers it — VP8 is transcoded for them). Routed once the
   * browser holds the floor.
   */
  async produceWebContent(participantId: string, rtpParameters: types.RtpParameters): Promise<{ producerId: string; mimeType: string; reachesSip: boolean; cap: ContentCap }> {
    const peer = this.#peer(participantId);
    const producer = await peer.produceContent(rtpParameters);
    producer.observer.once('close', () => {
      if (!this.#closed) this.emit('producerclosed', producer.id, participantId);
    });
    const mimeType = producer.rtpParameters.codecs[0]?.mimeType ?? '';
    const sip = reachesSip(mimeType);
    log.info({ meeting: this.key, participant: participantId, codec: mimeType, presenter: this.#content.presenter === participantId }, 'browser shares content');
    if (sip && mimeType.toLowerCase() !== 'video/h264') log.info({ meeting: this.key, participant: participantId, codec: mimeType }, 'browser content is not H.264: it is transcoded to H.264 for SIP content lines');
    if (!sip) log.warn({ meeting: this.key, participant: participantId, codec: mimeType }, 'browser content is neither H.264 nor VP8: SIP terminals cannot receive it');
    this.#content.route();
    this.#pictures.refresh();
    const { width, height, fps, kbps } = this.#contentPolicy();
    return { producerId: producer.id, mimeType, reachesSip: sip, cap: { width, height, fps, kbps } };
  }

  /** A browser stopped sharing its screen (or lost the floor): its content producer closed; false when it shared none. */
  closeWebContent(participantId: string): boolean {
    const closed = this.#peer(participantId).closeContent();
    if (closed) {
      log.info({ meeting: this.key, participant: participantId }, 'browser stopped sharing content');
      this.#content.route();
      this.#pictures.refresh();
    }
    return closed;
  }

  /**
   * A browser takes the composed picture (VP8, the canvas size) instead of every camera: one
   * video stream to decode, for weak laptops (the join page's "composed view"); while another
   * participant presents, the content layout. Asked again, it replaces the browser's previous one.
   */
  async consumeComposedWeb(participantId: string, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    const peer = this.#peer(participantId);
    const producer = await this.#pictures.composedForBrowser(participantId, rtpCapabilities);
    // One composed picture per browser: the one it took before (the people, or the content layout) goes.
    for (const consumer of peer.consumers) if (consumer.appData.composed) consumer.close();
    return peer.consume(producer.id, rtpCapabilities, { composed: true });
  }

  async resumeWebConsumer(participantId: string, consumerId: string): Promise<void> {
    const consumer = this.#peer(participantId).consumer(consumerId);
    await consumer.resume();
    if (consumer.appData.composed) this.#pictures.composedResumed(consumer.producerId);
  }

  // ------------------------------------------------------------------ leaving

  /** Removes a participant (hang-up, removal, RTP timeout); emits participantclosed unless `quiet`. */
  removeParticipant(participantId: string, reason: string, quiet = false): boolean {
    const peer = this.#webPeers.get(participantId);
    const leg = peer ? undefined : this.#legs.get(participantId);
    if (!peer && !leg) return false;
    this.#muted.delete(participantId);
    if (peer) {
      this.#webPeers.delete(participantId);
      for (const producer of peer.producers) this.emit('producerclosed', producer.id, participantId);
      peer.close();
      this.#content.route();
    } else if (leg) {
      this.#legs.delete(participantId);
      this.emit('producerclosed', leg.meetingAudio.id, participantId);
      if (leg.video) this.emit('producerclosed', leg.video.meetingProducer.id, participantId);
      leg.close();
      if (leg.content) this.#content.route();
    }
    this.#pictures.participantLeft(participantId, !quiet);
    log.info({ meeting: this.key, participant: participantId, reason }, peer ? 'browser left' : 'participant left');
    if (!quiet) this.emit('participantclosed', participantId, reason);
    return true;
  }

  async #checkRtp(): Promise<void> {
    // Monotonic: a wall clock set forward must not look like minutes without RTP.
    const now = monotonicMs();
    for (const leg of [...this.#legs.values()]) {
      if (leg.holding) {
        leg.lastRtpAt = now; // on hold: the terminal sends nothing on purpose
        continue;
      }
      try {
        const [stats] = await leg.transport.getStats();
        const bytes = stats?.rtpBytesReceived ?? 0;
        if (bytes !== leg.lastRtpBytes) {
          leg.lastRtpBytes = bytes;
          leg.lastRtpAt = now;
        } else if (now - leg.lastRtpAt >= this.#options.rtpTimeoutMs() && this.#legs.get(leg.id) === leg) {
          this.removeParticipant(leg.id, 'rtp-timeout');
        }
      } catch {
        // The transport closed under us; removeParticipant has run or will.
      }
    }
  }

  /** Every participant's live figures (meeting-stats.ts). */
  /** The SIP legs now, with their notes and latest offers (a restarted control plane takes them over). */
  sipLegs(): Omit<SipLegInfo, 'meeting'>[] {
    return [...this.#legs.values()].map((leg) => ({ participantId: leg.id, displayName: leg.displayName, offer: leg.offer, answer: leg.lastAnswer, note: leg.note }));
  }

  async snapshot(): Promise<ParticipantSnapshot[]> {
    const out: ParticipantSnapshot[] = [];
    const now = monotonicMs();
    for (const leg of [...this.#legs.values()]) out.push(await sipLegSnapshot(leg, this.#muted.has(leg.id), now));
    for (const peer of [...this.#webPeers.values()]) out.push(await webPeerSnapshot(peer, this.#muted.has(peer.id), this.#worker.pid));
    return out;
  }

  /** Closes pictures, participants (quietly), the mixer and the router; once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#pictures.close();
    this.#content.close();
    for (const id of [...this.#legs.keys(), ...this.#webPeers.keys()]) this.removeParticipant(id, 'meeting-closed', true);
    this.#mixer.close();
    this.router.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
