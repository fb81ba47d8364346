/**
 * Payload-type numbers are scoped per m-line: linphone (and baresip with Opus and one video
 * codec) number Opus 96 and VP8 96 in the same offer. Such a terminal joins with audio and
 * video (it was answered 500 when one router took both numbers): it receives the mix as Opus
 * under 96 on its audio port and the other terminal's camera as VP8 under 96 on its video port,
 * and its own camera, sent under 96, reaches the other terminal under that one's number (97).
 */
import dgram from 'node:dgram';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { runFfmpeg } from '../helpers/ffmpeg.ts';
import { joinMeeting, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { g711Tone, openTerminals, type RtpTerminal } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Numbering room', number: '880031', hostPin: '3344', guestPin: '', capacity: 10, layout: 'single' });
box.media?.setLayout(room.number, 'single');
const target = `127.0.0.1:${box.port}`;

/** linphone 5.1's offer, as the interop report saw it: Opus and VP8 both numbered 96. */
const linphoneMedia = (audioPort: number, videoPort: number) =>
  [
    `m=audio ${audioPort} RTP/AVP 96 0 8 101`,
    'a=rtpmap:96 opus/48000/2',
    'a=fmtp:96 useinbandfec=1',
    'a=rtpmap:101 telephone-event/8000',
    `m=video ${videoPort} RTP/AVP 96 97`,
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 nack pli',
    'a=rtcp-fb:96 ccm fir',
    'a=rtpmap:97 H264/90000',
    'a=fmtp:97 profile-level-id=42801F;packetization-mode=1',
  ].join('\n');
const roomSystemMedia = (audioPort: number, videoPort: number) => `m=audio ${audioPort} RTP/AVP 0\na=rtpmap:0 PCMU/8000\nm=video ${videoPort} RTP/AVP 97\na=rtpmap:97 VP8/90000\na=rtcp-fb:97 nack pli`;

/**
 * A terminal's camera: ffmpeg encodes VP8 to a relay socket, which sends each packet from the
 * terminal's own video socket (the port its SDP names, where the box also sends to) under the
 * terminal's payload type.
 */
async function camera(t: { teardown(fn: () => unknown): void }, from: RtpTerminal, boxPort: number, payloadType: number): Promise<void> {
  const relay = dgram.createSocket('udp4');
  t.teardown(() => relay.close());
  relay.on('message', (packet) => {
    const copy = Buffer.from(packet);
    copy.writeUInt8((copy.readUInt8(1) & 0x80) | payloadType, 1);
    from.socket.send(copy, boxPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
  await runFfmpeg(
    ['-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '4', '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k', '-g', '15', '-payload_type', String(payloadType),
      '-f', 'rtp', `rtp://127.0.0.1:${relay.address().port}?pkt_size=1200`],
    20_000,
  );
}

const vp8Packets = (terminal: RtpTerminal, payloadType: number) => terminal.received.filter((p) => p.payloadType === payloadType);

t.test('a terminal numbering Opus and VP8 both 96 joins with audio and video, each m-line under its own numbers', async (t) => {
  const { audioA, videoA, audioL, videoL } = await openTerminals(t, 'audioA', 'videoA', 'audioL', 'videoL');
  const a = await joinMeeting(target, { dial: room.number, name: 'RoomSystem', media: roomSystemMedia(audioA.port, videoA.port), ...UNTIL_HUNG_UP });
  const l = await joinMeeting(target, { dial: room.number, name: 'Linphone', media: linphoneMedia(audioL.port, videoL.port), ...UNTIL_HUNG_UP });
  t.ok(l.answeredPort > 0 && l.answeredVideoPort > 0, `linphone's offer answered with audio and video (ports ${l.answeredPort}, ${l.answeredVideoPort})`);

  const snapshot = await box.media?.snapshot(room.number);
  const linphone = snapshot?.[0]?.participants.find((p) => p.displayName === 'Linphone');
  t.equal(linphone?.audioCodec, 'opus', 'its audio is Opus');
  t.equal(linphone?.videoCodec, 'VP8', 'its video is VP8');

  // Both cameras run; the room system talks, so the mix linphone hears carries its tone.
  await Promise.all([
    camera(t, videoA, a.answeredVideoPort, 97),
    camera(t, videoL, l.answeredVideoPort, 96),
    audioA.send(a.answeredPort, await g711Tone('mulaw', 440, 3), { payloadType: 0, frameBytes: 160, timestampStep: 160 }),
  ]);
  await waitFor("linphone to receive the room system's camera", 5000, () => vp8Packets(videoL, 96).length > 30);
  await waitFor("the room system to receive linphone's camera", 5000, () => vp8Packets(videoA, 97).length > 30);
  const toLinphone = vp8Packets(videoL, 96);
  t.ok(toLinphone.some((p) => (p.payload.readUInt8(0) & 0x10) !== 0), `linphone's video port gets VP8 under 96 (${toLinphone.length} packets, partitions start)`);
  t.same([...new Set(videoL.received.map((p) => p.payloadType))], [96], 'nothing else on its video port');
  const toRoom = vp8Packets(videoA, 97);
  t.ok(toRoom.some((p) => (p.payload.readUInt8(0) & 0x10) !== 0), `linphone's camera reaches the room system under its 97 (${toRoom.length} packets)`);
  const stats = (await box.media?.snapshot(room.number))?.[0]?.participants.find((p) => p.displayName === 'Linphone');
  t.match(stats?.video, { codec: 'VP8' }, 'its video stream in the statistics');
  t.ok((stats?.video?.packetsIn ?? 0) > 30 && (stats?.video?.packetsOut ?? 0) > 30, `its camera reaches the box and the box's video reaches it (${stats?.video?.packetsIn} in, ${stats?.video?.packetsOut} out)`);
  const mix = audioL.received.filter((p) => p.payloadType === 96);
  t.ok(mix.length > 50, `linphone's audio port gets the mix as Opus under 96 (${mix.length} packets)`);
  t.same([...new Set(audioL.received.map((p) => p.payloadType))], [96], 'and nothing else there');

  hangUpEveryone(box, room.number);
  const [resultA, resultL] = await Promise.all([a.result, l.result]);
  t.ok(resultA.ok && resultL.ok, `both calls end normally ${resultA.errors}${resultL.errors}`);
});
