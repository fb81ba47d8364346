/**
 * Video transcoding for receivers that cannot take a source as it is: a camera's codec a SIP
 * leg cannot decode (a browser's VP8 shown to an H.264 room system, or the reverse), and
 * presentations (content-routing.ts: a browser's VP8 share for SIP content lines, content
 * over the `call.maxContentResolution` cap). An ffmpeg process (Debian's, libx264 / libvpx)
 * reads the source producer from a PlainTransport consumer (RTP described by an SDP file) and
 * writes the picture back in the target codec to a PlainTransport producer in the same router,
 * which any number of receivers with that codec consume. Its shape is the caller's: the
 * largest size (kept in proportion, never enlarged), the frame rate, the bitrate, the key-frame
 * interval; the H.264 level follows the size. The owners keep one transcoder per (source,
 * target) and close those nobody takes. Key frames at a fixed interval (ffmpeg does not answer
 * PLI). The source flows once ffmpeg has opened its input port (seen in /proc/net/udp) and is
 * asked for key frames until the output starts, and whenever the decoder reports an error; a
 * frame-rate cap drops frames as they come (no padding, no waiting); ffmpeg exits by itself
 * after 10 s without input. `close()` is idempotent and ends the
 * process and the transports; `onClose` tells the owner when it ended by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { types } from 'mediasoup';
import { monotonicMs } from '../../server/core/clock.ts';
import { getLogger } from '../../server/core/logger.ts';
import { VIDEO_FEEDBACK } from '../rtp/rtcp-feedback.ts';
import { internalListenInfo } from '../rtp/internal-ports.ts';

const log = getLogger('video-transcoder');

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
  /** Frames between key frames (default 30); receivers joining start at the next one. */
  readonly keyFrameInterval?: number;
  /** Called with each key-frame request to the source while the transcoder starts (a SIP source is asked by SIP INFO as well). */
  readonly onSourceKeyFrame?: () => void;
}

export function transcodeKey(sourceProducerId: string, target: TranscodeTarget): string {
  return `${sourceProducerId}>${target.mimeType}/${target.packetizationMode ?? ''}`;
}

/** The ffmpeg video filter that fits the source into `shape` (proportions kept, even sizes, never enlarged). */
export function scaleFilter(shape: TranscodeShape): string {
  const height = shape.maxHeight ?? 720;
  return shape.maxWidth
    ? `scale=w='min(iw,${shape.maxWidth})':h='min(ih,${height})':force_original_aspect_ratio=decrease:force_divisible_by=2`
    : `scale=-2:'min(ih,${height})'`;
}

/**
 * ffmpeg's output options that keep the frame rate at most `fps`: frames closer together than
 * 1/fps are dropped as they come (variable rate: a slower source is not padded with copies, and
 * no frame waits for the next — the fps filter would hold each one back a frame interval).
 */
export function frameRateOptions(fps: number | undefined): string[] {
  return fps ? ['-r', String(fps), '-fps_mode', 'vfr'] : [];
}

/** The H.264 level for an output of at most `height` lines (3.1 up to 720p, 4.0 above), as ffmpeg's -level and the producer's profile-level-id. */
export function h264Level(height: number): { readonly level: string; readonly profileLevelId: string } {
  return height > 720 ? { level: '4.0', profileLevelId: '42e028' } : { level: '3.1', profileLevelId: '42e01f' };
}

/** Two free consecutive UDP ports on loopback (RTP and RTCP for ffmpeg's input). */
/**
 * Resolves once a UDP socket is bound to `port` on loopback or every address (ffmpeg opened its input), read from
 * /proc/net/udp — probing by binding the port ourselves could take it from ffmpeg —, or after
 * `timeoutMs` (false).
 */
async function inputBound(port: number, timeoutMs: number): Promise<boolean> {
  // ffmpeg binds its RTP input on every address (0.0.0.0); loopback counts too.
  const wanted = new Set(['0100007F', '00000000'].map((host) => `${host}:${port.toString(16).toUpperCase().padStart(4, '0')}`));
  const deadline = monotonicMs() + timeoutMs;
  while (monotonicMs() < deadline) {
    const table = await readFile('/proc/net/udp', 'utf8').catch(() => undefined);
    if (table === undefined) return false;
    if (table.split('\n').some((line) => wanted.has(line.trim().split(/\s+/)[1] ?? ''))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 2 * randomInt(10_000, 14_999);
    const sockets = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    const ok = await Promise.all(
      sockets.map(
        (socket, i) =>
          new Promise<boolean>((resolve) => {
            socket.once('error', () => resolve(false));
            socket.bind(port + i, '127.0.0.1', () => resolve(true));
          }),
      ),
    );
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))).map((p) => p.catch(() => undefined)));
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free port pair for the transcoder');
}

export class VideoTranscoder {
  readonly key: string;
  readonly producer: types.Producer;
  readonly #in: types.PlainTransport;
  readonly #out: types.PlainTransport;
  readonly #consumer: types.Consumer;
  readonly #process: ChildProcess;
  readonly #dir: string;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Asks the source for a key frame (at most one a second). */
  #askSource: () => void = () => undefined;
  #closed = false;
  /** Called once when the transcoder ends (by itself or by close()). */
  onClose: (() => void) | undefined;

  static async start(router: types.Router, source: types.Producer, target: TranscodeTarget, options: TranscodeShape & { readonly key?: string } = {}): Promise<VideoTranscoder> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-transcode-'));
    const inputPort = await freePortPair();
    const input = await router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: false, comedia: false });
    const output = await router.createPlainTransport({ listenInfo: internalListenInfo(), rtcpMux: true, comedia: true });
    try {
      await input.connect({ ip: '127.0.0.1', port: inputPort, rtcpPort: inputPort + 1 });
      const consumer = await input.consume({ producerId: source.id, rtpCapabilities: router.rtpCapabilities, paused: true });
      const codec = consumer.rtpParameters.codecs[0];
      if (!codec) throw new Error('the source has no codec');
      const fmtp = Object.entries(codec.parameters ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(';');
      const sdpFile = path.join(dir, 'in.sdp');
      writeFileSync(
        sdpFile,
        [
          'v=0',
          'o=- 0 0 IN IP4 127.0.0.1',
          's=vcbox transcoder',
          'c=IN IP4 127.0.0.1',
          't=0 0',
          `m=video ${inputPort} RTP/AVP ${codec.payloadType}`,
          `a=rtpmap:${codec.payloadType} ${codec.mimeType.split('/')[1]}/${codec.clockRate}`,
          ...(fmtp ? [`a=fmtp:${codec.payloadType} ${fmtp}`] : []),
          'a=recvonly',
          '',
        ].join('\n'),
      );
      const ssrc = randomInt(1, 0x7fffffff);
      const payloadType = 125;
      const h264 = target.mimeType === 'video/H264';
      const level = h264Level(options.maxHeight ?? 720);
      // Mode 0 sends each NAL unit in a packet of its own: slices must fit one.
      const mode0 = h264 && target.packetizationMode === 0;
      const encoder = h264
        ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', level.level, '-pix_fmt', 'yuv420p', ...(mode0 ? ['-x264-params', 'slice-max-size=1100'] : [])]
        : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-error-resilient', '1'];
      const bitrate = options.bitrate ?? 800_000;
      const keyFrames = options.keyFrameInterval === undefined ? ['-g', '30'] : ['-g', String(options.keyFrameInterval), '-keyint_min', String(options.keyFrameInterval)];
      const args = [
        '-hide_banner', '-nostdin', '-loglevel', 'error',
        '-protocol_whitelist', 'file,udp,rtp',
        // No input for 10 s (the source stopped, or the media process died and took the
        // worker with it): ffmpeg ends instead of lingering.
        '-rw_timeout', '10000000',
        // Start at the first decodable frame: the codec is in the SDP, the size in the stream
        // (the default 5 s of probing would hold the first picture back that long).
        '-analyzeduration', '0', '-probesize', '32',
        '-fflags', '+nobuffer+genpts', '-flags', 'low_delay', '-reorder_queue_size', '0',
        '-i', sdpFile,
        '-an',
        '-vf', scaleFilter(options),
        ...frameRateOptions(options.fps),
        ...encoder,
        ...keyFrames, '-b:v', String(bitrate), '-maxrate', String(bitrate), '-bufsize', String(Math.round(bitrate / 2)),
        '-payload_type', String(payloadType), '-ssrc', String(ssrc),
        ...(mode0 ? ['-rtpflags', 'h264_mode0'] : []),
        '-f', 'rtp', `rtp://127.0.0.1:${output.tuple.localPort}?pkt_size=1200`,
      ];
      const producer = await output.produce({
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
      });
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      const transcoder = new VideoTranscoder(options.key ?? transcodeKey(source.id, target), producer, input, output, consumer, child, dir, options.onSourceKeyFrame);
      // The source flows once ffmpeg listens: a key frame sent before would be lost.
      await inputBound(inputPort, 3000);
      await consumer.resume();
      transcoder.#askSource();
      return transcoder;
    } catch (error) {
      input.close();
      output.close();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private constructor(
    key: string,
    producer: types.Producer,
    input: types.PlainTransport,
    output: types.PlainTransport,
    consumer: types.Consumer,
    child: ChildProcess,
    dir: string,
    onSourceKeyFrame: (() => void) | undefined,
  ) {
    this.key = key;
    this.producer = producer;
    this.#in = input;
    this.#out = output;
    this.#consumer = consumer;
    this.#process = child;
    this.#dir = dir;
    let stderr = '';
    let askedAt = 0;
    // A key frame from the source (PLI/FIR; a SIP source by SIP INFO too), at most one in 400 ms.
    const ask = (): void => {
      if (this.#closed || monotonicMs() - askedAt < 400) return;
      askedAt = monotonicMs();
      void consumer.requestKeyFrame().catch(() => undefined);
      onSourceKeyFrame?.();
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr = (stderr + text).slice(-2000);
      // The decoder lost its footing (a frame cut short, a reference missing): start again at a key frame.
      if (/error|invalid|non-existing|no frame/i.test(text)) ask();
    });
    child.on('exit', (code, signal) => {
      if (!this.#closed) log.warn({ key, code, signal, stderr }, 'transcoder exited');
      this.close();
    });
    // ffmpeg decodes from a key frame; the source starts flowing once ffmpeg listens and is asked
    // for one then, and again every half second until the output's first key frame shows ffmpeg
    // decodes (its first one is sometimes lost), 15 s at most.
    let started = false;
    void producer
      .enableTraceEvent(['keyframe'])
      .then(() =>
        producer.on('trace', (trace) => {
          if (trace.type !== 'keyframe' || started) return;
          started = true;
          void producer.enableTraceEvent([]).catch(() => undefined);
        }),
      )
      .catch(() => undefined);
    let attempts = 0;
    const keepAsking = (): void => {
      if (this.#closed || started || attempts++ > 30) return;
      ask();
      this.#timers.push(setTimeout(keepAsking, 500));
    };
    this.#timers.push(setTimeout(keepAsking, 500));
    this.#askSource = ask;
    consumer.observer.once('close', () => this.close());
    log.info({ key, pid: child.pid }, 'transcoder started');
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose?.();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#process.kill('SIGKILL');
    this.#consumer.close();
    this.#in.close();
    this.#out.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
