/**
 * What a meeting's participants see (its focus and pictures): the composed pictures (MCU) in
 * the chosen layout, voice-activated forwarding (the dominant speakers, most recent first),
 * the console's broadcast and watch, the transcoders for legs that cannot decode a camera, and
 * the composed picture for browsers that ask for it. While someone presents (a SIP terminal or a
 * browser), SIP legs without a content line see the content layout (content big, people small)
 * in one picture shared by all of them — the content decoded once for the meeting —, and so do
 * browsers on the composed view (but the presenter); legs with a content line keep their people
 * picture (the content reaches them on their content line, content-routing.ts).
 * It reads who is in the meeting from its roster (the meeting) and tells each SIP leg what to
 * show; one refresh runs at a time.
 * `close()` ends the pictures and transcoders; idempotent.
 */
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';
import { CONTENT_INPUT, ComposedPicture, type PictureContent, type PictureParticipant, type PictureState } from '../mcu/composed-picture.ts';
import { effectiveLayout, type LayoutChoice } from '../mcu/layouts.ts';
import { terminalMaxHeight, type VideoPolicy } from '../mcu/video-policy.ts';
import type { SipLeg } from './sip-leg.ts';
import { videoCapabilities } from './sip-video.ts';
import { type TranscodeTarget, transcodeKey, VideoTranscoder } from './video-transcoder.ts';
import type { WebPeer } from './web-peer.ts';

const log = getLogger('meeting-pictures');

/** What the pictures read of their meeting. */
export interface PictureRoster {
  readonly key: string;
  readonly router: types.Router;
  /** The SIP legs and browsers in the meeting now. */
  legs(): readonly SipLeg[];
  peers(): readonly WebPeer[];
  isLeg(participantId: string): boolean;
  /** The call settings for composed video now. */
  policy(): VideoPolicy;
  /** A SIP terminal should send a key frame (its picture is newly shown): SIP INFO. */
  keyFrameNeeded(participantId: string): void;
  /** The content layout's compositor needs a key frame of the presentation (a SIP presenter is asked by SIP INFO). */
  contentKeyFrameNeeded(): void;
  /** The presentation now (the floor holder's content in the meeting router), if any. */
  content(): PictureContent | undefined;
}

/** The key of the content-layout picture (participant ids never start with '#'). */
const CONTENT_PICTURE = '#content';

export type MeetingPictureState = PictureState & { choice: LayoutChoice; pinned: string | null; pictures: number };

export class MeetingPictures {
  readonly #roster: PictureRoster;
  /** Dominant speakers, most recent first: who SIP legs see (voice-activated video). */
  #speakerOrder: string[] = [];
  #refresh: Promise<void> = Promise.resolve();
  readonly #transcoders = new Map<string, VideoTranscoder>();
  /**
   * The composed pictures (MCU) while the layout is not `single`: '' is the one everybody
   * shares; with self-view exclusion (small meetings) each SIP leg has its own, without itself;
   * during a presentation, CONTENT_PICTURE is the content layout every leg without a content
   * line shares (self-view exclusion does not apply to it: one content decode per meeting).
   */
  readonly #pictures = new Map<string, ComposedPicture>();
  readonly #picturesStarting = new Map<string, Promise<ComposedPicture | undefined>>();
  /** Browsers that asked for the composed picture instead of each camera: the output they consume. */
  readonly #composedWeb = new Map<string, string | undefined>();
  #layoutChoice: LayoutChoice = 'auto';
  #pinned: string | undefined;
  /** Broadcast a site: every other SIP terminal sees this participant full screen. */
  #broadcast: string | undefined;
  /** Watch a site: SIP terminal (key) sees that participant (value) full screen. */
  readonly #watching = new Map<string, string>();
  /** The SIP legs shown the content layout now. */
  #contentViewers = new Set<string>();
  #closed = false;

  constructor(roster: PictureRoster) {
    this.#roster = roster;
  }

  /** The mixer named a new dominant speaker. */
  dominantSpeaker(participantId: string): void {
    this.#speakerOrder = [participantId, ...this.#speakerOrder.filter((other) => other !== participantId)];
    this.refresh();
  }

  /**
   * A participant left: out of the speakers and the browsers on the composed picture; gone for
   * good (`dropFocus`) it takes its broadcast and watches with it (a rebuilt leg keeps them).
   */
  participantLeft(participantId: string, dropFocus: boolean): void {
    this.#composedWeb.delete(participantId);
    this.#speakerOrder = this.#speakerOrder.filter((id) => id !== participantId);
    if (dropFocus) {
      if (this.#broadcast === participantId) this.#broadcast = undefined;
      for (const [viewer, watched] of [...this.#watching]) if (viewer === participantId || watched === participantId) this.#watching.delete(viewer);
    }
    this.refresh();
  }

  /**
   * Video for SIP legs. With a composed layout (anything but `single`) every leg receives the
   * meeting's composed picture (MCU) in its codec and size — one encode per distinct (codec,
   * mode, size), shared. With `single` (or when the picture cannot start) video is
   * voice-activated forwarding: each leg receives the most recent dominant speaker other than
   * itself, through a transcoder when it cannot decode that camera's codec. The console's
   * "broadcast a site" and "watch a site" override both for the terminals concerned: they are
   * forwarded that participant's camera full screen (the broadcast site itself keeps the
   * meeting's picture). A change re-consumes (mediasoup asks the new source for a key frame; a
   * SIP source is also asked by SIP INFO). Runs one refresh at a time.
   */
  refresh(): void {
    if (this.#closed) return;
    this.#refresh = this.#refresh.then(() => this.#doRefresh()).catch((error: unknown) => {
      log.warn({ meeting: this.#roster.key, err: (error as Error).message }, 'video switch failed');
    });
  }

  /** Every video producer with its participant (SIP legs' cameras, browsers' cameras). */
  #videoSources(): { participantId: string; producer: types.Producer }[] {
    const out: { participantId: string; producer: types.Producer }[] = [];
    for (const leg of this.#roster.legs()) if (leg.video) out.push({ participantId: leg.id, producer: leg.video.meetingProducer });
    for (const peer of this.#roster.peers()) {
      for (const producer of peer.producers) if (producer.kind === 'video') out.push({ participantId: peer.id, producer });
    }
    return out;
  }

  /** Everyone in the meeting in join order, with their camera in the meeting router. */
  #participants(): PictureParticipant[] {
    const all: (PictureParticipant & { joinedAt: Date })[] = [];
    for (const leg of this.#roster.legs()) all.push({ id: leg.id, displayName: leg.displayName, joinedAt: leg.joinedAt, ...(leg.video ? { video: leg.video.meetingProducer } : {}) });
    for (const peer of this.#roster.peers()) {
      const camera = peer.camera;
      all.push({ id: peer.id, displayName: peer.displayName, joinedAt: peer.joinedAt, ...(camera ? { video: camera } : {}) });
    }
    return all.sort((a, b) => a.joinedAt.getTime() - b.joinedAt.getTime());
  }

  /**
   * The call settings for composed video changed: running pictures take the new polling at
   * once; a new canvas (max video resolution) or bitrate (per-call bandwidth) needs a new
   * encoder, so such a picture is replaced — its viewers see the new one from its first key
   * frame, without any renegotiation.
   */
  videoPolicyChanged(): void {
    if (this.#closed) return;
    const policy = this.#roster.policy();
    let replaced = false;
    for (const [key, picture] of [...this.#pictures]) {
      const sameCanvas = picture.canvas.width === policy.canvas.width && picture.canvas.height === policy.canvas.height && picture.canvas.fps === policy.canvas.fps;
      if (sameCanvas && picture.kbps === policy.kbps) {
        picture.setPolling(policy.polling);
        continue;
      }
      log.info({ meeting: this.#roster.key, picture: key || 'shared', canvas: policy.canvas, kbps: policy.kbps }, 'video settings changed: the composed picture restarts with them');
      this.#closePicture(key);
      replaced = true;
    }
    if (replaced) this.refresh();
  }

  /** A composed picture ('' shared, or a leg's own), started on first need; undefined if it cannot start (logged). */
  async #composedPicture(key: string): Promise<ComposedPicture | undefined> {
    const running = this.#pictures.get(key);
    if (running && !running.closed) return running;
    const pending = this.#picturesStarting.get(key);
    if (pending) return pending;
    const starting = ComposedPicture.create(this.#roster.router, {
      ...this.#roster.policy(),
      onKeyFrameNeeded: (id) => {
        if (id === CONTENT_INPUT) this.#roster.contentKeyFrameNeeded();
        else if (this.#roster.isLeg(id)) this.#roster.keyFrameNeeded(id);
      },
    })
      .then((picture) => {
        this.#pictures.set(key, picture);
        picture.onClose = () => {
          if (this.#pictures.get(key) === picture) this.#pictures.delete(key);
          this.refresh();
        };
        if (this.#closed) this.#closePicture(key);
        return picture;
      })
      .catch((error: unknown) => {
        log.error({ meeting: this.#roster.key, err: (error as Error).message }, 'the composed picture could not start; SIP legs get voice-activated video');
        return undefined;
      })
      .finally(() => this.#picturesStarting.delete(key));
    this.#picturesStarting.set(key, starting);
    return starting;
  }

  #closePicture(key: string): void {
    const picture = this.#pictures.get(key);
    if (!picture) return;
    picture.onClose = undefined;
    picture.close();
    this.#pictures.delete(key);
  }

  async #doRefresh(): Promise<void> {
    if (this.#closed) return;
    const participants = this.#participants();
    const policy = this.#roster.policy();
    const layout = effectiveLayout(this.#layoutChoice, participants.length, policy.limits);
    const videoLegs = this.#roster.legs().filter((leg) => leg.video && !leg.video.transport.closed);
    const sources = this.#videoSources();
    // Broadcast / watch: the camera a leg is made to see full screen, when that camera is there.
    const forcedSource = (legId: string) => {
      const wanted = this.#watching.get(legId) ?? (this.#broadcast !== legId ? this.#broadcast : undefined);
      return wanted === undefined || wanted === legId ? undefined : sources.find((s) => s.participantId === wanted && !s.producer.closed);
    };
    const composedLegs = layout !== 'single' && videoLegs.length > 0;
    // Self-view exclusion costs a picture per leg: only up to the admin's number of legs.
    const ownPictures = composedLegs && videoLegs.length <= policy.selfViewExclusionMax;
    // A presentation: legs that cannot take it on a content line see it in the content layout
    // (not the presenter itself; an admin's broadcast or watch still wins: it is an explicit
    // choice for that terminal).
    const content = this.#roster.content();
    const seesContentLayout = (leg: SipLeg) => content !== undefined && leg.id !== content.participantId && !leg.receivesContent && !forcedSource(leg.id);
    const pictureKeys = new Set<string>();
    for (const leg of videoLegs) {
      if (seesContentLayout(leg)) pictureKeys.add(CONTENT_PICTURE);
      else if (composedLegs && !forcedSource(leg.id)) pictureKeys.add(ownPictures ? leg.id : '');
    }
    for (const id of this.#composedWeb.keys()) pictureKeys.add(this.#composedKey(id, content));
    const pictures = new Map<string, ComposedPicture>();
    for (const key of pictureKeys) {
      const picture = await this.#composedPicture(key);
      if (!picture) continue;
      pictures.set(key, picture);
      const shown = key === '' || key === CONTENT_PICTURE ? participants : participants.filter((p) => p.id !== key);
      await picture.update({
        participants: shown,
        speaker: this.#speakerOrder[0],
        choice: this.#layoutChoice,
        pinned: this.#pinned,
        limits: policy.limits,
        content: key === CONTENT_PICTURE ? content : undefined,
      });
    }
    const contentPicture = pictures.get(CONTENT_PICTURE);
    this.#contentViewers = new Set(contentPicture ? videoLegs.filter(seesContentLayout).map((leg) => leg.id) : []);
    const rank = (id: string) => {
      const index = this.#speakerOrder.indexOf(id);
      return index < 0 ? Number.MAX_SAFE_INTEGER : index;
    };
    for (const leg of videoLegs) {
      const video = leg.video;
      if (!video) continue;
      const caps = videoCapabilities(video.chosen);
      const mode = video.chosen.parameters['packetization-mode'] === 0 ? 0 : 1;
      const forced = forcedSource(leg.id);
      // The content layout when it runs (else, as without a presentation).
      const picture = (this.#contentViewers.has(leg.id) ? contentPicture : undefined) ?? (composedLegs && !forced ? pictures.get(ownPictures ? leg.id : '') : undefined);
      let shown: types.Producer | undefined;
      let showingParticipant: string | undefined;
      if (picture) {
        const height = terminalMaxHeight(video.chosen.mimeType, video.chosen.parameters, picture.canvas.height);
        shown = await picture.output({ mimeType: video.chosen.mimeType, ...(video.chosen.mimeType === 'video/H264' ? { packetizationMode: mode } : {}), height });
        showingParticipant = 'composed';
      } else {
        const target = forced ?? sources.filter((s) => s.participantId !== leg.id && !s.producer.closed).sort((a, b) => rank(a.participantId) - rank(b.participantId))[0];
        // The camera as this leg can decode it: itself, or through a transcoder to its codec.
        shown = target?.producer;
        showingParticipant = target?.participantId;
        if (target && !this.#roster.router.canConsume({ producerId: target.producer.id, rtpCapabilities: caps })) {
          const wanted: TranscodeTarget = { mimeType: video.chosen.mimeType, ...(video.chosen.mimeType === 'video/H264' ? { packetizationMode: mode } : {}) };
          shown = await this.#transcoder(target.producer, wanted).catch((error: unknown) => {
            log.warn({ meeting: this.#roster.key, err: (error as Error).message }, 'could not start a transcoder');
            return undefined;
          });
        }
      }
      if (leg.isShowing(shown?.id)) continue;
      await leg.show(shown, showingParticipant);
      if (shown && showingParticipant && !picture && this.#roster.isLeg(showingParticipant)) this.#roster.keyFrameNeeded(showingParticipant);
    }
    const inUse = new Set(this.#roster.legs().map((l) => l.video?.showing).filter((id): id is string => id !== undefined));
    for (const producerId of this.#composedWeb.values()) if (producerId) inUse.add(producerId);
    // Outputs and transcoders nobody takes any more are stopped; pictures nobody needs end.
    for (const picture of pictures.values()) picture.releaseOutputs(inUse);
    for (const key of [...this.#pictures.keys()]) if (!pictures.has(key)) this.#closePicture(key);
    for (const [key, transcoder] of this.#transcoders) {
      if (!inUse.has(transcoder.producer.id) || transcoder.closed) {
        transcoder.close();
        this.#transcoders.delete(key);
      }
    }
  }

  async #transcoder(source: types.Producer, target: TranscodeTarget): Promise<types.Producer> {
    const key = transcodeKey(source.id, target);
    let transcoder = this.#transcoders.get(key);
    if (!transcoder || transcoder.closed) {
      transcoder = await VideoTranscoder.start(this.#roster.router, source, target);
      this.#transcoders.set(key, transcoder);
      const started = transcoder;
      // Ended by itself (no input for a while): the legs showing it choose again.
      started.onClose = () => {
        if (this.#transcoders.get(key) === started) this.#transcoders.delete(key);
        this.refresh();
      };
      if (this.#closed) started.close();
    }
    return transcoder.producer;
  }

  /** The picture a browser on the composed view sees: the content layout while another presents, else the meeting's. */
  #composedKey(participantId: string, content: PictureContent | undefined): string {
    return content !== undefined && content.participantId !== participantId ? CONTENT_PICTURE : '';
  }

  /**
   * The composed picture's VP8 output at the canvas size for a browser that asked for it
   * instead of each camera (one video stream to decode, for weak laptops): the content layout
   * while someone else presents (the page asks again when the presentation starts or ends).
   * It runs as one step of the refresh queue: no other refresh can release the output between
   * its making and its recording as this browser's, and the browser's previous output stays in
   * use until the new one is recorded (the next refresh releases it if nobody else takes it).
   */
  async composedForBrowser(participantId: string, rtpCapabilities: types.RtpCapabilities): Promise<types.Producer> {
    if (!this.#composedWeb.has(participantId)) this.#composedWeb.set(participantId, undefined);
    const asked = this.#refresh.then(async () => {
      // A switch that fails for a SIP leg (logged, as any refresh's) does not fail this browser's ask.
      await this.#doRefresh().catch((error: unknown) => log.warn({ meeting: this.#roster.key, err: (error as Error).message }, 'video switch failed'));
      const picture = this.#pictures.get(this.#composedKey(participantId, this.#roster.content())) ?? this.#pictures.get('');
      if (!picture || picture.closed) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the composed picture could not start' });
      const producer = await picture.output({ mimeType: 'video/VP8', height: picture.canvas.height });
      if (!this.#roster.router.canConsume({ producerId: producer.id, rtpCapabilities })) {
        throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'this browser cannot receive the composed picture (no VP8)' });
      }
      // Left while asking (participantLeft removed it): nothing is recorded for it.
      if (!this.#composedWeb.has(participantId)) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the participant left' });
      this.#composedWeb.set(participantId, producer.id);
      return producer;
    });
    this.#refresh = asked.then(
      () => undefined,
      () => {
        // A first ask that failed leaves nothing behind (an earlier output it still shows stays).
        if (this.#composedWeb.get(participantId) === undefined) this.#composedWeb.delete(participantId);
      },
    );
    const producer = await asked;
    this.refresh();
    return producer;
  }

  /** A browser started receiving the composed picture: it needs a key frame. */
  composedResumed(producerId: string): void {
    for (const picture of this.#pictures.values()) picture.keyFrame(producerId);
  }

  /** The meeting's layout (the console's layout picker) and who is pinned to the big pane. */
  setLayout(choice: LayoutChoice, pinned?: string | null): void {
    this.#layoutChoice = choice;
    this.#pinned = pinned ?? undefined;
    this.refresh();
  }

  /** Broadcast a site (null: stop): every other SIP terminal sees it full screen. */
  setBroadcast(participantId: string | null): void {
    this.#broadcast = participantId ?? undefined;
    this.refresh();
  }

  /** Watch a site: the SIP terminal `viewerId` sees `watchedId` full screen (null: the meeting's picture again). */
  setWatch(viewerId: string, watchedId: string | null): void {
    if (watchedId === null || watchedId === viewerId) this.#watching.delete(viewerId);
    else this.#watching.set(viewerId, watchedId);
    this.refresh();
  }

  /** Who is broadcast and who watches whom now. */
  get videoFocus(): { broadcast: string | null; watching: Record<string, string> } {
    return { broadcast: this.#broadcast ?? null, watching: Object.fromEntries(this.#watching) };
  }

  /**
   * The composed picture now (layout, who is in which pane, outputs) — the shared one, or the
   * one `participantId` sees — or null without one.
   */
  pictureState(participantId?: string): MeetingPictureState | null {
    const own = participantId ? (this.#contentViewers.has(participantId) ? this.#pictures.get(CONTENT_PICTURE) : this.#pictures.get(participantId)) : undefined;
    const picture = own ?? this.#pictures.get('') ?? [...this.#pictures.values()][0];
    if (!picture || picture.closed) return null;
    return { ...picture.state, choice: this.#layoutChoice, pinned: this.#pinned ?? null, pictures: this.#pictures.size };
  }

  /**
   * The latest changes reach the composed picture: milliseconds from then to the first
   * encoded frame showing them (the layout-change latency the benchmark reports).
   */
  async measurePictureChange(): Promise<number | undefined> {
    await this.#refresh;
    return (this.#pictures.get('') ?? [...this.#pictures.values()][0])?.measureChange();
  }

  /** Who each SIP leg sees now (participant ids), for the console and tests. */
  videoRouting(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const leg of this.#roster.legs()) {
      if (leg.video) out[leg.id] = leg.video.consumer && !leg.video.consumer.closed ? (leg.video.showingParticipant ?? null) : null;
    }
    return out;
  }

  /** Transcoders running now (source>codec keys), for tests and the console. */
  get transcoders(): string[] {
    return [...this.#transcoders.keys()];
  }

  /** Ends the transcoders and pictures; once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const transcoder of this.#transcoders.values()) transcoder.close();
    this.#transcoders.clear();
    for (const key of [...this.#pictures.keys()]) this.#closePicture(key);
  }
}
