/**
 * The call settings that shape composed video (spec "Call settings"), as the MCU uses them:
 * the canvas from "max video resolution", the encoder bitrate from the per-call bandwidth
 * (less the audio and the room a presentation needs beside the video — `callBudget` — and no
 * more than the spec's bandwidth guide for the resolution), the layout maxima, polling and
 * self-view exclusion. Read from the settings each time a picture
 * starts (layout maxima and self-view exclusion: at every change), so a change in the console
 * applies to the next composed picture. Also: the largest picture a
 * terminal's negotiated codec takes (H.264 level; VP8 max-fs).
 */
import type { CONTENT_RESOLUTIONS, VIDEO_RESOLUTIONS, VideoCallSettings } from '../../server/core/call-settings.ts';
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

/** Max content resolution: the largest content picture and frame rate content lines receive. */
export const CONTENT_CAPS = {
  '1080P/30': { width: 1920, height: 1080, fps: 30 },
  '1080P/15': { width: 1920, height: 1080, fps: 15 },
  '1080P/5': { width: 1920, height: 1080, fps: 5 },
  '720P/30': { width: 1280, height: 720, fps: 30 },
  '720P/15': { width: 1280, height: 720, fps: 15 },
  '720P/5': { width: 1280, height: 720, fps: 5 },
} as const satisfies Record<(typeof CONTENT_RESOLUTIONS)[number], Canvas>;

/**
 * The content guide (kbit/s): the spec's video guide for the size at 30 fps (720p 1M, 1080p
 * 2M; "+content ≈ 4M" with 1080p video), less at lower frame rates — slides change little
 * between frames, so half the rate at 5 fps and three quarters at 15.
 */
export function contentGuideKbps(cap: Canvas): number {
  const full = guideKbps(cap.height);
  return cap.fps >= 30 ? full : cap.fps >= 15 ? Math.round(full * 0.75) : Math.round(full * 0.5);
}

/** The per-call bandwidth setting in kbit/s ('2M' → 2000, '768k' → 768). */
export function callKbps(bandwidth: string): number {
  return bandwidth.endsWith('M') ? Number(bandwidth.slice(0, -1)) * 1000 : Number(bandwidth.slice(0, -1));
}

/**
 * How one call's bandwidth (`call.maxBandwidth`) is shared when it carries audio, the people
 * video and a presentation, so the three never exceed it: the audio's 64 kbit/s first; the
 * video its guide, less a reserve for content (the content guide, but at most a third of what
 * is left after the audio) — at 2M and above the reserve fits beside the video guide and the
 * video keeps its guide —; content what remains, up to its own guide. Neither falls below
 * 32 kbit/s (only at 128k, where nothing fits, does that exceed the call).
 */
export function callBudget(settings: Pick<VideoCallSettings, 'call.maxBandwidth' | 'call.maxVideoResolution' | 'call.maxContentResolution'>): { videoKbps: number; contentKbps: number } {
  const canvas: Canvas = RESOLUTIONS[settings['call.maxVideoResolution'] as keyof typeof RESOLUTIONS] ?? RESOLUTIONS['720P/30'];
  const cap: Canvas = CONTENT_CAPS[settings['call.maxContentResolution'] as keyof typeof CONTENT_CAPS] ?? CONTENT_CAPS['1080P/5'];
  const available = callKbps(settings['call.maxBandwidth']) - AUDIO_KBPS;
  const contentGuide = contentGuideKbps(cap);
  const reserve = Math.min(contentGuide, Math.floor(available / 3));
  const videoKbps = Math.max(32, Math.min(guideKbps(canvas.height), available - reserve));
  const contentKbps = Math.max(32, Math.min(contentGuide, available - videoKbps));
  return { videoKbps, contentKbps };
}

export function videoPolicyFrom(settings: VideoCallSettings): VideoPolicy {
  const canvas: Canvas = RESOLUTIONS[settings['call.maxVideoResolution'] as keyof typeof RESOLUTIONS] ?? RESOLUTIONS['720P/30'];
  return {
    canvas,
    kbps: callBudget(settings).videoKbps,
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
