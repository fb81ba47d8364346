/**
 * Video transcoding for receivers that cannot take a source as it is: a camera's codec a SIP
 * leg cannot decode (a browser's VP8 shown to an H.264 room system, or the reverse), and
 * presentations (content-routing.ts: a browser's VP8 share for SIP content lines, content
 * over the `call.maxContentResolution` cap). A small GStreamer program of the project's
 * (media/meetings/native/vcbox-transcoder, built by scripts/build-compositor.sh; x264enc /
 * vp8enc) reads the source producer from a PlainTransport consumer and writes the picture back
 * in the target codec to a PlainTransport producer in the same router, which any number of
 * receivers with that codec consume. Its shape is the caller's: the largest size (kept in
 * proportion, never enlarged), the frame rate, the bitrate, the key-frame interval; the H.264
 * level follows the size. The owners keep one transcoder per (source, target) and close those
 * nobody takes.
 *
 * Key frames on request: whenever mediasoup asks the output for one — a receiver's PLI or FIR, a
 * SIP receiver's INFO (its consumer's requestKeyFrame), a new consumer — the encoder makes one
 * (at most one every 300 ms, a request inside that window served when it ends), besides the
 * periodic ones. The first picture comes quickly: the program binds its input ports first thing
 * and says which before GStreamer starts (the kernel keeps the packets until the pipeline reads
 * them), so the source flows at once and is asked for a key frame then, its delivery overlapping
 * the program's start — and again every half second until the first frame is encoded, and
 * whenever the decoder reports an error. No codec probing (the codec is given, the size read
 * from the first key frame). A frame-rate cap drops frames as they come (no padding, no
 * waiting); the program ends by itself after 10 s without input. `close()` is idempotent and
 * ends the process and the transports; `onClose` tells the owner when it ended by itself.
 *
 * Why a program of its own and not ffmpeg (no key frame on request; its start, probing and the
 * wait for its input port cost most of a second) nor the MCU compositor with one input (it
 * composes on its own clock from the start: black frames before the source's first, a fixed
 * canvas where the output here keeps the source's proportions and frames).
 *
 * Not here: composing pictures (media/mcu/), deciding who gets what (content-routing.ts,
 * meeting-pictures.ts).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { types } from 'mediasoup';
import { monotonicMs } from '../../server/core/clock.ts';
import { getLogger } from '../../server/core/logger.ts';
import { VIDEO_FEEDBACK } from '../rtp/rtcp-feedback.ts';
import { internalListenInfo } from '../rtp/internal-ports.ts';

const log = getLogger('video-transcoder');

export const TRANSCODER_BINARY = fileURLToPath(new URL('./native/build/vcbox-transcoder', import.meta.url));

/** Key frames on request at most this often (a burst of PLIs from many receivers is one key frame). */
const KEY_FRAME_GAP_MS = 300;

export interface TranscodeTarget {
  readonly mimeType: 'video/VP8' | 'video/H264';
  /** H.264 packetization mode of the legs that will consume it. */
  readonly packetizationMode?: 0 | 1;
}

/** The shape of a transcoder's output; what is not given, the camera defaults (720 lines, 800 kbit/s, the source's frame rate, a key frame every 30 frames). */
export interface TranscodeShape {
  /** The largest height and width of the output (the source is scaled down to fit, its proportions kept; never up). */
  readonly maxHeight?: number;
  readonly maxWidth?: number;
  /** Frames per second at most (the source's rate when not given). */
  readonly fps?: number;
  /** Bits per second (the encoder's target and ceiling). */
  readonly bitrate?: number;
  /** Frames between periodic key frames (default 30); a receiver that starts or asks gets one at once besides. */
  readonly keyFrameInterval?: number;
  /** Called with each key-frame request to the source while the transcoder starts (a SIP source is asked by SIP INFO as well). */
  readonly onSourceKeyFrame?: () => void;
}

export function transcodeKey(sourceProducerId: string, target: TranscodeTarget): string {
  return `${sourceProducerId}>${target.mimeType}/${target.packetizationMode ?? ''}`;
}

/** The H.264 level for an output of at most `height` lines (3.1 up to 720p, 4.0 above), as the encoder's level and the producer's profile-level-id (the program derives the same from the height). */
export function h264Level(height: number): { readonly level: string; readonly profileLevelId: string } {
  return height > 720 ? { level: '4.0', profileLevelId: '42e028' } : { level: '3.1', profileLevelId: '42e01f' };
}

export class VideoTranscoder {
  readonly key: string;
  readonly producer: types.Producer;
  readonly #in: types.PlainTransport;
  readonly #out: types.PlainTransport;
  readonly #consumer: types.Consumer;
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onSourceKeyFrame: (() => void) | undefined;
  #askedSourceAt = 0;
  #keyFrameAt = 0;
  #pendingKeyFrame: NodeJS.Timeout | undefined;
  /** The first frame was encoded: the source need not be asked again. */
  #encoding = false;
  /** Resolves start()'s wait for the program's input ports (undefined: it ended first). */
  #readyWaiter: ((ports: { rtp: number; rtcp: number } | undefined) => void) | undefined;
  #stderr = '';
  #closed = false;
  /** Called once when the transcoder ends (by itself or by close()). */
  onClose: (() => void) | undefined;

  static async start(router: types.Router, source: types.Producer, target: TranscodeTarget, options: TranscodeShape & { readonly key?: string } = {}): Promise<VideoTranscoder> {
    if (!existsSync(TRANSCODER_BINARY)) throw new Error(`the video transcoder is not built (${TRANSCODER_BINARY}); run scripts/setup.sh`);
    const input = await router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: false, comedia: false });
    const output = await router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: true, comedia: true });
    let child: ChildProcessWithoutNullStreams | undefined;
    try {
      const ssrc = randomInt(1, 0x7fffffff);
      const payloadType = 125;
      const h264 = target.mimeType === 'video/H264';
      const maxHeight = options.maxHeight ?? 720;
      const level = h264Level(maxHeight);
      const [consumer, producer] = await Promise.all([
        input.consume({ producerId: source.id, rtpCapabilities: router.rtpCapabilities, paused: true }),
        output.produce({
          kind: 'video',
          rtpParameters: {
            codecs: [
              {
                mimeType: target.mimeType,
                payloadType,
                clockRate: 90000,
                parameters: h264 ? { 'packetization-mode': target.packetizationMode ?? 1, 'profile-level-id': level.profileLevelId, 'level-asymmetry-allowed': 1 } : {},
                rtcpFeedback: VIDEO_FEEDBACK,
              },
            ],
            encodings: [{ ssrc }],
          },
        }),
      ]);
      const codec = consumer.rtpParameters.codecs[0];
      if (!codec) throw new Error('the source has no codec');
      const args = [
        codec.mimeType.split('/')[1] ?? 'VP8',
        codec.payloadType,
        h264 ? 'H264' : 'VP8',
        payloadType,
        ssrc,
        output.tuple.localPort,
        options.maxWidth ?? 0,
        maxHeight,
        options.fps ?? 0,
        Math.round((options.bitrate ?? 800_000) / 1000),
        options.keyFrameInterval ?? 30,
        h264 ? (target.packetizationMode ?? 1) : 1,
      ].map(String);
      child = spawn(TRANSCODER_BINARY, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GST_DEBUG: process.env.GST_DEBUG ?? '1' } });
      const transcoder = new VideoTranscoder(options.key ?? transcodeKey(source.id, target), producer, input, output, consumer, child, options.onSourceKeyFrame);
      const ports = await transcoder.#ready();
      await input.connect({ ip: '127.0.0.1', port: ports.rtp, rtcpPort: ports.rtcp });
      // Whenever mediasoup asks the output for a key frame (a new consumer, a receiver's PLI or
      // FIR, its SIP INFO through its consumer), the encoder makes one.
      await producer.enableTraceEvent(['pli', 'fir']);
      producer.on('trace', () => transcoder.#keyFrame());
      await consumer.resume();
      transcoder.#askSource();
      return transcoder;
    } catch (error) {
      child?.kill('SIGKILL');
      input.close();
      output.close();
      throw error;
    }
  }

  private constructor(
    key: string,
    producer: types.Producer,
    input: types.PlainTransport,
    output: types.PlainTransport,
    consumer: types.Consumer,
    child: ChildProcessWithoutNullStreams,
    onSourceKeyFrame: (() => void) | undefined,
  ) {
    this.key = key;
    this.producer = producer;
    this.#in = input;
    this.#out = output;
    this.#consumer = consumer;
    this.#process = child;
    this.#onSourceKeyFrame = onSourceKeyFrame;
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-2000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => this.#event(line.split('\t')));
    child.on('exit', (code, signal) => {
      if (!this.#closed) log.warn({ key, code, signal, stderr: this.#stderr }, 'transcoder exited');
      this.close();
    });
    // The decoder starts at a key frame: the source is asked for one as it starts flowing, and
    // again every half second until the first frame is encoded (the first one is sometimes
    // lost), 15 s at most.
    let attempts = 0;
    const keepAsking = (): void => {
      if (this.#closed || this.#encoding || attempts++ > 30) return;
      this.#askSource();
      this.#timers.push(setTimeout(keepAsking, 500));
    };
    this.#timers.push(setTimeout(keepAsking, 500));
    consumer.observer.once('close', () => this.close());
    log.info({ key, pid: child.pid }, 'transcoder started');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The program's input ports, bound first thing when it starts (5 s at most). */
  #ready(): Promise<{ rtp: number; rtcp: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the video transcoder did not start within 5 s ${this.#stderr.trim()}`.trim())), 5000);
      this.#readyWaiter = (ports) => {
        clearTimeout(timer);
        if (ports) resolve(ports);
        else reject(new Error(`the video transcoder ended at start ${this.#stderr.trim()}`.trim()));
      };
    });
  }

  #event([name, a = '', b = '']: string[]): void {
    switch (name) {
      case 'ports':
        this.#readyWaiter?.({ rtp: Number(a), rtcp: Number(b) });
        this.#readyWaiter = undefined;
        break;
      case 'ready':
        break;
      case 'output-frame':
        this.#encoding = true;
        break;
      case 'decode-error':
        // The decoder lost its footing (a frame cut short, a reference missing): start again at a key frame.
        this.#askSource();
        break;
      case 'input-frame':
        break;
      case 'fatal':
        log.error({ key: this.key, reason: a }, 'transcoder failed');
        break;
      default:
        log.warn({ key: this.key, line: [name, a, b].join(' ') }, 'transcoder said');
    }
  }

  /** A key frame from the source (PLI/FIR; a SIP source by SIP INFO too), at most one in 400 ms. */
  #askSource(): void {
    if (this.#closed || monotonicMs() - this.#askedSourceAt < 400) return;
    this.#askedSourceAt = monotonicMs();
    void this.#consumer.requestKeyFrame().catch(() => undefined);
    this.#onSourceKeyFrame?.();
  }

  /** The encoder's next frame is a key frame; at most one every 300 ms, a request inside that window served when it ends. */
  #keyFrame(): void {
    if (this.#closed || this.#pendingKeyFrame) return;
    // Monotonic: a wall clock set back must not hold key frames back until it catches up.
    const wait = this.#keyFrameAt + KEY_FRAME_GAP_MS - monotonicMs();
    const send = (): void => {
      this.#pendingKeyFrame = undefined;
      if (this.#closed) return;
      this.#keyFrameAt = monotonicMs();
      this.#process.stdin.write('keyframe\n');
    };
    if (wait <= 0) send();
    else this.#pendingKeyFrame = setTimeout(send, wait);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose?.();
    this.#readyWaiter?.(undefined);
    this.#readyWaiter = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    clearTimeout(this.#pendingKeyFrame);
    this.#process.kill('SIGKILL');
    this.#consumer.close();
    this.#in.close();
    this.#out.close();
  }
}
