/**
 * The RTCP feedback the box asks for on every video stream it sends or receives (NACK, PLI,
 * FIR): one list for the SIP legs' video (media/meetings) and the composed pictures
 * (media/mcu), which would otherwise import each other.
 */
import type { types } from 'mediasoup';

export const VIDEO_FEEDBACK: types.RtcpFeedback[] = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];
