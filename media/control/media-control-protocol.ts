/**
 * The media control channel between the control plane (its SIP application and console API)
 * and the media service: newline-delimited JSON over a Unix socket in the data directory.
 *   request  {"id":1,"method":"joinSip","params":[...]}
 *   response {"id":1,"result":...} | {"id":1,"error":{"code":"VCBOX_ERR_…","message":"…"}}
 *   event    {"event":"participantclosed","args":[meeting, participantId, reason]}
 * The methods are MediaService's own (one list here, shared by both ends).
 */
import type { MediaService } from '../media-service.ts';

export const MEDIA_METHODS = [
  'joinSip',
  'updateSip',
  'requestKeyFrame',
  'joinWeb',
  'connectWeb',
  'produceWeb',
  'consumeWeb',
  'consumeComposedWeb',
  'resumeWeb',
  'leave',
  'setMuted',
  'snapshot',
  'videoRouting',
  'setLayout',
  'setBroadcast',
  'setWatch',
  'pictureState',
  'ivrStart',
  'ivrPlay',
  'ivrDigit',
  'ivrStop',
  'configure',
  'applySettings',
  'stats',
  'ping',
] as const;
export type MediaMethod = (typeof MEDIA_METHODS)[number];

/** What the control plane can ask of the media service (MediaService's methods, async). */
export type MediaControl = {
  [M in Exclude<MediaMethod, 'ping'>]: (...args: Parameters<MediaService[M]>) => Promise<Awaited<ReturnType<MediaService[M]>>>;
} & {
  /** Liveness: the media process's meetings, pid and uptime (the dashboard's service status). */
  ping(): Promise<{ meetings: number; pid: number; uptimeSeconds: number }>;
};

export const MEDIA_EVENTS = ['participantclosed', 'dominantspeaker', 'newproducer', 'producerclosed', 'keyframerequest', 'ivrdigit'] as const;

/** Longest line either side accepts (an SDP offer is a few kB). */
export const MAX_LINE_BYTES = 256 * 1024;
