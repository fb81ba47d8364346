/**
 * One SIP terminal in a meeting (a leg), as mediasoup models it. The leg owns what it is made
 * of: the routers of its own (when the terminal numbers a codec differently from the meeting's
 * router, or the meeting is spread over workers), its PlainTransports (audio and, when offered,
 * video), the producers of the terminal's audio and camera, the mix producer the meeting's
 * mixer feeds for it, the consumers of both, the pipe producers that carry them between
 * routers and the video consumer of what it is shown; and, when the terminal offers a content
 * line (`a=content:slides`, H.264), the content transport with the terminal's presentation as a
 * producer (built at the first offer that has one, a re-INVITE included). `SipLeg.create` builds these in order
 * and, when any step fails, closes what it had made before the error goes on; `close()` closes
 * everything once, newest first, whatever state the leg is in (a router closed under it too).
 * The offer checks and the SDP answer of a leg live here as well.
 */
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import { createError } from '../../server/core/errors.ts';
import { getLogger } from '../../server/core/logger.ts';
import { AUDIO_CODECS, type AudioCodecName, pickAudioCodec } from '../audio-mixer/audio-codec.ts';
import {
  type AnswerMedia,
  answerDirection,
  assertServable,
  contentLine,
  type Direction,
  isContentLine,
  mainVideoLine,
  parseSdp,
  type SdpCodec,
  type SdpCrypto,
  type SdpMedia,
  type SdpOffer,
  writeSdp,
} from '../sdp/sip-sdp.ts';
import { MAX_LEG_NOTE, type MediaNetwork, type MeetingParts, type SdpSession, type SipLegRequest, type SrtpPolicy } from './meeting-types.ts';
import { type ChosenVideo, createVideoLeg, feedbackLines, pickVideoCodec, type VideoLeg, videoCapabilities } from './sip-video.ts';
import { monotonicMs } from '../../server/core/clock.ts';
import { type ContentPolicy, cappedContentCodec } from './content-policy.ts';
import { internalListenInfo } from '../rtp/internal-ports.ts';

const log = getLogger('sip-leg');

/** SDES suites mediasoup speaks, in the box's order of preference. */
const SRTP_SUITES: readonly types.SrtpCryptoSuite[] = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** Payload type of the mix producers on the mixer's transport. */
const MIX_PAYLOAD_TYPE = 100;

type SrtpCryptoChoice = SdpCrypto & { suite: types.SrtpCryptoSuite };

/** Anything mediasoup closes (router, transport, producer, consumer): closing twice is harmless. */
interface Closable {
  readonly closed: boolean;
  close(): void;
}

/** Pipes a producer from one router to another (same worker or not); the copy's producer. */
export async function pipe(from: types.Router, producerId: string, to: types.Router): Promise<types.Producer> {
  const { pipeProducer } = await from.pipeToRouter({ producerId, router: to, keepId: false, listenInfo: internalListenInfo() });
  if (!pipeProducer) throw new Error(`piping producer ${producerId} gave no producer`);
  return pipeProducer;
}

/** The first offered audio codec the mixer takes; Opus answered with in-band FEC welcome. */
export function pickMeetingAudio(media: SdpMedia): { codec: SdpCodec; name: AudioCodecName } | undefined {
  const chosen = pickAudioCodec(media.codecs);
  return chosen?.name === 'opus' ? { ...chosen, codec: { ...chosen.codec, fmtp: 'useinbandfec=1' } } : chosen;
}

export function pickCrypto(media: SdpMedia): SrtpCryptoChoice | undefined {
  for (const suite of SRTP_SUITES) {
    const crypto = media.crypto.find((c) => c.suite === suite);
    if (crypto) return { ...crypto, suite };
  }
  return undefined;
}

/** The answer to an offered video line (people or content) the leg serves with `line`, `extra` attributes after its feedback lines. */
function videoLineAnswer(m: SdpMedia, line: VideoLeg & { readonly direction: Direction }, extra: readonly string[]): AnswerMedia {
  const srtp = line.transport.srtpParameters;
  const crypto = m.proto.includes('SAVP') ? pickCrypto(m) : undefined;
  return {
    kind: 'video',
    port: line.transport.tuple.localPort,
    proto: m.proto,
    codecs: [line.chosen.codec],
    rtcpMux: m.rtcpMux,
    ...(m.rtcpMux ? {} : { rtcpPort: line.transport.rtcpTuple?.localPort }),
    ...(crypto && srtp ? { crypto: { tag: crypto.tag, suite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 } } : {}),
    direction: line.direction,
    extra: [...feedbackLines(line.chosen.codec.payloadType), ...extra],
  };
}

/** The video half of a leg: its transport and camera, and what it is shown now. */
export interface SipLegVideo extends VideoLeg {
  /** The consumer of what the leg is shown (a camera, or a composed picture's output). */
  readonly consumer?: types.Consumer;
  /** The meeting-router producer this leg is shown now (a camera, or a transcoder's output). */
  readonly showing?: string;
  /** Whose camera that is ('composed' for a composed picture). */
  readonly showingParticipant?: string;
  /** The terminal's camera as the meeting router has it. */
  readonly meetingProducer: types.Producer;
  direction: Direction;
}

/** The content half of a leg: the terminal's presentation (its content line), as the meeting router has it too. */
export interface SipLegContent extends VideoLeg {
  /** The router the content transport lives in. */
  readonly router: types.Router;
  /** The consumer of the presenter's content this leg receives, and the meeting producer it consumes. */
  consumer?: types.Consumer;
  showing?: string;
  /** The presenter's content piped into this leg's content router (when that is not the meeting's). */
  piped?: types.Producer;
  /** The terminal's content as the meeting router has it. */
  readonly meetingProducer: types.Producer;
  /** The label the answer gives the content line (the offer's, else `slides`): BFCP's a=floorid mstrm: names it. */
  readonly label: string;
  direction: Direction;
}

/** The content line's codec: H.264, as room systems send content (a VP8-only content line is declined). */
export function pickContentCodec(media: SdpMedia): ChosenVideo | undefined {
  const chosen = pickVideoCodec({ ...media, codecs: media.codecs.filter((c) => c.name.toUpperCase() === 'H264') });
  return chosen?.mimeType === 'video/H264' ? chosen : undefined;
}

function videoCapability(chosen: ChosenVideo): types.RouterRtpCodecCapability {
  return { kind: 'video', mimeType: chosen.mimeType, clockRate: 90000, parameters: chosen.parameters, preferredPayloadType: chosen.codec.payloadType };
}

/** The meeting router serves `cap` under the terminal's own payload type (so the leg may use that router). */
function numberedAsMeeting(meeting: MeetingParts, cap: types.RouterRtpCodecCapability): boolean {
  return (
    meeting.router.rtpCapabilities.codecs?.some(
      (c) =>
        c.mimeType.toLowerCase() === cap.mimeType.toLowerCase() &&
        c.preferredPayloadType === cap.preferredPayloadType &&
        (cap.mimeType !== 'video/H264' || c.parameters?.['packetization-mode'] === cap.parameters?.['packetization-mode']),
    ) ?? false
  );
}

/** Where and how a new leg is built (the meeting's choices). */
export interface SipLegPlacement {
  /** The addresses the leg's media uses (static NAT: the public IP for callers outside). */
  readonly network: MediaNetwork;
  /** The worker for the leg's routers: called once the offer is known to be servable. */
  readonly worker: () => types.Worker;
  /** A rebuilt leg keeps its SDP session (codec change by re-INVITE). */
  readonly session?: SdpSession;
  /** Its own router closed under it (its worker died): the leg has lost media. */
  readonly onLost: () => void;
}

interface SipLegInit {
  readonly meeting: MeetingParts;
  readonly request: SipLegRequest;
  readonly network: MediaNetwork;
  readonly codec: SdpCodec;
  readonly audioCodec: AudioCodecName;
  readonly srtp: boolean;
  readonly session: SdpSession;
  readonly direction: Direction;
  readonly transport: types.PlainTransport;
  readonly producer: types.Producer;
  readonly meetingAudio: types.Producer;
  readonly mixerConsumer: types.Consumer;
  readonly mixProducer: types.Producer;
  readonly consumer: types.Consumer;
  readonly legRouter: types.Router;
  readonly videoRouter: types.Router;
  readonly legWorker: types.Worker;
  readonly piped: Map<string, types.Producer>;
  readonly video: (VideoLeg & { meetingProducer: types.Producer; direction: Direction }) | undefined;
  readonly content: SipLegContent | undefined;
  readonly onLost: () => void;
  readonly owned: Closable[];
}

export class SipLeg {
  readonly id: string;
  readonly displayName: string;
  /** The control plane's note (meeting-types.ts, SipLegRequest), returned by `sipLegs`. */
  readonly note: string | undefined;
  /** The terminal's latest offer this leg took, and the leg's answer to it. */
  offer: string;
  lastAnswer = '';
  readonly joinedAt = new Date();
  /** The audio transport the terminal sends to and receives its mix from. */
  readonly transport: types.PlainTransport;
  readonly codec: SdpCodec;
  readonly audioCodec: AudioCodecName;
  readonly srtp: boolean;
  readonly srtpPolicy: SrtpPolicy;
  readonly sessionId: string;
  version: number;
  /** The addresses this leg's media uses (static NAT: the public IP for callers outside). */
  readonly network: MediaNetwork;
  direction: Direction;
  /** The terminal's audio (in the leg's router). */
  readonly producer: types.Producer;
  /** The terminal's audio as the meeting router has it (the producer, or its pipe producer). */
  readonly meetingAudio: types.Producer;
  /** The mixer's consumer of the terminal's audio, and the producer of the leg's own mix. */
  readonly mixerConsumer: types.Consumer;
  readonly mixProducer: types.Producer;
  /** What the terminal receives: its mix. */
  readonly consumer: types.Consumer;
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
  /** Bytes received at the last look, and when they last changed (the RTP timeout; monotonic ms, server/core/clock.ts). */
  lastRtpBytes = 0;
  lastRtpAt = monotonicMs();
  readonly #meeting: MeetingParts;
  /** Meeting producers piped into the leg's routers (meeting producer id → the pipe producer there). */
  readonly #piped: Map<string, types.Producer>;
  readonly #video: (VideoLeg & { meetingProducer: types.Producer; direction: Direction; consumer?: types.Consumer; showing?: string; showingParticipant?: string }) | undefined;
  /** The content half, once an offer brought a content line the box serves. */
  #content: SipLegContent | undefined;
  readonly #onLost: () => void;
  /** Everything the leg made, oldest first. */
  readonly #owned: Closable[];
  #closed = false;

  /**
   * Builds a leg for an offer: checks the offer (audio codec, SRTP policy) before anything is
   * made, then the routers, transports, producers and consumers. A failure at any step closes
   * what was made and takes the leg out of the mixer again.
   */
  static async create(meeting: MeetingParts, request: SipLegRequest, placement: SipLegPlacement): Promise<{ leg: SipLeg; offer: SdpOffer; audio: SdpMedia; crypto: SrtpCryptoChoice | undefined }> {
    const { network } = placement;
    const offer = parseSdp(request.offer);
    const audio = offer.media.find((m) => m.kind === 'audio' && m.port > 0);
    if (!audio) throw createError('VCBOX_ERR_MEDIA_SDP', { reason: 'the offer has no audio stream' });
    assertServable(audio, 'meeting', network.listenIp);
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

    const info = AUDIO_CODECS[chosen.name];
    const videoMedia = mainVideoLine(offer.media);
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
    const videoCap: types.RouterRtpCodecCapability | undefined = chosenVideo ? videoCapability(chosenVideo) : undefined;
    const legWorker = placement.worker();
    const owned: Closable[] = [];
    const own = <T extends Closable>(entity: T): T => {
      owned.push(entity);
      return entity;
    };
    let inMixer = false;
    try {
      // One router per m-line: the meeting's when this m-line's numbering is the meeting router's
      // (and the leg stays on the meeting's worker), else one whose only codec has the terminal's number.
      const ownRouters: types.Router[] = [];
      const routerFor = async (cap: types.RouterRtpCodecCapability): Promise<types.Router> => {
        if (legWorker === meeting.worker && numberedAsMeeting(meeting, cap)) return meeting.router;
        const router = own(await legWorker.createRouter({ mediaCodecs: [cap], appData: { meeting: meeting.key, participantId: request.participantId, kind: cap.kind } }));
        ownRouters.push(router);
        return router;
      };
      const legRouter = await routerFor(audioCap);
      const transport = own(
        await legRouter.createPlainTransport({
          listenInfo: { protocol: 'udp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
          rtcpMux: audio.rtcpMux,
          comedia: false,
          ...(crypto ? { enableSrtp: true, srtpCryptoSuite: crypto.suite } : {}),
          appData: { participantId: request.participantId },
        }),
      );
      await transport.connect({
        ip: audio.address,
        port: audio.port,
        ...(audio.rtcpMux ? {} : { rtcpPort: audio.rtcpPort ?? audio.port + 1 }),
        ...(crypto ? { srtpParameters: { cryptoSuite: crypto.suite, keyBase64: crypto.keyBase64 } } : {}),
      });
      const producer = own(
        await transport.produce({
          kind: 'audio',
          rtpParameters: {
            codecs: [{ mimeType: info.mimeType, payloadType: chosen.codec.payloadType, clockRate: info.clockRate, ...(info.channels > 1 ? { channels: info.channels } : {}) }],
            encodings: [{}],
          },
        }),
      );
      // Same worker: the pipe producer needs an id of its own (keepId false).
      const meetingAudio = legRouter === meeting.router ? producer : own(await pipe(legRouter, producer.id, meeting.router));
      const mixerConsumer = own(await meeting.mixerTransport.consume({ producerId: meetingAudio.id, rtpCapabilities: meeting.router.rtpCapabilities }));
      const mixProducer = own(
        await meeting.mixerTransport.produce({
          kind: 'audio',
          rtpParameters: {
            codecs: [{ mimeType: info.mimeType, payloadType: MIX_PAYLOAD_TYPE, clockRate: info.clockRate, ...(info.channels > 1 ? { channels: info.channels } : {}) }],
            encodings: [{ ssrc: randomInt(1, 0xffffffff) }],
          },
        }),
      );
      const piped = new Map<string, types.Producer>();
      let mixInLegRouter = mixProducer;
      if (legRouter !== meeting.router) {
        mixInLegRouter = own(await pipe(meeting.router, mixProducer.id, legRouter));
        piped.set(mixProducer.id, mixInLegRouter);
      }
      const consumer = own(
        await transport.consume({
          producerId: mixInLegRouter.id,
          rtpCapabilities: { codecs: [{ ...audioCap, preferredPayloadType: chosen.codec.payloadType }], headerExtensions: [] },
        }),
      );
      inMixer = true;
      meeting.mixer.addInput(mixerConsumer.rtpParameters.encodings?.[0]?.ssrc ?? 0, request.participantId, chosen.name);
      meeting.mixer.addOutput(request.participantId, chosen.name, MIX_PAYLOAD_TYPE, mixProducer.rtpParameters.encodings?.[0]?.ssrc ?? 0);

      let videoRouter = legRouter;
      let video: SipLegInit['video'];
      if (videoMedia && chosenVideo && videoCap) {
        videoRouter = await routerFor(videoCap);
        const made = await createVideoLeg(videoRouter, network, videoMedia, chosenVideo, videoCrypto, request.participantId);
        own(made.transport);
        own(made.producer);
        const meetingProducer = videoRouter === meeting.router ? made.producer : own(await pipe(videoRouter, made.producer.id, meeting.router));
        video = { ...made, meetingProducer, direction: answerDirection(videoMedia.direction) };
      }
      const contentMedia = contentLine(offer.media);
      const content = contentMedia ? await buildContent(meeting, legWorker, contentMedia, request.participantId, network, own, ownRouters) : undefined;
      const leg = new SipLeg({
        meeting,
        request,
        network,
        codec: chosen.codec,
        audioCodec: chosen.name,
        srtp: Boolean(crypto),
        session: placement.session ?? { sessionId: String(randomInt(1, 2 ** 47)), version: 1 },
        direction: answerDirection(audio.direction),
        transport,
        producer,
        meetingAudio,
        mixerConsumer,
        mixProducer,
        consumer,
        legRouter,
        videoRouter,
        legWorker,
        piped,
        video,
        content,
        onLost: placement.onLost,
        owned,
      });
      for (const router of ownRouters) {
        router.observer.once('close', () => {
          if (!leg.closed) placement.onLost();
        });
      }
      await leg.applyDirection();
      return { leg, offer, audio, crypto };
    } catch (error) {
      if (inMixer) meeting.mixer.removeParticipant(request.participantId);
      closeAll(owned);
      throw error;
    }
  }

  private constructor(init: SipLegInit) {
    this.#meeting = init.meeting;
    this.id = init.request.participantId;
    this.displayName = init.request.displayName;
    this.srtpPolicy = init.request.srtp;
    this.note = init.request.note !== undefined && init.request.note.length <= MAX_LEG_NOTE ? init.request.note : undefined;
    this.offer = init.request.offer;
    this.network = init.network;
    this.codec = init.codec;
    this.audioCodec = init.audioCodec;
    this.srtp = init.srtp;
    this.sessionId = init.session.sessionId;
    this.version = init.session.version;
    this.direction = init.direction;
    this.transport = init.transport;
    this.producer = init.producer;
    this.meetingAudio = init.meetingAudio;
    this.mixerConsumer = init.mixerConsumer;
    this.mixProducer = init.mixProducer;
    this.consumer = init.consumer;
    this.legRouter = init.legRouter;
    this.videoRouter = init.videoRouter;
    this.legWorker = init.legWorker;
    this.#piped = init.piped;
    this.#video = init.video;
    this.#content = init.content;
    this.#onLost = init.onLost;
    this.#owned = init.owned;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The video half, when the terminal offered a video codec the box forwards. */
  get video(): SipLegVideo | undefined {
    return this.#video;
  }

  /** The content half, when the terminal offered a content line the box serves. */
  get content(): SipLegContent | undefined {
    return this.#content;
  }

  /**
   * The terminal takes content on its content line: one is served and the box may send on it
   * (not declined by a later offer, not offered send-only). The others see a presentation in
   * their composed picture (the content layout).
   */
  get receivesContent(): boolean {
    const direction = this.#content?.direction;
    return direction === 'sendrecv' || direction === 'sendonly';
  }

  /** On hold (the terminal sends nothing on purpose). */
  get holding(): boolean {
    return this.direction === 'inactive' || this.direction === 'recvonly';
  }

  /** The offered audio is the leg's codec under the same number (else the leg is rebuilt). */
  offersSameAudio(audio: SdpMedia): boolean {
    return audio.codecs.some((c) => c.payloadType === this.codec.payloadType && c.name.toLowerCase() === this.codec.name.toLowerCase());
  }

  /**
   * A re-INVITE with the same codec: new directions (hold/resume), the next SDP version; the
   * answer. A content line offered for the first time gets its transport now (audio and video
   * stay as they are); if that fails the line is declined and the call goes on.
   */
  async renegotiate(offer: SdpOffer, audio: SdpMedia, contentCap: ContentPolicy): Promise<string> {
    this.direction = audio.port === 0 ? 'inactive' : answerDirection(audio.direction);
    const videoOffer = offer.media.find((m) => m.kind === 'video' && !isContentLine(m));
    if (this.#video && videoOffer) this.#video.direction = videoOffer.port === 0 ? 'inactive' : answerDirection(videoOffer.direction);
    const contentOffer = offer.media.find(isContentLine);
    if (this.#content && contentOffer) this.#content.direction = contentOffer.port === 0 ? 'inactive' : answerDirection(contentOffer.direction);
    if (!this.#content && contentOffer && contentOffer.port > 0) await this.#addContent(contentOffer);
    await this.applyDirection();
    this.version++;
    this.lastRtpAt = monotonicMs();
    return this.answer(offer.media, audio, this.srtp ? pickCrypto(audio) : undefined, contentCap);
  }

  /** The box sends while the terminal receives; a terminal on hold (sendonly/inactive) gets nothing. */
  async applyDirection(): Promise<void> {
    const send = this.direction === 'sendrecv' || this.direction === 'sendonly';
    if (send) await this.consumer.resume();
    else await this.consumer.pause();
    const consumer = this.#video?.consumer;
    if (consumer && !consumer.closed) {
      const sendVideo = this.#video?.direction === 'sendrecv' || this.#video?.direction === 'sendonly';
      await (sendVideo ? consumer.resume() : consumer.pause());
    }
  }

  /** The content line of a re-INVITE: its transport and producer, made once (a failure declines the line). */
  async #addContent(offered: SdpMedia): Promise<void> {
    const made: Closable[] = [];
    const routers: types.Router[] = [];
    try {
      const content = await buildContent(
        this.#meeting,
        this.legWorker,
        offered,
        this.id,
        this.network,
        (entity) => {
          made.push(entity);
          return entity;
        },
        routers,
      );
      if (this.#closed) throw new Error('the leg closed while its content line was being made');
      this.#owned.push(...made);
      for (const router of routers) {
        router.observer.once('close', () => {
          if (!this.#closed) this.#onLost();
        });
      }
      this.#content = content;
    } catch (error) {
      closeAll(made);
      log.warn({ meeting: this.#meeting.key, participant: this.id, err: (error as Error).message }, 'the content line of a re-INVITE could not be served; declined');
    }
  }

  /**
   * The SDP answer to an offer: the leg's audio (and video, content) m-lines, the others
   * refused. The content line asks the terminal to present within `contentCap` (its size,
   * frame rate and bitrate: ./content-policy.ts).
   */
  answer(offered: readonly SdpMedia[], audio: SdpMedia, crypto: SdpCrypto | undefined, contentCap: ContentPolicy): string {
    const telephoneEvent = audio.codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
    const videoOffer = mainVideoLine(offered);
    const video = this.#video;
    const contentOffer = contentLine(offered);
    const content = this.#content;
    const media: AnswerMedia[] = offered.map((m): AnswerMedia => {
      if (m === contentOffer && content) {
        const line = videoLineAnswer(m, content, ['a=content:slides', `a=label:${content.label}`]);
        return { ...line, codecs: line.codecs.map((codec) => cappedContentCodec(codec, contentCap)), bandwidthKbps: contentCap.kbps };
      }
      if (m === videoOffer && video) return videoLineAnswer(m, video, []);
      if (m !== audio) return { kind: m.kind, port: 0, proto: m.proto, codecs: m.codecs.slice(0, 1), ...(m.codecs.length === 0 ? { formats: m.formats.slice(0, 1) } : {}) };
      const srtp = this.transport.srtpParameters;
      return {
        kind: 'audio',
        port: this.transport.tuple.localPort,
        proto: audio.proto,
        codecs: telephoneEvent ? [this.codec, telephoneEvent] : [this.codec],
        rtcpMux: audio.rtcpMux,
        ...(audio.rtcpMux ? {} : { rtcpPort: this.transport.rtcpTuple?.localPort }),
        ...(crypto && srtp ? { crypto: { tag: crypto.tag, suite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 } } : {}),
        direction: this.direction,
        ptime: 20,
      };
    });
    return writeSdp({ address: this.network.announcedAddress, sessionId: this.sessionId, version: this.version, media });
  }

  /** The leg shows `shown` (a meeting-router producer): already so, or nothing to show. */
  isShowing(shownId: string | undefined): boolean {
    const video = this.#video;
    return video?.consumer !== undefined && !video.consumer.closed && video.showing === shownId;
  }

  /**
   * What the leg's terminal is shown: `shown` (a camera or a composed output in the meeting
   * router) piped into the leg's video router if that is another, consumed in the leg's codec;
   * undefined shows nothing. The previous consumer and its pipe producer are closed.
   */
  async show(shown: types.Producer | undefined, showingParticipant: string | undefined): Promise<void> {
    const video = this.#video;
    if (!video || this.#closed) return;
    const previous = video.showing;
    video.consumer?.close();
    video.consumer = undefined;
    video.showing = undefined;
    video.showingParticipant = undefined;
    if (previous) {
      // Stop piping the picture this leg no longer shows.
      this.#piped.get(previous)?.close();
      this.#piped.delete(previous);
    }
    if (!shown || !showingParticipant) return;
    let source = shown;
    if (this.videoRouter !== this.#meeting.router) {
      source = await pipe(this.#meeting.router, shown.id, this.videoRouter);
      this.#piped.set(shown.id, source);
    }
    // (A composed output makes a key frame whenever mediasoup asks it for one: this consumer
    // starting, or the terminal's PLI/FIR.)
    const consumer = await video.transport.consume({ producerId: source.id, rtpCapabilities: videoCapabilities(video.chosen) });
    if (this.#closed) {
      consumer.close();
      return;
    }
    video.showing = shown.id;
    video.showingParticipant = showingParticipant;
    if (video.direction === 'recvonly' || video.direction === 'inactive') await consumer.pause();
    video.consumer = consumer;
  }

  /** The leg receives `shownId` (a presenter's content producer in the meeting router) on its content line, or nothing when undefined. */
  isShowingContent(shownId: string | undefined): boolean {
    const content = this.#content;
    if (!content) return shownId === undefined;
    const consumer = content.consumer && !content.consumer.closed ? content.consumer : undefined;
    return shownId === undefined ? consumer === undefined : consumer !== undefined && content.showing === shownId;
  }

  /**
   * What the leg's content line receives: `shown` (a presenter's content in the meeting router),
   * piped into the leg's content router if that is another, consumed in the leg's H.264 under
   * its payload type, with a key frame asked of the presenter (PLI/FIR) so the receiver can
   * start decoding; undefined receives nothing. The previous consumer and its pipe are closed.
   */
  async showContent(shown: types.Producer | undefined): Promise<void> {
    const content = this.#content;
    if (!content || this.#closed) return;
    content.consumer?.close();
    content.piped?.close();
    content.consumer = undefined;
    content.piped = undefined;
    content.showing = undefined;
    if (!shown) return;
    let source = shown;
    if (content.router !== this.#meeting.router) {
      source = await pipe(this.#meeting.router, shown.id, content.router);
      content.piped = source;
    }
    const consumer = await content.transport.consume({ producerId: source.id, rtpCapabilities: videoCapabilities(content.chosen), appData: { participantId: this.id, kind: 'content' } });
    if (this.#closed) {
      consumer.close();
      return;
    }
    content.consumer = consumer;
    content.showing = shown.id;
    if (content.direction === 'recvonly' || content.direction === 'inactive') await consumer.pause();
    else await consumer.requestKeyFrame();
  }

  /**
   * Closes everything the leg made, newest first, and takes it out of the mixer; once. Safe in
   * any state: entities mediasoup already closed (its router closed under it) are skipped.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#meeting.mixer.removeParticipant(this.id);
    this.#video?.consumer?.close();
    this.#content?.consumer?.close();
    this.#content?.piped?.close();
    for (const producer of this.#piped.values()) producer.close();
    this.#piped.clear();
    closeAll(this.#owned);
    log.debug({ meeting: this.#meeting.key, participant: this.id }, 'SIP leg closed');
  }
}

/**
 * The content half for an offered content line: H.264 on a transport of its own, in the meeting
 * router when it numbers H.264 as the terminal does (else a router of the leg's own, piped);
 * undefined when the line cannot be served (no H.264, SRTP without a suite the box speaks).
 */
async function buildContent(
  meeting: MeetingParts,
  legWorker: types.Worker,
  media: SdpMedia,
  participantId: string,
  network: MediaNetwork,
  own: <T extends Closable>(entity: T) => T,
  ownRouters: types.Router[],
): Promise<SipLegContent | undefined> {
  const chosen = pickContentCodec(media);
  const crypto = media.proto.includes('SAVP') ? pickCrypto(media) : undefined;
  if (!chosen || (media.proto.includes('SAVP') && !crypto)) return undefined;
  const cap = videoCapability(chosen);
  let router = meeting.router;
  if (legWorker !== meeting.worker || !numberedAsMeeting(meeting, cap)) {
    router = own(await legWorker.createRouter({ mediaCodecs: [cap], appData: { meeting: meeting.key, participantId, kind: 'content' } }));
    ownRouters.push(router);
  }
  const made = await createVideoLeg(router, network, media, chosen, crypto, participantId, 'content');
  own(made.transport);
  own(made.producer);
  const meetingProducer = router === meeting.router ? made.producer : own(await pipe(router, made.producer.id, meeting.router));
  return { ...made, router, meetingProducer, label: media.label ?? 'slides', direction: answerDirection(media.direction) };
}

/** Closes entities newest first; each at most once (mediasoup's close is idempotent, and skipped when closed). */
function closeAll(owned: Closable[]): void {
  for (const entity of [...owned].reverse()) {
    if (entity.closed) continue;
    try {
      entity.close();
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'closing a leg part failed');
    }
  }
  owned.length = 0;
}
