/**
 * Attack: a guest on the public join WebSocket (`/api/v1/join/ws`, `produce`) names a codec of
 * the other kind — an audio codec under kind "video", a video codec under kind "audio", or both
 * mixed. mediasoup takes any codec its router has under either kind, so without the box's own
 * check an "audio" track would reach the meeting's mixer as VP8 and a "video" track the
 * compositor's decoder as Opus. Against the real control plane and media service over loopback:
 * each is refused in words (VCBOX_ERR_MEDIA_SDP), no producer is made (the meeting lists none
 * for the guest), the socket stays open, and a proper microphone and camera from the same socket
 * are taken afterwards.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { JoinSocket } from '../helpers/join-socket.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Kinds attack room', number: '880195', hostPin: '1133', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });

const OPUS = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] };
const VP8 = { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [] };
const parameters = (ssrc: number, ...codecs: Record<string, unknown>[]) => ({ mid: String(ssrc), codecs, headerExtensions: [], encodings: [{ ssrc }], rtcp: { cname: `kinds-${ssrc}` } });

/** The kinds of the guest's producers, as a newcomer joining the meeting is told them. */
async function guestProducers(): Promise<string[]> {
  const newcomer = await JoinSocket.connect(base);
  try {
    const joined = await newcomer.request('join', { number: room.number, name: 'Newcomer' });
    const producers = (joined.result?.producers ?? []) as { displayName: string; kind: string }[];
    await newcomer.request('leave');
    return producers.filter((p) => p.displayName === 'Guest').map((p) => p.kind);
  } finally {
    newcomer.close();
  }
}

t.test('a track of one kind in codecs of the other is refused in words; proper tracks still work', async (t) => {
  const guest = await JoinSocket.connect(base);
  t.teardown(() => guest.close());
  const participantId = String((await guest.request('join', { number: room.number, name: 'Guest' })).result?.participantId);
  t.ok(participantId, 'the guest joined');

  const ATTEMPTS: [string, Record<string, unknown>][] = [
    ['Opus under kind video', { kind: 'video', rtpParameters: parameters(11, OPUS) }],
    ['VP8 under kind audio', { kind: 'audio', rtpParameters: parameters(12, VP8) }],
    ['VP8 and Opus under kind video', { kind: 'video', rtpParameters: parameters(13, VP8, OPUS) }],
    ['Opus and video/rtx under kind audio', { kind: 'audio', rtpParameters: parameters(14, OPUS, { mimeType: 'video/rtx', payloadType: 102, clockRate: 90000, parameters: { apt: 100 } }) }],
    ['no codec at all', { kind: 'audio', rtpParameters: parameters(15) }],
    ['a mime type that is no string', { kind: 'video', rtpParameters: parameters(16, { ...VP8, mimeType: ['video/VP8'] }) }],
  ];
  for (const [what, params] of ATTEMPTS) {
    const answer = await guest.request('produce', params);
    t.match(answer.error, { code: 'VCBOX_ERR_MEDIA_SDP', message: /codecs only|refused/ }, `${what}: refused in words (${answer.error?.message.slice(0, 140)})`);
    t.ok(guest.open, 'the socket stays open');
  }
  t.same(await guestProducers(), [], 'no producer was made for the guest (what a newcomer is told)');

  const microphone = await guest.request('produce', { kind: 'audio', rtpParameters: parameters(21, OPUS) });
  t.match(microphone.result, { id: String }, 'a proper microphone is taken afterwards');
  const camera = await guest.request('produce', { kind: 'video', rtpParameters: parameters(22, VP8) });
  t.match(camera.result, { id: String }, 'and a proper camera');
  t.same((await guestProducers()).sort(), ['audio', 'video'], 'a newcomer is told of exactly those two');
  await guest.request('leave');
});
