/**
 * Media port accounting, the manual's rule (spec "Media port ranges"): a call takes 6 ports,
 * 8 when it sends or receives content (the content line's RTP and RTCP). Pure arithmetic: what a number of calls
 * takes, how many calls a port range holds, which live calls send or receive content. The
 * dashboard reports media ports with it and the participant sessions' admission refuses a
 * newcomer no call's worth of ports is left for; nothing here opens or reserves a port (mediasoup
 * picks them inside the range).
 */
import type { LiveMeeting } from './live-meetings.ts';

/** Ports a call takes without content. */
export const PORTS_PER_CALL = 6;
/** Ports a call takes when it sends or receives content. */
export const PORTS_PER_CONTENT_CALL = 8;

export interface PortRangeLike {
  readonly min: number;
  readonly max: number;
}

/** The ports one call takes. */
export function callPorts(call: { readonly content: boolean }): number {
  return call.content ? PORTS_PER_CONTENT_CALL : PORTS_PER_CALL;
}

/** The ports a set of calls takes together. */
export function portsInUse(calls: Iterable<{ readonly content: boolean }>): number {
  let ports = 0;
  for (const call of calls) ports += callPorts(call);
  return ports;
}

/** How many ports a range holds (both ends included; 0 for a reversed range). */
export function rangeSize(range: PortRangeLike): number {
  return Math.max(0, range.max - range.min + 1);
}

/** How many more calls fit in `range` with `used` ports taken (calls with content when `content`). */
export function callsThatFit(range: PortRangeLike, used: number, content: boolean): number {
  return Math.max(0, Math.floor((rangeSize(range) - used) / callPorts({ content })));
}

/**
 * The live calls, each marked with content when its participant can present (a content line
 * with a BFCP user, `canPresent`); absent `canPresent`: no call has content.
 */
export function liveCalls(meetings: Iterable<LiveMeeting>, canPresent?: (meeting: string, participantId: string) => boolean): { content: boolean }[] {
  const calls: { content: boolean }[] = [];
  for (const meeting of meetings) {
    for (const id of meeting.participants.keys()) calls.push({ content: canPresent?.(meeting.number, id) ?? false });
  }
  return calls;
}
