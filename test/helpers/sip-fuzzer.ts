/**
 * Mutated SIP messages for fuzzing, from a seeded generator (a failure names its seed and can
 * be replayed): byte flips, insertions and deletions, truncation, duplicated and huge headers,
 * lying Content-Lengths, stray separators, binary junk, broken start lines.
 */

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n';

export function corpus(port: number): string[] {
  const base = (method: string, extra: string[], body = '') =>
    [
      `${method} sip:1001@127.0.0.1:${port} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKfuzz;rport',
      'Max-Forwards: 70',
      'From: "Fuzz, Tester" <sip:9999@vcbox.local>;tag=ft1',
      'To: <sip:1001@vcbox.local>',
      'Call-ID: fuzz-call@127.0.0.1',
      `CSeq: 1 ${method}`,
      'Contact: <sip:9999@127.0.0.1:5999>',
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  return [
    base('OPTIONS', ['Accept: application/sdp']),
    base('REGISTER', ['Expires: 3600', 'Authorization: Digest username="1001", realm="vcbox.local", nonce="abc.def", uri="sip:vcbox.local", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"']),
    base('INVITE', ['Content-Type: application/sdp', 'Supported: timer, 100rel', 'Session-Expires: 1800'], SDP),
    base('BYE', []).replace('To: <sip:1001@vcbox.local>', 'To: <sip:1001@vcbox.local>;tag=zz'),
    base('CANCEL', []),
    base('ACK', []),
    base('INFO', ['Content-Type: application/dtmf-relay'], 'Signal=5\r\nDuration=160\r\n'),
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
  ];
}

const JUNK = ['\r\n', ':', ';', ',', '<', '>', '"', '\\', '\0', ' ', '\t', '=', '@', '%00', '\u00ff', '🎥', 'SIP/2.0', 'Content-Length: 99999', 'Via:', '\r\n\r\n'];

export function mutate(message: string, random: () => number): Buffer {
  let bytes = Buffer.from(message, 'utf8');
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const at = () => Math.floor(random() * (bytes.length + 1));
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    switch (Math.floor(random() * 11)) {
      case 0: // flip bytes
        for (let i = 0; i < 1 + random() * 8; i++) {
          const p = Math.floor(random() * bytes.length);
          bytes[p] = Math.floor(random() * 256);
        }
        break;
      case 1: { // insert junk
        const p = at();
        bytes = Buffer.concat([bytes.subarray(0, p), Buffer.from(pick(JUNK)), bytes.subarray(p)]);
        break;
      }
      case 2: { // delete a range
        const p = at();
        bytes = Buffer.concat([bytes.subarray(0, p), bytes.subarray(p + Math.floor(random() * 40))]);
        break;
      }
      case 3: // truncate
        bytes = bytes.subarray(0, at());
        break;
      case 4: { // duplicate a line many times
        const lines = bytes.toString('latin1').split('\r\n');
        const i = Math.floor(random() * lines.length);
        lines.splice(i, 0, ...Array(1 + Math.floor(random() * 50)).fill(lines[i] ?? ''));
        bytes = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 5: { // huge header value
        const text = bytes.toString('latin1');
        const p = text.indexOf('\r\n');
        bytes = Buffer.from(`${text.slice(0, p)}\r\nX-Huge: ${'A'.repeat(Math.floor(random() * 70_000))}${text.slice(p)}`, 'latin1');
        break;
      }
      case 6: // lying Content-Length
        bytes = Buffer.from(bytes.toString('latin1').replace(/Content-Length: \d+/i, `Content-Length: ${pick(['-1', '0', '5', '999999', '1e3', ' 12', '0x10', '18446744073709551616'])}`), 'latin1');
        break;
      case 7: // line endings changed
        bytes = Buffer.from(bytes.toString('latin1').replace(/\r\n/g, pick(['\n', '\r', '\r\r\n', '\r\n '])), 'latin1');
        break;
      case 8: // swap two lines
      {
        const lines = bytes.toString('latin1').split('\r\n');
        const i = Math.floor(random() * lines.length);
        const j = Math.floor(random() * lines.length);
        [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
        bytes = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 9: // random binary datagram
        bytes = Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
        break;
      default: { // mangle the start line
        const text = bytes.toString('latin1');
        const p = text.indexOf('\r\n');
        bytes = Buffer.from(pick(['INVITE', 'SIP/2.0 9999 X', 'GET / HTTP/1.1', '', 'OPTIONS  SIP/2.0', 'REGISTER sip: SIP/2.0', `${'M'.repeat(300)} sip:x SIP/2.0`]) + text.slice(p), 'latin1');
      }
    }
  }
  return bytes;
}
