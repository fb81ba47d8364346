/**
 * The browser join page's requests as a test makes them, from a chosen loopback address (so a
 * lock-out test keeps its address to itself): the meeting look-up (GET /api/v1/join/:number)
 * and the join request over the join WebSocket — the answer to `join`, then the socket closes
 * (a browser that joined leaves the meeting with it).
 */
import http from 'node:http';
import WebSocket from 'ws';

export interface JoinAnswer {
  readonly result?: { participantId: string; role: string };
  readonly error?: { code: string; message: string; refusal?: string };
}

/** Sends `join` {number, pin, name} from `address`; resolves with the answer. */
export async function joinFromAddress(base: string, address: string, join: { number: string; pin?: string; name: string }): Promise<JoinAnswer> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/join/ws`, { localAddress: address });
  try {
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const answer = new Promise<string>((resolve, reject) => {
      socket.once('message', (data) => resolve(String(data)));
      socket.once('close', () => reject(new Error('the join socket closed without an answer')));
    });
    socket.send(JSON.stringify({ id: 1, method: 'join', params: join }));
    return JSON.parse(await answer) as JoinAnswer;
  } finally {
    socket.close();
  }
}

/** GET /api/v1/join/:number from `address`: its status and JSON body. */
export function lookUpFromAddress(base: string, address: string, number: string): Promise<{ status: number; body: { code?: string; refusal?: string; message?: string; subject?: string } }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${base}/api/v1/join/${number}`, { localAddress: address }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.setTimeout(10_000, () => request.destroy(new Error('no answer to the join look-up within 10 s')));
  });
}
