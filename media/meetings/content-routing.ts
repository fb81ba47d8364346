/**
 * Where a meeting's presentation goes (issue #19): the presenter (the floor's holder,
 * `setPresenter`) sends content — a SIP leg's content line or a browser's shared screen — and
 * every other participant receives it in the form it can take.
 *
 * - **SIP content lines** (legs that take content: not the presenter, not declined or
 *   send-only) receive H.264 in their packetization mode, capped by the content policy
 *   (content-policy.ts: `call.maxContentResolution` and the call's bandwidth). The source is
 *   **forwarded as it is** when the line can take its codec and the source keeps within the
 *   cap: its size (learnt from its key frames by a probe, content-probe.ts) no larger than the
 *   cap and than the terminal's H.264 level, its highest frame rate no more than 1.5 × the
 *   cap's + 1, its highest bitrate no more than 1.5 × the content bitrate. Otherwise — another
 *   codec (a browser's VP8), another H.264 packetization mode, or over the cap — it is
 *   **transcoded**: one VideoTranscoder per (source, codec and mode, size, frame rate,
 *   bitrate), shared by every line that takes it. Until the probe knows the size (the first
 *   key frame, asked for at once; or the size it had when its presenter last presented) lines
 *   that could take the source as it is wait; a source whose size is still unknown after 3 s is
 *   transcoded. A source once seen over the cap stays
 *   transcoded (the peaks only grow), unless its size shrinks back within it.
 * - **Browsers** consume the source as it is when they can decode its codec, else a transcoded
 *   copy (VP8, else H.264) at the cap (`consumeForBrowser`); their consumers are marked as
 *   content and closed when the presenter or its content changes (they are told: `content`).
 * - Legs without a content line see the content in the content layout (meeting-pictures.ts;
 *   `source()` is what it shows).
 *
 * Routing runs one pass at a time, in order, browser consumption included; each pass stops the
 * transcoders nobody takes any more. A new policy (`policyChanged`) re-routes: the lines take
 * new transcoders at the new cap (from their first key frame), the old ones stop.
 * `close()` is idempotent: the probe and the transcoders end.
 */
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { monotonicMs } from '../../server/core/clock.ts';
import { getLogger } from '../../server/core/logger.ts';
import { terminalMaxHeight } from '../mcu/video-policy.ts';
import { ContentProbe, type ContentShape } from './content-probe.ts';
import type { ContentPolicy } from './content-policy.ts';
import type { ContentInfo, WebConsumerInfo } from './meeting-types.ts';
import type { SipLeg } from './sip-leg.ts';
import { videoCapabilities } from './sip-video.ts';
import { type TranscodeShape, type TranscodeTarget, VideoTranscoder } from './video-transcoder.ts';
import type { WebPeer } from './web-peer.ts';

const log = getLogger('content-routing');

/** How long lines that could take the source as it is wait for its size before it is transcoded for them. */
const SIZE_WAIT_MS = 3000;

/** What content routing reads of its meeting and tells it. */
export interface ContentRoster {
  readonly key: string;
  readonly router: types.Router;
  legs(): readonly SipLeg[];
  peers(): readonly WebPeer[];
  /** The content cap now (live settings). */
  policy(): ContentPolicy;
  /** A SIP presenter should send a content key frame (a probe, a transcoder or a receiver starts, a receiver asks): SIP INFO. */
  keyFrameNeeded(participantId: string): void;
  /** Who presents, or its content, changed (null: nobody presents): browsers are told. */
  tell(info: ContentInfo | null): void;
}

/** How one SIP content line receives the presentation now. */
export type ContentRoute = 'forwarded' | 'transcoded' | 'waiting' | 'none';

/** A transcoder of the presentation, for tests and the console. */
export interface ContentTranscoderState {
  readonly key: string;
  readonly source: string;
  readonly mimeType: TranscodeTarget['mimeType'];
  readonly packetizationMode?: 0 | 1;
  readonly maxWidth: number;
  readonly maxHeight: number;
  readonly fps: number;
  readonly kbps: number;
  /** SIP legs and browsers receiving it. */
  readonly receivers: string[];
}

export interface ContentRoutingState {
  readonly presenter: string | null;
  readonly source: { readonly producerId: string; readonly mimeType: string; readonly shape?: Omit<ContentShape, 'ageMs'> } | null;
  readonly policy: ContentPolicy;
  /** Each SIP leg with a content line: how it receives the presentation. */
  readonly routes: Record<string, ContentRoute>;
  readonly transcoders: ContentTranscoderState[];
}

interface RunningTranscoder {
  readonly transcoder: VideoTranscoder;
  readonly state: Omit<ContentTranscoderState, 'receivers'>;
}

/** The content's codec can reach SIP content lines (forwarded or transcoded to H.264). */
export function reachesSip(mimeType: string | null | undefined): boolean {
  const codec = mimeType?.toLowerCase();
  return codec === 'video/h264' || codec === 'video/vp8';
}

export class ContentRouting {
  readonly #roster: ContentRoster;
  #presenter: string | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  /** What browsers were last told (presenter and producer), so each change is told once. */
  #told = 'none';
  readonly #transcoders = new Map<string, RunningTranscoder>();
  #probe: ContentProbe | undefined;
  /** When each SIP presenter was last asked for a content key frame by SIP INFO. */
  readonly #askedAt = new Map<string, number>();
  /** Content producers' last seen sizes (#remember). */
  readonly #sizes = new Map<string, NonNullable<ContentShape['size']>>();
  /** How each SIP content line receives the presentation, as the last pass made it. */
  readonly #routes = new Map<string, ContentRoute>();
  #waitTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(roster: ContentRoster) {
    this.#roster = roster;
  }

  /** Who presents (null: nobody); true when it changed (then routed again). */
  setPresenter(participantId: string | null): boolean {
    if (this.#presenter === participantId) return false;
    this.#presenter = participantId;
    this.route();
    return true;
  }

  get presenter(): string | null {
    return this.#presenter;
  }

  /** The presenter's content producer in the meeting router (a SIP leg's content line, or a browser's shared screen), while it sends one. */
  source(): { participantId: string; producer: types.Producer } | undefined {
    const id = this.#presenter;
    if (id === null) return undefined;
    const producer = this.#roster.legs().find((l) => l.id === id)?.content?.meetingProducer ?? this.#roster.peers().find((p) => p.id === id)?.content;
    return producer && !producer.closed ? { participantId: id, producer } : undefined;
  }

  /** Who presents now, as browsers are told it. */
  info(): ContentInfo | null {
    const id = this.#presenter;
    if (id === null) return null;
    const who = this.#roster.legs().find((l) => l.id === id) ?? this.#roster.peers().find((p) => p.id === id);
    if (!who) return null;
    const source = this.source()?.producer;
    const mimeType = source?.rtpParameters.codecs[0]?.mimeType ?? null;
    return { participantId: id, displayName: who.displayName, producerId: source?.id ?? null, mimeType, reachesSip: reachesSip(mimeType) };
  }

  /** Brings every receiver in line with the presenter and the policy (queued: one pass at a time). */
  route(): void {
    if (this.#closed) return;
    this.#queue = this.#queue.then(() => this.#route()).catch((error: unknown) => log.warn({ meeting: this.#roster.key, err: (error as Error).message }, 'content routing failed'));
  }

  /** The content cap changed: lines take transcoders at the new cap; those at the old one stop. */
  policyChanged(): void {
    log.info({ meeting: this.#roster.key, policy: this.#roster.policy() }, 'content settings changed');
    this.route();
  }

  /**
   * A browser consumes the presentation: the source as it is when it decodes its codec, else a
   * transcoded copy it decodes (VP8, else H.264) at the cap. Marked as content (closed when the
   * presenter or its content changes). Runs in the routing queue.
   */
  consumeForBrowser(peer: WebPeer, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    const run = this.#queue.then(async () => {
      const source = this.source();
      if (this.#closed || !source) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'nobody presents content now' });
      let producer = source.producer;
      if (!this.#roster.router.canConsume({ producerId: producer.id, rtpCapabilities })) {
        const codecs = rtpCapabilities.codecs ?? [];
        const has = (mimeType: string, mode?: number) =>
          codecs.some((c) => c.mimeType.toLowerCase() === mimeType && (mode === undefined || c.parameters?.['packetization-mode'] === mode));
        const target: TranscodeTarget | undefined = has('video/vp8') ? { mimeType: 'video/VP8' } : has('video/h264', 1) ? { mimeType: 'video/H264', packetizationMode: 1 } : undefined;
        if (!target) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'this browser receives neither VP8 nor H.264: it cannot be sent the content' });
        const policy = this.#roster.policy();
        producer = await this.#transcoder(source, target, { maxWidth: policy.width, maxHeight: policy.height, fps: policy.fps, bitrate: policy.kbps * 1000, keyFrameInterval: policy.fps * policy.keyFrameSeconds });
        log.info({ meeting: this.#roster.key, participant: peer.id, codec: target.mimeType }, 'a browser takes the content transcoded');
      }
      const info = await peer.consume(producer.id, rtpCapabilities, { content: true, source: source.producer.id });
      peer.consumer(info.id).observer.once('close', () => this.route());
      return info;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The transcoders running now (keys), for tests and the console. */
  get transcoders(): string[] {
    return [...this.#transcoders.keys()];
  }

  /** How the presentation reaches each receiver now. */
  state(): ContentRoutingState {
    const source = this.source()?.producer;
    const probe = this.#probe && this.#probe.producerId === source?.id ? this.#probe.shape : undefined;
    const receivers = (producerId: string) => [
      ...this.#roster.legs().filter((l) => l.content?.showing === producerId && l.content.consumer && !l.content.consumer.closed).map((l) => l.id),
      ...this.#roster.peers().filter((p) => p.consumers.some((c) => c.producerId === producerId && !c.closed)).map((p) => p.id),
    ];
    return {
      presenter: this.#presenter,
      source: source
        ? { producerId: source.id, mimeType: source.rtpParameters.codecs[0]?.mimeType ?? '', ...(probe ? { shape: { size: probe.size, peakFps: probe.peakFps, peakKbps: probe.peakKbps } } : {}) }
        : null,
      policy: this.#roster.policy(),
      routes: Object.fromEntries(this.#routes),
      transcoders: [...this.#transcoders.values()].map(({ transcoder, state }) => ({ ...state, receivers: receivers(transcoder.producer.id) })),
    };
  }

  async #route(): Promise<void> {
    if (this.#closed) return;
    this.#tell();
    const source = this.source();
    await this.#watchSource(source);
    const policy = this.#roster.policy();
    const routes = new Map<string, ContentRoute>();
    let waiting = false;
    for (const leg of [...this.#roster.legs()]) {
      if (!leg.content || leg.closed) continue;
      let wanted: types.Producer | undefined;
      let route: ContentRoute = 'none';
      // Not to the presenter, nor to a content line declined since or offered send-only.
      if (source && leg.id !== source.participantId && leg.receivesContent) {
        try {
          ({ wanted, route } = await this.#forLeg(leg, source, policy));
        } catch (error) {
          log.warn({ meeting: this.#roster.key, participant: leg.id, err: (error as Error).message }, 'could not make the content for a content line');
        }
      }
      waiting ||= route === 'waiting';
      if (!leg.isShowingContent(wanted?.id)) {
        try {
          await leg.showContent(wanted);
          // A receiver starting on the presenter's own stream needs its key frame: PLI went with the consumer, SIP INFO too.
          if (route === 'forwarded' && source) this.keyFrameFromPresenter();
        } catch (error) {
          log.warn({ meeting: this.#roster.key, participant: leg.id, err: (error as Error).message }, 'could not send the content to a leg');
          route = 'none';
        }
      }
      routes.set(leg.id, route);
    }
    // What each line receives now (said once the pass has made it so).
    this.#routes.clear();
    for (const [id, route] of routes) this.#routes.set(id, route);
    clearTimeout(this.#waitTimer);
    if (waiting && this.#probe) {
      this.#waitTimer = setTimeout(() => this.route(), Math.max(100, SIZE_WAIT_MS + 100 - this.#probe.shape.ageMs));
      this.#waitTimer.unref();
    }
    this.#release();
  }

  /** The producer a content line receives, and how: the source as it is, a transcoder, or nothing yet (its size unknown). */
  async #forLeg(leg: SipLeg, source: { participantId: string; producer: types.Producer }, policy: ContentPolicy): Promise<{ wanted: types.Producer | undefined; route: ContentRoute }> {
    const content = leg.content;
    if (!content) return { wanted: undefined, route: 'none' };
    const terminalHeight = terminalMaxHeight('video/H264', content.chosen.parameters, policy.height);
    if (this.#roster.router.canConsume({ producerId: source.producer.id, rtpCapabilities: videoCapabilities(content.chosen) })) {
      const fits = this.#fits(source.producer, policy, terminalHeight);
      if (fits === 'yes') return { wanted: source.producer, route: 'forwarded' };
      if (fits === 'unknown') return { wanted: undefined, route: 'waiting' };
    }
    const mode = content.chosen.parameters['packetization-mode'] === 0 ? 0 : 1;
    const maxHeight = Math.min(policy.height, terminalHeight);
    const shape: TranscodeShape = {
      maxHeight,
      maxWidth: Math.round((policy.width * maxHeight) / policy.height / 2) * 2,
      fps: policy.fps,
      bitrate: policy.kbps * 1000,
      keyFrameInterval: policy.fps * policy.keyFrameSeconds,
    };
    return { wanted: await this.#transcoder(source, { mimeType: 'video/H264', packetizationMode: mode }, shape), route: 'transcoded' };
  }

  /** The source keeps within the cap for a line that takes at most `terminalHeight` lines: yes, no, or not known yet. */
  #fits(source: types.Producer, policy: ContentPolicy, terminalHeight: number): 'yes' | 'no' | 'unknown' {
    const probe = this.#probe && this.#probe.producerId === source.id ? this.#probe.shape : undefined;
    const size = probe?.size ?? this.#sizes.get(source.id);
    const { peakFps = 0, peakKbps = 0, ageMs = 0 } = probe ?? {};
    if (!size) return ageMs >= SIZE_WAIT_MS ? 'no' : 'unknown';
    if (size.width > policy.width || size.height > policy.height || size.height > terminalHeight) return 'no';
    if (peakFps > policy.fps * 1.5 + 1 || peakKbps > policy.kbps * 1.5) return 'no';
    return 'yes';
  }

  /** The probe follows the presenter's content (its size and rates decide forwarding, and say what is transcoded). */
  async #watchSource(source: { participantId: string; producer: types.Producer } | undefined): Promise<void> {
    const probed = source;
    if (this.#probe && (this.#probe.closed || this.#probe.producerId !== probed?.producer.id)) {
      this.#probe.close();
      this.#probe = undefined;
    }
    if (!probed || this.#probe) return;
    const presenter = probed.participantId;
    const isLeg = this.#roster.legs().some((l) => l.id === presenter);
    try {
      const probe = await ContentProbe.start(
        this.#roster.router,
        probed.producer,
        () => {
          this.#remember(probed.producer, probe.shape.size);
          this.route();
        },
        () => {
          if (isLeg) this.#askPresenter(presenter);
        },
      );
      this.#probe = probe;
    } catch (error) {
      log.warn({ meeting: this.#roster.key, err: (error as Error).message }, 'could not probe the content; SIP content lines get it transcoded');
    }
  }

  /**
   * The size a content producer was last seen at: a presenter presenting again is routed at once
   * on it (the probe measures afresh and re-routes if it changed); forgotten with the producer.
   */
  #remember(producer: types.Producer, size: ContentShape['size']): void {
    if (!size || producer.closed) return;
    if (!this.#sizes.has(producer.id)) producer.observer.once('close', () => this.#sizes.delete(producer.id));
    this.#sizes.set(producer.id, size);
  }

  /**
   * A receiver (a content line, the content layout's compositor) needs a key frame of the
   * presentation as sent: a SIP presenter is asked by SIP INFO too (PLI/FIR are mediasoup's).
   */
  keyFrameFromPresenter(): void {
    const source = this.source();
    if (source && this.#roster.legs().some((l) => l.id === source.participantId)) this.#askPresenter(source.participantId);
  }

  /** A content line's terminal asked for a key frame (SIP INFO naming its content stream): the stream it is sent makes one. */
  async receiverAskedKeyFrame(leg: SipLeg): Promise<void> {
    const consumer = leg.content?.consumer;
    if (!consumer || consumer.closed) return;
    await consumer.requestKeyFrame();
    if (leg.content?.showing === this.source()?.producer.id) this.keyFrameFromPresenter();
  }

  /** SIP INFO to a SIP presenter for a content key frame, at most one a second. */
  #askPresenter(participantId: string): void {
    const now = monotonicMs();
    if (now - (this.#askedAt.get(participantId) ?? 0) < 1000) return;
    this.#askedAt.set(participantId, now);
    this.#roster.keyFrameNeeded(participantId);
  }

  /** The running transcoder of `source` to `target` and `shape` (started on first need); its producer. */
  async #transcoder(source: { participantId: string; producer: types.Producer }, target: TranscodeTarget, shape: TranscodeShape): Promise<types.Producer> {
    const mode = target.mimeType === 'video/H264' ? `/${target.packetizationMode ?? 1}` : '';
    const kbps = Math.round((shape.bitrate ?? 0) / 1000);
    const key = `${source.producer.id}>${target.mimeType}${mode} ${shape.maxWidth}x${shape.maxHeight}@${shape.fps} ${kbps}k`;
    const running = this.#transcoders.get(key);
    if (running && !running.transcoder.closed) return running.transcoder.producer;
    const presenter = source.participantId;
    const isLeg = this.#roster.legs().some((l) => l.id === presenter);
    const transcoder = await VideoTranscoder.start(this.#roster.router, source.producer, target, {
      ...shape,
      key,
      onSourceKeyFrame: () => {
        if (isLeg) this.#askPresenter(presenter);
      },
    });
    if (this.#closed) {
      transcoder.close();
      throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: this.#roster.key });
    }
    const state: RunningTranscoder['state'] = {
      key,
      source: source.producer.id,
      mimeType: target.mimeType,
      ...(target.mimeType === 'video/H264' ? { packetizationMode: target.packetizationMode ?? 1 } : {}),
      maxWidth: shape.maxWidth ?? 0,
      maxHeight: shape.maxHeight ?? 0,
      fps: shape.fps ?? 0,
      kbps,
    };
    this.#transcoders.set(key, { transcoder, state });
    // Ended by itself (no input for a while): the receivers are routed again.
    transcoder.onClose = () => {
      if (this.#transcoders.get(key)?.transcoder === transcoder) this.#transcoders.delete(key);
      this.route();
    };
    log.info({ meeting: this.#roster.key, presenter, transcoder: state }, 'content transcoder started');
    return transcoder.producer;
  }

  /** Transcoders no content line or browser takes any more stop. */
  #release(): void {
    const inUse = new Set<string>();
    for (const leg of this.#roster.legs()) if (leg.content?.showing) inUse.add(leg.content.showing);
    for (const peer of this.#roster.peers()) for (const consumer of peer.consumers) if (consumer.appData.content && !consumer.closed) inUse.add(consumer.producerId);
    for (const [key, { transcoder }] of [...this.#transcoders]) {
      if (inUse.has(transcoder.producer.id) && !transcoder.closed) continue;
      this.#transcoders.delete(key);
      transcoder.onClose = undefined;
      transcoder.close();
      log.info({ meeting: this.#roster.key, transcoder: key }, 'content transcoder stopped (nobody takes it)');
    }
  }

  /** Browsers: consumers of content that is no longer the presentation are closed; each change is told once. */
  #tell(): void {
    const info = this.info();
    for (const peer of this.#roster.peers()) {
      for (const consumer of peer.consumers) if (consumer.appData.content && consumer.appData.source !== info?.producerId) consumer.close();
    }
    const told = info ? `${info.participantId}/${info.producerId ?? ''}` : 'none';
    if (told === this.#told) return;
    this.#told = told;
    const source = this.source()?.producer;
    if (source) {
      const mimeType = source.rtpParameters.codecs[0]?.mimeType ?? '';
      const forSip = mimeType.toLowerCase() === 'video/h264' ? 'forwarded to SIP content lines within the content cap, else transcoded' : 'transcoded to H.264 for SIP content lines';
      log.info({ meeting: this.#roster.key, presenter: this.#presenter, codec: mimeType }, `content from the presenter: ${forSip}`);
    }
    this.#roster.tell(info);
  }

  /** Ends the probe and the transcoders; once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#waitTimer);
    this.#probe?.close();
    this.#probe = undefined;
    this.#sizes.clear();
    for (const { transcoder } of this.#transcoders.values()) {
      transcoder.onClose = undefined;
      transcoder.close();
    }
    this.#transcoders.clear();
  }
}
