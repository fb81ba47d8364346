/**
 * HTTP/1.1 over a raw TCP socket, for requests a normal client would tidy up first: absolute-form
 * request lines, percent-encoded or doubled slashes, forged Host headers, odd methods. Sends the
 * bytes as given (with `Connection: close`) and parses the one answer (content-length or
 * chunked body).
 */
import net from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends `METHOD target HTTP/1.1` with these headers and body to host:port, returns the answer. */
export function rawRequest(
  port: number,
  request: { method: string; target: string; headers?: Record<string, string>; body?: string },
  host = '127.0.0.1',
): Promise<RawAnswer> {
  const body = request.body ?? '';
  const headers: Record<string, string> = { host: `${host}:${port}`, connection: 'close', ...request.headers };
  if (body !== '' || !['GET', 'HEAD'].includes(request.method)) headers['content-length'] = String(Buffer.byteLength(body));
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no answer to ${request.method} ${request.target} within 15 s`)), 15_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no HTTP answer to ${request.method} ${request.target}: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const answerHeaders: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) answerHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let answerBody = text.slice(split + 4);
      if (answerHeaders['transfer-encoding']?.includes('chunked')) answerBody = unchunk(answerBody);
      resolve({ status: Number(statusLine.split(' ')[1]), headers: answerHeaders, body: answerBody });
    });
    socket.write(head);
    if (body) socket.write(body);
  });
}

function unchunk(text: string): string {
  let out = '';
  let rest = text;
  for (let i = 0; i < 100_000; i++) {
    const line = rest.indexOf('\r\n');
    if (line < 0) break;
    const size = Number.parseInt(rest.slice(0, line), 16);
    if (!size) break;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
  return out;
}
