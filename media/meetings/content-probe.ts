/**
 * What a presentation really is, learnt from its RTP without decoding it (content-routing.ts
 * decides from it whether SIP content lines may take the source as it is): the picture size
 * from its key frames (H.264 sequence parameter sets, VP8 key-frame headers:
 * ../rtp/video-shape.ts), and the highest frame rate (distinct RTP timestamps) and bitrate seen
 * over windows of a few seconds. The presenter's content producer is consumed on a mediasoup
 * DirectTransport of the meeting router (packets come to this process over the worker's
 * channel; a few hundred a second at most for content); a key frame is asked for at once and
 * again every 500 ms until the size is known (8 times at most). `onChange` runs when the size is learnt or
 * changes, and when a new highest frame rate or bitrate is seen. `close()` is idempotent.
 */
import type { types } from 'mediasoup';
import { monotonicMs } from '../../server/core/clock.ts';
import { getLogger } from '../../server/core/logger.ts';
import { h264PayloadSize, readRtp, type VideoSize, vp8PayloadSize } from '../rtp/video-shape.ts';

const log = getLogger('content-probe');

/** The window the frame rate and bitrate are measured over (ms); a measure needs a full one. */
const WINDOW_MS = 3000;

export interface ContentShape {
  /** The picture size of the latest key frame (undefined until one was seen). */
  readonly size: VideoSize | undefined;
  /** The highest frame rate and bitrate (kbit/s) over a full window so far (0 before one). */
  readonly peakFps: number;
  readonly peakKbps: number;
  /** Milliseconds since the probe started. */
  readonly ageMs: number;
}

export class ContentProbe {
  readonly producerId: string;
  readonly #transport: types.DirectTransport;
  readonly #consumer: types.Consumer;
  readonly #h264: boolean;
  readonly #startedAt = monotonicMs();
  readonly #onChange: () => void;
  readonly #askKeyFrame: () => void;
  #size: VideoSize | undefined;
  #peakFps = 0;
  #peakKbps = 0;
  #windowStart = 0;
  #windowFrames = 0;
  #windowBytes = 0;
  #lastTimestamp: number | undefined;
  #asking: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * Starts probing `source` (a producer of `router`); `askKeyFrame` also asks the presenter
   * another way (SIP INFO to a terminal) besides the consumer's PLI/FIR.
   */
  static async start(router: types.Router, source: types.Producer, onChange: () => void, askKeyFrame: () => void = () => undefined): Promise<ContentProbe> {
    const transport = await router.createDirectTransport({ appData: { contentProbe: source.id } });
    try {
      const consumer = await transport.consume({ producerId: source.id, rtpCapabilities: router.rtpCapabilities, appData: { contentProbe: true } });
      const mimeType = consumer.rtpParameters.codecs[0]?.mimeType.toLowerCase() ?? '';
      return new ContentProbe(source.id, transport, consumer, mimeType === 'video/h264', onChange, askKeyFrame);
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  private constructor(producerId: string, transport: types.DirectTransport, consumer: types.Consumer, h264: boolean, onChange: () => void, askKeyFrame: () => void) {
    this.producerId = producerId;
    this.#transport = transport;
    this.#consumer = consumer;
    this.#h264 = h264;
    this.#onChange = onChange;
    this.#askKeyFrame = askKeyFrame;
    consumer.on('rtp', (packet) => this.#packet(packet));
    consumer.observer.once('close', () => this.close());
    let asked = 0;
    const ask = () => {
      if (this.#closed || this.#size || asked++ >= 8) {
        clearInterval(this.#asking);
        return;
      }
      void consumer.requestKeyFrame().catch(() => undefined);
      this.#askKeyFrame();
    };
    ask();
    this.#asking = setInterval(ask, 500);
    this.#asking.unref();
  }

  get shape(): ContentShape {
    return { size: this.#size, peakFps: this.#peakFps, peakKbps: this.#peakKbps, ageMs: monotonicMs() - this.#startedAt };
  }

  get closed(): boolean {
    return this.#closed;
  }

  #packet(packet: Buffer): void {
    const rtp = readRtp(packet);
    if (!rtp) return;
    const now = monotonicMs();
    if (this.#windowStart === 0) this.#windowStart = now;
    this.#windowBytes += packet.length;
    if (rtp.timestamp !== this.#lastTimestamp) {
      this.#lastTimestamp = rtp.timestamp;
      this.#windowFrames++;
    }
    let changed = false;
    const size = this.#h264 ? h264PayloadSize(rtp.payload) : vp8PayloadSize(rtp.payload);
    if (size && (size.width !== this.#size?.width || size.height !== this.#size?.height)) {
      log.info({ producer: this.producerId, size, previous: this.#size }, 'content size');
      this.#size = size;
      clearInterval(this.#asking);
      changed = true;
    }
    const elapsed = now - this.#windowStart;
    if (elapsed >= WINDOW_MS) {
      // Frames counted at their first packet; the frame that opened the window is the one before it.
      const fps = Math.round(((this.#windowFrames - 1) * 1000 * 10) / elapsed) / 10;
      const kbps = Math.round((this.#windowBytes * 8) / elapsed);
      if (fps > this.#peakFps) {
        this.#peakFps = fps;
        changed = true;
      }
      if (kbps > this.#peakKbps) {
        this.#peakKbps = kbps;
        changed = true;
      }
      this.#windowStart = now;
      this.#windowFrames = 1;
      this.#windowBytes = 0;
    }
    if (changed) this.#onChange();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#asking);
    this.#consumer.close();
    this.#transport.close();
  }
}
