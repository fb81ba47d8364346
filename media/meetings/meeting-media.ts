/**
 * The media of one live meeting: a mediasoup router on one worker, the meeting's audio mixer
 * with its loopback PlainTransport, and the participants' legs. A SIP leg is a PlainTransport
 * the terminal sends RTP/SRTP to (its audio becomes a producer, consumed by the mixer) and
 * receives its own mix from (a consumer of the mix producer the mixer feeds for it).
 * `close()` is idempotent and cascades: legs, mixer, router.
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';
import { AUDIO_CODECS, type AudioCodecName, codecByMimeType, pickAudioCodec } from '../audio-mixer/audio-codec.ts';
import { AudioMixer, type AudioMixerOptions } from '../audio-mixer/audio-mixer.ts';
import { natAddressFor, type StaticNat } from '../../server/core/static-nat.ts';
import { ComposedPicture, type PictureParticipant, type PictureState } from '../mcu/composed-picture.ts';
import { effectiveLayout, type LayoutChoice } from '../mcu/layouts.ts';
import { DEFAULT_VIDEO_POLICY, terminalMaxHeight, type VideoPolicy } from '../mcu/video-policy.ts';
import { type TranscodeTarget, transcodeKey, VideoTranscoder } from './video-transcoder.ts';
import { createVideoLeg, feedbackLines, pickVideoCodec, type VideoLeg, videoCapabilities } from './sip-video.ts';
import { type AnswerMedia, answerDirection, assertServable, type Direction, parseSdp, type SdpCodec, type SdpCrypto, type SdpMedia, writeSdp } from '../sdp/sip-sdp.ts';

const log = getLogger('meeting-media');

export const ROUTER_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'audio', mimeType: 'audio/G722', clockRate: 8000 },
  { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000 },
  { kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 0, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
];

/** SDES suites mediasoup speaks, in the box's order of preference. */
const SRTP_SUITES: readonly types.SrtpCryptoSuite[] = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

export type SrtpPolicy = 'optional' | 'required' | 'off';

export interface MediaNetwork {
  /** Address the media sockets listen on. */
  readonly listenIp: string;
  /** Address written into SDP (the box's LAN address, or the listen address). */
  readonly announcedAddress: string;
  readonly portRange: { readonly min: number; readonly max: number };
}

export interface SipLegRequest {
  readonly participantId: string;
  readonly displayName: string;
  readonly offer: string;
  readonly srtp: SrtpPolicy;
  /** The caller's SIP source address: with static NAT, callers outside the LAN get the public IP. */
  readonly remoteAddress?: string;
}

/** The SDP session a rebuilt leg keeps (o= session id, next version), within one dialog. */
interface SdpSession {
  readonly sessionId: string;
  readonly version: number;
}

export interface SipLegAnswer {
  readonly sdp: string;
  readonly audioCodec: AudioCodecName;
  readonly srtp: boolean;
}

/** One direction pair of one media stream (audio or video) of a participant. */
export interface StreamStats {
  readonly codec: string;
  /** Bits per second towards the box (from the participant) and from it. */
  readonly bitrateIn: number;
  readonly bitrateOut: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  /** Fraction of packets lost towards the box, 0-1 (video: the worst simulcast layer). */
  readonly packetLoss: number;
  /** Interarrival jitter of what the box receives, in ms. */
  readonly jitterMs: number;
}

export interface ParticipantSnapshot {
  readonly id: string;
  readonly displayName: string;
  readonly type: 'sip' | 'web';
  readonly audioCodec: string;
  /** The video codec the participant sends ('' without video). */
  readonly videoCodec: string;
  /** The mediasoup worker (process id) carrying the participant's transports. */
  readonly workerPid: number;
  readonly srtp: boolean;
  readonly muted: boolean;
  readonly direction: Direction;
  readonly joinedAt: string;
  readonly bitrateIn: number;
  readonly bitrateOut: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  /** Fraction of audio packets lost towards the box, 0-1. */
  readonly packetLoss: number;
  /** Fraction of video packets lost towards the box, 0-1 (the worst simulcast layer; 0 without video). */
  readonly videoPacketLoss: number;
  /** Interarrival jitter in ms. */
  readonly jitterMs: number;
  readonly rttMs: number;
  /** Audio and video, each with its codec, bitrates, packets, loss and jitter (video null without video). */
  readonly audio: StreamStats;
  readonly video: StreamStats | null;
  /** How long nothing has been received from the participant, in ms (0 while media arrives or the terminal holds). */
  readonly noMediaMs: number;
}

interface SipLeg {
  readonly id: string;
  readonly displayName: string;
  readonly transport: types.PlainTransport;
  readonly codec: SdpCodec;
  readonly audioCodec: AudioCodecName;
  readonly srtp: boolean;
  readonly sessionId: string;
  version: number;
  readonly srtpPolicy: SrtpPolicy;
  /** The addresses this leg's media uses (static NAT: the public IP for callers outside). */
  readonly network: MediaNetwork;
  direction: Direction;
  producer: types.Producer;
  mixProducer: types.Producer;
  consumer: types.Consumer;
  mixerConsumer: types.Consumer;
  readonly joinedAt: Date;
  lastRtpBytes: number;
  lastRtpAt: number;
  /** The terminal's audio as the meeting router has it (the producer, or its pipe producer). */
  readonly meetingAudio: types.Producer;
  /** The video half, when the terminal offered a video codec the box forwards. */
  video?: VideoLeg & {
    consumer?: types.Consumer;
    /** The meeting-router producer this leg is shown now (a camera, or a transcoder's output). */
    showing?: string;
    /** Whose camera that is. */
    showingParticipant?: string;
    /** The terminal's camera as the meeting router has it. */
    meetingProducer: types.Producer;
    direction: Direction;
  };
  /**
   * The router the leg's audio transport lives in: the meeting's own, or — when the terminal's
   * audio payload type differs from the meeting router's (mediasoup sends the router's numbers,
   * and a terminal must receive the numbers it offered) — a router of its own whose codec
   * carries the terminal's number, joined to the meeting router by pipe transports.
   */
  readonly legRouter: types.Router;
  /**
   * The same for the video transport. Payload-type numbers are scoped per m-line (a terminal
   * may number Opus and VP8 both 96), so each m-line gets the router its numbering needs.
   */
  readonly videoRouter: types.Router;
  /** The worker the leg's routers run on (another than the meeting's when the meeting is spread). */
  readonly legWorker: types.Worker;
  /** Meeting producers piped into the leg's routers (meeting producer id → the pipe producer there). */
  readonly piped: Map<string, types.Producer>;
}

/** A producer browsers can consume: a SIP leg's audio, a browser's microphone or camera. */
export interface ProducerInfo {
  readonly producerId: string;
  readonly participantId: string;
  readonly displayName: string;
  readonly kind: 'audio' | 'video';
}

export interface WebTransportInfo {
  readonly id: string;
  readonly iceParameters: types.IceParameters;
  readonly iceCandidates: types.IceCandidate[];
  readonly dtlsParameters: types.DtlsParameters;
}

export interface WebJoin {
  readonly routerRtpCapabilities: types.RtpCapabilities;
  readonly send: WebTransportInfo;
  readonly recv: WebTransportInfo;
  /** What is already there to consume. */
  readonly producers: ProducerInfo[];
}

export interface WebConsumerInfo {
  readonly id: string;
  readonly producerId: string;
  readonly kind: 'audio' | 'video';
  readonly rtpParameters: types.RtpParameters;
}

interface WebPeer {
  readonly id: string;
  readonly displayName: string;
  readonly joinedAt: Date;
  readonly send: types.WebRtcTransport;
  readonly recv: types.WebRtcTransport;
  readonly producers: Map<string, types.Producer>;
  readonly consumers: Map<string, types.Consumer>;
  /** The mixer's consumers of this peer's audio. */
  readonly mixerConsumers: types.Consumer[];
}

export interface MeetingMediaEvents {
  /** A SIP terminal should send a key frame (its picture is newly shown): SIP INFO. */
  keyframerequest: [participantId: string];
  newproducer: [info: ProducerInfo];
  producerclosed: [producerId: string, participantId: string];
  participantclosed: [participantId: string, reason: string];
  dominantspeaker: [participantId: string];
  close: [];
}

export interface MeetingMediaOptions {
  /** The addresses and port range for transports (read at each new one: a settings change applies to the next). */
  readonly network: () => MediaNetwork;
  /** Hang up a leg whose RTP stops for this long (not while it is on hold); read at each check. */
  readonly rtpTimeoutMs: () => number;
  readonly mixer?: AudioMixerOptions;
  /**
   * Spreading a large meeting: once the meeting's worker carries this many SIP legs, further
   * legs get a router on the least-loaded worker (`placeLeg`), piped to the meeting's router.
   */
  readonly legsPerWorker?: number;
  readonly placeLeg?: () => types.Worker;
  /** The call settings for composed video, read when a picture starts (live settings). */
  readonly videoPolicy?: () => VideoPolicy;
  /** Static NAT in force (read at every join). */
  readonly nat?: () => StaticNat | undefined;
}

/** Pipes a producer from one router to another (same worker or not); the copy's producer. */
async function pipe(from: types.Router, producerId: string, to: types.Router): Promise<types.Producer> {
  const { pipeProducer } = await from.pipeToRouter({ producerId, router: to, keepId: false });
  if (!pipeProducer) throw new Error(`piping producer ${producerId} gave no producer`);
  return pipeProducer;
}

/** The first offered audio codec the mixer takes; Opus answered with in-band FEC welcome. */
function pickMeetingAudio(media: SdpMedia): { codec: SdpCodec; name: AudioCodecName } | undefined {
  const chosen = pickAudioCodec(media.codecs);
  return chosen?.name === 'opus' ? { ...chosen, codec: { ...chosen.codec, fmtp: 'useinbandfec=1' } } : chosen;
}

function pickCrypto(media: SdpMedia): (SdpCrypto & { suite: types.SrtpCryptoSuite }) | undefined {
  for (const suite of SRTP_SUITES) {
    const crypto = media.crypto.find((c) => c.suite === suite);
    if (crypto) return { ...crypto, suite };
  }
  return undefined;
}

/** A producer's packet loss towards the box, 0-1: the worst of its streams (simulcast layers). */
function worstLoss(stats: readonly { fractionLost?: number }[]): number {
  return Math.max(0, ...stats.map((s) => (s.fractionLost ?? 0) / 256));
}

type AnyRtpStats = Partial<types.RtpStreamRecvStats & types.RtpStreamSendStats> & { type?: string };

/**
 * A stream's figures from mediasoup's producer stats (what the box receives: one entry per
 * simulcast layer, summed; loss the worst layer's) and consumer stats (what it sends).
 */
function streamStats(codec: string, clockRate: number, received: readonly AnyRtpStats[], sent: readonly AnyRtpStats[]): StreamStats {
  const inbound = received.filter((r) => r.type === undefined || r.type === 'inbound-rtp');
  const outbound = sent.filter((r) => r.type === 'outbound-rtp');
  const sum = (list: readonly AnyRtpStats[], key: 'bitrate' | 'packetCount') => list.reduce((total, r) => total + (r[key] ?? 0), 0);
  const jitter = Math.max(0, ...inbound.map((r) => r.jitter ?? 0));
  return {
    codec,
    bitrateIn: sum(inbound, 'bitrate'),
    bitrateOut: sum(outbound, 'bitrate'),
    packetsIn: sum(inbound, 'packetCount'),
    packetsOut: sum(outbound, 'packetCount'),
    packetLoss: worstLoss(inbound),
    jitterMs: Math.round((jitter / (clockRate / 1000)) * 10) / 10,
  };
}

const statsOf = async (entity: { getStats(): Promise<unknown[]> } | undefined): Promise<AnyRtpStats[]> =>
  entity ? ((await entity.getStats().catch(() => [])) as AnyRtpStats[]) : [];

export class MeetingMedia extends EventEmitter<MeetingMediaEvents> {
  readonly key: string;
  readonly router: types.Router;
  readonly #worker: types.Worker;
  readonly #options: MeetingMediaOptions;
  readonly #mixer: AudioMixer;
  readonly #mixerTransport: types.PlainTransport;
  readonly #legs = new Map<string, SipLeg>();
  readonly #webPeers = new Map<string, WebPeer>();
  readonly #muted = new Set<string>();
  /** Dominant speakers, most recent first: who SIP legs see (voice-activated video). */
  #speakerOrder: string[] = [];
  #videoRefresh: Promise<void> = Promise.resolve();
  readonly #transcoders = new Map<string, VideoTranscoder>();
  /**
   * The composed pictures (MCU) while the layout is not `single`: '' is the one everybody
   * shares; with self-view exclusion (small meetings) each SIP leg has its own, without itself.
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
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  static async create(key: string, worker: types.Worker, options: MeetingMediaOptions): Promise<MeetingMedia> {
    const router = await worker.createRouter({ mediaCodecs: ROUTER_CODECS, appData: { meeting: key, workerPid: worker.pid } });
    try {
      const mixer = new AudioMixer(options.mixer);
      const mixerPort = await mixer.bind('127.0.0.1');
      const mixerTransport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
      await mixerTransport.connect({ ip: '127.0.0.1', port: mixerPort });
      mixer.connect('127.0.0.1', mixerTransport.tuple.localPort);
      return new MeetingMedia(key, worker, router, mixer, mixerTransport, options);
    } catch (error) {
      router.close();
      throw error;
    }
  }

  private constructor(key: string, worker: types.Worker, router: types.Router, mixer: AudioMixer, mixerTransport: types.PlainTransport, options: MeetingMediaOptions) {
    super();
    this.key = key;
    this.#worker = worker;
    this.router = router;
    this.#mixer = mixer;
    this.#mixerTransport = mixerTransport;
    this.#options = options;
    mixer.on('dominantspeaker', (id) => {
      this.#speakerOrder = [id, ...this.#speakerOrder.filter((other) => other !== id)];
      this.emit('dominantspeaker', id);
      this.#refreshVideo();
    });
    router.observer.once('close', () => this.#routerLost());
    this.#timer = setInterval(() => void this.#checkRtp(), Math.min(5000, Math.max(500, options.rtpTimeoutMs() / 4)));
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The router closed under the meeting (its worker died): every participant has lost media
   * and is reported so (`media-restart`) for the control plane to re-attach them.
   */
  #routerLost(): void {
    if (this.#closed) return;
    const lost = [...this.#legs.keys(), ...this.#webPeers.keys()];
    if (lost.length > 0) log.warn({ meeting: this.key, participants: lost.length }, 'meeting media lost with its worker; the SIP side re-attaches the legs');
    for (const id of lost) this.removeParticipant(id, 'media-restart');
    this.close();
  }

  get size(): number {
    return this.#legs.size + this.#webPeers.size;
  }

  has(participantId: string): boolean {
    return this.#legs.has(participantId) || this.#webPeers.has(participantId);
  }

  async addSipLeg(request: SipLegRequest, session?: SdpSession): Promise<SipLegAnswer> {
    if (this.has(request.participantId)) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `participant ${request.participantId} is already in the meeting` });
    const offer = parseSdp(request.offer);
    const audio = offer.media.find((m) => m.kind === 'audio' && m.port > 0);
    if (!audio) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'the offer has no audio stream' });
    assertServable(audio, 'meeting', this.#options.network().listenIp);
    const chosen = pickMeetingAudio(audio);
    if (!chosen) {
      throw createError('VCBOX_ERR_MEDIA_SDP', {
        warning: 305,
        reason: `none of the offered audio codecs (${audio.codecs.map((c) => c.name).join(', ') || 'none'}) is supported; offer Opus, G.722, PCMU or PCMA`,
      });
    }
    const secure = audio.proto.includes('SAVP');
    const crypto = secure ? pickCrypto(audio) : undefined;
    if (secure && request.srtp === 'off') throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'SRTP is switched off on this box; call with plain RTP' });
    if (secure && !crypto) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'none of the offered SRTP crypto suites is supported (offer AES_CM_128_HMAC_SHA1_80)' });
    if (!secure && request.srtp === 'required') throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'this box requires SRTP; enable media encryption (SRTP/SDES) on the terminal' });

    const network = this.#networkFor(request.remoteAddress);
    const info = AUDIO_CODECS[chosen.name];
    const videoMedia = offer.media.find((m) => m.kind === 'video' && m.port > 0);
    const offeredVideo = videoMedia ? pickVideoCodec(videoMedia) : undefined;
    const videoCrypto = videoMedia?.proto.includes('SAVP') ? pickCrypto(videoMedia) : undefined;
    const chosenVideo = videoMedia && offeredVideo && (!videoMedia.proto.includes('SAVP') || videoCrypto) ? offeredVideo : undefined;

    // The terminal must receive the payload types it offered; mediasoup sends its router's.
    const audioCap: types.RouterRtpCodecCapability = {
      kind: 'audio',
      mimeType: info.mimeType,
      clockRate: info.clockRate,
      ...(info.channels > 1 ? { channels: info.channels } : {}),
      preferredPayloadType: chosen.codec.payloadType,
    };
    const videoCap: types.RouterRtpCodecCapability | undefined = chosenVideo
      ? { kind: 'video', mimeType: chosenVideo.mimeType, clockRate: 90000, parameters: chosenVideo.parameters, preferredPayloadType: chosenVideo.codec.payloadType }
      : undefined;
    const numberedAsMeeting = (cap: types.RouterRtpCodecCapability) =>
      this.router.rtpCapabilities.codecs?.some(
        (c) =>
          c.mimeType.toLowerCase() === cap.mimeType.toLowerCase() &&
          c.preferredPayloadType === cap.preferredPayloadType &&
          (cap.mimeType !== 'video/H264' || c.parameters?.['packetization-mode'] === cap.parameters?.['packetization-mode']),
      ) ?? false;
    const onMeetingWorker = [...this.#legs.values()].filter((l) => l.legRouter === this.router || l.legWorker === this.#worker).length;
    const spread = this.#options.placeLeg !== undefined && onMeetingWorker >= (this.#options.legsPerWorker ?? Number.POSITIVE_INFINITY);
    const legWorker = spread && this.#options.placeLeg ? this.#options.placeLeg() : this.#worker;
    // One router per m-line: the meeting's when this m-line's numbering is the meeting router's
    // (and the leg stays on the meeting's worker), else one whose only codec has the terminal's number.
    const ownRouters: types.Router[] = [];
    const routerFor = async (cap: types.RouterRtpCodecCapability): Promise<types.Router> => {
      if (legWorker === this.#worker && numberedAsMeeting(cap)) return this.router;
      const router = await legWorker.createRouter({ mediaCodecs: [cap], appData: { meeting: this.key, participantId: request.participantId, kind: cap.kind } });
      ownRouters.push(router);
      return router;
    };
    const piped = new Map<string, types.Producer>();
    const closeLeg = () => {
      for (const router of ownRouters) router.close();
    };
    let legRouter: types.Router | undefined;
    let videoRouter: types.Router | undefined;

    let video: VideoLeg | undefined;
    let transport: types.PlainTransport | undefined;
    try {
      legRouter = await routerFor(audioCap);
      transport = await legRouter.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
        rtcpMux: audio.rtcpMux,
        comedia: false,
        ...(crypto ? { enableSrtp: true, srtpCryptoSuite: crypto.suite } : {}),
        appData: { participantId: request.participantId },
      });
      await transport.connect({
        ip: audio.address,
        port: audio.port,
        ...(audio.rtcpMux ? {} : { rtcpPort: audio.rtcpPort ?? audio.port + 1 }),
        ...(crypto ? { srtpParameters: { cryptoSuite: crypto.suite, keyBase64: crypto.keyBase64 } } : {}),
      });
      const producer = await transport.produce({
        kind: 'audio',
        rtpParameters: {
          codecs: [{ mimeType: info.mimeType, payloadType: chosen.codec.payloadType, clockRate: info.clockRate, ...(info.channels > 1 ? { channels: info.channels } : {}) }],
          encodings: [{}],
        },
      });
      // Same worker: the pipe producer needs an id of its own (keepId false).
      const meetingAudio = legRouter === this.router ? producer : await pipe(legRouter, producer.id, this.router);
      const mixerConsumer = await this.#mixerTransport.consume({ producerId: meetingAudio.id, rtpCapabilities: this.router.rtpCapabilities });
      const mixProducer = await this.#mixerTransport.produce({
        kind: 'audio',
        rtpParameters: {
          codecs: [{ mimeType: info.mimeType, payloadType: 100, clockRate: info.clockRate, ...(info.channels > 1 ? { channels: info.channels } : {}) }],
          encodings: [{ ssrc: randomInt(1, 0xffffffff) }],
        },
      });
      let mixInLegRouter = mixProducer;
      if (legRouter !== this.router) {
        mixInLegRouter = await pipe(this.router, mixProducer.id, legRouter);
        piped.set(mixProducer.id, mixInLegRouter);
      }
      const consumer = await transport.consume({
        producerId: mixInLegRouter.id,
        rtpCapabilities: { codecs: [{ ...audioCap, preferredPayloadType: chosen.codec.payloadType }], headerExtensions: [] },
      });
      this.#mixer.addInput(mixerConsumer.rtpParameters.encodings?.[0]?.ssrc ?? 0, request.participantId, chosen.name);
      this.#mixer.addOutput(request.participantId, chosen.name, 100, mixProducer.rtpParameters.encodings?.[0]?.ssrc ?? 0);

      let meetingVideo: types.Producer | undefined;
      if (videoMedia && chosenVideo && videoCap) {
        videoRouter = await routerFor(videoCap);
        video = await createVideoLeg(videoRouter, network, videoMedia, chosenVideo, videoCrypto, request.participantId);
        meetingVideo = videoRouter === this.router ? video.producer : await pipe(videoRouter, video.producer.id, this.router);
      }

      const direction = answerDirection(audio.direction);
      const leg: SipLeg = {
        id: request.participantId,
        displayName: request.displayName,
        transport,
        codec: chosen.codec,
        audioCodec: chosen.name,
        srtp: Boolean(crypto),
        sessionId: session?.sessionId ?? String(randomInt(1, 2 ** 47)),
        version: session?.version ?? 1,
        srtpPolicy: request.srtp,
        network,
        direction,
        producer,
        mixProducer,
        consumer,
        mixerConsumer,
        joinedAt: new Date(),
        lastRtpBytes: 0,
        lastRtpAt: Date.now(),
        legRouter,
        videoRouter: videoRouter ?? legRouter,
        legWorker,
        piped,
        meetingAudio,
        ...(video && videoMedia && meetingVideo ? { video: { ...video, meetingProducer: meetingVideo, direction: answerDirection(videoMedia.direction) } } : {}),
      };
      this.#legs.set(leg.id, leg);
      for (const router of ownRouters) {
        // Its own router closing under it (its worker died): the leg has lost media.
        router.observer.once('close', () => {
          if (this.#legs.get(leg.id) === leg && !this.#closed) this.removeParticipant(leg.id, 'media-restart');
        });
      }
      await this.#applyDirection(leg);
      log.info({ meeting: this.key, participant: leg.id, codec: chosen.name, srtp: leg.srtp, port: transport.tuple.localPort }, 'SIP leg joined');
      this.emit('newproducer', { producerId: meetingAudio.id, participantId: leg.id, displayName: leg.displayName, kind: 'audio' });
      if (leg.video) this.emit('newproducer', { producerId: leg.video.meetingProducer.id, participantId: leg.id, displayName: leg.displayName, kind: 'video' });
      this.#refreshVideo();
      return { sdp: this.#answer(leg, offer.media, audio, crypto), audioCodec: chosen.name, srtp: leg.srtp };
    } catch (error) {
      transport?.close();
      video?.transport.close();
      closeLeg();
      this.#mixer.removeParticipant(request.participantId);
      this.#legs.delete(request.participantId);
      throw error;
    }
  }

  /** A re-INVITE or UPDATE with a new offer: hold/resume (direction) and a moved address. */
  async updateSipLeg(participantId: string, offerText: string): Promise<string> {
    const leg = this.#leg(participantId);
    const offer = parseSdp(offerText);
    const audio = offer.media.find((m) => m.kind === 'audio');
    if (!audio) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'the new offer has no audio stream' });
    assertServable(audio, 'meeting', leg.network.listenIp);
    const offeredSame = audio.codecs.some((c) => c.payloadType === leg.codec.payloadType && c.name.toLowerCase() === leg.codec.name.toLowerCase());
    if (!offeredSame) {
      // A codec change: the leg is rebuilt for the new offer (new transports and ports, the
      // same SDP session, the next version); the old leg stays if the new offer is refused.
      const request: SipLegRequest = { participantId, displayName: leg.displayName, offer: offerText, srtp: leg.srtpPolicy };
      const chosen = audio.port > 0 ? pickMeetingAudio(audio) : undefined;
      if (!chosen) {
        throw createError('VCBOX_ERR_MEDIA_SDP', { warning: 305, reason: `none of the offered audio codecs (${audio.codecs.map((c) => c.name).join(', ') || 'none'}) is supported; keep ${leg.codec.name}` });
      }
      this.removeParticipant(participantId, 'codec-change', true);
      const answer = await this.addSipLeg(request, { sessionId: leg.sessionId, version: leg.version + 1 });
      log.info({ meeting: this.key, participant: participantId, from: leg.codec.name, to: answer.audioCodec }, 'audio codec changed by re-INVITE');
      return answer.sdp;
    }
    if (audio.port === 0) leg.direction = 'inactive';
    else leg.direction = answerDirection(audio.direction);
    const videoOffer = offer.media.find((m) => m.kind === 'video');
    if (leg.video && videoOffer) leg.video.direction = videoOffer.port === 0 ? 'inactive' : answerDirection(videoOffer.direction);
    await this.#applyDirection(leg);
    leg.version++;
    leg.lastRtpAt = Date.now();
    return this.#answer(leg, offer.media, audio, leg.srtp ? pickCrypto(audio) : undefined);
  }

  async #applyDirection(leg: SipLeg): Promise<void> {
    // The box sends while the terminal receives; a terminal on hold (sendonly/inactive) gets nothing.
    const send = leg.direction === 'sendrecv' || leg.direction === 'sendonly';
    if (send) await leg.consumer.resume();
    else await leg.consumer.pause();
    const consumer = leg.video?.consumer;
    if (consumer && !consumer.closed) {
      const sendVideo = leg.video?.direction === 'sendrecv' || leg.video?.direction === 'sendonly';
      await (sendVideo ? consumer.resume() : consumer.pause());
    }
  }

  #answer(leg: SipLeg, offered: readonly SdpMedia[], audio: SdpMedia, crypto: SdpCrypto | undefined): string {
    const { network } = leg;
    const telephoneEvent = audio.codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
    const videoOffer = offered.find((m) => m.kind === 'video' && m.port > 0);
    const media: AnswerMedia[] = offered.map((m): AnswerMedia => {
      const video = leg.video;
      if (m === videoOffer && video) {
        const srtp = video.transport.srtpParameters;
        const videoCrypto = m.proto.includes('SAVP') ? pickCrypto(m) : undefined;
        return {
          kind: 'video',
          port: video.transport.tuple.localPort,
          proto: m.proto,
          codecs: [video.chosen.codec],
          rtcpMux: m.rtcpMux,
          ...(m.rtcpMux ? {} : { rtcpPort: video.transport.rtcpTuple?.localPort }),
          ...(videoCrypto && srtp ? { crypto: { tag: videoCrypto.tag, suite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 } } : {}),
          direction: video.direction,
          extra: feedbackLines(video.chosen.codec.payloadType),
        };
      }
      if (m !== audio) return { kind: m.kind, port: 0, proto: m.proto, codecs: m.codecs.slice(0, 1) };
      return {
        kind: 'audio',
        port: leg.transport.tuple.localPort,
        proto: audio.proto,
        codecs: telephoneEvent ? [leg.codec, telephoneEvent] : [leg.codec],
        rtcpMux: audio.rtcpMux,
        ...(audio.rtcpMux ? {} : { rtcpPort: leg.transport.rtcpTuple?.localPort }),
        ...(crypto && leg.transport.srtpParameters ? { crypto: { tag: crypto.tag, suite: leg.transport.srtpParameters.cryptoSuite, keyBase64: leg.transport.srtpParameters.keyBase64 } } : {}),
        direction: leg.direction,
        ptime: 20,
      };
    });
    return writeSdp({ address: network.announcedAddress, sessionId: leg.sessionId, version: leg.version, media });
  }

  #leg(participantId: string): SipLeg {
    const leg = this.#legs.get(participantId);
    if (!leg) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: participantId, meeting: this.key });
    return leg;
  }

  /** Every video producer with its participant (SIP legs' cameras, browsers' cameras). */
  #videoSources(): { participantId: string; producer: types.Producer }[] {
    const out: { participantId: string; producer: types.Producer }[] = [];
    for (const leg of this.#legs.values()) if (leg.video) out.push({ participantId: leg.id, producer: leg.video.meetingProducer });
    for (const peer of this.#webPeers.values()) {
      for (const producer of peer.producers.values()) if (producer.kind === 'video') out.push({ participantId: peer.id, producer });
    }
    return out;
  }

  /**
   * Video for SIP legs. With a composed layout (anything but `single`) every leg receives the
   * meeting's composed picture (MCU) in its codec and size — one encode per distinct (codec,
   * mode, size), shared. With `single` (or when the picture cannot start) video is
   * voice-activated forwarding: each leg receives the most recent dominant speaker other than
   * itself, through a transcoder when it cannot decode that camera's codec. The console's
   * "broadcast a site" and "watch a site" override both for the terminals concerned: they are
   * forwarded that participant's camera full screen (the broadcast site itself keeps the
   * meeting's picture). A change re-consumes (mediasoup asks the new source for a key frame; a SIP source is also asked by
   * SIP INFO). Runs one refresh at a time.
   */
  #refreshVideo(): void {
    this.#videoRefresh = this.#videoRefresh.then(() => this.#doRefreshVideo()).catch((error: unknown) => {
      log.warn({ meeting: this.key, err: (error as Error).message }, 'video switch failed');
    });
  }

  /** Everyone in the meeting in join order, with their camera in the meeting router. */
  #pictureParticipants(): PictureParticipant[] {
    const all: (PictureParticipant & { joinedAt: Date })[] = [];
    for (const leg of this.#legs.values()) all.push({ id: leg.id, displayName: leg.displayName, joinedAt: leg.joinedAt, ...(leg.video ? { video: leg.video.meetingProducer } : {}) });
    for (const peer of this.#webPeers.values()) {
      const camera = [...peer.producers.values()].find((p) => p.kind === 'video' && !p.closed);
      all.push({ id: peer.id, displayName: peer.displayName, joinedAt: peer.joinedAt, ...(camera ? { video: camera } : {}) });
    }
    return all.sort((a, b) => a.joinedAt.getTime() - b.joinedAt.getTime());
  }

  /** The media addresses for a caller: with static NAT, the public IP for one outside the LAN. */
  #networkFor(remoteAddress: string | undefined): MediaNetwork {
    const network = this.#options.network();
    const publicIp = natAddressFor(this.#options.nat?.(), remoteAddress);
    return publicIp ? { ...network, announcedAddress: publicIp } : network;
  }

  #policy(): VideoPolicy {
    return this.#options.videoPolicy?.() ?? DEFAULT_VIDEO_POLICY;
  }

  /**
   * The call settings for composed video changed: running pictures take the new polling at
   * once; a new canvas (max video resolution) or bitrate (per-call bandwidth) needs a new
   * encoder, so such a picture is replaced — its viewers see the new one from its first key
   * frame, without any renegotiation.
   */
  videoPolicyChanged(): void {
    if (this.#closed) return;
    const policy = this.#policy();
    let replaced = false;
    for (const [key, picture] of [...this.#pictures]) {
      const sameCanvas = picture.canvas.width === policy.canvas.width && picture.canvas.height === policy.canvas.height && picture.canvas.fps === policy.canvas.fps;
      if (sameCanvas && picture.kbps === policy.kbps) {
        picture.setPolling(policy.polling);
        continue;
      }
      log.info({ meeting: this.key, picture: key || 'shared', canvas: policy.canvas, kbps: policy.kbps }, 'video settings changed: the composed picture restarts with them');
      this.#closePicture(key);
      replaced = true;
    }
    if (replaced) this.#refreshVideo();
  }

  /** A composed picture ('' shared, or a leg's own), started on first need; undefined if it cannot start (logged). */
  async #composedPicture(key: string): Promise<ComposedPicture | undefined> {
    const running = this.#pictures.get(key);
    if (running && !running.closed) return running;
    const pending = this.#picturesStarting.get(key);
    if (pending) return pending;
    const starting = ComposedPicture.create(this.router, {
      ...this.#policy(),
      onKeyFrameNeeded: (id) => {
        if (this.#legs.has(id)) this.emit('keyframerequest', id);
      },
    })
      .then((picture) => {
        this.#pictures.set(key, picture);
        picture.onClose = () => {
          if (this.#pictures.get(key) === picture) this.#pictures.delete(key);
          if (!this.#closed) this.#refreshVideo();
        };
        if (this.#closed) picture.close();
        return picture;
      })
      .catch((error: unknown) => {
        log.error({ meeting: this.key, err: (error as Error).message }, 'the composed picture could not start; SIP legs get voice-activated video');
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

  async #doRefreshVideo(): Promise<void> {
    if (this.#closed) return;
    const participants = this.#pictureParticipants();
    const policy = this.#policy();
    const layout = effectiveLayout(this.#layoutChoice, participants.length, policy.limits);
    const videoLegs = [...this.#legs.values()].filter((leg) => leg.video && !leg.video.transport.closed);
    const sources = this.#videoSources();
    // Broadcast / watch: the camera a leg is made to see full screen, when that camera is there.
    const forcedSource = (legId: string) => {
      const wanted = this.#watching.get(legId) ?? (this.#broadcast !== legId ? this.#broadcast : undefined);
      return wanted === undefined || wanted === legId ? undefined : sources.find((s) => s.participantId === wanted && !s.producer.closed);
    };
    const composedLegs = layout !== 'single' && videoLegs.length > 0;
    // Self-view exclusion costs a picture per leg: only up to the admin's number of legs.
    const ownPictures = composedLegs && videoLegs.length <= policy.selfViewExclusionMax;
    const pictureKeys = new Set<string>();
    if (composedLegs) for (const leg of videoLegs) if (!forcedSource(leg.id)) pictureKeys.add(ownPictures ? leg.id : '');
    if (this.#composedWeb.size > 0) pictureKeys.add('');
    const pictures = new Map<string, ComposedPicture>();
    for (const key of pictureKeys) {
      const picture = await this.#composedPicture(key);
      if (!picture) continue;
      pictures.set(key, picture);
      const shown = key === '' ? participants : participants.filter((p) => p.id !== key);
      await picture.update({ participants: shown, speaker: this.#speakerOrder[0], choice: this.#layoutChoice, pinned: this.#pinned, limits: policy.limits });
    }
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
      const picture = composedLegs && !forced ? pictures.get(ownPictures ? leg.id : '') : undefined;
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
        if (target && !this.router.canConsume({ producerId: target.producer.id, rtpCapabilities: caps })) {
          const wanted: TranscodeTarget = { mimeType: video.chosen.mimeType, ...(video.chosen.mimeType === 'video/H264' ? { packetizationMode: mode } : {}) };
          shown = await this.#transcoder(target.producer, wanted).catch((error: unknown) => {
            log.warn({ meeting: this.key, err: (error as Error).message }, 'could not start a transcoder');
            return undefined;
          });
        }
      }
      if (video.consumer && !video.consumer.closed && video.showing === shown?.id) continue;
      const previous = video.showing;
      video.consumer?.close();
      video.consumer = undefined;
      video.showing = undefined;
      video.showingParticipant = undefined;
      if (previous) {
        // Stop piping the picture this leg no longer shows.
        leg.piped.get(previous)?.close();
        leg.piped.delete(previous);
      }
      if (!shown || !showingParticipant) continue;
      let source = shown;
      if (leg.videoRouter !== this.router) {
        source = await pipe(this.router, shown.id, leg.videoRouter);
        leg.piped.set(shown.id, source);
      }
      // (A composed output makes a key frame whenever mediasoup asks it for one: this consumer
      // starting, or the terminal's PLI/FIR.)
      const consumer = await video.transport.consume({ producerId: source.id, rtpCapabilities: caps });
      video.showing = shown.id;
      video.showingParticipant = showingParticipant;
      if (video.direction === 'recvonly' || video.direction === 'inactive') await consumer.pause();
      video.consumer = consumer;
      if (!picture && this.#legs.has(showingParticipant)) this.emit('keyframerequest', showingParticipant);
    }
    const inUse = new Set([...this.#legs.values()].map((l) => l.video?.showing).filter((id): id is string => id !== undefined));
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

  /** The meeting's layout (the console's layout picker) and who is pinned to the big pane. */
  setLayout(choice: LayoutChoice, pinned?: string | null): void {
    this.#layoutChoice = choice;
    this.#pinned = pinned ?? undefined;
    this.#refreshVideo();
  }

  /** Broadcast a site (null: stop): every other SIP terminal sees it full screen. */
  setBroadcast(participantId: string | null): void {
    this.#broadcast = participantId ?? undefined;
    this.#refreshVideo();
  }

  /** Watch a site: the SIP terminal `viewerId` sees `watchedId` full screen (null: the meeting's picture again). */
  setWatch(viewerId: string, watchedId: string | null): void {
    if (watchedId === null || watchedId === viewerId) this.#watching.delete(viewerId);
    else this.#watching.set(viewerId, watchedId);
    this.#refreshVideo();
  }

  /** Who is broadcast and who watches whom now. */
  get videoFocus(): { broadcast: string | null; watching: Record<string, string> } {
    return { broadcast: this.#broadcast ?? null, watching: Object.fromEntries(this.#watching) };
  }

  /** A participant gone for good takes their broadcast and watches with them. */
  #dropFocus(participantId: string): void {
    if (this.#broadcast === participantId) this.#broadcast = undefined;
    for (const [viewer, watched] of [...this.#watching]) if (viewer === participantId || watched === participantId) this.#watching.delete(viewer);
  }

  /**
   * The composed picture now (layout, who is in which pane, outputs) — the shared one, or the
   * one `participantId` sees — or null without one.
   */
  pictureState(participantId?: string): (PictureState & { choice: LayoutChoice; pinned: string | null; pictures: number }) | null {
    const picture = (participantId ? this.#pictures.get(participantId) : undefined) ?? this.#pictures.get('') ?? [...this.#pictures.values()][0];
    if (!picture || picture.closed) return null;
    return { ...picture.state, choice: this.#layoutChoice, pinned: this.#pinned ?? null, pictures: this.#pictures.size };
  }

  /**
   * The latest changes reach the composed picture: milliseconds from then to the first
   * encoded frame showing them (the layout-change latency the benchmark reports).
   */
  async measurePictureChange(): Promise<number | undefined> {
    await this.#videoRefresh;
    return (this.#pictures.get('') ?? [...this.#pictures.values()][0])?.measureChange();
  }

  async #transcoder(source: types.Producer, target: TranscodeTarget): Promise<types.Producer> {
    const key = transcodeKey(source.id, target);
    let transcoder = this.#transcoders.get(key);
    if (!transcoder || transcoder.closed) {
      transcoder = await VideoTranscoder.start(this.router, source, target);
      this.#transcoders.set(key, transcoder);
      const started = transcoder;
      // Ended by itself (no input for a while): the legs showing it choose again.
      started.onClose = () => {
        if (this.#transcoders.get(key) === started) this.#transcoders.delete(key);
        if (!this.#closed) this.#refreshVideo();
      };
    }
    return transcoder.producer;
  }

  /**
   * A SIP terminal asked for a key frame by SIP INFO (picture_fast_update, RFC 5168) instead of
   * RTCP: the video it is sent is asked for one, as mediasoup does for its PLI/FIR.
   */
  async requestKeyFrame(participantId: string): Promise<void> {
    const consumer = this.#legs.get(participantId)?.video?.consumer;
    if (consumer && !consumer.closed) await consumer.requestKeyFrame();
  }

  /** Who each SIP leg sees now (participant ids), for the console and tests. */
  videoRouting(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const leg of this.#legs.values()) {
      if (leg.video) out[leg.id] = leg.video.consumer && !leg.video.consumer.closed ? (leg.video.showingParticipant ?? null) : null;
    }
    return out;
  }

  /** Transcoders running now (source>codec keys), for tests and the console. */
  get transcoders(): string[] {
    return [...this.#transcoders.keys()];
  }

  /** Mutes a participant for everyone: out of the mix, and its audio producers paused (SFU). */
  async setMuted(participantId: string, muted: boolean): Promise<void> {
    const producers = this.#audioProducersOf(participantId);
    if (muted) this.#muted.add(participantId);
    else this.#muted.delete(participantId);
    this.#mixer.setMuted(participantId, muted);
    for (const producer of producers) await (muted ? producer.pause() : producer.resume());
  }

  async muteAll(muted: boolean, except?: string): Promise<void> {
    for (const id of [...this.#legs.keys(), ...this.#webPeers.keys()]) if (id !== except) await this.setMuted(id, muted);
  }

  #audioProducersOf(participantId: string): types.Producer[] {
    const leg = this.#legs.get(participantId);
    if (leg) return [leg.producer];
    const peer = this.#webPeers.get(participantId);
    if (peer) return [...peer.producers.values()].filter((p) => p.kind === 'audio');
    throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: participantId, meeting: this.key });
  }

  /** Every producer browsers may consume (everyone's but the asking peer's own). */
  producers(except?: string): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const leg of this.#legs.values()) {
      if (leg.id === except) continue;
      out.push({ producerId: leg.meetingAudio.id, participantId: leg.id, displayName: leg.displayName, kind: 'audio' });
      if (leg.video) out.push({ producerId: leg.video.meetingProducer.id, participantId: leg.id, displayName: leg.displayName, kind: 'video' });
    }
    for (const peer of this.#webPeers.values()) {
      if (peer.id === except) continue;
      for (const producer of peer.producers.values()) out.push({ producerId: producer.id, participantId: peer.id, displayName: peer.displayName, kind: producer.kind });
    }
    return out;
  }

  // ------------------------------------------------------------------ browsers (SFU)

  /** A browser joins; one outside the LAN (static NAT) gets ICE candidates on the public IP. */
  async addWebPeer(participantId: string, displayName: string, remoteAddress?: string): Promise<WebJoin> {
    if (this.has(participantId)) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `participant ${participantId} is already in the meeting` });
    const network = this.#networkFor(remoteAddress);
    const listenInfos: types.TransportListenInfo[] = [
      { protocol: 'udp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
      { protocol: 'tcp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
    ];
    const send = await this.router.createWebRtcTransport({ listenInfos, appData: { participantId, direction: 'send' } });
    const recv = await this.router.createWebRtcTransport({ listenInfos, appData: { participantId, direction: 'recv' } }).catch((error: unknown) => {
      send.close();
      throw error;
    });
    const peer: WebPeer = { id: participantId, displayName, joinedAt: new Date(), send, recv, producers: new Map(), consumers: new Map(), mixerConsumers: [] };
    this.#webPeers.set(participantId, peer);
    for (const transport of [send, recv]) {
      transport.on('dtlsstatechange', (state) => {
        if (state === 'failed' || state === 'closed') this.removeParticipant(participantId, 'connection-lost');
      });
    }
    log.info({ meeting: this.key, participant: participantId }, 'browser joined');
    const info = (t: types.WebRtcTransport): WebTransportInfo => ({ id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters });
    return { routerRtpCapabilities: this.router.rtpCapabilities, send: info(send), recv: info(recv), producers: this.producers(participantId) };
  }

  #peer(participantId: string): WebPeer {
    const peer = this.#webPeers.get(participantId);
    if (!peer) throw createError('VCBOX_ERR_PARTICIPANT_NOT_FOUND', { id: participantId, meeting: this.key });
    return peer;
  }

  async connectWebTransport(participantId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const peer = this.#peer(participantId);
    const transport = peer.send.id === transportId ? peer.send : peer.recv.id === transportId ? peer.recv : undefined;
    if (!transport) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `unknown transport ${transportId}` });
    await transport.connect({ dtlsParameters });
  }

  async produceWeb(participantId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<string> {
    const peer = this.#peer(participantId);
    const producer = await peer.send.produce({ kind, rtpParameters, appData: { participantId } });
    peer.producers.set(producer.id, producer);
    if (kind === 'audio') {
      // SIP legs hear browsers through the mixer.
      const consumer = await this.#mixerTransport.consume({ producerId: producer.id, rtpCapabilities: this.router.rtpCapabilities });
      peer.mixerConsumers.push(consumer);
      const codec = codecByMimeType(consumer.rtpParameters.codecs[0]?.mimeType ?? '');
      if (codec) this.#mixer.addInput(consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0, participantId, codec.name);
      if (this.#muted.has(participantId)) await producer.pause();
    }
    this.emit('newproducer', { producerId: producer.id, participantId, displayName: peer.displayName, kind });
    if (kind === 'video') this.#refreshVideo();
    return producer.id;
  }

  async consumeWeb(participantId: string, producerId: string, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    const peer = this.#peer(participantId);
    if (!this.router.canConsume({ producerId, rtpCapabilities })) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `this browser cannot receive producer ${producerId} (no common codec)` });
    }
    const consumer = await peer.recv.consume({ producerId, rtpCapabilities, paused: true });
    peer.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  }

  /**
   * A browser takes the composed picture (VP8, the canvas size) instead of every camera: one
   * video stream to decode, for weak laptops (the join page's "composed view").
   */
  async consumeComposedWeb(participantId: string, rtpCapabilities: types.RtpCapabilities): Promise<WebConsumerInfo> {
    const peer = this.#peer(participantId);
    this.#composedWeb.set(participantId, undefined);
    this.#refreshVideo();
    await this.#videoRefresh;
    const picture = this.#pictures.get('');
    if (!picture || picture.closed) throw createError('VCBOX_ERR_MEDIA_UNAVAILABLE', { reason: 'the composed picture could not start' });
    const producer = await picture.output({ mimeType: 'video/VP8', height: picture.canvas.height });
    if (!this.router.canConsume({ producerId: producer.id, rtpCapabilities })) {
      throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'this browser cannot receive the composed picture (no VP8)' });
    }
    this.#composedWeb.set(participantId, producer.id);
    const consumer = await peer.recv.consume({ producerId: producer.id, rtpCapabilities, paused: true, appData: { composed: true } });
    peer.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
    return { id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  }

  async resumeWebConsumer(participantId: string, consumerId: string): Promise<void> {
    const consumer = this.#peer(participantId).consumers.get(consumerId);
    if (!consumer) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: `unknown consumer ${consumerId}` });
    await consumer.resume();
    if (consumer.appData.composed) this.#pictures.get('')?.keyFrame(consumer.producerId);
  }

  /** Removes a leg (hang-up, removal, RTP timeout); emits participantclosed unless `quiet`. */
  removeParticipant(participantId: string, reason: string, quiet = false): boolean {
    const peer = this.#webPeers.get(participantId);
    if (peer) {
      this.#webPeers.delete(participantId);
      this.#composedWeb.delete(participantId);
      this.#muted.delete(participantId);
      this.#mixer.removeParticipant(participantId);
      for (const producer of peer.producers.values()) this.emit('producerclosed', producer.id, participantId);
      peer.send.close();
      peer.recv.close();
      this.#speakerOrder = this.#speakerOrder.filter((id) => id !== participantId);
      if (!quiet) this.#dropFocus(participantId);
      if (!this.#closed) this.#refreshVideo();
      log.info({ meeting: this.key, participant: participantId, reason }, 'browser left');
      if (!quiet) this.emit('participantclosed', participantId, reason);
      return true;
    }
    const leg = this.#legs.get(participantId);
    if (!leg) return false;
    this.#legs.delete(participantId);
    this.#muted.delete(participantId);
    this.#mixer.removeParticipant(participantId);
    this.emit('producerclosed', leg.meetingAudio.id, participantId);
    if (leg.video) this.emit('producerclosed', leg.video.meetingProducer.id, participantId);
    leg.mixerConsumer.close();
    leg.mixProducer.close();
    leg.transport.close();
    leg.video?.transport.close();
    if (leg.legRouter !== this.router) leg.legRouter.close();
    if (leg.videoRouter !== this.router) leg.videoRouter.close();
    this.#speakerOrder = this.#speakerOrder.filter((id) => id !== participantId);
    if (!quiet) this.#dropFocus(participantId);
    if (!this.#closed) this.#refreshVideo();
    log.info({ meeting: this.key, participant: participantId, reason }, 'participant left');
    if (!quiet) this.emit('participantclosed', participantId, reason);
    return true;
  }

  async #checkRtp(): Promise<void> {
    const now = Date.now();
    for (const leg of [...this.#legs.values()]) {
      if (leg.direction === 'inactive' || leg.direction === 'recvonly') {
        leg.lastRtpAt = now; // on hold: the terminal sends nothing on purpose
        continue;
      }
      try {
        const [stats] = await leg.transport.getStats();
        const bytes = stats?.rtpBytesReceived ?? 0;
        if (bytes !== leg.lastRtpBytes) {
          leg.lastRtpBytes = bytes;
          leg.lastRtpAt = now;
        } else if (now - leg.lastRtpAt >= this.#options.rtpTimeoutMs()) {
          this.removeParticipant(leg.id, 'rtp-timeout');
        }
      } catch {
        // The transport closed under us; removeParticipant has run or will.
      }
    }
  }

  async snapshot(): Promise<ParticipantSnapshot[]> {
    const out: ParticipantSnapshot[] = [];
    const now = Date.now();
    for (const leg of this.#legs.values()) {
      const [received] = await leg.producer.getStats().catch(() => []);
      const consumerStats = await leg.consumer.getStats().catch(() => []);
      const sent = consumerStats.find((s) => s.type === 'outbound-rtp');
      const remote = (received ?? {}) as Partial<types.RtpStreamRecvStats>;
      const jitterTs = remote.jitter ?? 0;
      const audio = streamStats(leg.codec.name, AUDIO_CODECS[leg.audioCodec].clockRate, received ? [received as AnyRtpStats] : [], consumerStats as AnyRtpStats[]);
      const video = leg.video
        ? streamStats(leg.video.chosen.codec.name, 90000, await statsOf(leg.video.producer), await statsOf(leg.video.consumer?.closed ? undefined : leg.video.consumer))
        : null;
      const videoPacketLoss = video?.packetLoss ?? 0;
      const [transportStats] = await leg.transport.getStats().catch(() => []);
      if (transportStats && transportStats.rtpBytesReceived !== leg.lastRtpBytes) {
        leg.lastRtpBytes = transportStats.rtpBytesReceived;
        leg.lastRtpAt = now;
      }
      const holding = leg.direction === 'inactive' || leg.direction === 'recvonly';
      out.push({
        id: leg.id,
        displayName: leg.displayName,
        type: 'sip',
        audioCodec: leg.codec.name,
        videoCodec: leg.video?.chosen.codec.name ?? '',
        workerPid: leg.legWorker.pid,
        srtp: leg.srtp,
        muted: this.#muted.has(leg.id),
        direction: leg.direction,
        joinedAt: leg.joinedAt.toISOString(),
        bitrateIn: remote.bitrate ?? 0,
        bitrateOut: (sent as Partial<types.RtpStreamSendStats> | undefined)?.bitrate ?? 0,
        packetsIn: remote.packetCount ?? 0,
        packetsOut: (sent as Partial<types.RtpStreamSendStats> | undefined)?.packetCount ?? 0,
        packetLoss: (remote.fractionLost ?? 0) / 256,
        videoPacketLoss,
        jitterMs: Math.round((jitterTs / (AUDIO_CODECS[leg.audioCodec].clockRate / 1000)) * 10) / 10,
        rttMs: Math.round(((sent as Partial<types.RtpStreamSendStats> | undefined)?.roundTripTime ?? 0) * 10) / 10,
        audio,
        video,
        noMediaMs: holding ? 0 : now - leg.lastRtpAt,
      });
    }
    for (const peer of this.#webPeers.values()) {
      const audio = [...peer.producers.values()].find((p) => p.kind === 'audio');
      const [received] = audio ? await audio.getStats().catch(() => []) : [];
      const remote = (received ?? {}) as Partial<types.RtpStreamRecvStats>;
      const [transportStats] = await peer.recv.getStats().catch(() => []);
      const video = [...peer.producers.values()].find((p) => p.kind === 'video');
      const videoReceived = await statsOf(video);
      const videoPacketLoss = worstLoss(videoReceived);
      const consumersOf = async (kind: 'audio' | 'video') =>
        (await Promise.all([...peer.consumers.values()].filter((c) => c.kind === kind && !c.closed).map((c) => statsOf(c)))).flat();
      const audioCodec = audio?.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? '';
      const videoCodec = video?.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? '';
      out.push({
        id: peer.id,
        displayName: peer.displayName,
        type: 'web',
        audioCodec,
        videoCodec,
        workerPid: this.#worker.pid,
        srtp: true,
        muted: this.#muted.has(peer.id),
        direction: 'sendrecv',
        joinedAt: peer.joinedAt.toISOString(),
        bitrateIn: remote.bitrate ?? 0,
        bitrateOut: transportStats?.sendBitrate ?? 0,
        packetsIn: remote.packetCount ?? 0,
        packetsOut: 0,
        packetLoss: (remote.fractionLost ?? 0) / 256,
        videoPacketLoss,
        jitterMs: Math.round(((remote.jitter ?? 0) / 48) * 10) / 10,
        rttMs: Math.round((remote.roundTripTime ?? 0) * 10) / 10,
        audio: streamStats(audioCodec, 48000, received ? [received as AnyRtpStats] : [], await consumersOf('audio')),
        video: video ? streamStats(videoCodec, 90000, videoReceived, await consumersOf('video')) : null,
        // (A browser's media runs over ICE with consent checks: a browser that stops sending is
        // dropped by its transport, so no timer of the box's own is kept for it.)
        noMediaMs: 0,
      });
    }
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const id of [...this.#legs.keys(), ...this.#webPeers.keys()]) this.removeParticipant(id, 'meeting-closed', true);
    for (const transcoder of this.#transcoders.values()) transcoder.close();
    for (const key of [...this.#pictures.keys()]) this.#closePicture(key);
    this.#transcoders.clear();
    this.#mixer.close();
    this.router.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
