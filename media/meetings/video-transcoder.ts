/**
 * Video transcoding for SIP legs that cannot decode a camera's codec (a browser's VP8 shown to
 * an H.264 room system, or the reverse): an ffmpeg process (Debian's, libx264 / libvpx) reads
 * the source producer from a PlainTransport consumer (RTP described by an SDP file) and writes
 * the picture back in the target codec to a PlainTransport producer in the same router, which
 * any number of legs with that codec consume. One transcoder per (source, target codec,
 * H.264 mode); the meeting's pictures (meeting-pictures.ts) close those no leg shows. Key
 * frames every second (ffmpeg does not answer PLI); ffmpeg exits by itself after 10 s
 * without input. `close()` is idempotent and ends the process and the transports; `onClose`
 * tells the owner when it ended by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types } from 'mediasoup';
import { getLogger } from '../../server/core/logger.ts';
import { VIDEO_FEEDBACK } from '../rtp/rtcp-feedback.ts';

const log = getLogger('video-transcoder');

export interface TranscodeTarget {
  readonly mimeType: 'video/VP8' | 'video/H264';
  /** H.264 packetization mode of the legs that will consume it. */
  readonly packetizationMode?: 0 | 1;
}

export function transcodeKey(sourceProducerId: string, target: TranscodeTarget): string {
  return `${sourceProducerId}>${target.mimeType}/${target.packetizationMode ?? ''}`;
}

/** Two free consecutive UDP ports on loopback (RTP and RTCP for ffmpeg's input). */
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
  #closed = false;
  /** Called once when the transcoder ends (by itself or by close()). */
  onClose: (() => void) | undefined;

  static async start(router: types.Router, source: types.Producer, target: TranscodeTarget, options: { maxHeight?: number; bitrate?: number } = {}): Promise<VideoTranscoder> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-transcode-'));
    const inputPort = await freePortPair();
    const input = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
    const output = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
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
      const encoder = h264
        ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p']
        : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-error-resilient', '1'];
      const bitrate = options.bitrate ?? 800_000;
      const args = [
        '-hide_banner', '-nostdin', '-loglevel', 'error',
        '-protocol_whitelist', 'file,udp,rtp',
        // No input for 10 s (the source stopped, or the media process died and took the
        // worker with it): ffmpeg ends instead of lingering.
        '-rw_timeout', '10000000',
        '-fflags', '+nobuffer+genpts', '-flags', 'low_delay', '-reorder_queue_size', '0',
        '-i', sdpFile,
        '-an',
        '-vf', `scale=-2:'min(ih,${options.maxHeight ?? 720})'`,
        ...encoder,
        '-g', '30', '-b:v', String(bitrate), '-maxrate', String(bitrate), '-bufsize', String(bitrate / 2),
        '-payload_type', String(payloadType), '-ssrc', String(ssrc),
        ...(h264 && target.packetizationMode === 0 ? ['-rtpflags', 'h264_mode0'] : []),
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
              parameters: h264 ? { 'packetization-mode': target.packetizationMode ?? 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } : {},
              rtcpFeedback: VIDEO_FEEDBACK,
            },
          ],
          encodings: [{ ssrc }],
        },
      });
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      const transcoder = new VideoTranscoder(transcodeKey(source.id, target), producer, input, output, consumer, child, dir);
      await consumer.resume();
      return transcoder;
    } catch (error) {
      input.close();
      output.close();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private constructor(key: string, producer: types.Producer, input: types.PlainTransport, output: types.PlainTransport, consumer: types.Consumer, child: ChildProcess, dir: string) {
    this.key = key;
    this.producer = producer;
    this.#in = input;
    this.#out = output;
    this.#consumer = consumer;
    this.#process = child;
    this.#dir = dir;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.on('exit', (code, signal) => {
      if (!this.#closed) log.warn({ key, code, signal, stderr }, 'transcoder exited');
      this.close();
    });
    // ffmpeg starts decoding at a key frame: ask the source for some while it starts up.
    for (const delay of [100, 600, 1500]) this.#timers.push(setTimeout(() => void consumer.requestKeyFrame().catch(() => undefined), delay));
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
