/**
 * One meeting's composed picture (MCU): every participant's camera consumed from the meeting
 * router into the compositor (one PlainTransport each, paused while polling keeps it off the
 * picture, simulcast layer chosen by the pane's size), audio-only participants as "no video"
 * panes, all placed by the layout and the pane assignment, names captioned, the speaker
 * highlighted. Encoded once per distinct (codec, H.264 mode, height) and produced back into
 * the router, where any number of SIP legs consume the same output. Layout changes, joins and
 * leaves are pane moves in the running compositor: no call is renegotiated.
 * With content (a presentation, for terminals without a content line) the picture shows the
 * content layout: the presenter's content in the big pane (one input, decoded once here for
 * every receiver of the picture, its aspect ratio kept), the people in the small panes.
 * `close()` is idempotent: the process, the transports and the producers go.
 */
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import { getLogger } from '../../server/core/logger.ts';
import { createError } from '../../server/core/errors.ts';
import { VIDEO_FEEDBACK } from '../rtp/rtcp-feedback.ts';
import { type Canvas, type CompositorOutput, CompositorProcess } from './compositor-process.ts';
import { contentLayout, effectiveLayout, type Layout, type LayoutChoice, type LayoutLimits, type Pane, panes } from './layouts.ts';
import { PaneAssignment, type PollingRule } from './pane-assignment.ts';
import { monotonicMs } from '../../server/core/clock.ts';
import { internalListenInfo } from '../rtp/internal-ports.ts';

const log = getLogger('composed-picture');

export interface PictureParticipant {
  readonly id: string;
  readonly displayName: string;
  /** The camera in the meeting router (none: audio only, a placeholder pane). */
  readonly video?: types.Producer;
}

/** A presentation shown in the big pane: the presenter's content producer in the meeting router. */
export interface PictureContent {
  readonly participantId: string;
  readonly producer: types.Producer;
}

/** The compositor input id of the content (participant ids never start with '#'). */
export const CONTENT_INPUT = '#content';

export interface PictureTarget {
  readonly mimeType: 'video/VP8' | 'video/H264';
  readonly packetizationMode?: 0 | 1;
  /** The largest height the receiving terminal takes (bounded by the canvas). */
  readonly height: number;
}

export interface ComposedPictureOptions {
  readonly canvas: Canvas;
  /** Encoder bitrate for an output of the canvas's height (smaller outputs scale it down). */
  readonly kbps: number;
  readonly limits: LayoutLimits;
  readonly polling: { readonly intervalMs: number; readonly rule: PollingRule };
  /** A SIP camera should send a key frame (its picture is newly shown): SIP INFO as well. */
  readonly onKeyFrameNeeded?: (participantId: string) => void;
}

interface Input {
  readonly participantId: string;
  readonly producerId: string | undefined;
  readonly transport?: types.PlainTransport;
  readonly consumer?: types.Consumer;
  shown: boolean;
  decoded: boolean;
  /** The content input's watchdog: started afresh when it decodes nothing in time. */
  watchdog?: NodeJS.Timeout;
}

/** The content input must decode a frame within this (doubling at each fresh start, at most 8×) or it starts afresh. */
const CONTENT_FIRST_FRAME_MS = 5000;

interface Output {
  readonly id: string;
  readonly producer: types.Producer;
  readonly transport: types.PlainTransport;
  /** What the compositor was told (to tell a restarted one the same). */
  readonly spec: CompositorOutput;
  /** The loopback port the compositor sends it from (the transport latched onto it). */
  sourcePort: number;
  lastKeyFrameAt: number;
  /** A key frame asked for within the rate limit, sent when it ends. */
  pendingKeyFrame?: NodeJS.Timeout;
}

export interface PictureState {
  readonly layout: Layout;
  readonly panes: (Pane & { participantId: string })[];
  /** The content layout: the presenter whose content fills the big pane (absent otherwise). */
  readonly content?: Pane & { participantId: string };
  readonly outputs: string[];
  /** The compositor's process id (operators, tests). */
  readonly pid?: number;
  /** Key frames asked of the encoders so far (new receivers, their PLI/FIR or SIP INFO). */
  readonly keyFrames?: number;
}

export class ComposedPicture {
  readonly #router: types.Router;
  #compositor: CompositorProcess;
  /** When the compositor died recently (restarts are bounded: a crash loop ends the picture). */
  readonly #crashes: number[] = [];
  readonly #options: ComposedPictureOptions;
  readonly #assignment: PaneAssignment;
  readonly #inputs = new Map<string, Input>();
  readonly #outputs = new Map<string, Output>();
  /** Outputs being made: a second request for the same one waits for it instead of making a twin the compositor does not feed. */
  readonly #outputsStarting = new Map<string, Promise<types.Producer>>();
  #pollTimer: NodeJS.Timeout;
  /** A refresh again soon: an input that is wanted could not be added (the compositor was slow or refused). */
  #retryTimer: NodeJS.Timeout | undefined;
  /** Failed adds in a row: the retry backs off (1 s, 2 s, 4 s … at most 30 s); an input added resets it. */
  #failures = 0;
  /** Fresh starts of the content input in a row that decoded nothing (its watchdog backs off); a decoded frame resets it. */
  #contentRestarts = 0;
  #pollingMs: number;
  #participants: PictureParticipant[] = [];
  #speaker: string | undefined;
  #choice: LayoutChoice = 'auto';
  #pinned: string | undefined;
  #content: PictureContent | undefined;
  /** The admin's layout maxima (live: each update may bring new ones). */
  #limits: LayoutLimits;
  #state: PictureState = { layout: 'single', panes: [], outputs: [] };
  #update: Promise<void> = Promise.resolve();
  #keyFrames = 0;
  #closed = false;
  /** Called once when the picture ends (by itself or by close()). */
  onClose: (() => void) | undefined;

  static async create(router: types.Router, options: ComposedPictureOptions): Promise<ComposedPicture> {
    const compositor = await CompositorProcess.start(options.canvas);
    return new ComposedPicture(router, compositor, options);
  }

  private constructor(router: types.Router, compositor: CompositorProcess, options: ComposedPictureOptions) {
    this.#router = router;
    this.#compositor = compositor;
    this.#options = options;
    this.#assignment = new PaneAssignment(options.polling.rule);
    this.#limits = options.limits;
    this.#watch(compositor);
    this.#pollingMs = options.polling.intervalMs;
    this.#pollTimer = this.#startPolling(options.polling.intervalMs);
    log.info({ pid: compositor.pid, canvas: options.canvas }, 'composed picture started');
  }

  #watch(compositor: CompositorProcess): void {
    compositor.on('inputframe', (id) => {
      const input = this.#inputs.get(id);
      if (input) input.decoded = true;
      if (id === CONTENT_INPUT) this.#contentRestarts = 0;
    });
    compositor.on('inputerror', (id) => {
      // The stream could not be decoded: drop it; the next refresh adds it again.
      const input = this.#inputs.get(id);
      if (input) this.#dropInput(input);
      this.#refresh();
    });
    compositor.on('exit', () => {
      if (!this.#closed && compositor === this.#compositor) this.#update = this.#update.then(() => this.#restart());
    });
  }

  /**
   * The compositor died: a new one takes over the same outputs — same SSRC, sent from the same
   * port, so the producers and every receiver's consumer go on (no SSRC change, no
   * renegotiation) — and the cameras are consumed into it again. Three deaths within a
   * minute end the picture instead (its owner decides what next).
   */
  async #restart(): Promise<void> {
    const now = monotonicMs();
    this.#crashes.push(now);
    while ((this.#crashes[0] ?? now) < now - 60_000) this.#crashes.shift();
    if (this.#crashes.length > 3) {
      log.error({ crashes: this.#crashes.length }, 'the compositor keeps dying; the picture ends');
      this.close();
      return;
    }
    log.warn('the compositor died; starting another for the same picture');
    for (const input of [...this.#inputs.values()]) this.#dropInput(input);
    try {
      const compositor = await CompositorProcess.start(this.#options.canvas);
      if (this.#closed) {
        compositor.close();
        return;
      }
      this.#compositor = compositor;
      this.#watch(compositor);
      for (const output of this.#outputs.values()) {
        // The new encoder starts its own RTP sequence: pausing and resuming the producer makes
        // every consumer re-sync at the next key frame, so receivers see one continuous stream.
        await output.producer.pause();
        output.sourcePort = await compositor.addOutput(output.id, output.spec, output.sourcePort);
        await output.producer.resume();
        output.lastKeyFrameAt = 0;
        this.keyFrame(output.producer.id);
      }
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not restart the compositor; the picture ends');
      this.close();
      return;
    }
    await this.#apply();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get canvas(): Canvas {
    return this.#options.canvas;
  }

  /** The encoder bitrate for an output of the canvas's height. */
  get kbps(): number {
    return this.#options.kbps;
  }

  #startPolling(intervalMs: number): NodeJS.Timeout {
    const timer = setInterval(() => {
      this.#assignment.poll();
      this.#refresh();
    }, intervalMs);
    timer.unref();
    return timer;
  }

  /** The admin's polling interval and rule, taken by the running picture (the next rotation uses them). */
  setPolling(polling: { readonly intervalMs: number; readonly rule: PollingRule }): void {
    if (this.#closed) return;
    this.#assignment.rule = polling.rule;
    if (polling.intervalMs === this.#pollingMs) return;
    clearInterval(this.#pollTimer);
    this.#pollingMs = polling.intervalMs;
    this.#pollTimer = this.#startPolling(polling.intervalMs);
  }

  get state(): PictureState {
    return { ...this.#state, ...(this.#compositor.pid ? { pid: this.#compositor.pid } : {}), keyFrames: this.#keyFrames };
  }

  /**
   * What the picture shows: everyone in the meeting in join order, the current speaker, the
   * meeting's layout choice and the participant pinned to the big pane; with `content`, the
   * content layout (the presentation big, the people small).
   */
  update(view: {
    participants: readonly PictureParticipant[];
    speaker: string | undefined;
    choice: LayoutChoice;
    pinned: string | undefined;
    limits?: LayoutLimits;
    content?: PictureContent | undefined;
  }): Promise<void> {
    this.#participants = [...view.participants];
    this.#content = view.content;
    if (view.limits) this.#limits = view.limits;
    this.#speaker = view.speaker;
    this.#choice = view.choice;
    this.#pinned = view.pinned;
    return this.#refresh();
  }

  /** The layout the picture shows now for `participants` people (the meeting's choice, capped). */
  layoutFor(participants: number): Layout {
    return effectiveLayout(this.#choice, participants, this.#limits);
  }

  /**
   * The changes so far reach the picture; resolves with the milliseconds from then to the
   * first encoded frame that shows them (undefined without a running output).
   */
  async measureChange(): Promise<number | undefined> {
    await this.#update;
    return this.#compositor.commit();
  }

  /** The producer carrying the picture as `target` decodes it (made on first request; one per codec, mode and height). */
  output(target: PictureTarget): Promise<types.Producer> {
    const canvas = this.#options.canvas;
    const height = Math.min(canvas.height, Math.max(144, target.height)) & ~1;
    const h264 = target.mimeType === 'video/H264';
    const mode = h264 ? (target.packetizationMode ?? 1) : 1;
    const id = `${h264 ? 'H264' : 'VP8'}-${mode}-${height}`;
    const existing = this.#outputs.get(id);
    if (existing && !existing.producer.closed) return Promise.resolve(existing.producer);
    const starting = this.#outputsStarting.get(id);
    if (starting) return starting;
    const made = this.#makeOutput(id, target.mimeType, mode, height).finally(() => this.#outputsStarting.delete(id));
    this.#outputsStarting.set(id, made);
    return made;
  }

  async #makeOutput(id: string, mimeType: PictureTarget['mimeType'], mode: number, height: number): Promise<types.Producer> {
    const canvas = this.#options.canvas;
    const width = Math.round((height * canvas.width) / canvas.height / 2) * 2;
    const h264 = mimeType === 'video/H264';
    const transport = await this.#router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: true, comedia: true });
    try {
      const ssrc = randomInt(1, 0x7fffffff);
      const payloadType = h264 ? 125 : 124;
      const producer = await transport.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [
            {
              mimeType,
              payloadType,
              clockRate: 90000,
              parameters: h264 ? { 'packetization-mode': mode, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } : {},
              rtcpFeedback: VIDEO_FEEDBACK,
            },
          ],
          encodings: [{ ssrc }],
        },
        appData: { composed: id },
      });
      const kbps = Math.max(128, Math.round((this.#options.kbps * height) / canvas.height));
      const spec: CompositorOutput = { codec: h264 ? 'H264' : 'VP8', payloadType, ssrc, port: transport.tuple.localPort, kbps, width, height, packetizationMode: mode as 0 | 1 };
      const sourcePort = await this.#compositor.addOutput(id, spec);
      if (this.#closed) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the composed picture ended while its output was being made' });
      this.#outputs.set(id, { id, producer, transport, spec, sourcePort, lastKeyFrameAt: 0 });
      // Whenever mediasoup asks this output for a key frame (a new consumer, a receiver's PLI or
      // FIR, a pipe to another router), the encoder makes one.
      await producer.enableTraceEvent(['pli', 'fir']);
      producer.on('trace', () => this.keyFrame(producer.id));
      this.#state = { ...this.#state, outputs: [...this.#outputs.keys()] };
      return producer;
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /**
   * A receiver lost the picture or just started: the output's next frame is a key frame. At
   * most one every 300 ms per output; a request inside that window is served when it ends.
   */
  keyFrame(producerId: string): void {
    for (const output of this.#outputs.values()) {
      if (output.producer.id !== producerId || output.pendingKeyFrame) continue;
      // Monotonic: a wall clock set back must not hold key frames back until it catches up.
      const wait = output.lastKeyFrameAt + 300 - monotonicMs();
      const send = () => {
        output.pendingKeyFrame = undefined;
        output.lastKeyFrameAt = monotonicMs();
        this.#keyFrames++;
        this.#compositor.keyframe(output.id);
      };
      if (wait <= 0) send();
      else {
        output.pendingKeyFrame = setTimeout(send, wait);
        output.pendingKeyFrame.unref();
      }
    }
  }

  /** Outputs no receiver uses any more stop encoding. */
  releaseOutputs(inUse: ReadonlySet<string>): void {
    for (const [id, output] of this.#outputs) {
      if (inUse.has(output.producer.id)) continue;
      clearTimeout(output.pendingKeyFrame);
      this.#compositor.dropOutput(id);
      output.transport.close();
      this.#outputs.delete(id);
    }
    this.#state = { ...this.#state, outputs: [...this.#outputs.keys()] };
  }

  get outputCount(): number {
    return this.#outputs.size;
  }

  #refresh(): Promise<void> {
    this.#update = this.#update.then(() => this.#apply()).catch((error: unknown) => {
      if (!this.#closed) log.warn({ err: (error as Error).message }, 'picture update failed');
    });
    return this.#update;
  }

  async #apply(): Promise<void> {
    if (this.#closed) return;
    const participants = this.#participants;
    const ids = participants.map((p) => p.id);
    const content = this.#content && !this.#content.producer.closed ? this.#content : undefined;
    // Inputs of those who left, or whose camera changed, go; so does content that ended or changed.
    for (const input of [...this.#inputs.values()]) {
      if (input.participantId === CONTENT_INPUT) {
        if (input.producerId !== content?.producer.id || input.consumer?.closed) this.#dropInput(input);
        continue;
      }
      const participant = participants.find((p) => p.id === input.participantId);
      if (!participant || participant.video?.id !== input.producerId || input.consumer?.closed) this.#dropInput(input);
    }
    const peopleLayout = this.layoutFor(participants.length);
    const layout = content ? contentLayout(peopleLayout, participants.length, this.#limits) : peopleLayout;
    const allRects = panes(layout, this.#options.canvas.width, this.#options.canvas.height);
    // The content layout: the big pane is the content's; the people take the small ones.
    const contentRect = content ? allRects[0] : undefined;
    const rects = contentRect ? allRects.slice(1) : allRects;
    const shown = contentRect ? this.#assignment.assignBeside(rects.length, ids, this.#speaker, this.#pinned) : this.#assignment.assign(layout, ids, this.#speaker, this.#pinned);
    let contentPane: PictureState['content'];
    if (content && contentRect) {
      const input = this.#inputs.get(CONTENT_INPUT) ?? (await this.#addContentInput(content));
      if (input) {
        this.#compositor.place(CONTENT_INPUT, contentRect, 0);
        if (!input.shown && input.consumer?.paused) {
          await input.consumer.resume();
          this.#askKeyFrame(input);
        }
        input.shown = true;
        contentPane = { ...contentRect, participantId: content.participantId };
      }
    }
    const placed: PictureState['panes'] = [];
    for (const [index, participantId] of shown.entries()) {
      const rect = rects[index];
      const participant = participants.find((p) => p.id === participantId);
      if (!rect || !participant) continue;
      const input = this.#inputs.get(participantId) ?? (await this.#addInput(participant, rect));
      if (!input) continue;
      this.#compositor.place(participantId, rect, rect.big ? 0 : 1);
      this.#compositor.highlight(participantId, !rect.big && participantId === this.#speaker && layout !== 'single');
      if (input.consumer) {
        const layer = rect.height <= 200 ? 0 : rect.height <= 400 ? 1 : 2;
        if (input.consumer.type === 'simulcast') await input.consumer.setPreferredLayers({ spatialLayer: layer }).catch(() => undefined);
        if (!input.shown && input.consumer.paused) {
          await input.consumer.resume();
          this.#askKeyFrame(input);
        }
      }
      input.shown = true;
      placed.push({ ...rect, participantId });
    }
    // The rest are off the picture: hidden, and their cameras paused (nothing to decode).
    for (const input of this.#inputs.values()) {
      if (shown.includes(input.participantId) || (input.participantId === CONTENT_INPUT && contentPane)) continue;
      this.#compositor.place(input.participantId, undefined);
      if (input.shown) await input.consumer?.pause();
      input.shown = false;
    }
    this.#state = { layout, panes: placed, ...(contentPane ? { content: contentPane } : {}), outputs: [...this.#outputs.keys()] };
  }

  /** The presenter's content as an input (H.264 as terminals send it; VP8 taken too). */
  async #addContentInput(content: PictureContent): Promise<Input | undefined> {
    const transport = await this.#router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: false, comedia: false });
    try {
      const consumer = await transport.consume({ producerId: content.producer.id, rtpCapabilities: this.#router.rtpCapabilities, paused: true });
      const codec = consumer.rtpParameters.codecs[0];
      if (!codec) throw new Error('the content has no codec');
      const ports = await this.#compositor.addInput(CONTENT_INPUT, codec.mimeType === 'video/H264' ? 'H264' : 'VP8', codec.payloadType, undefined);
      await transport.connect({ ip: '127.0.0.1', port: ports.rtp, rtcpPort: ports.rtcp });
      const input: Input = { participantId: CONTENT_INPUT, producerId: content.producer.id, transport, consumer, shown: false, decoded: false };
      this.#inputs.set(CONTENT_INPUT, input);
      this.#failures = 0;
      // A decoder that garbage left stuck (no error, no frame: e.g. timestamps or parameter sets it
      // waits on forever) would hold the big pane black for the rest of the presentation: an input
      // that decodes nothing in time starts afresh (a new branch, key frames asked again).
      const wait = CONTENT_FIRST_FRAME_MS * 2 ** Math.min(this.#contentRestarts, 3);
      input.watchdog = setTimeout(() => {
        if (this.#closed || input.decoded || this.#inputs.get(CONTENT_INPUT) !== input) return;
        this.#contentRestarts += 1;
        log.warn({ presenter: content.participantId, waitedMs: wait }, 'the content decoded nothing in time: its input starts afresh');
        this.#dropInput(input);
        this.#refresh();
      }, wait);
      input.watchdog.unref();
      consumer.observer.once('close', () => {
        if (this.#inputs.get(CONTENT_INPUT) === input) this.#refresh();
      });
      return input;
    } catch (error) {
      transport.close();
      log.warn({ presenter: content.participantId, err: (error as Error).message }, 'could not add the content to the picture; trying again');
      this.#retrySoon();
      return undefined;
    }
  }

  async #addInput(participant: PictureParticipant, rect: Pane): Promise<Input | undefined> {
    const producer = participant.video;
    if (!producer || producer.closed) {
      this.#compositor.addPlaceholder(participant.id, participant.displayName);
      const input: Input = { participantId: participant.id, producerId: undefined, shown: false, decoded: true };
      this.#inputs.set(participant.id, input);
      return input;
    }
    const transport = await this.#router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: false, comedia: false });
    try {
      const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: this.#router.rtpCapabilities, paused: true });
      const codec = consumer.rtpParameters.codecs[0];
      if (!codec) throw new Error('the camera has no codec');
      const ports = await this.#compositor.addInput(participant.id, codec.mimeType === 'video/H264' ? 'H264' : 'VP8', codec.payloadType, participant.displayName);
      await transport.connect({ ip: '127.0.0.1', port: ports.rtp, rtcpPort: ports.rtcp });
      if (consumer.type === 'simulcast') await consumer.setPreferredLayers({ spatialLayer: rect.height <= 200 ? 0 : rect.height <= 400 ? 1 : 2 });
      const input: Input = { participantId: participant.id, producerId: producer.id, transport, consumer, shown: false, decoded: false };
      this.#inputs.set(participant.id, input);
      this.#failures = 0;
      consumer.observer.once('close', () => {
        if (this.#inputs.get(participant.id) === input) this.#refresh();
      });
      return input;
    } catch (error) {
      transport.close();
      log.warn({ participant: participant.id, err: (error as Error).message }, 'could not add a camera to the picture; trying again');
      this.#retrySoon();
      return undefined;
    }
  }

  /** One refresh later (one pending at a time, backing off): what could not be added is tried again while it is still wanted. */
  #retrySoon(): void {
    if (this.#closed || this.#retryTimer) return;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.#failures, 5));
    this.#failures += 1;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#refresh();
    }, delay);
    this.#retryTimer.unref();
  }

  /** Key frames from a camera newly on the picture: asked until its first frame decodes. */
  #askKeyFrame(input: Input): void {
    input.decoded = false;
    const ask = (attempt: number) => {
      if (this.#closed || input.decoded || !input.shown || input.consumer?.closed || attempt > 8) return;
      void input.consumer?.requestKeyFrame().catch(() => undefined);
      this.#options.onKeyFrameNeeded?.(input.participantId);
      setTimeout(() => ask(attempt + 1), 400).unref();
    };
    ask(0);
  }

  #dropInput(input: Input): void {
    clearTimeout(input.watchdog);
    this.#compositor.remove(input.participantId);
    input.transport?.close();
    this.#inputs.delete(input.participantId);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#retryTimer);
    this.#compositor.close();
    for (const input of this.#inputs.values()) {
      clearTimeout(input.watchdog);
      input.transport?.close();
    }
    for (const output of this.#outputs.values()) {
      clearTimeout(output.pendingKeyFrame);
      output.transport.close();
    }
    this.#inputs.clear();
    this.#outputs.clear();
    this.onClose?.();
    log.info('composed picture closed');
  }
}
