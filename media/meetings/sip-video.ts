/**
 * The video half of a SIP leg: choosing the codec from the terminal's video m-line (VP8, or
 * H.264 packetization-mode 1 or 0, constrained baseline/baseline/main profiles), the
 * PlainTransport on its own port with the terminal's video as a producer, and the RTP
 * capabilities the leg receives video with (its payload type, its H.264 mode, RTCP feedback:
 * NACK, PLI, FIR). Which picture the leg receives is the meeting's pictures' choice (meeting-pictures.ts).
 */
import type { types } from 'mediasoup';
import { fmtpParameters, type SdpCodec, type SdpCrypto, type SdpMedia } from '../sdp/sip-sdp.ts';
import { VIDEO_FEEDBACK } from '../rtp/rtcp-feedback.ts';
import type { MediaNetwork } from './meeting-types.ts';

export interface ChosenVideo {
  /** As offered (payload type, fmtp kept for the answer). */
  readonly codec: SdpCodec;
  readonly mimeType: 'video/VP8' | 'video/H264';
  readonly parameters: Record<string, string | number>;
}

/** The first offered video codec the box forwards, in the terminal's order of preference. */
export function pickVideoCodec(media: SdpMedia): ChosenVideo | undefined {
  for (const codec of media.codecs) {
    const name = codec.name.toUpperCase();
    if (name === 'VP8' && codec.clockRate === 90000) return { codec, mimeType: 'video/VP8', parameters: {} };
    if (name === 'H264' && codec.clockRate === 90000) {
      const fmtp = fmtpParameters(codec.fmtp);
      const mode = fmtp['packetization-mode'] === '1' ? 1 : 0;
      // Forwarding needs the same profile on both sides; the router speaks constrained baseline.
      const profile = (fmtp['profile-level-id'] ?? '42e01f').toLowerCase();
      if (!/^(42|4d)[0-9a-f]{4}$/.test(profile)) continue;
      return { codec, mimeType: 'video/H264', parameters: { 'packetization-mode': mode, 'profile-level-id': `42e0${profile.slice(4)}`, 'level-asymmetry-allowed': 1 } };
    }
  }
  return undefined;
}

export interface VideoLeg {
  readonly transport: types.PlainTransport;
  readonly producer: types.Producer;
  readonly chosen: ChosenVideo;
}

export async function createVideoLeg(
  router: types.Router,
  network: MediaNetwork,
  media: SdpMedia,
  chosen: ChosenVideo,
  crypto: (SdpCrypto & { suite: types.SrtpCryptoSuite }) | undefined,
  participantId: string,
  kind: 'video' | 'content' = 'video',
): Promise<VideoLeg> {
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: network.listenIp, announcedAddress: network.announcedAddress, portRange: network.portRange },
    rtcpMux: media.rtcpMux,
    comedia: false,
    ...(crypto ? { enableSrtp: true, srtpCryptoSuite: crypto.suite } : {}),
    appData: { participantId, kind },
  });
  try {
    await transport.connect({
      ip: media.address,
      port: media.port,
      ...(media.rtcpMux ? {} : { rtcpPort: media.rtcpPort ?? media.port + 1 }),
      ...(crypto ? { srtpParameters: { cryptoSuite: crypto.suite, keyBase64: crypto.keyBase64 } } : {}),
    });
    const producer = await transport.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [{ mimeType: chosen.mimeType, payloadType: chosen.codec.payloadType, clockRate: 90000, parameters: chosen.parameters, rtcpFeedback: VIDEO_FEEDBACK }],
        encodings: [{}],
      },
      appData: { participantId, kind },
    });
    return { transport, producer, chosen };
  } catch (error) {
    transport.close();
    throw error;
  }
}

/** What a SIP leg can receive: its one video codec under its own payload type. */
export function videoCapabilities(chosen: ChosenVideo): types.RtpCapabilities {
  return {
    codecs: [{ kind: 'video', mimeType: chosen.mimeType, preferredPayloadType: chosen.codec.payloadType, clockRate: 90000, parameters: chosen.parameters, rtcpFeedback: VIDEO_FEEDBACK }],
    headerExtensions: [],
  };
}

/** a=rtcp-fb lines for the answer. */
export function feedbackLines(payloadType: number): string[] {
  return [`a=rtcp-fb:${payloadType} nack`, `a=rtcp-fb:${payloadType} nack pli`, `a=rtcp-fb:${payloadType} ccm fir`];
}
