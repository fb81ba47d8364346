/**
 * Raw SIP over a socket, for the tests that must send what no well-behaved peer (sipp) sends:
 * malformed and oversized messages, TLS without a SIP stack. Each call waits a bounded time.
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

export function optionsRequest(options: { transport: 'UDP' | 'TCP' | 'TLS'; port: number; callId?: string; localPort?: number }): string {
  const callId = options.callId ?? `c${Math.random().toString(36).slice(2)}`;
  return [
    `OPTIONS sip:vcbox@127.0.0.1:${options.port} SIP/2.0`,
    `Via: SIP/2.0/${options.transport} 127.0.0.1:${options.localPort ?? 9};branch=z9hG4bK${callId};rport`,
    `From: <sip:test@127.0.0.1>;tag=${callId}`,
    `To: <sip:vcbox@127.0.0.1>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Sends bytes over a stream and collects what comes back until `until` matches, the peer closes, or the timeout. */
export function streamExchange(
  socket: net.Socket | tls.TLSSocket,
  data: string | Buffer,
  until: RegExp,
  timeoutMs = 5000,
): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    let received = '';
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve({ received, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (until.test(received)) finish();
    });
    socket.once('close', () => {
      closed = true;
      finish();
    });
    socket.write(data);
  });
}

export function connectTcp(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function connectTls(port: number, ca?: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ...(ca ? { ca, servername: 'localhost' } : { rejectUnauthorized: false }) }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Sends one datagram and waits for one answer (or undefined after the timeout). */
export function udpExchange(port: number, data: string | Buffer, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.toString('latin1'));
    });
    socket.bind(0, '127.0.0.1', () => socket.send(data, port, '127.0.0.1'));
  });
}

/** A REGISTER as a terminal sends it (optionally with an Authorization header). */
export function registerRequest(options: {
  transport: 'UDP' | 'TCP' | 'TLS';
  account: string;
  domain: string;
  callId: string;
  cseq: number;
  contact: string;
  expires: number;
  authorization?: string;
}): string {
  return [
    `REGISTER sip:${options.domain} SIP/2.0`,
    `Via: SIP/2.0/${options.transport} 127.0.0.1:5099;branch=z9hG4bK${options.callId}${options.cseq};rport`,
    `From: <sip:${options.account}@${options.domain}>;tag=${options.callId}`,
    `To: <sip:${options.account}@${options.domain}>`,
    `Call-ID: ${options.callId}`,
    `CSeq: ${options.cseq} REGISTER`,
    `Contact: <${options.contact}>`,
    `Expires: ${options.expires}`,
    ...(options.authorization ? [`Authorization: ${options.authorization}`] : []),
    'User-Agent: vcbox-test-terminal/1.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** The value of each `name:` header line of a message, in order. */
export function headerValues(message: string, name: string): string[] {
  return [...message.matchAll(new RegExp(`^${name}:[ \\t]*(.*)$`, 'gim'))].map((m) => (m[1] ?? '').trim());
}

/** An Authorization value answering a Digest challenge (RFC 7616 / 8760, qop=auth). */
export function digestAnswer(challenge: string, user: string, password: string, method: string, uri: string): string {
  const param = (name: string) => new RegExp(`${name}="?([^",]+)"?`, 'i').exec(challenge)?.[1] ?? '';
  const algorithm = param('algorithm') || 'MD5';
  const h = (text: string) => createHash(algorithm === 'SHA-256' ? 'sha256' : 'md5').update(text).digest('hex');
  const realm = param('realm');
  const nonce = param('nonce');
  const cnonce = 'c0ffee42';
  const nc = '00000001';
  const response = h(`${h(`${user}:${realm}:${password}`)}:${nonce}:${nc}:${cnonce}:auth:${h(`${method}:${uri}`)}`);
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}
