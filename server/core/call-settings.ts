/**
 * The call-setting vocabulary both the control plane (settings schema, room store) and the
 * media process (MCU video policy, layouts, content caps) use: the allowed video and content
 * resolutions and layout maxima, and the shape of the call settings the media process reads.
 * The settings schema (server/settings/settings-schema.ts) checks stored values against these
 * lists.
 */

export const VIDEO_RESOLUTIONS = ['1080P/30', '720P/30', '360P/30', '4CIF', 'CIF'] as const;
/** Maximum content (second stream) resolution and frame rate [001 ch4 通话设置]. */
export const CONTENT_RESOLUTIONS = ['1080P/30', '1080P/15', '1080P/5', '720P/30', '720P/15', '720P/5'] as const;
export const EQUAL_SPLIT_LAYOUTS = ['2x2', '3x3', '4x4', '5x5', '6x6', '7x7'] as const;
export const ONE_PLUS_N_LAYOUTS = ['1+5', '1+7', '1+9'] as const;

/** The call settings composed video follows (keys of the settings schema). */
export interface VideoCallSettings {
  readonly 'call.maxVideoResolution': string;
  readonly 'call.maxBandwidth': string;
  /** Caps content (second stream); the per-call bandwidth keeps room for it beside the video. */
  readonly 'call.maxContentResolution': string;
  readonly 'call.layout.equalSplitMax': string;
  readonly 'call.layout.onePlusNMax': string;
  readonly 'call.polling.intervalSeconds': number;
  readonly 'call.polling.rule': string;
  readonly 'call.selfViewExclusionMax': number;
}
