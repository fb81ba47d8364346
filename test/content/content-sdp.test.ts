/**
 * Content lines and BFCP lines in SDP (RFC 4796, 4574, 8856), without a call: the parser's
 * a=content, a=label, a=floorctrl and formats; which video line is people and which content;
 * declineContent (the IVR's move into a meeting, a box without floor control); the answer's
 * BFCP line as MeetingFloors writes it on real listeners, and when it stays declined (no served
 * content line, a terminal that can only be a server, a transport the box does not listen on).
 */
import t from 'tap';
import { bfcpTransport, contentLine, declineContent, isContentLine, mainVideoLine, parseSdp, replaceMediaSection } from '../../media/sdp/sip-sdp.ts';
import { MeetingFloors } from '../../server/bfcp/meeting-floors.ts';

const OFFER = [
  'v=0',
  'o=room 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 4000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'm=video 4002 RTP/AVP 109',
  'a=rtpmap:109 H264/90000',
  'a=content:main',
  'a=label:1',
  'm=video 4004 RTP/AVP 109',
  'a=rtpmap:109 H264/90000',
  'a=content: Slides , sl',
  'a=label:3',
  'm=application 9 TCP/BFCP *',
  'a=floorctrl:c-only c-s',
  'a=setup:active',
  'm=text 4006 RTP/AVP 98',
  '',
].join('\r\n');

/** What the media service answers: the content line served with its label, BFCP declined. */
const ANSWER = [
  'v=0',
  'o=vcbox 1 1 IN IP4 127.0.0.1',
  's=vcbox',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 50000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  'm=video 50002 RTP/AVP 109',
  'a=rtpmap:109 H264/90000',
  'a=sendrecv',
  'm=video 50004 RTP/AVP 109',
  'a=rtpmap:109 H264/90000',
  'a=content:slides',
  'a=label:3',
  'a=sendrecv',
  'm=application 0 TCP/BFCP *',
  'm=text 0 RTP/AVP 98',
  '',
].join('\r\n');

t.test('the parser reads content, label, floorctrl and formats; people and content lines are told apart', async (t) => {
  const offer = parseSdp(OFFER);
  const [, people, content, bfcp, text] = offer.media;
  if (!people || !content || !bfcp || !text) throw new Error('five m-lines expected');
  t.same(people.content, ['main']);
  t.same(content.content, ['slides', 'sl'], 'values trimmed and lower-cased');
  t.equal(content.label, '3');
  t.same(bfcp.formats, ['*'], "BFCP's format is kept");
  t.same(bfcp.floorctrl, ['c-only', 'c-s']);
  t.equal(bfcpTransport(bfcp), 'tcp');
  t.equal(bfcpTransport(text), undefined, 'a text line is no BFCP line');
  t.equal(mainVideoLine(offer.media), people, 'the people video is the first video line that is not content');
  t.equal(contentLine(offer.media), content, 'the content line is the a=content:slides one');
  t.notOk(isContentLine(people), 'a=content:main is people');
});

t.test('declineContent sets content and BFCP lines to port 0 and leaves the rest', async (t) => {
  const declined = parseSdp(declineContent(OFFER));
  t.same(declined.media.map((m) => m.port), [4000, 4002, 0, 0, 4006]);
  t.equal(declineContent(declineContent(OFFER)), declineContent(OFFER), 'idempotent');
  const lf = OFFER.replace(/\r\n/g, '\n');
  t.same(parseSdp(declineContent(lf)).media.map((m) => m.port), [4000, 4002, 0, 0, 4006], 'LF line ends too');
});

t.test('replaceMediaSection swaps one m-line section', async (t) => {
  const swapped = replaceMediaSection(ANSWER, 3, ['m=application 7000 TCP/BFCP *', 'a=floorctrl:s-only']);
  const media = parseSdp(swapped).media;
  t.same(media.map((m) => m.port), [50000, 50002, 50004, 7000, 0]);
  t.same(media[3]?.floorctrl, ['s-only']);
  t.throws(() => replaceMediaSection(ANSWER, 9, []), /no media section 9/);
});

t.test('MeetingFloors: the answer gets the BFCP line when content is served; declined otherwise', async (t) => {
  const floors = await MeetingFloors.start({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  t.teardown(() => floors.close());
  const ports = floors.ports;
  t.ok(ports.tcp && ports.udp, `TCP ${ports.tcp} and UDP ${ports.udp} listen`);
  t.equal(ports.tls, undefined, 'no TLS listener without the box credentials');

  const served = floors.answer('880001', 'p1', OFFER, ANSWER);
  t.ok(served.ids, 'IDs handed out');
  const bfcp = parseSdp(served.sdp).media[3];
  t.equal(bfcp?.port, ports.tcp, "the box's TCP port");
  t.match(served.sdp, new RegExp(`m=application ${ports.tcp} TCP/BFCP \\*\\r\\na=floorctrl:s-only\\r\\na=confid:${served.ids?.conferenceId}\\r\\na=userid:${served.ids?.userId}\\r\\na=floorid:1 mstrm:3\\r\\na=setup:passive\\r\\na=connection:new\\r\\na=bfcpver:1\\r\\nm=text 0`));
  t.same(floors.answer('880001', 'p1', OFFER, ANSWER).ids, served.ids, 'the same participant keeps its IDs (a re-INVITE)');
  const other = floors.answer('880001', 'p2', OFFER, ANSWER).ids;
  t.equal(other?.conferenceId, served.ids?.conferenceId, 'one conference per meeting');
  t.not(other?.userId, served.ids?.userId, 'a user ID per participant');
  t.not(floors.answer('880002', 'p3', OFFER, ANSWER).ids?.conferenceId, served.ids?.conferenceId, 'another meeting, another conference');

  const noContent = ANSWER.replace('m=video 50004 RTP/AVP 109', 'm=video 0 RTP/AVP 109');
  t.same(floors.answer('880001', 'p4', OFFER, noContent), { sdp: noContent }, 'no served content line: BFCP stays declined');
  const serverOnly = OFFER.replace('a=floorctrl:c-only c-s', 'a=floorctrl:s-only');
  t.same(floors.answer('880001', 'p5', serverOnly, ANSWER), { sdp: ANSWER }, 'a terminal that can only be a server: declined');
  const tls = OFFER.replace('TCP/BFCP', 'TCP/TLS/BFCP');
  t.same(floors.answer('880001', 'p6', tls, ANSWER), { sdp: ANSWER }, 'no TLS listener: a TCP/TLS/BFCP line is declined');
  const udp = floors.answer('880001', 'p7', OFFER.replace('TCP/BFCP', 'UDP/BFCP'), ANSWER.replace('TCP/BFCP', 'UDP/BFCP'));
  t.match(udp.sdp, new RegExp(`m=application ${ports.udp} UDP/BFCP \\*\\r\\n(?:a=[^\\r\\n]+\\r\\n)*a=bfcpver:2\\r\\n`), 'UDP: the UDP port, version 2');
  t.notMatch(udp.sdp, /a=setup:/, 'no a=setup over UDP');

  const presenters: [string, string | null][] = [];
  floors.on('presenter', (meeting, participant) => presenters.push([meeting, participant]));
  floors.admit('880001', 'p1');
  const conferenceId = served.ids?.conferenceId ?? 0;
  const userId = served.ids?.userId ?? 0;
  floors.server.giveFloor(conferenceId, userId);
  t.same(presenters, [['880001', 'p1']], 'the holder is named by meeting and participant');
  floors.leave('880001', 'p1');
  t.same(presenters, [['880001', 'p1'], ['880001', null]], 'leaving releases the floor');
  t.throws(() => floors.server.giveFloor(conferenceId, userId), /not in conference/, 'and forgets the user');
  for (const participant of ['p2', 'p4', 'p5', 'p6', 'p7']) floors.leave('880001', participant);
  t.throws(() => floors.server.giveFloor(conferenceId, 1), /does not exist/, 'the last participant leaving ends the conference');
});
