/**
 * Is the TURN relay answering? A STUN Binding request (RFC 5389 §6: 20-byte header, magic
 * cookie, random transaction id) sent over UDP; the relay is up when a Binding success response
 * with the same transaction id comes back within the timeout. Used by the dashboard's service
 * status (server/observability/service-health.ts).
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;

/** Resolves the round-trip time in ms, or rejects with why there was no answer. */
export function stunProbe(host: string, port: number, timeoutMs = 1000): Promise<number> {
  const transaction = randomBytes(12);
  const request = Buffer.alloc(20);
  request.writeUInt16BE(BINDING_REQUEST, 0);
  request.writeUInt16BE(0, 2);
  request.writeUInt32BE(MAGIC_COOKIE, 4);
  transaction.copy(request, 8);
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no STUN answer from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const done = (error: Error | undefined) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(Math.round((performance.now() - started) * 10) / 10);
    };
    socket.on('message', (message) => {
      if (message.length >= 20 && message.readUInt16BE(0) === BINDING_SUCCESS && message.readUInt32BE(4) === MAGIC_COOKIE && message.subarray(8, 20).equals(transaction)) done(undefined);
    });
    socket.on('error', (error) => done(error));
    socket.send(request, port, host);
  });
}
