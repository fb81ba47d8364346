/**
 * The types of a meeting's media, shared by the meeting (meeting-media.ts), its participants
 * (sip-leg.ts, web-peer.ts), its pictures (meeting-pictures.ts), its stats (meeting-stats.ts)
 * and the media service: the network a leg uses, what a SIP leg or a browser asks for and gets
 * back, a participant's live figures, and the router's codecs. No logic lives here, so every
 * part of a meeting can import it without an import cycle.
 */
import type { types } from 'mediasoup';
import type { AudioCodecName } from '../audio-mixer/audio-codec.ts';
import type { AudioMixer, AudioMixerOptions } from '../audio-mixer/audio-mixer.ts';
import type { VideoPolicy } from '../mcu/video-policy.ts';
import type { ContentPolicy } from './content-policy.ts';
import type { Direction } from '../sdp/sip-sdp.ts';
import type { StaticNat } from '../../server/core/static-nat.ts';

export const ROUTER_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'audio', mimeType: 'audio/G722', clockRate: 8000 },
  { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000 },
  { kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 0, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
];

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
  /**
   * The control plane's note on the leg (who the call is: its Call-ID, record, role), opaque
   * here: kept with the leg and returned by `sipLegs`, so a control plane that restarted can
   * take the call over. At most MAX_LEG_NOTE characters (a longer one is not kept).
   */
  readonly note?: string;
}

/** Longest note a SIP leg keeps. */
export const MAX_LEG_NOTE = 4096;

/** A SIP leg as `sipLegs` lists it: what a restarted control plane needs to take its call over. */
export interface SipLegInfo {
  readonly meeting: string;
  readonly participantId: string;
  readonly displayName: string;
  /** The terminal's latest offer the leg took, and the leg's answer to it. */
  readonly offer: string;
  readonly answer: string;
  readonly note: string | undefined;
}

/** The SDP session a rebuilt leg keeps (o= session id, next version), within one dialog. */
export interface SdpSession {
  readonly sessionId: string;
  readonly version: number;
}

export interface SipLegAnswer {
  readonly sdp: string;
  readonly audioCodec: AudioCodecName;
  readonly srtp: boolean;
}

/**
 * What a participant (a SIP leg, a browser) uses of its meeting: the meeting's router and
 * worker, and the audio mixer with the loopback transport it sends and receives on.
 */
export interface MeetingParts {
  readonly key: string;
  readonly router: types.Router;
  readonly worker: types.Worker;
  readonly mixer: AudioMixer;
  readonly mixerTransport: types.PlainTransport;
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

/** A producer browsers can consume: a SIP leg's audio, a browser's microphone or camera. */
export interface ProducerInfo {
  readonly producerId: string;
  readonly participantId: string;
  readonly displayName: string;
  readonly kind: 'audio' | 'video';
}

/** Who presents content in a meeting now and, when it sends content, its producer in the meeting router (browsers consume it into their content view). */
export interface ContentInfo {
  readonly participantId: string;
  readonly displayName: string;
  /** The presenter's content producer, or null while it sends none (no content line, not shared yet). */
  readonly producerId: string | null;
  /** Its codec (`video/H264`, `video/VP8`), or null without a producer. */
  readonly mimeType: string | null;
  /** SIP content lines receive it (H.264 forwarded, or VP8 / H.264 transcoded to their H.264); false without content or in another codec. */
  readonly reachesSip: boolean;
}

/** The content cap a browser's share should keep within (so SIP content lines take it as sent): largest size, frame rate, bitrate in kbit/s. */
export interface ContentCap {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly kbps: number;
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
  /** Who presents content now (null: nobody). */
  readonly content: ContentInfo | null;
}

export interface WebConsumerInfo {
  readonly id: string;
  readonly producerId: string;
  readonly kind: 'audio' | 'video';
  readonly rtpParameters: types.RtpParameters;
}

export interface MeetingMediaEvents {
  /** A SIP terminal should send a key frame (its picture is newly shown): SIP INFO. */
  keyframerequest: [participantId: string];
  /** A SIP presenter should send a content key frame (a receiver or transcoder starts on its content): SIP INFO naming the content stream. */
  contentkeyframerequest: [participantId: string];
  newproducer: [info: ProducerInfo];
  producerclosed: [producerId: string, participantId: string];
  participantclosed: [participantId: string, reason: string];
  dominantspeaker: [participantId: string];
  /** The presenter or its content producer changed (null: nobody presents). */
  content: [info: ContentInfo | null];
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
  /** The content cap (max content resolution, the call's bandwidth), read at each content routing (live settings). */
  readonly contentPolicy?: () => ContentPolicy;
  /** Static NAT in force (read at every join). */
  readonly nat?: () => StaticNat | undefined;
}
