/**
 * Garbage RTP dressed as H.264, as an attacking floor holder sends it on its content line (the
 * garbage tests in test/security/): random payloads with the NAL unit types given (single NAL
 * units, STAP-A, FU-A fragments, parameter sets), mostly in order but with sequence numbers and
 * timestamps jumping back or far ahead, about 200 packets a second, payload type 109. With
 * `parameterSetTraps`, some parameter sets parse far (all ones: Exp-Golomb codes that never
 * end) and some carry huge sizes.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type dgram from 'node:dgram';

export async function sendH264Garbage(
  socket: dgram.Socket,
  port: number,
  count: number,
  options: { nalTypes?: readonly number[]; parameterSetTraps?: boolean } = {},
): Promise<void> {
  const nalTypes = options.nalTypes ?? [1, 5, 7, 8, 24, 28, 28, 28, 6, 9, 0, 31];
  const ssrc = randomInt(1, 0x7fffffff);
  let seq = randomInt(0, 0xffff);
  let ts = randomInt(0, 0x7fffffff);
  for (let i = 0; i < count; i++) {
    const header = Buffer.alloc(12);
    header.writeUInt8(0x80, 0);
    header.writeUInt8((randomInt(0, 4) === 0 ? 0x80 : 0) | 109, 1);
    seq = (seq + (randomInt(0, 10) === 0 ? randomInt(0, 0xffff) : 1)) & 0xffff;
    ts = (ts + (randomInt(0, 10) === 0 ? randomInt(0, 0x7fffffff) : 18000)) >>> 0;
    header.writeUInt16BE(seq, 2);
    header.writeUInt32BE(ts, 4);
    header.writeUInt32BE(ssrc, 8);
    const payload = randomBytes(randomInt(2, 1100));
    const type = nalTypes[randomInt(0, nalTypes.length)] ?? 1;
    payload[0] = ((payload[0] ?? 0) & 0xe0) | type;
    if (options.parameterSetTraps && type === 7 && i % 3 === 0) payload.fill(0xff, 1);
    if (options.parameterSetTraps && type === 7 && i % 3 === 1 && payload.length > 20) payload.fill(0x00, 4, 20);
    socket.send(Buffer.concat([header, payload]), port, '127.0.0.1');
    if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
