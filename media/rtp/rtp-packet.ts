/**
 * RTP (RFC 3550) fixed header: reading the fields the mixer needs from a received packet and
 * writing the 12-byte header of a packet it sends. No allocation on the read path.
 */

export interface RtpHeader {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  /** Offset of the payload in the packet (after CSRCs and the header extension). */
  readonly payloadOffset: number;
  /** End of the payload (before padding). */
  readonly payloadEnd: number;
}

/** Parses an RTP packet; undefined for RTCP, a wrong version or a truncated packet. */
export function parseRtp(packet: Buffer): RtpHeader | undefined {
  if (packet.length < 12) return undefined;
  const first = packet.readUInt8(0);
  const second = packet.readUInt8(1);
  if (first >> 6 !== 2) return undefined;
  const payloadType = second & 0x7f;
  // RTCP packet types 200-204 share the first octet's range with PT 72-76 + marker (RFC 5761).
  if (payloadType >= 72 && payloadType <= 76) return undefined;
  let offset = 12 + (first & 0x0f) * 4;
  if (first & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (first & 0x20) end -= packet.readUInt8(packet.length - 1);
  if (offset > end) return undefined;
  return {
    payloadType,
    marker: (second & 0x80) !== 0,
    sequence: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payloadOffset: offset,
    payloadEnd: end,
  };
}

/** Writes a 12-byte RTP header into `into` (no CSRC, no extension). */
export function writeRtpHeader(into: Buffer, payloadType: number, marker: boolean, sequence: number, timestamp: number, ssrc: number): Buffer {
  into[0] = 0x80;
  into[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  into.writeUInt16BE(sequence & 0xffff, 2);
  into.writeUInt32BE(timestamp >>> 0, 4);
  into.writeUInt32BE(ssrc >>> 0, 8);
  return into;
}
