/**
 * A meeting call signaled over SIP/TLS (Debian's sipp has no TLS, so the terminal's signaling
 * is a small TLS client here, checking the box's certificate) with SDES-SRTP offered: the box
 * answers over the same connection with RTP/SAVP and its key, joins the leg to the meeting
 * next to a plain UDP terminal, and the BYE over TLS ends it.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { joinMeeting, pcmaMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { connectTls, streamExchange } from '../helpers/sip-socket.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'TLS room', number: '880007', hostPin: '7777', guestPin: '', capacity: 10 });

t.test('INVITE over TLS with SRTP: answered over the connection, in the meeting, BYE ends it', async (t) => {
  const { udpRtp } = await openTerminals(t, 'udpRtp');
  const other = await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Udp', media: pcmaMedia(udpRtp.port), hold: 4000 });

  const socket = await connectTls(box.tlsPort, box.cert);
  t.teardown(() => socket.destroy());
  const local = `127.0.0.1:${socket.localPort}`;
  const callId = `tls-meeting-${randomBytes(4).toString('hex')}`;
  const key = randomBytes(30).toString('base64');
  const sdp = [
    'v=0',
    'o=tls 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 40020 RTP/SAVP 0',
    'a=rtpmap:0 PCMU/8000',
    'a=rtcp-mux',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}`,
    '',
  ].join('\r\n');
  const headers = (method: string, cseq: number, toTag = '') => [
    `Via: SIP/2.0/TLS ${local};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    `From: "Secure Desk" <sips:tls@vcbox.local>;tag=tls1`,
    `To: <sips:${room.number}@vcbox.local>${toTag ? `;tag=${toTag}` : ''}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sips:tls@${local};transport=tls>`,
    'Max-Forwards: 70',
  ];
  const invite = [`INVITE sips:${room.number}@127.0.0.1:${box.tlsPort} SIP/2.0`, ...headers('INVITE', 1), 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp].join('\r\n');
  const answer = await streamExchange(socket, invite, /SIP\/2\.0 200 OK[\s\S]*\r\n\r\n[\s\S]*a=crypto[^\r\n]*\r\n/, 10_000);
  t.match(answer.received, /SIP\/2\.0 200 OK/, 'answered 200 over the TLS connection');
  t.match(answer.received, /m=audio \d+ RTP\/SAVP 0/, 'RTP/SAVP answered');
  t.match(answer.received, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}/, 'with the box key');
  const toTag = /\r\nTo: [^\r\n]*;tag=([^;\r\n]+)/i.exec(answer.received)?.[1] ?? '';
  socket.write([`ACK sips:${room.number}@127.0.0.1:${box.tlsPort} SIP/2.0`, ...headers('ACK', 1, toTag), 'Content-Length: 0', '', ''].join('\r\n'));

  const participant = await waitFor('the TLS participant', 5000, () =>
    [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Secure Desk'),
  );
  t.equal(participant.transport.toLowerCase(), 'tls', 'the live meeting shows its transport as TLS');
  const snapshot = await box.media?.snapshot(room.number);
  t.same(snapshot?.[0]?.participants.map((p) => p.srtp).sort(), [false, true], 'the TLS leg is the SRTP one');

  const bye = await streamExchange(socket, [`BYE sips:${room.number}@127.0.0.1:${box.tlsPort} SIP/2.0`, ...headers('BYE', 2, toTag), 'Content-Length: 0', '', ''].join('\r\n'), /SIP\/2\.0 200 OK[\s\S]*CSeq: 2 BYE/);
  t.match(bye.received, /CSeq: 2 BYE/, 'BYE answered 200');
  await waitFor('the TLS participant to leave', 5000, () => ![...(box.app.live.get(room.number)?.participants.values() ?? [])].some((p) => p.displayName === 'Secure Desk'));
  t.ok((await other.result).ok, 'the UDP terminal is not disturbed');
});
