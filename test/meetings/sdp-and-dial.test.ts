/**
 * The pure parts of meeting calls: SDP offers as terminals write them (static payload types
 * without rtpmap, session-level c= and direction, a=rtcp, SDES crypto with lifetime/MKI,
 * oversized or non-SDP bodies refused with a reason), the answer writer, dial strings
 * (`ID`, `ID**PIN`, percent-encoded) and Session-Expires values.
 */
import t from 'tap';
import { answerDirection, parseSdp, writeSdp } from '../../media/sdp/sip-sdp.ts';
import { parseSessionExpires } from '../../server/sip-app/meetings/meeting-calls.ts';
import { dialOfUri } from '../../server/sip-app/request-dial.ts';

t.test('an offer with static payload types, session-level address and direction', async (t) => {
  const offer = parseSdp(
    [
      'v=0',
      'o=Polycom 1700000000 1 IN IP4 192.0.2.10',
      's=-',
      'c=IN IP4 192.0.2.10',
      't=0 0',
      'a=sendonly',
      'm=audio 49170 RTP/SAVP 9 0 8 101',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=rtcp:49171',
      'a=ptime:20',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32',
      'm=video 49172 RTP/AVP 109',
      'a=rtpmap:109 H264/90000',
      'a=fmtp:109 profile-level-id=42801f;packetization-mode=1',
      'a=recvonly',
      '',
    ].join('\r\n'),
  );
  const [audio, video] = offer.media;
  t.match(audio, { kind: 'audio', port: 49170, proto: 'RTP/SAVP', address: '192.0.2.10', rtcpMux: false, rtcpPort: 49171, ptime: 20, direction: 'sendonly' });
  t.same(
    audio?.codecs.map((c) => [c.payloadType, c.name, c.clockRate]),
    [
      [9, 'G722', 8000],
      [0, 'PCMU', 8000],
      [8, 'PCMA', 8000],
      [101, 'telephone-event', 8000],
    ],
    'static payload types are known without rtpmap',
  );
  t.same(audio?.crypto, [{ tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' }], 'key without lifetime and MKI');
  t.match(video, { kind: 'video', direction: 'recvonly', codecs: [{ payloadType: 109, name: 'H264', fmtp: 'profile-level-id=42801f;packetization-mode=1' }] });
  t.equal(answerDirection('sendonly'), 'recvonly');
  t.equal(answerDirection('recvonly'), 'sendonly');
  t.equal(answerDirection('inactive'), 'inactive');
});

t.test('bad bodies are refused with a reason', async (t) => {
  t.throws(() => parseSdp('hello'), { code: 'VCBOX_ERR_MEDIA_SDP', message: /must start with v=0/ });
  t.throws(() => parseSdp(`v=0\r\nm=audio 99999 RTP/AVP 0\r\n`), { code: 'VCBOX_ERR_MEDIA_SDP', message: /invalid port/ });
  t.throws(() => parseSdp(`v=0\r\n${'a=x\r\n'.repeat(10_000)}`), { code: 'VCBOX_ERR_MEDIA_SDP', message: /larger than/ });
});

t.test('the answer writer: rejected m-lines keep their place with port 0', async (t) => {
  const sdp = writeSdp({
    address: '198.51.100.7',
    sessionId: '42',
    version: 2,
    media: [
      { kind: 'audio', port: 50000, proto: 'RTP/AVP', codecs: [{ payloadType: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' }], rtcpMux: true, direction: 'sendrecv', ptime: 20 },
      { kind: 'video', port: 0, proto: 'RTP/AVP', codecs: [{ payloadType: 34, name: 'H263', clockRate: 90000 }] },
    ],
  });
  t.match(sdp, /^v=0\r\no=vcbox 42 2 IN IP4 198\.51\.100\.7\r\n/);
  t.match(sdp, /m=audio 50000 RTP\/AVP 111\r\na=rtpmap:111 opus\/48000\/2\r\na=fmtp:111 useinbandfec=1\r\na=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n/);
  t.match(sdp, /m=video 0 RTP\/AVP 34\r\n$/);
});

t.test('dial strings and Session-Expires', async (t) => {
  // The Request-URI's user part as the dial plan sees it (server/dial-plan/dial-plan.ts; its own table in test/foundation/dial-plan.test.ts).
  t.same(dialOfUri('sip:880001@box'), { kind: 'meeting', id: '880001' });
  t.same(dialOfUri('sip:880001**1234@box'), { kind: 'meeting', id: '880001', pin: '1234' });
  t.same(dialOfUri('sip:880001%2A%2A1234@box'), { kind: 'meeting', id: '880001', pin: '1234' });
  t.same(dialOfUri('sip:2001@box'), { kind: 'account', number: '2001' }, '4 digits are accounts, not meetings');
  t.match(dialOfUri('sip:880001*1234@box'), { kind: 'invalid', reason: 'not-digits' });
  t.match(dialOfUri('sip:%E0%A4%A@box'), { kind: 'invalid', reason: 'not-digits' }, 'broken percent-encoding');
  t.same(parseSessionExpires('1800;refresher=uac'), { seconds: 1800, refresher: 'uac' });
  t.same(parseSessionExpires(' 90 '), { seconds: 90 });
  t.equal(parseSessionExpires('soon'), undefined);
});
