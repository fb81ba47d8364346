/**
 * The media side of one IVR call: a UDP socket in the IVR port range (setting media.ivrPorts;
 * two ports a call at most: RTP, and RTCP when not multiplexed) that answers the caller's
 * offer with plain RTP in its codec (Opus, G.722, PCMU, PCMA) plus telephone-event, plays
 * prompts (16 kHz PCM from scripts/build-prompts.ts, encoded per call, 20 ms a packet; silence
 * in between keeps the caller's RTP timers happy), and reports DTMF: RFC 4733 events (any
 * payload type the offer named telephone-event; one digit per event, end packets and their
 * retransmissions de-duplicated) and, for G.711/G.722 callers that send no events, tones in the
 * audio (spandsp's detector). A digit while a prompt plays interrupts it (barge-in). Only the
 * caller's own RTP counts: packets from any address or port other than the one its SDP offer
 * named are dropped unread (like the meetings' PlainTransports, which are not comedia either),
 * so nobody else on the network can key digits into someone's IVR call.
 * `close()` is idempotent and frees the ports on every path.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';
import { AUDIO_CODECS, type AudioCodecName, AudioDecoder, AudioEncoder, DtmfDetector, FRAME_SAMPLES, pickAudioCodec } from '../audio-mixer/audio-codec.ts';
import { parseRtp, writeRtpHeader } from '../rtp/rtp-packet.ts';
import { type AnswerMedia, answerDirection, assertServable, parseSdp, type SdpCodec, writeSdp } from '../sdp/sip-sdp.ts';

const log = getLogger('ivr-session');

const PROMPT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prompts');
const DTMF_EVENTS = '0123456789*#ABCD';

const promptCache = new Map<string, Int16Array>();
let overrideDir: string | undefined;

/** Where administrators' uploaded prompts live (`<dataDir>/prompts`); they win over the built ones. */
export function setPromptOverrideDir(dir: string | undefined): void {
  overrideDir = dir;
}

/** A prompt's 16 kHz samples: an uploaded one if there is, else the built one (cached). */
export function promptSamples(language: string, name: string): Int16Array {
  const key = `${language}/${name}`;
  if (overrideDir) {
    const file = path.join(overrideDir, language, `${name}.pcm`);
    try {
      const stat = statSync(file);
      const cacheKey = `${file}@${stat.mtimeMs}`;
      let uploaded = promptCache.get(cacheKey);
      if (!uploaded) {
        const data = readFileSync(file);
        uploaded = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
        promptCache.set(cacheKey, uploaded);
      }
      return uploaded;
    } catch {
      // none uploaded: the built prompt
    }
  }
  let samples = promptCache.get(key);
  if (!samples) {
    let data: Buffer;
    try {
      data = readFileSync(path.join(PROMPT_DIR, language, `${name}.pcm`));
    } catch (error) {
      throw createError('VCBOX_ERR_MEDIA_CODEC', { reason: `IVR prompt ${key} is missing (${(error as Error).message}); run scripts/setup.sh to build the prompts` }, error);
    }
    samples = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    promptCache.set(key, samples);
  }
  return samples;
}

export interface IvrSessionEvents {
  digit: [digit: string];
}

export class IvrSession extends EventEmitter<IvrSessionEvents> {
  readonly id: string;
  #socket = dgram.createSocket('udp4');
  #remote: { address: string; port: number } = { address: '127.0.0.1', port: 0 };
  #codec!: { codec: SdpCodec; name: AudioCodecName };
  #encoder!: AudioEncoder;
  #eventTypes = new Set<number>();
  #ssrc = Math.floor(Math.random() * 0xffffffff);
  #sequence = Math.floor(Math.random() * 0xffff);
  #timestamp = Math.floor(Math.random() * 0xffffffff);
  #timer: NodeJS.Timeout | undefined;
  #queue: Int16Array[] = [];
  #position = 0;
  #playing: { resolve: (outcome: 'done' | 'interrupted') => void } | undefined;
  #lastEventTimestamp = -1;
  #lastEventAt = 0;
  /** In-band detection for G.711/G.722 callers, until the caller shows it sends RFC 4733. */
  #inband: { decoder: AudioDecoder; detector: DtmfDetector; pcm: Int16Array } | undefined;
  #closed = false;
  /** Packets dropped because they did not come from the caller's SDP address and port. */
  #foreignPackets = 0;
  readonly #encoded = new Uint8Array(1500);
  readonly #frame = new Int16Array(FRAME_SAMPLES);

  private constructor(id: string) {
    super();
    this.id = id;
  }

  /** Opens the session on a port of `ports` and answers `offer`; the caller's SDP is parsed here. */
  static async start(id: string, offer: string, options: { address: string; listenIp: string; ports: { min: number; max: number } }): Promise<{ session: IvrSession; sdp: string }> {
    const parsed = parseSdp(offer);
    const audio = parsed.media.find((m) => m.kind === 'audio' && m.port > 0);
    if (!audio) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'the offer has no audio stream' });
    assertServable(audio, 'access number', '0.0.0.0'); // its socket is udp4 (#bind)
    if (audio.proto.includes('SAVP')) throw createError('VCBOX_ERR_MEDIA_SDP', { warning: 302, reason: 'the access number takes plain RTP; to use SRTP dial the meeting directly as ID**PIN' });
    const chosen = pickAudioCodec(audio.codecs);
    if (!chosen) throw createError('VCBOX_ERR_MEDIA_SDP', { warning: 305, reason: `none of the offered audio codecs (${audio.codecs.map((c) => c.name).join(', ') || 'none'}) is supported; offer Opus, G.722, PCMU or PCMA` });
    const session = new IvrSession(id);
    await session.#bind(options.listenIp, options.ports);
    session.#codec = chosen;
    session.#encoder = new AudioEncoder(chosen.name);
    if (chosen.name !== 'opus') session.#inband = { decoder: new AudioDecoder(chosen.name), detector: new DtmfDetector(), pcm: new Int16Array(FRAME_SAMPLES * 12) };
    session.#remote = { address: audio.address, port: audio.port };
    const events = audio.codecs.filter((c) => c.name.toLowerCase() === 'telephone-event');
    for (const event of events) session.#eventTypes.add(event.payloadType);
    const media: AnswerMedia[] = parsed.media.map((m) =>
      m === audio
        ? {
            kind: 'audio',
            port: session.port,
            proto: audio.proto, // RTP/AVP or RTP/AVPF: an answer keeps the offered profile (RFC 3264 §6)
            codecs: [chosen.codec, ...events.slice(0, 1)],
            rtcpMux: audio.rtcpMux,
            direction: answerDirection(audio.direction),
            ptime: 20,
          }
        : { kind: m.kind, port: 0, proto: m.proto, codecs: m.codecs.slice(0, 1), ...(m.codecs.length === 0 ? { formats: m.formats.slice(0, 1) } : {}) },
    );
    session.#start();
    return { session, sdp: writeSdp({ address: options.address, sessionId: String(Date.now()), version: 1, media }) };
  }

  async #bind(listenIp: string, ports: { min: number; max: number }): Promise<void> {
    // Even ports for RTP (RTCP, when the caller does not multiplex, would be port + 1).
    const base = ports.min % 2 === 0 ? ports.min : ports.min + 1;
    const slots = Math.max(1, Math.floor((ports.max - base) / 2));
    const start = Math.floor(Math.random() * slots);
    for (let attempt = 0; attempt < Math.min(slots, 200); attempt++) {
      const port = base + 2 * ((start + attempt) % slots);
      const socket = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((resolve) => {
        const onError = () => resolve(false);
        socket.once('error', onError);
        socket.bind(port, listenIp, () => {
          socket.off('error', onError);
          resolve(true);
        });
      });
      if (bound) {
        this.#socket = socket;
        return;
      }
      socket.close();
    }
    throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `no free port in the IVR range ${ports.min}-${ports.max}` });
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** RTP packets dropped so far because they came from elsewhere than the caller's SDP address and port. */
  get foreignPackets(): number {
    return this.#foreignPackets;
  }

  get codec(): AudioCodecName {
    return this.#codec.name;
  }

  #start(): void {
    this.#socket.on('message', (packet, from) => {
      // The box sends to the SDP's address and port and does not latch onto another (a caller
      // behind NAT that needs latching gets no audio either), so RTP is the caller's only when
      // it comes from exactly there (symmetric RTP, RFC 4961).
      if (from.address !== this.#remote.address || from.port !== this.#remote.port) {
        // Once per call: enough to explain keys that "do nothing" to whoever reads the log.
        if (this.#foreignPackets++ === 0) log.info({ ivr: this.id, from: `${from.address}:${from.port}`, caller: `${this.#remote.address}:${this.#remote.port}` }, 'IVR ignores RTP that does not come from the caller\'s SDP address and port');
        return;
      }
      this.#receive(packet);
    });
    this.#socket.on('error', () => undefined);
    const started = performance.now();
    let tick = 0;
    const step = () => {
      if (this.#closed) return;
      this.#sendFrame();
      tick++;
      this.#timer = setTimeout(step, Math.max(0, started + tick * 20 - performance.now()));
    };
    step();
  }

  #receive(packet: Buffer): void {
    const rtp = parseRtp(packet);
    if (!rtp) return;
    if (this.#inband && rtp.payloadType === this.#codec.codec.payloadType) {
      const samples = this.#inband.decoder.decode(packet.subarray(rtp.payloadOffset, rtp.payloadEnd), this.#inband.pcm);
      for (const digit of this.#inband.detector.feed(this.#inband.pcm, samples)) this.digit(digit);
      return;
    }
    if (!this.#eventTypes.has(rtp.payloadType)) return;
    // The caller sends RFC 4733: in-band tones would only count the same digits twice.
    this.#inband = undefined;
    const payload = packet.subarray(rtp.payloadOffset, rtp.payloadEnd);
    if (payload.length < 4) return;
    const event = payload.readUInt8(0);
    const end = (payload.readUInt8(1) & 0x80) !== 0;
    // One digit per event: the first end packet reports it; its retransmissions (same RTP
    // timestamp, right after) are ignored. Some senders reuse one timestamp for every press
    // of a key, so the same timestamp again after a pause is a new press.
    const now = performance.now();
    if (!end || (rtp.timestamp === this.#lastEventTimestamp && now - this.#lastEventAt < 200)) return;
    this.#lastEventTimestamp = rtp.timestamp;
    this.#lastEventAt = now;
    const digit = DTMF_EVENTS[event];
    if (digit) this.digit(digit);
  }

  /** A digit from any source (RFC 4733 here, SIP INFO from the SIP side): barge-in, then reported. */
  digit(digit: string): void {
    if (this.#playing) {
      this.#queue = [];
      this.#position = 0;
      const playing = this.#playing;
      this.#playing = undefined;
      playing.resolve('interrupted');
    }
    this.emit('digit', digit);
  }

  /** Plays prompts one after the other; resolves when done, or at the first digit. */
  play(language: string, names: readonly string[]): Promise<'done' | 'interrupted'> {
    this.#playing?.resolve('interrupted');
    this.#queue = names.map((name) => promptSamples(language, name));
    this.#position = 0;
    return new Promise((resolve) => {
      this.#playing = { resolve };
    });
  }

  #sendFrame(): void {
    const frame = this.#frame;
    frame.fill(0);
    const current = this.#queue[0];
    if (current) {
      const take = Math.min(FRAME_SAMPLES, current.length - this.#position);
      frame.set(current.subarray(this.#position, this.#position + take));
      this.#position += take;
      if (this.#position >= current.length) {
        this.#queue.shift();
        this.#position = 0;
        if (this.#queue.length === 0 && this.#playing) {
          const playing = this.#playing;
          this.#playing = undefined;
          playing.resolve('done');
        }
      }
    }
    const length = this.#encoder.encode(frame, this.#encoded);
    const header = writeRtpHeader(Buffer.allocUnsafe(12), this.#codec.codec.payloadType, false, this.#sequence, this.#timestamp, this.#ssrc);
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + AUDIO_CODECS[this.#codec.name].timestampStep) >>> 0;
    this.#socket.send([header, Buffer.from(this.#encoded.subarray(0, length))], this.#remote.port, this.#remote.address);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#playing?.resolve('interrupted');
    this.#playing = undefined;
    try {
      this.#socket.close();
    } catch {
      // never bound
    }
    this.removeAllListeners();
  }
}
