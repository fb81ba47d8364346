/**
 * What content lines receive at most (issue #19), from the call settings: the size and frame
 * rate of "max content resolution" (`call.maxContentResolution`, 1080P/5 by default … 720P/30)
 * and the bitrate left for content in the call's bandwidth beside its audio and people video
 * (`callBudget` in ../mcu/video-policy.ts: the spec's guide, about 4 Mbit/s for 1080p video
 * and content). Content transcoded for SIP content lines is encoded at most at that size, rate
 * and bitrate; content forwarded as it is must keep within them (content-routing.ts says when).
 * The content layout's picture and browsers that take the source as it is are not capped here.
 */
import type { VideoCallSettings } from '../../server/core/call-settings.ts';
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
