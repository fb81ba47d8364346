/**
 * Video for SIP legs in the `single` layout (voice-activated forwarding, no composition): two terminals offer PCMU audio and VP8 video. Terminal
 * A's camera is ffmpeg (real VP8 over RTP from A's video port); while A talks, B receives A's
 * video (B's payload type, forwarded by the SFU once a key frame is there) and A is asked for
 * a key frame by SIP INFO (picture_fast_update); when B talks instead, A's picture becomes B.
 * An H.264-only terminal shown a VP8 camera receives it transcoded to H.264 (ffmpeg) under its
 * own payload type. An offer with an unsupported video codec keeps its audio and gets port 0.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { runFfmpeg } from '../helpers/ffmpeg.ts';
import { joinMeeting, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Video room', number: '880005', hostPin: '1122', guestPin: '', capacity: 10, layout: 'single' });
box.media?.setLayout(room.number, 'single');
const target = `127.0.0.1:${box.port}`;
const routing = () => box.media?.videoRouting(room.number) ?? {};

const media = (audioPort: number, videoPort: number, video = 'm=video {port} RTP/AVP 97\na=rtpmap:97 VP8/90000\na=rtcp-fb:97 nack pli') =>
  `m=audio ${audioPort} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n${video.replace('{port}', String(videoPort))}`;

t.test('the terminal that talks is the picture the other receives; switches follow the voice', async (t) => {
  const { audioA, audioB, videoB } = await openTerminals(t, 'audioA', 'audioB', 'videoB');
  const videoPortA = await freePort();
  const a = await joinMeeting(target, { dial: room.number, name: 'Alpha', media: media(audioA.port, videoPortA), hold: 9000 });
  const b = await joinMeeting(target, { dial: room.number, name: 'Beta', media: media(audioB.port, videoB.port), hold: 9000 });
  t.ok(a.answeredVideoPort > 0 && b.answeredVideoPort > 0, `video accepted (ports ${a.answeredVideoPort}, ${b.answeredVideoPort})`);
  const snapshot = await box.media?.snapshot(room.number);
  t.same(snapshot?.[0]?.participants.map((p) => p.videoCodec), ['VP8', 'VP8'], 'both legs send VP8');

  // A talks and shows its camera (ffmpeg: real VP8 over RTP, from A's own video port).
  const camera = runFfmpeg(
    ['-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '6', '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k', '-g', '15', '-payload_type', '97',
      '-f', 'rtp', `rtp://127.0.0.1:${a.answeredVideoPort}?localrtpport=${videoPortA}&pkt_size=1200`],
    20_000,
  );
  await audioA.send(a.answeredPort, await g711Tone('mulaw', 440, 2.5), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  const participants = [...(box.app.live.get(room.number)?.participants.values() ?? [])];
  const idA = participants.find((p) => p.displayName === 'Alpha')?.id ?? '';
  const idB = participants.find((p) => p.displayName === 'Beta')?.id ?? '';
  await waitFor('B to see A', 3000, () => routing()[idB] === idA);
  t.equal(routing()[idB], idA, 'while A talks, B sees A');
  // (ffmpeg's realtime VP8 encoder may lag on a loaded machine: wait, bounded, for the packets.)
  await waitFor("A's camera at B", 5000, () => videoB.received.filter((p) => p.payloadType === 97).length > 30 || undefined).catch(() => undefined);
  const videoPackets = videoB.received.filter((p) => p.payloadType === 97);
  t.ok(videoPackets.length > 30, `B received A's camera: ${videoPackets.length} VP8 packets under its payload type 97`);
  t.ok(videoPackets.some((p) => (p.payload.readUInt8(0) & 0x10) !== 0), 'the forwarded stream starts VP8 partitions (S bit set)');

  // Now B talks (A is quiet): A's picture switches to B after the speaker hold time.
  await audioB.send(b.answeredPort, await g711Tone('mulaw', 1000, 2), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  t.equal(routing()[idA], idB, 'when B talks, A sees B');
  t.equal(routing()[idB], idA, 'and B still sees A, the last other speaker');
  await camera;

  const [resultA, resultB] = await Promise.all([a.result, b.result]);
  t.ok(resultA.ok && resultB.ok, `both calls end normally ${resultA.errors}${resultB.errors}`);
  t.match(resultA.messages, /INFO sip:[\s\S]*picture_fast_update/, 'A was asked for a key frame by SIP INFO when its picture was first shown');
});

t.test('an H.264 terminal shown a VP8 camera gets it transcoded (ffmpeg, libx264) under its payload type', async (t) => {
  const { audioA, audioC, videoC } = await openTerminals(t, 'audioA', 'audioC', 'videoC');
  const videoPortA = await freePort();
  const a = await joinMeeting(target, { dial: room.number, name: 'Vp8Camera', media: media(audioA.port, videoPortA), hold: 9000 });
  const c = await joinMeeting(target, {
    dial: room.number,
    name: 'RoomSystem',
    media: media(audioC.port, videoC.port, 'm=video {port} RTP/AVP 109\na=rtpmap:109 H264/90000\na=fmtp:109 profile-level-id=42e01f;packetization-mode=1\na=rtcp-fb:109 nack pli'),
    hold: 9000,
  });
  t.ok(c.answeredVideoPort > 0, 'H.264 video accepted');
  const camera = runFfmpeg(
    ['-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-t', '6', '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k', '-g', '15', '-payload_type', '97',
      '-f', 'rtp', `rtp://127.0.0.1:${a.answeredVideoPort}?localrtpport=${videoPortA}&pkt_size=1200`],
    20_000,
  );
  await audioA.send(a.answeredPort, await g711Tone('mulaw', 440, 4), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  const transcoders = box.media?.transcoders(room.number) ?? [];
  // (A, in turn, is shown C's H.264 camera through an H.264 → VP8 transcoder.)
  t.ok(transcoders.some((k) => />video\/H264\/1$/.test(k)), `a VP8 → H.264 transcoder runs (${transcoders.join(', ')})`);
  const h264 = videoC.received.filter((p) => p.payloadType === 109);
  t.ok(h264.length > 20, `the room system received ${h264.length} H.264 packets under its payload type 109`);
  // NAL unit types: single NAL (1-23), STAP-A (24) or FU-A (28) carrying an IDR slice (5).
  const nalTypes = new Set(h264.map((p) => {
    const type = p.payload.readUInt8(0) & 0x1f;
    return type === 28 ? (p.payload.readUInt8(1) & 0x1f) : type;
  }));
  t.ok([...nalTypes].every((n) => n >= 1 && n <= 24), `valid H.264 NAL units (${[...nalTypes].join(', ')})`);
  t.ok(nalTypes.has(5) || nalTypes.has(24) || nalTypes.has(7), 'with a key frame (IDR or parameter sets)');
  await camera;
  await Promise.all([a.result, c.result]);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  t.equal(box.media?.meetingCount, 0, 'meeting closed, its transcoders with it');
});

t.test('an unsupported video codec: audio kept, video refused with port 0', async (t) => {
  const { audio } = await openTerminals(t, 'audio');
  const leg = await joinMeeting(target, { dial: room.number, name: 'H263', media: media(audio.port, 40010, 'm=video {port} RTP/AVP 34\na=rtpmap:34 H263/90000'), hold: 1000 });
  t.ok(leg.answeredPort > 0, 'audio answered');
  t.equal(leg.answeredVideoPort, 0, 'video m-line answered with port 0');
  t.ok((await leg.result).ok);
});
