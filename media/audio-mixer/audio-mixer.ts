/**
 * The conference audio mixer of one meeting: SIP participants hear everyone but themselves.
 *
 * mediasoup forwards but does not decode, so every audio producer of the meeting (SIP legs and
 * browsers) is also consumed into this mixer over one loopback UDP socket (a PlainTransport
 * on the router side); for each SIP leg the mixer sends back one RTP stream (a producer on the
 * same PlainTransport) that the leg's own transport consumes.
 *
 * Every 20 ms tick:
 *   1. each input's next 20 ms (decoded at arrival into 16 kHz PCM, buffered 40-120 ms) is
 *      taken and its level measured;
 *   2. the loudest unmuted inputs above the speech threshold, at most `maxSpeakers` (3), are
 *      the speakers; only they are summed (250 open microphones summed would be mostly noise);
 *   3. a listener who is not a speaker hears the sum of all speakers — the same picture for
 *      all of them, so it is encoded once per codec and the payload shared; a speaker hears
 *      the sum minus itself, encoded for it alone. A tick therefore costs one decode per input
 *      plus at most (maxSpeakers + 1) encodes per codec in use, however many listen.
 * The dominant speaker (loudest for a while, held at least `dominantHoldMs`) is reported for
 * voice-activated video switching.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { getLogger } from '../../server/core/logger.ts';
import { parseRtp, writeRtpHeader } from '../rtp/rtp-packet.ts';
import { AUDIO_CODECS, type AudioCodecName, AudioDecoder, AudioEncoder, FRAME_SAMPLES } from './audio-codec.ts';

const log = getLogger('audio-mixer');

const TICK_MS = 20;
/** Buffered audio per input: start playing at 40 ms, drop the oldest beyond 120 ms. */
const START_SAMPLES = FRAME_SAMPLES * 2;
const MAX_SAMPLES = FRAME_SAMPLES * 6;
const RING_SAMPLES = FRAME_SAMPLES * 12;

export interface AudioMixerOptions {
  /** How many voices are summed at once. */
  readonly maxSpeakers?: number;
  /** Mean absolute sample value (16-bit) below which an input is not speaking (≈ -40 dBov). */
  readonly speechThreshold?: number;
  /** The dominant speaker changes at most this often. */
  readonly dominantHoldMs?: number;
  /** Opus encoder settings for the mixes. */
  readonly opus?: { readonly bitrate?: number; readonly complexity?: number };
}

export interface MixerStats {
  readonly ticks: number;
  /** Ticks that ran more than one frame late: listeners' audio fell behind. */
  readonly lateTicks: number;
  /** Time spent in ticks (ms). */
  readonly busyMs: number;
  readonly maxTickMs: number;
  readonly encodes: number;
  readonly inputs: number;
  readonly outputs: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
}

interface Input {
  readonly ssrc: number;
  readonly participantId: string;
  readonly decoder: AudioDecoder;
  readonly ring: Int16Array;
  readonly frame: Int16Array;
  read: number;
  count: number;
  playing: boolean;
  /** This tick's frame holds audio. */
  live: boolean;
  level: number;
}

interface Output {
  readonly participantId: string;
  readonly codec: AudioCodecName;
  readonly payloadType: number;
  readonly ssrc: number;
  sequence: number;
  timestamp: number;
}

export interface AudioMixerEvents {
  dominantspeaker: [participantId: string];
}

const scratch = new Int16Array(FRAME_SAMPLES * 6 * 2);

export class AudioMixer extends EventEmitter<AudioMixerEvents> {
  readonly #options: Required<Omit<AudioMixerOptions, 'opus'>> & Pick<AudioMixerOptions, 'opus'>;
  readonly #socket = dgram.createSocket('udp4');
  readonly #inputs = new Map<number, Input>();
  readonly #outputs = new Map<string, Output>();
  readonly #muted = new Set<string>();
  /** Encoders per `${codec}:${mix}` (mix = '*' for everyone, or the speaker it leaves out). */
  readonly #encoders = new Map<string, AudioEncoder>();
  readonly #total = new Int32Array(FRAME_SAMPLES);
  readonly #pcm = new Int16Array(FRAME_SAMPLES);
  readonly #encoded = new Uint8Array(1500);
  #remote: { address: string; port: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #epoch = 0;
  #tickIndex = 0;
  #dominant: string | undefined;
  #dominantSince = 0;
  #closed = false;
  #stats = { ticks: 0, lateTicks: 0, busyMs: 0, maxTickMs: 0, encodes: 0, packetsIn: 0, packetsOut: 0 };

  constructor(options: AudioMixerOptions = {}) {
    super();
    this.#options = {
      maxSpeakers: options.maxSpeakers ?? 3,
      speechThreshold: options.speechThreshold ?? 300,
      dominantHoldMs: options.dominantHoldMs ?? 1000,
      opus: options.opus,
    };
    this.#socket.on('message', (packet) => this.#receive(packet));
    this.#socket.on('error', (error) => log.error({ err: error.message }, 'mixer socket error'));
  }

  /** Binds the mixer's socket on loopback; returns its port (the router side connects to it). */
  bind(address = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(0, address, () => {
        this.#socket.off('error', reject);
        // Hundreds of 50 packet/s streams arrive in bursts: room for a few ticks of them.
        this.#socket.setRecvBufferSize(4 * 1024 * 1024);
        this.#socket.setSendBufferSize(4 * 1024 * 1024);
        resolve(this.#socket.address().port);
      });
    });
  }

  /** Where the mixes are sent (the router side's PlainTransport tuple); starts the clock. */
  connect(address: string, port: number): void {
    this.#remote = { address, port };
    if (!this.#timer && !this.#closed) {
      this.#epoch = performance.now();
      this.#tickIndex = 0;
      this.#schedule();
    }
  }

  addInput(ssrc: number, participantId: string, codec: AudioCodecName): void {
    this.#inputs.set(ssrc, {
      ssrc,
      participantId,
      decoder: new AudioDecoder(codec),
      ring: new Int16Array(RING_SAMPLES),
      frame: new Int16Array(FRAME_SAMPLES),
      read: 0,
      count: 0,
      playing: false,
      live: false,
      level: 0,
    });
  }

  removeInput(ssrc: number): void {
    this.#inputs.delete(ssrc);
  }

  addOutput(participantId: string, codec: AudioCodecName, payloadType: number, ssrc: number): void {
    this.#outputs.set(participantId, {
      participantId,
      codec,
      payloadType,
      ssrc,
      sequence: Math.floor(Math.random() * 0x10000),
      timestamp: Math.floor(Math.random() * 0x100000000),
    });
  }

  removeOutput(participantId: string): void {
    this.#outputs.delete(participantId);
    for (const codec of Object.keys(AUDIO_CODECS)) this.#encoders.delete(`${codec}:${participantId}`);
  }

  /** Removes a participant's inputs and output. */
  removeParticipant(participantId: string): void {
    for (const [ssrc, input] of this.#inputs) if (input.participantId === participantId) this.#inputs.delete(ssrc);
    this.removeOutput(participantId);
    this.#muted.delete(participantId);
  }

  setMuted(participantId: string, muted: boolean): void {
    if (muted) this.#muted.add(participantId);
    else this.#muted.delete(participantId);
  }

  get dominantSpeaker(): string | undefined {
    return this.#dominant;
  }

  get stats(): MixerStats {
    return { ...this.#stats, inputs: this.#inputs.size, outputs: this.#outputs.size };
  }

  #receive(packet: Buffer): void {
    const rtp = parseRtp(packet);
    if (!rtp) return;
    const input = this.#inputs.get(rtp.ssrc);
    if (!input) return;
    this.#stats.packetsIn++;
    const samples = input.decoder.decode(packet.subarray(rtp.payloadOffset, rtp.payloadEnd), scratch);
    if (samples <= 0) return;
    const ring = input.ring;
    let write = (input.read + input.count) % RING_SAMPLES;
    for (let i = 0; i < samples; i++) {
      ring[write] = scratch[i] as number;
      write = write + 1 === RING_SAMPLES ? 0 : write + 1;
    }
    input.count += samples;
    if (input.count > MAX_SAMPLES) {
      // More than 120 ms queued (a burst, or a sender faster than our clock): drop the oldest.
      const drop = input.count - MAX_SAMPLES + FRAME_SAMPLES;
      input.read = (input.read + drop) % RING_SAMPLES;
      input.count -= drop;
    }
  }

  #schedule(): void {
    const due = this.#epoch + (this.#tickIndex + 1) * TICK_MS;
    this.#timer = setTimeout(() => this.#onTimer(due), Math.max(0, due - performance.now()));
  }

  #onTimer(due: number): void {
    if (this.#closed) return;
    const started = performance.now();
    if (started - due > TICK_MS) this.#stats.lateTicks++;
    if (started - due > 10 * TICK_MS) {
      // Far behind (the process was stalled): skip the lost frames instead of bursting them.
      this.#tickIndex = Math.floor((started - this.#epoch) / TICK_MS);
    }
    this.tick(started);
    this.#tickIndex++;
    const spent = performance.now() - started;
    this.#stats.busyMs += spent;
    if (spent > this.#stats.maxTickMs) this.#stats.maxTickMs = spent;
    this.#schedule();
  }

  /** One 20 ms frame: read inputs, pick speakers, mix, encode, send. Public for the benchmark. */
  tick(now = performance.now()): void {
    this.#stats.ticks++;
    const speakers: Input[] = [];
    for (const input of this.#inputs.values()) {
      this.#takeFrame(input);
      if (input.live && !this.#muted.has(input.participantId) && input.level >= this.#options.speechThreshold) speakers.push(input);
    }
    speakers.sort((a, b) => b.level - a.level);
    if (speakers.length > this.#options.maxSpeakers) speakers.length = this.#options.maxSpeakers;
    this.#updateDominant(speakers[0], now);

    const total = this.#total;
    total.fill(0);
    for (const speaker of speakers) {
      const frame = speaker.frame;
      for (let i = 0; i < FRAME_SAMPLES; i++) total[i] = (total[i] as number) + (frame[i] as number);
    }
    const speakerOf = new Map<string, Input>();
    for (const speaker of speakers) speakerOf.set(speaker.participantId, speaker);

    const payloads = new Map<string, Buffer>();
    for (const output of this.#outputs.values()) {
      const own = speakerOf.get(output.participantId);
      const mix = own ? output.participantId : '*';
      const key = `${output.codec}:${mix}`;
      let payload = payloads.get(key);
      if (!payload) {
        payload = this.#encode(key, output.codec, own);
        payloads.set(key, payload);
      }
      this.#send(output, payload);
    }
  }

  #takeFrame(input: Input): void {
    input.live = false;
    if (!input.playing && input.count >= START_SAMPLES) input.playing = true;
    if (!input.playing || input.count < FRAME_SAMPLES) {
      // Not started, or ran dry (loss or a paused sender): silence, and re-buffer before resuming.
      input.playing = false;
      input.level *= 0.8;
      return;
    }
    const ring = input.ring;
    const frame = input.frame;
    let read = input.read;
    let sum = 0;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const s = ring[read] as number;
      frame[i] = s;
      sum += s < 0 ? -s : s;
      read = read + 1 === RING_SAMPLES ? 0 : read + 1;
    }
    input.read = read;
    input.count -= FRAME_SAMPLES;
    input.live = true;
    const level = sum / FRAME_SAMPLES;
    // Fast attack, slow release: a talker keeps its place between syllables.
    input.level = level > input.level ? level : input.level * 0.9 + level * 0.1;
  }

  #updateDominant(loudest: Input | undefined, now: number): void {
    if (!loudest || loudest.participantId === this.#dominant) return;
    if (this.#dominant !== undefined && now - this.#dominantSince < this.#options.dominantHoldMs) return;
    this.#dominant = loudest.participantId;
    this.#dominantSince = now;
    this.emit('dominantspeaker', loudest.participantId);
  }

  #encode(key: string, codec: AudioCodecName, leaveOut: Input | undefined): Buffer {
    const pcm = this.#pcm;
    const total = this.#total;
    const own = leaveOut?.frame;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const v = own ? (total[i] as number) - (own[i] as number) : (total[i] as number);
      pcm[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    let encoder = this.#encoders.get(key);
    if (!encoder) {
      encoder = new AudioEncoder(codec, this.#options.opus ?? {});
      this.#encoders.set(key, encoder);
    }
    const length = encoder.encode(pcm, this.#encoded);
    this.#stats.encodes++;
    return Buffer.from(this.#encoded.subarray(0, length));
  }

  #send(output: Output, payload: Buffer): void {
    const remote = this.#remote;
    if (!remote) return;
    const header = writeRtpHeader(Buffer.allocUnsafe(12), output.payloadType, false, output.sequence, output.timestamp, output.ssrc);
    output.sequence = (output.sequence + 1) & 0xffff;
    output.timestamp = (output.timestamp + AUDIO_CODECS[output.codec].timestampStep) >>> 0;
    this.#stats.packetsOut++;
    this.#socket.send([header, payload], remote.port, remote.address);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#inputs.clear();
    this.#outputs.clear();
    this.#encoders.clear();
    this.#socket.close();
    this.removeAllListeners();
  }
}
