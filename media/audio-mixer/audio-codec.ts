/**
 * The mixer's audio codecs (the native addon built by scripts/build-codec-addon.sh): a decoder
 * turns an RTP payload into 16 kHz mono PCM, an encoder turns 20 ms of it into a payload.
 * Also the RTP facts of each codec (SDP name, clock rate, samples per 20 ms frame).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError } from '../../server/core/errors.ts';
import type { SdpCodec } from '../sdp/sip-sdp.ts';

export type AudioCodecName = 'opus' | 'g722' | 'pcmu' | 'pcma';

export interface AudioCodecInfo {
  readonly name: AudioCodecName;
  /** mediasoup / SDP mime subtype. */
  readonly mimeType: string;
  /** RTP clock rate as written in SDP (G.722 keeps 8000 for historical reasons, RFC 3551). */
  readonly clockRate: number;
  readonly channels: number;
  /** RTP timestamp increment per 20 ms frame. */
  readonly timestampStep: number;
  /** Static payload type, where the codec has one. */
  readonly staticPayloadType?: number;
}

export const AUDIO_CODECS: Record<AudioCodecName, AudioCodecInfo> = {
  opus: { name: 'opus', mimeType: 'audio/opus', clockRate: 48000, channels: 2, timestampStep: 960 },
  g722: { name: 'g722', mimeType: 'audio/G722', clockRate: 8000, channels: 1, timestampStep: 160, staticPayloadType: 9 },
  pcmu: { name: 'pcmu', mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, timestampStep: 160, staticPayloadType: 0 },
  pcma: { name: 'pcma', mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, timestampStep: 160, staticPayloadType: 8 },
};

/**
 * The first codec of an SDP offer the box mixes, in the caller's order of preference (Opus at
 * 48 kHz — always stereo in SDP —, G.722, PCMU, PCMA).
 */
export function pickAudioCodec(codecs: readonly SdpCodec[]): { codec: SdpCodec; name: AudioCodecName } | undefined {
  for (const codec of codecs) {
    const name = codec.name.toLowerCase();
    if (name === 'opus' && codec.clockRate === 48000) return { codec: { ...codec, channels: 2 }, name: 'opus' };
    if (name === 'g722' || name === 'pcmu' || name === 'pcma') return { codec, name };
  }
  return undefined;
}

export function codecByMimeType(mimeType: string): AudioCodecInfo | undefined {
  const lower = mimeType.toLowerCase();
  return Object.values(AUDIO_CODECS).find((c) => c.mimeType.toLowerCase() === lower);
}

/** 16 kHz samples in one 20 ms mixer frame. */
export const FRAME_SAMPLES = 320;

interface Addon {
  create(codec: AudioCodecName | 'dtmf', encoder: boolean, bitrate?: number, complexity?: number): object;
  dtmf(handle: object, pcm8k: Int16Array): string;
  decode(handle: object, payload: Uint8Array | null, out: Int16Array): number;
  encode(handle: object, pcm: Int16Array, out: Uint8Array): number;
}

const ADDON_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'build', 'vcbox-codec.node');
let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (error) {
    throw createError('VCBOX_ERR_MEDIA_CODEC', { reason: `${(error as Error).message}; run scripts/setup.sh to build it` }, error);
  }
  return addon;
}

export class AudioDecoder {
  readonly codec: AudioCodecName;
  readonly #handle: object;
  readonly #addon = load();

  constructor(codec: AudioCodecName) {
    this.codec = codec;
    this.#handle = this.#addon.create(codec, false);
  }

  /** Decodes one payload (null = conceal a lost 20 ms frame) into `out`; returns samples. */
  decode(payload: Uint8Array | null, out: Int16Array): number {
    return this.#addon.decode(this.#handle, payload, out);
  }
}

export class AudioEncoder {
  readonly codec: AudioCodecName;
  readonly #handle: object;
  readonly #addon = load();

  constructor(codec: AudioCodecName, options: { bitrate?: number; complexity?: number } = {}) {
    this.codec = codec;
    this.#handle = this.#addon.create(codec, true, options.bitrate ?? 24_000, options.complexity ?? 5);
  }

  /** Encodes 320 samples (20 ms at 16 kHz) into `out`; returns the payload length. */
  encode(pcm: Int16Array, out: Uint8Array): number {
    return this.#addon.encode(this.#handle, pcm, out);
  }
}

/** In-band DTMF detection (spandsp) on 8 kHz audio; returns the digits completed so far. */
export class DtmfDetector {
  readonly #handle: object;
  readonly #addon = load();
  readonly #pcm8k = new Int16Array(FRAME_SAMPLES * 6);

  constructor() {
    this.#handle = this.#addon.create('dtmf', false);
  }

  /** Feeds `samples` samples of 16 kHz audio (decimated to 8 kHz). */
  feed(pcm16k: Int16Array, samples: number): string {
    const half = Math.min(this.#pcm8k.length, samples >> 1);
    for (let i = 0; i < half; i++) this.#pcm8k[i] = pcm16k[i * 2] as number;
    return this.#addon.dtmf(this.#handle, this.#pcm8k.subarray(0, half));
  }
}
