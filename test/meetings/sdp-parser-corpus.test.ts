/**
 * The SDP parser and answer writer (media/sdp/sip-sdp.ts) on the offer corpus
 * (test/fixtures/sdp-offers), as written: every m-line kept in order with its port, payload
 * types from its own m= line, the address and address type from its c= (or the session's),
 * directions inherited from the session, LF and CRLF alike; assertServable's refusals (IPv6
 * 301, DTLS-SRTP 302); an answer with one m-line per offered one; and every truncation of every
 * offer parsed or refused with VCBOX_ERR_MEDIA_SDP, never another error.
 */
import t from 'tap';
import { answerDirection, assertServable, parseSdp, writeSdp } from '../../media/sdp/sip-sdp.ts';
import { corpus } from '../helpers/sdp-offer-caller.ts';

const offers = corpus();

t.test('every corpus offer parses into its m-lines, in order, with their own payload types and addresses', async (t) => {
  t.ok(offers.length >= 20, `${offers.length} offers`);
  for (const offer of offers) {
    const parsed = parseSdp(offer.text);
    const mLines = offer.text.split('\n').filter((l) => l.startsWith('m='));
    t.equal(parsed.media.length, mLines.length, `${offer.file}: ${mLines.length} m-lines`);
    parsed.media.forEach((m, i) => {
      const [kind, port, , ...formats] = (mLines[i] ?? '').slice(2).trim().split(/\s+/);
      t.equal(m.kind, kind, `${offer.file}: m-line ${i} kind`);
      t.equal(m.port, Number(port), `${offer.file}: m-line ${i} port`);
      t.ok(m.codecs.every((c) => formats.includes(String(c.payloadType))), `${offer.file}: ${m.kind} codecs from its own m= line`);
      t.ok(m.addressType === 'IP4' || m.addressType === 'IP6', `${offer.file}: ${m.kind} has an address type (${m.addressType} ${m.address})`);
    });
    t.same(parseSdp(offer.text.replace(/\n/g, '\r\n')), parsed, `${offer.file}: CRLF and LF parse alike`);
  }
});

const byFile = (file: string) => parseSdp(offers.find((o) => o.file === file)?.text ?? '');

t.test('what the parser reads from particular terminals', async (t) => {
  const linphone = byFile('linphone-opus-vp8-ice.sdp');
  t.match(linphone.media[0]?.codecs[0], { payloadType: 96, name: 'opus', clockRate: 48000, channels: 2 }, 'linphone: Opus 96 on audio');
  t.match(linphone.media[1]?.codecs[0], { payloadType: 96, name: 'VP8', clockRate: 90000 }, 'linphone: VP8 96 on video');
  t.equal(linphone.media[0]?.rtcpPort, 7079, 'linphone: a=rtcp port');
  t.equal(linphone.media[0]?.proto, 'RTP/AVPF');

  const baresip = byFile('baresip-opus-h264.sdp');
  t.same(baresip.media[1]?.codecs.map((c) => [c.payloadType, c.fmtp]), [[96, 'packetization-mode=0;profile-level-id=42c01f'], [97, 'packetization-mode=1;profile-level-id=42c01f']], 'baresip: both H.264 modes');

  const poly = byFile('poly-group-500.sdp');
  t.same(poly.media.map((m) => m.kind), ['audio', 'video', 'video', 'application'], 'Poly: audio, people video, content video, BFCP');
  t.same(poly.media[0]?.codecs.map((c) => `${c.payloadType} ${c.name}/${c.clockRate}`).slice(0, 2), ['115 G7221/32000', '102 G7221/16000'], 'Poly: G.722.1C then G.722.1');
  t.same(poly.media[3]?.codecs, [], 'Poly: BFCP carries no RTP codecs');

  const inactive = byFile('inactive-audio-video.sdp');
  t.same(inactive.media.map((m) => m.direction), ['inactive', 'inactive']);
  t.equal(byFile('hold-zero-address.sdp').media[0]?.address, '0.0.0.0', 'hold: the 0.0.0.0 address kept');
  t.equal(byFile('hold-zero-address.sdp').media[0]?.direction, 'sendonly');

  const noSession = byFile('no-session-connection.sdp');
  t.same(noSession.media.map((m) => m.address), ['192.168.5.8', '192.168.5.8'], 'no session c=: each m-line its own');

  const ipv6 = byFile('ipv6-phone.sdp');
  t.match(ipv6.media[0], { address: 'fd00::2', addressType: 'IP6' }, 'IPv6 session c=');
  t.match(byFile('ipv6-video-media-level.sdp').media[1], { address: '2001:db8:10::50', addressType: 'IP6' }, 'IPv6 media-level c=');

  const sdes = byFile('sdes-srtp-softphone.sdp');
  t.same(sdes.media[0]?.crypto.map((c) => [c.tag, c.suite]), [[1, 'AES_256_CM_HMAC_SHA1_80'], [2, 'AES_CM_128_HMAC_SHA1_80'], [3, 'AES_CM_128_HMAC_SHA1_32']]);
  t.equal(sdes.media[0]?.crypto[1]?.keyBase64, 'WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ', 'the key without lifetime and MKI');

  t.equal(byFile('fanvil-x4u.sdp').media[0]?.rtcpPort, 10001);
  t.equal(byFile('chrome-webrtc-over-sip.sdp').media[0]?.rtcpMux, true);
  const sloppy = byFile('odd-whitespace-lf.sdp');
  t.same(sloppy.media.map((m) => [m.port, m.codecs.map((c) => c.name)]), [[18400, ['PCMU', 'telephone-event']], [18402, ['vp8']]], 'repeated blanks and trailing spaces');
  t.same(byFile('port-zero-video.sdp').media.map((m) => m.port), [18200, 0, 0], 'port-0 lines kept in place');
  t.same(byFile('unknown-attributes.sdp').media.map((m) => m.codecs.map((c) => c.name)), [['PCMA', 'telephone-event'], ['H264']], 'unknown attributes and i=/u=/e=/k= lines skipped');
});

t.test('assertServable refuses media of the other address family (301) and DTLS-SRTP profiles (302), and passes the rest', async (t) => {
  const ipv4Phone = parseSdp(offers.find((o) => o.file === 'grandstream-gxp2170.sdp')?.text ?? '').media[0];
  const ipv6Phone = parseSdp(offers.find((o) => o.file === 'ipv6-phone.sdp')?.text ?? '').media[0];
  if (!ipv4Phone || !ipv6Phone) throw new Error('corpus files missing');
  t.doesNotThrow(() => assertServable(ipv6Phone, 'meeting', '2001:db8::1'), 'a box whose media listens on IPv6 takes an IPv6 offer');
  let refused: unknown;
  try {
    assertServable(ipv4Phone, 'meeting', '2001:db8::1');
  } catch (error) {
    refused = (error as { params?: { warning?: unknown } }).params?.warning;
  }
  t.equal(refused, 301, 'and refuses an IPv4 one (301)');

  for (const offer of offers) {
    const audio = parseSdp(offer.text).media.find((m) => m.kind === 'audio' && m.port > 0);
    if (!audio) continue;
    let warning: unknown;
    try {
      assertServable(audio, 'meeting', '192.0.2.1');
    } catch (error) {
      t.equal((error as { code?: string }).code, 'VCBOX_ERR_MEDIA_SDP', `${offer.file}: a media SDP error`);
      warning = (error as { params?: { warning?: unknown } }).params?.warning;
    }
    const expected = offer.file.startsWith('ipv6-') ? 301 : offer.file.includes('webrtc') ? 302 : undefined;
    t.equal(warning, expected, `${offer.file}: ${expected ?? 'servable'}`);
  }
});

t.test('an answer has one m-line per offered m-line, declined ones with port 0, directions answered', async (t) => {
  for (const offer of offers) {
    const parsed = parseSdp(offer.text);
    const audio = parsed.media.find((m) => m.kind === 'audio' && m.port > 0);
    const text = writeSdp({
      address: '192.0.2.1',
      sessionId: '1',
      version: 1,
      media: parsed.media.map((m) =>
        m === audio ? { kind: m.kind, port: 40000, proto: m.proto, codecs: m.codecs.slice(0, 1), direction: answerDirection(m.direction) } : { kind: m.kind, port: 0, proto: m.proto, codecs: m.codecs.slice(0, 1) },
      ),
    });
    const answer = parseSdp(text);
    t.same(answer.media.map((m) => [m.kind, m.proto]), parsed.media.map((m) => [m.kind, m.proto]), `${offer.file}: kinds and profiles in order`);
    t.same(answer.media.map((m) => m.port), parsed.media.map((m) => (m === audio ? 40000 : 0)), `${offer.file}: only audio served`);
    if (audio) t.equal(answer.media.find((m) => m.port > 0)?.direction, answerDirection(audio.direction), `${offer.file}: direction`);
    t.ok(text.split('\r\n').every((l) => l === '' || /^[a-z]=/.test(l)), `${offer.file}: every line is type=value`);
  }
});

t.test('every truncation of every offer parses or is refused as bad SDP', async (t) => {
  let refused = 0;
  let parsed = 0;
  for (const offer of offers) {
    const lines = offer.text.split('\n');
    for (let n = 0; n <= lines.length; n++) {
      for (const cut of [lines.slice(0, n).join('\n'), `${lines.slice(0, n).join('\n')}\n${(lines[n] ?? '').slice(0, 5)}`]) {
        try {
          parseSdp(cut);
          parsed++;
        } catch (error) {
          if ((error as { code?: string }).code !== 'VCBOX_ERR_MEDIA_SDP') t.fail(`${offer.file} cut at line ${n}: ${(error as Error).message}`);
          refused++;
        }
      }
    }
  }
  t.ok(parsed > 0 && refused > 0, `${parsed} parsed, ${refused} refused with VCBOX_ERR_MEDIA_SDP, nothing else thrown`);
});
