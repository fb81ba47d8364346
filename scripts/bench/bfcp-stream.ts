/**
 * What the BFCP benchmarks share: reading BFCP messages off a TCP connection (RFC 8855 over a
 * stream: each message is its 12-byte common header plus the payload length it announces).
 */
import type net from 'node:net';
import { type BfcpMessage, decodeMessage, HEADER_BYTES } from '../../server/bfcp/bfcp-message.ts';

/** Calls `onMessage` with each whole message that arrives on `socket`. */
export function onBfcpStreamMessages(socket: net.Socket, onMessage: (message: BfcpMessage) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= HEADER_BYTES) {
      const total = HEADER_BYTES + buffered.readUInt16BE(2) * 4;
      if (buffered.length < total) break;
      onMessage(decodeMessage(buffered.subarray(0, total)));
      buffered = buffered.subarray(total);
    }
  });
}
