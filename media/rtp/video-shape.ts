/**
 * The picture size a video RTP stream carries, read from its key frames without decoding
 * them: H.264's sequence parameter set (ITU-T H.264 §7.3.2.1.1: the size in macroblocks, frame
 * or field coding, the cropping window; single NAL units, STAP-A aggregates and the first FU-A
 * fragment, RFC 6184) and VP8's key-frame header (RFC 6386 §9.1: width and height after the
 * start code, behind the RTP payload descriptor of RFC 7741). Also the RTP header fields the
 * content probe needs (payload offset, timestamp, payload type). Pure functions; malformed
 * input gives undefined, never an exception.
 */

export interface VideoSize {
  readonly width: number;
  readonly height: number;
}

export interface RtpView {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly timestamp: number;
  readonly payload: Buffer;
}

/** The RTP packet's header fields and payload (CSRCs, header extension and padding skipped); undefined if it is not RTP. */
export function readRtp(packet: Buffer): RtpView | undefined {
  if (packet.length < 12 || packet[0] === undefined || packet[0] >> 6 !== 2) return undefined;
  const first = packet[0];
  let offset = 12 + (first & 0x0f) * 4;
  if (first & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (first & 0x20) end -= packet[packet.length - 1] ?? 0;
  if (offset >= end) return undefined;
  const second = packet[1] ?? 0;
  return { payloadType: second & 0x7f, marker: (second & 0x80) !== 0, timestamp: packet.readUInt32BE(4), payload: packet.subarray(offset, end) };
}

/** Reads bits of an RBSP (emulation prevention bytes removed), with Exp-Golomb codes; throws RangeError past its end. */
class BitReader {
  readonly #data: Buffer;
  #bit = 0;

  constructor(data: Buffer) {
    this.#data = data;
  }

  u(bits: number): number {
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const byte = this.#data[this.#bit >> 3];
      if (byte === undefined) throw new RangeError('past the end');
      value = value * 2 + ((byte >> (7 - (this.#bit & 7))) & 1);
      this.#bit++;
    }
    return value;
  }

  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new RangeError('Exp-Golomb code too long');
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** The NAL unit without its emulation prevention bytes (00 00 03 → 00 00). */
function rbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const byte of nal) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

/** Profiles whose SPS carries chroma format, bit depths and scaling matrices (H.264 §7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(reader: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + reader.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** The picture size an H.264 sequence parameter set (the NAL unit, header byte first) describes. */
export function h264SpsSize(nal: Buffer): VideoSize | undefined {
  if (((nal[0] ?? 0) & 0x1f) !== 7) return undefined;
  try {
    const reader = new BitReader(rbsp(nal.subarray(1)));
    const profile = reader.u(8);
    reader.u(16); // constraint flags, level
    reader.ue(); // seq_parameter_set_id
    let chroma = 1;
    if (HIGH_PROFILES.has(profile)) {
      chroma = reader.ue();
      if (chroma === 3) reader.u(1); // separate_colour_plane_flag
      reader.ue(); // bit_depth_luma_minus8
      reader.ue(); // bit_depth_chroma_minus8
      reader.u(1); // qpprime_y_zero_transform_bypass_flag
      if (reader.u(1)) {
        for (let i = 0; i < (chroma === 3 ? 12 : 8); i++) if (reader.u(1)) skipScalingList(reader, i < 6 ? 16 : 64);
      }
    }
    reader.ue(); // log2_max_frame_num_minus4
    const pocType = reader.ue();
    if (pocType === 0) reader.ue();
    else if (pocType === 1) {
      reader.u(1);
      reader.se();
      reader.se();
      const cycle = reader.ue();
      if (cycle > 255) return undefined;
      for (let i = 0; i < cycle; i++) reader.se();
    }
    reader.ue(); // max_num_ref_frames
    reader.u(1); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = reader.ue() + 1;
    const heightUnits = reader.ue() + 1;
    const frameMbsOnly = reader.u(1);
    if (!frameMbsOnly) reader.u(1); // mb_adaptive_frame_field_flag
    reader.u(1); // direct_8x8_inference_flag
    let [left, right, top, bottom] = [0, 0, 0, 0];
    if (reader.u(1)) [left, right, top, bottom] = [reader.ue(), reader.ue(), reader.ue(), reader.ue()];
    const cropX = chroma === 0 || chroma === 3 ? 1 : 2;
    const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const width = widthMbs * 16 - cropX * (left + right);
    const height = (2 - frameMbsOnly) * heightUnits * 16 - cropY * (top + bottom);
    return width > 0 && height > 0 && width <= 16_384 && height <= 16_384 ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

/** The size in an H.264 RTP payload carrying a sequence parameter set (alone, in a STAP-A, or starting an FU-A). */
export function h264PayloadSize(payload: Buffer): VideoSize | undefined {
  const type = (payload[0] ?? 0) & 0x1f;
  if (type === 7) return h264SpsSize(payload);
  if (type === 24) {
    for (let offset = 1; offset + 2 <= payload.length; ) {
      const size = payload.readUInt16BE(offset);
      const nal = payload.subarray(offset + 2, offset + 2 + size);
      if (((nal[0] ?? 0) & 0x1f) === 7) return h264SpsSize(nal);
      offset += 2 + size;
    }
    return undefined;
  }
  if (type === 28 && payload.length > 2) {
    const header = payload[1] ?? 0;
    // The start of a fragmented SPS: its first bytes hold the size.
    if (header & 0x80 && (header & 0x1f) === 7) return h264SpsSize(Buffer.concat([Buffer.from([((payload[0] ?? 0) & 0xe0) | 7]), payload.subarray(2)]));
  }
  return undefined;
}

/** The size in a VP8 RTP payload that starts a key frame (RFC 7741 descriptor, then the frame's header). */
export function vp8PayloadSize(payload: Buffer): VideoSize | undefined {
  const first = payload[0];
  if (first === undefined) return undefined;
  let offset = 1;
  if (first & 0x80) {
    const extension = payload[1] ?? 0;
    offset = 2;
    if (extension & 0x80) offset += (payload[offset] ?? 0) & 0x80 ? 2 : 1;
    if (extension & 0x40) offset += 1;
    if (extension & 0x30) offset += 1;
  }
  // Only the first packet of partition 0 has the frame header.
  if (!(first & 0x10) || (first & 0x0f) !== 0) return undefined;
  const frame = payload.subarray(offset);
  if (frame.length < 10 || ((frame[0] ?? 1) & 0x01) !== 0) return undefined; // not a key frame
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  const width = frame.readUInt16LE(6) & 0x3fff;
  const height = frame.readUInt16LE(8) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : undefined;
}
