/**
 * What content lines receive at most (issue #19), from the call settings: the size and frame
 * rate of "max content resolution" (`call.maxContentResolution`, 1080P/5 by default … 720P/30)
 * and the bitrate left for content in the call's bandwidth beside its audio and people video
 * (`callBudget` in ../mcu/video-policy.ts: the spec's guide, about 4 Mbit/s for 1080p video
 * and content). Content transcoded for SIP content lines is encoded at most at that size, rate
 * and bitrate; content forwarded as it is must keep within them (content-routing.ts says when).
 * The content layout's picture and browsers that take the source as it is are not capped here.
 * A room system presenting is asked to keep within the cap by the answer to its content line
 * (`cappedContentCodec`, and `b=AS` with the bitrate), so what the box decodes and forwards
 * is no larger than the cap either.
 */
import type { VideoCallSettings } from '../../server/core/call-settings.ts';
import { fmtpParameters, type SdpCodec } from '../sdp/sip-sdp.ts';
import { CONTENT_CAPS, callBudget } from '../mcu/video-policy.ts';

export interface ContentPolicy {
  /** The largest content picture (width, height) and frame rate content lines receive. */
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** The content's bitrate in kbit/s: what the call's bandwidth leaves beside audio and video, up to the guide for the cap. */
  readonly kbps: number;
  /** Seconds between the periodic key frames of transcoded content (a receiver that starts or asks gets one at once besides). */
  readonly keyFrameSeconds: number;
}

export function contentPolicyFrom(settings: Pick<VideoCallSettings, 'call.maxBandwidth' | 'call.maxVideoResolution' | 'call.maxContentResolution'>): ContentPolicy {
  const cap = CONTENT_CAPS[settings['call.maxContentResolution'] as keyof typeof CONTENT_CAPS] ?? CONTENT_CAPS['1080P/5'];
  return { width: cap.width, height: cap.height, fps: cap.fps, kbps: callBudget(settings).contentKbps, keyFrameSeconds: 1 };
}

/** Without settings (tests of the media service alone): the settings' defaults (1080P/5 in a 2M call beside 720p video). */
export const DEFAULT_CONTENT_POLICY: ContentPolicy = contentPolicyFrom({ 'call.maxBandwidth': '2M', 'call.maxVideoResolution': '720P/30', 'call.maxContentResolution': '1080P/5' });

/** Macroblocks (16×16) in a picture of the cap's size. */
function macroblocks(cap: Pick<ContentPolicy, 'width' | 'height'>): number {
  return Math.ceil(cap.width / 16) * Math.ceil(cap.height / 16);
}

/** The H.264 level_idc that holds the cap: 4.0 (8 192 macroblocks a frame) for 1080p, 3.1 (3 600, 30 fps) for 720p. */
function h264LevelFor(cap: Pick<ContentPolicy, 'width' | 'height'>): number {
  return macroblocks(cap) > 3600 ? 0x28 : 0x1f;
}

/** fmtp parameters with `name` set to `value` (replaced where present, appended otherwise). */
function withParameter(fmtp: string, name: string, value: string): string {
  const parts = fmtp.split(';').map((part) => part.trim()).filter((part) => part.length > 0);
  const at = parts.findIndex((part) => part.split('=')[0]?.trim().toLowerCase() === name);
  if (at >= 0) parts[at] = `${name}=${value}`;
  else parts.push(`${name}=${value}`);
  return parts.join(';');
}

/**
 * The codec a content line is answered with: the terminal's own, asking it to present within
 * the cap. H.264: the offered profile at the offered level or the cap's, whichever is lower (an
 * answer may lower the level, and the offerer then sends within it: RFC 6184 §8.2.2). The
 * frame rate has no lower bound to give in H.264's parameters: content over the cap's rate is
 * transcoded (content-routing.ts). Other codecs as offered (content lines are H.264: sip-leg.ts).
 */
export function cappedContentCodec(codec: SdpCodec, cap: Pick<ContentPolicy, 'width' | 'height'>): SdpCodec {
  if (codec.name.toUpperCase() !== 'H264') return codec;
  const profile = fmtpParameters(codec.fmtp)['profile-level-id'] ?? '42e01f';
  if (!/^[0-9a-f]{6}$/i.test(profile)) return codec;
  const offered = Number.parseInt(profile.slice(4), 16);
  const level = Math.min(offered, h264LevelFor(cap));
  if (level === offered) return codec;
  return { ...codec, fmtp: withParameter(codec.fmtp ?? '', 'profile-level-id', `${profile.slice(0, 4)}${level.toString(16).padStart(2, '0')}`) };
}
