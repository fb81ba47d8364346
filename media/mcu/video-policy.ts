/**
 * The call settings that shape composed video (spec "Call settings"), as the MCU uses them:
 * the canvas from "max video resolution", the encoder bitrate from the per-call bandwidth
 * (less the audio, and no more than the spec's bandwidth guide for the resolution), the
 * layout maxima, polling and self-view exclusion. Read from the settings each time a picture
 * starts (layout maxima and self-view exclusion: at every change), so a change in the console
 * applies to the next composed picture. Also: the largest picture a
 * terminal's negotiated codec takes (H.264 level; VP8 max-fs).
 */
import type { VIDEO_RESOLUTIONS, VideoCallSettings } from '../../server/core/call-settings.ts';
import type { Canvas } from './compositor-process.ts';
import type { EqualSplit, LayoutLimits, OnePlusN } from './layouts.ts';
import type { PollingRule } from './pane-assignment.ts';

export interface VideoPolicy {
  readonly canvas: Canvas;
  readonly kbps: number;
  readonly limits: LayoutLimits;
  readonly polling: { readonly intervalMs: number; readonly rule: PollingRule };
  /** Up to this many SIP video legs, each gets a picture without itself (0: one shared picture). */
  readonly selfViewExclusionMax: number;
}

const RESOLUTIONS = {
  '1080P/30': { width: 1920, height: 1080, fps: 30 },
  '720P/30': { width: 1280, height: 720, fps: 30 },
  '360P/30': { width: 640, height: 360, fps: 30 },
  '4CIF': { width: 704, height: 576, fps: 30 },
  CIF: { width: 352, height: 288, fps: 30 },
} as const satisfies Record<(typeof VIDEO_RESOLUTIONS)[number], Canvas>;

/** The spec's bandwidth guide: 4CIF30 512k, 720p30 1M, 1080p30 2M (kbit/s for video). */
export function guideKbps(height: number): number {
  if (height >= 1080) return 2000;
  if (height >= 720) return 1000;
  if (height >= 480) return 512;
  return 384;
}

const AUDIO_KBPS = 64;

export function videoPolicyFrom(settings: VideoCallSettings): VideoPolicy {
  const canvas: Canvas = RESOLUTIONS[settings['call.maxVideoResolution'] as keyof typeof RESOLUTIONS] ?? RESOLUTIONS['720P/30'];
  const bandwidth = settings['call.maxBandwidth'];
  const callKbps = bandwidth.endsWith('M') ? Number(bandwidth.slice(0, -1)) * 1000 : Number(bandwidth.slice(0, -1));
  return {
    canvas,
    kbps: Math.max(64, Math.min(guideKbps(canvas.height), callKbps - AUDIO_KBPS)),
    limits: { equalSplitMax: settings['call.layout.equalSplitMax'] as EqualSplit, onePlusNMax: settings['call.layout.onePlusNMax'] as OnePlusN },
    polling: { intervalMs: settings['call.polling.intervalSeconds'] * 1000, rule: settings['call.polling.rule'] as PollingRule },
    selfViewExclusionMax: settings['call.selfViewExclusionMax'],
  };
}

/** Without settings (tests of the media service alone): the spec's defaults. */
export const DEFAULT_VIDEO_POLICY: VideoPolicy = {
  canvas: RESOLUTIONS['720P/30'],
  kbps: 1000,
  limits: { equalSplitMax: '4x4', onePlusNMax: '1+7' },
  polling: { intervalMs: 10_000, rule: 'round-robin' },
  selfViewExclusionMax: 0,
};

/**
 * The tallest picture a terminal decodes, from its negotiated codec parameters: the H.264
 * level (3.0 → 576 lines, 3.1 → 720, 4.0 and above → 1080, below 3.0 → CIF) or VP8's max-fs
 * (in 16×16 macroblocks). Without a hint, the canvas.
 */
export function terminalMaxHeight(mimeType: string, parameters: Record<string, string | number>, canvasHeight: number): number {
  if (mimeType === 'video/H264') {
    const level = Number.parseInt(String(parameters['profile-level-id'] ?? '42e01f').slice(4, 6), 16);
    const height = level >= 0x28 ? 1080 : level >= 0x1f ? 720 : level >= 0x1e ? 576 : 288;
    return Math.min(canvasHeight, height);
  }
  const maxFs = Number(parameters['max-fs'] ?? 0);
  if (maxFs > 0) return Math.min(canvasHeight, Math.floor(Math.sqrt((maxFs * 256 * 9) / 16)));
  return canvasHeight;
}
