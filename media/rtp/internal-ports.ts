/**
 * The ports of the box's internal loopback transports — the audio mixer's, the compositor's and
 * the transcoders' RTP, routers piped to each other — kept out of the ranges calls take
 * (`media.mcuPorts`, `media.ivrPorts`): mediasoup's default range (10000-59999) overlaps every
 * default range of the manual, so internal transports took ports of the MCU range that its
 * accounting (6 ports a call, 8 with content: server/meetings/media-ports.ts) does not count
 * (test/content/content-ports.test.ts counts them). The range used is the first candidate that
 * overlaps neither call range: above the kernel's ephemeral ports first (61000-65535), then
 * below the manual's ranges. The media process has one configuration, so this is one setting
 * of the process, set by the media service whenever its ranges change.
 */
import type { types } from 'mediasoup';

interface PortRange {
  readonly min: number;
  readonly max: number;
}

const CANDIDATES: readonly PortRange[] = [
  { min: 61000, max: 65535 },
  { min: 20000, max: 29999 },
  { min: 10000, max: 19999 },
];

const overlaps = (a: PortRange, b: PortRange) => a.min <= b.max && b.min <= a.max;

/** The internal range for call ranges `ranges`: the first candidate clear of them (the last one when none is). */
export function internalPortRange(ranges: readonly PortRange[]): PortRange {
  return CANDIDATES.find((candidate) => ranges.every((range) => !overlaps(candidate, range))) ?? (CANDIDATES.at(-1) as PortRange);
}

let current: PortRange = internalPortRange([
  { min: 50000, max: 59999 },
  { min: 30000, max: 37999 },
]);

/** The call ranges changed (the media service's configuration): internal transports made from now on keep clear of them. */
export function setCallPortRanges(ranges: readonly PortRange[]): void {
  current = internalPortRange(ranges);
}

/** Where an internal transport listens: loopback, in the internal range. */
export function internalListenInfo(): types.TransportListenInfo {
  return { protocol: 'udp', ip: '127.0.0.1', portRange: current };
}
