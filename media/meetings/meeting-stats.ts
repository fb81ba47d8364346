/**
 * A meeting's live figures for the live-meetings API: per participant (a SIP leg or a browser)
 * and per stream (audio, video) the codec, bitrates both ways, packets, loss and jitter, read
 * from mediasoup's producer, consumer and transport stats. A SIP leg's bytes received also
 * feed its RTP timeout (how long nothing has arrived).
 */
import type { types } from 'mediasoup';
import { AUDIO_CODECS } from '../audio-mixer/audio-codec.ts';
import type { ParticipantSnapshot, StreamStats } from './meeting-types.ts';
import type { SipLeg } from './sip-leg.ts';
import type { WebPeer } from './web-peer.ts';

/** A producer's packet loss towards the box, 0-1: the worst of its streams (simulcast layers). */
export function worstLoss(stats: readonly { fractionLost?: number }[]): number {
  return Math.max(0, ...stats.map((s) => (s.fractionLost ?? 0) / 256));
}

export type AnyRtpStats = Partial<types.RtpStreamRecvStats & types.RtpStreamSendStats> & { type?: string };

/**
 * A stream's figures from mediasoup's producer stats (what the box receives: one entry per
 * simulcast layer, summed; loss the worst layer's) and consumer stats (what it sends).
 */
export function streamStats(codec: string, clockRate: number, received: readonly AnyRtpStats[], sent: readonly AnyRtpStats[]): StreamStats {
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

/** An entity's stats, or none when it is missing or closed under the request. */
export const statsOf = async (entity: { getStats(): Promise<unknown[]> } | undefined): Promise<AnyRtpStats[]> =>
  entity ? ((await entity.getStats().catch(() => [])) as AnyRtpStats[]) : [];

/** A SIP leg's figures now; the bytes it received are noted for its RTP timeout. */
export async function sipLegSnapshot(leg: SipLeg, muted: boolean, now: number): Promise<ParticipantSnapshot> {
  const [received] = await leg.producer.getStats().catch(() => []);
  const consumerStats = await leg.consumer.getStats().catch(() => []);
  const sent = consumerStats.find((s) => s.type === 'outbound-rtp') as Partial<types.RtpStreamSendStats> | undefined;
  const remote = (received ?? {}) as Partial<types.RtpStreamRecvStats>;
  const clockRate = AUDIO_CODECS[leg.audioCodec].clockRate;
  const audio = streamStats(leg.codec.name, clockRate, received ? [received as AnyRtpStats] : [], consumerStats as AnyRtpStats[]);
  const legVideo = leg.video;
  const video = legVideo
    ? streamStats(legVideo.chosen.codec.name, 90000, await statsOf(legVideo.producer), await statsOf(legVideo.consumer?.closed ? undefined : legVideo.consumer))
    : null;
  const [transportStats] = await leg.transport.getStats().catch(() => []);
  if (transportStats && transportStats.rtpBytesReceived !== leg.lastRtpBytes) {
    leg.lastRtpBytes = transportStats.rtpBytesReceived;
    leg.lastRtpAt = now;
  }
  return {
    id: leg.id,
    displayName: leg.displayName,
    type: 'sip',
    audioCodec: leg.codec.name,
    videoCodec: legVideo?.chosen.codec.name ?? '',
    workerPid: leg.legWorker.pid,
    srtp: leg.srtp,
    muted,
    direction: leg.direction,
    joinedAt: leg.joinedAt.toISOString(),
    bitrateIn: remote.bitrate ?? 0,
    bitrateOut: sent?.bitrate ?? 0,
    packetsIn: remote.packetCount ?? 0,
    packetsOut: sent?.packetCount ?? 0,
    packetLoss: (remote.fractionLost ?? 0) / 256,
    videoPacketLoss: video?.packetLoss ?? 0,
    jitterMs: Math.round(((remote.jitter ?? 0) / (clockRate / 1000)) * 10) / 10,
    rttMs: Math.round((sent?.roundTripTime ?? 0) * 10) / 10,
    audio,
    video,
    noMediaMs: leg.holding ? 0 : now - leg.lastRtpAt,
  };
}

/** A browser's figures now (on the meeting's worker: browsers are not spread). */
export async function webPeerSnapshot(peer: WebPeer, muted: boolean, workerPid: number): Promise<ParticipantSnapshot> {
  const audio = peer.producers.find((p) => p.kind === 'audio');
  const [received] = audio ? await audio.getStats().catch(() => []) : [];
  const remote = (received ?? {}) as Partial<types.RtpStreamRecvStats>;
  const [transportStats] = await peer.recv.getStats().catch(() => []);
  const video = peer.producers.find((p) => p.kind === 'video');
  const videoReceived = await statsOf(video);
  const consumersOf = async (kind: 'audio' | 'video') => (await Promise.all(peer.consumers.filter((c) => c.kind === kind && !c.closed).map((c) => statsOf(c)))).flat();
  const audioCodec = audio?.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? '';
  const videoCodec = video?.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? '';
  return {
    id: peer.id,
    displayName: peer.displayName,
    type: 'web',
    audioCodec,
    videoCodec,
    workerPid,
    srtp: true,
    muted,
    direction: 'sendrecv',
    joinedAt: peer.joinedAt.toISOString(),
    bitrateIn: remote.bitrate ?? 0,
    bitrateOut: transportStats?.sendBitrate ?? 0,
    packetsIn: remote.packetCount ?? 0,
    packetsOut: 0,
    packetLoss: (remote.fractionLost ?? 0) / 256,
    videoPacketLoss: worstLoss(videoReceived),
    jitterMs: Math.round(((remote.jitter ?? 0) / 48) * 10) / 10,
    rttMs: Math.round((remote.roundTripTime ?? 0) * 10) / 10,
    audio: streamStats(audioCodec, 48000, received ? [received as AnyRtpStats] : [], await consumersOf('audio')),
    video: video ? streamStats(videoCodec, 90000, videoReceived, await consumersOf('video')) : null,
    // (A browser's media runs over ICE with consent checks: a browser that stops sending is
    // dropped by its transport, so no timer of the box's own is kept for it.)
    noMediaMs: 0,
  };
}
