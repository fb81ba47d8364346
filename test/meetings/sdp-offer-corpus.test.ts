/**
 * The SDP offer corpus (test/fixtures/sdp-offers: offers as Poly, Cisco, Yealink, Grandstream,
 * Fanvil, linphone, baresip, Zoiper, browser softphones and odd stacks send them) sent in real
 * INVITEs over UDP on loopback to a VMR by direct dial and to the IVR access number. Each is
 * answered 200 with a valid answer (one m-line per offered m-line, the declined ones with port
 * 0, payload types from the offer's own m-line, the answering direction) or refused with 488
 * and a Warning (RFC 3261 §20.43: 301 address family, 305 media format, 399 other) saying why in
 * words — never a 500 — and the box's call record says "rejected" for a refusal. The box runs
 * BFCP floor control: a meeting call's content line (`a=content:slides`, H.264) next to a BFCP
 * line is served with the floor's IDs (RFC 8856); the IVR declines both.
 */
import t from 'tap';
import { answerDirection, isContentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { activeMediaLines, corpus, inviteOnce, mediaSockets, onLoopback } from '../helpers/sdp-offer-caller.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Corpus room', number: '880077', hostPin: '9911', guestPin: '', capacity: 50, layout: 'single' });
const ACCESS = box.settings.get('call.ivrAccessNumber') as string;

type Expect =
  | { status: 200; audio: string; video?: string; srtp?: string; content?: 'TCP/BFCP' | 'UDP/BFCP' }
  | { status: 488; warning: 301 | 302 | 305 | 399; says: RegExp };
const served = (audio: string, video?: string): { meeting: Expect; ivr: Expect } => ({ meeting: { status: 200, audio, ...(video ? { video } : {}) }, ivr: { status: 200, audio } });
/** A room system's call with a content line and BFCP: the meeting serves both (H.264 content), the IVR neither. */
const withContent = (audio: string, video: string, bfcp: 'TCP/BFCP' | 'UDP/BFCP'): { meeting: Expect; ivr: Expect } => ({
  meeting: { status: 200, audio, video, content: bfcp },
  ivr: { status: 200, audio },
});
const IPV6: Expect = { status: 488, warning: 301, says: /IPv6 .*serves media over IPv4 only/ };
const DTLS: Expect = { status: 488, warning: 302, says: /DTLS-SRTP \(UDP\/TLS\/RTP\/SAVPF\) is not available/ };
const IVR_SRTP: Expect = { status: 488, warning: 302, says: /access number takes plain RTP/ };
/** What the box does with each offer, by destination (what docs/interop.md reports). */
const EXPECTED: Record<string, { meeting: Expect; ivr: Expect }> = {
  'baresip-opus-h264.sdp': served('opus', 'H264'),
  'chrome-webrtc-over-sip.sdp': { meeting: DTLS, ivr: DTLS },
  'cisco-tandberg-srtp.sdp': { meeting: { status: 200, audio: 'G722', video: 'H264', srtp: 'AES_CM_128_HMAC_SHA1_80' }, ivr: IVR_SRTP },
  'cisco-tandberg-sx20.sdp': withContent('G722', 'H264', 'UDP/BFCP'),
  'fanvil-x4u.sdp': served('G722'),
  'firefox-webrtc-over-sip.sdp': { meeting: DTLS, ivr: DTLS },
  'g729-only-phone.sdp': {
    meeting: { status: 488, warning: 305, says: /none of the offered audio codecs \(G729, GSM, telephone-event\) is supported/ },
    ivr: { status: 488, warning: 305, says: /none of the offered audio codecs \(G729, GSM, telephone-event\) is supported/ },
  },
  'grandstream-gxp2170.sdp': served('PCMU'),
  'hold-zero-address.sdp': served('PCMU'),
  'inactive-audio-video.sdp': served('PCMU', 'VP8'),
  'ipv6-phone.sdp': { meeting: IPV6, ivr: IPV6 },
  'ipv6-video-media-level.sdp': { meeting: IPV6, ivr: IPV6 },
  'linphone-opus-vp8-ice.sdp': served('opus', 'VP8'),
  'no-session-connection.sdp': served('PCMU', 'H264'),
  'odd-whitespace-lf.sdp': served('PCMU', 'vp8'),
  'poly-group-500.sdp': withContent('G722', 'H264', 'TCP/BFCP'),
  // A BFCP line without a content line: nothing for the floor to govern, declined.
  'polycom-hdx-8000.sdp': served('G722', 'H264'),
  'port-zero-video.sdp': served('G722'),
  // RED, RTX and ULPFEC are not served: the answer names the main codecs only (never their numbers).
  'rtx-fec-red-avpf.sdp': served('opus', 'VP8'),
  'sdes-srtp-softphone.sdp': { meeting: { status: 200, audio: 'PCMA', video: 'H264', srtp: 'AES_CM_128_HMAC_SHA1_80' }, ivr: IVR_SRTP },
  'unknown-attributes.sdp': served('PCMA', 'H264'),
  'yealink-t54w-desk.sdp': served('G722'),
  'yealink-vc800.sdp': withContent('opus', 'H264', 'TCP/BFCP'),
  'zoiper5.sdp': served('opus'),
};

t.test('every corpus file has an expectation and a comment naming what it models', async (t) => {
  t.same(corpus().map((o) => o.file), Object.keys(EXPECTED).sort(), 'the corpus and the table agree');
  for (const offer of corpus()) t.ok(offer.models.length > 20, `${offer.file} says what it models`);
});

t.test('a re-INVITE moving a VMR call to an IPv6 media address is refused with 488 and Warning 301; the call stays', async (t) => {
  const offers = corpus();
  const phone = offers.find((o) => o.file === 'grandstream-gxp2170.sdp');
  const ipv6 = offers.find((o) => o.file === 'ipv6-phone.sdp');
  if (!phone || !ipv6) throw new Error('corpus files missing');
  const [socket] = await mediaSockets(t, 1);
  const port = socket?.address().port ?? 9;
  const moved = onLoopback(ipv6, [port]).replace(/^o=(.*) 1001 1001 /m, 'o=$1 8000 8001 ');
  const outcome = await inviteOnce(box.port, room.number, onLoopback(phone, [port]), { reinvite: moved });
  t.equal(outcome.status, 200, 'the IPv4 call is answered');
  t.equal(outcome.reinvite?.status, 488, `the move to IPv6 is refused (${outcome.reinvite?.response.split('\r\n')[0]})`);
  t.match(outcome.reinvite?.header('Warning'), /^301 vcbox ".*IPv6 \(::1\).*serves media over IPv4 only/, 'with Warning 301 saying why');
  t.equal(outcome.bye, 200, 'the call was still up: its BYE is answered 200');
});

for (const offer of corpus()) {
  t.test(`${offer.file}: ${offer.models}`, async (t) => {
    for (const [where, dial] of [['meeting', room.number], ['ivr', ACCESS]] as const) {
      const sockets = await mediaSockets(t, activeMediaLines(offer.text));
      const body = onLoopback(offer, sockets.map((s) => s.address().port));
      const offered = parseSdp(body);
      const outcome = await inviteOnce(box.port, dial, body);
      const expected = EXPECTED[offer.file]?.[where];
      t.not(outcome.status, 500, `${where}: not a 500`);
      t.equal(outcome.status, expected?.status, `${where}: ${expected?.status} (got ${outcome.response.split('\r\n')[0]})`);
      if (outcome.status === 200) {
        const answer = parseSdp(outcome.answer);
        t.equal(answer.media.length, offered.media.length, `${where}: one answered m-line per offered m-line`);
        offered.media.forEach((m, i) => {
          const a = answer.media[i];
          t.equal(a?.kind, m.kind, `${where}: m-line ${i} is ${m.kind}`);
          if (m.port === 0) t.equal(a?.port, 0, `${where}: the offer's port-0 ${m.kind} line stays 0`);
          if (!a || a.port === 0) return;
          t.equal(a.proto, m.proto, `${where}: ${m.kind} answered on ${m.proto}`);
          if (m.kind === 'application') return; // BFCP: checked below
          const offeredPts = new Set(m.codecs.map((c) => c.payloadType));
          t.ok(a.codecs.length > 0 && a.codecs.every((c) => offeredPts.has(c.payloadType) && m.codecs.some((o) => o.payloadType === c.payloadType && o.name.toLowerCase() === c.name.toLowerCase())),
            `${where}: ${m.kind} payload types ${a.codecs.map((c) => `${c.payloadType} ${c.name}`).join(', ')} are the offer's own`);
          t.equal(a.direction, answerDirection(m.direction), `${where}: ${m.kind} ${m.direction} answered ${answerDirection(m.direction)}`);
          t.equal(a.address, '127.0.0.1', `${where}: ${m.kind} answered with the box's address`);
        });
        const audio = answer.media.find((m) => m.kind === 'audio' && m.port > 0);
        const video = answer.media.filter((m) => m.kind === 'video' && m.port > 0 && !isContentLine(m));
        const content = answer.media.filter((m) => m.port > 0 && isContentLine(m));
        const bfcp = answer.media.filter((m) => m.kind === 'application' && m.port > 0);
        if (expected?.status === 200) {
          t.equal(audio?.codecs[0]?.name, expected.audio, `${where}: audio ${expected.audio}`);
          t.equal(video[0]?.codecs[0]?.name, expected.video, `${where}: video ${expected.video ?? 'none'}`);
          const suites = answer.media.filter((m) => m.port > 0).map((m) => m.crypto[0]?.suite);
          t.same(suites, suites.map(() => expected.srtp), `${where}: SRTP ${expected.srtp ?? 'none'} on every served line`);
        }
        t.notOk(
          answer.media.some((m) => m.codecs.some((c) => /^(rtx|red|ulpfec|flexfec)$/i.test(c.name))) || /apt=/.test(outcome.answer),
          `${where}: no RED/RTX/FEC payload type answered (the box sends and takes the main codecs only)`,
        );
        t.ok(video.length <= 1, `${where}: at most one people video line served`);
        const expectedContent = expected?.status === 200 ? expected.content : undefined;
        if (expectedContent) {
          const offeredContent = offered.media.find((m) => m.port > 0 && isContentLine(m));
          t.equal(content.length, 1, `${where}: the content line is served`);
          t.equal(content[0]?.codecs[0]?.name, 'H264', `${where}: content in H.264`);
          t.equal(content[0]?.label, offeredContent?.label, `${where}: the content line keeps the offer's label`);
          t.equal(bfcp.length, 1, `${where}: the BFCP line is served`);
          t.equal(bfcp[0]?.proto, expectedContent, `${where}: BFCP on ${expectedContent}`);
          t.same(bfcp[0]?.floorctrl, ['s-only'], `${where}: the box is the floor control server (a=floorctrl:s-only)`);
          t.match(outcome.answer, /\r\na=confid:[1-9]\d*\r\n/, `${where}: a=confid names the meeting's conference`);
          t.match(outcome.answer, /\r\na=userid:[1-9]\d*\r\n/, `${where}: a=userid names the participant`);
          t.match(outcome.answer, new RegExp(`\\r\\na=floorid:1 mstrm:${content[0]?.label}\\r\\n`), `${where}: the floor governs the content line (a=floorid:1 mstrm:)`);
          if (expectedContent === 'TCP/BFCP') t.match(outcome.answer, /\r\na=setup:passive\r\na=connection:new\r\n/, `${where}: the box takes the TCP connection (setup:passive, connection:new)`);
          const ports = box.app.floors?.ports;
          t.equal(bfcp[0]?.port, expectedContent === 'UDP/BFCP' ? ports?.udp : ports?.tcp, `${where}: the box's BFCP port for the transport`);
        } else {
          t.equal(content.length, 0, `${where}: no content line served`);
          t.equal(bfcp.length, 0, `${where}: no BFCP/application line served`);
        }
      } else {
        const warning = outcome.header('Warning') ?? '';
        t.match(warning, /^3(?:99|01|02|05) vcbox "[^"]{10,}"$/, `${where}: 488 with a Warning saying why (${warning})`);
        if (expected?.status === 488) {
          t.ok(warning.startsWith(`${expected.warning} `), `${where}: Warning code ${expected.warning}`);
          t.match(warning, expected.says, `${where}: the Warning says ${expected.says}`);
        }
      }
      if (where === 'meeting') {
        const outcomeWord = outcome.status === 200 ? 'answered' : 'rejected';
        const record = await waitFor('the call record', 3000, () =>
          (box.db.prepare('SELECT outcome FROM call_records WHERE call_id = ? AND outcome IS NOT NULL').get(outcome.callId) as { outcome: string } | undefined) ?? undefined,
        ).catch(() => undefined);
        if (outcome.status === 488) t.equal(record?.outcome, outcomeWord, 'the call record says the offer was rejected');
        else t.ok(record, `the call is recorded (${record?.outcome})`);
      }
    }
  });
}
