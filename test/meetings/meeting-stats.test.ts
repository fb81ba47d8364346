/**
 * The per-stream figures of the live-meetings API (media/meetings/meeting-stats.ts) from
 * mediasoup's stats entries: simulcast layers summed, loss the worst layer's (mediasoup's
 * fractionLost is out of 256), jitter from RTP clock units to milliseconds, what the box sends
 * taken from the outbound entries only, and nothing at all when there are no entries.
 */
import t from 'tap';
import { streamStats, worstLoss } from '../../media/meetings/meeting-stats.ts';

t.test('a simulcast camera: layers summed, the worst loss, jitter in ms', async (t) => {
  const received = [
    { type: 'inbound-rtp', bitrate: 150_000, packetCount: 100, fractionLost: 0, jitter: 90 },
    { type: 'inbound-rtp', bitrate: 500_000, packetCount: 300, fractionLost: 64, jitter: 450 },
    { type: 'inbound-rtp', bitrate: 1_200_000, packetCount: 900, fractionLost: 13, jitter: 180 },
  ];
  const sent = [
    { type: 'outbound-rtp', bitrate: 800_000, packetCount: 500 },
    { type: 'remote-inbound-rtp', bitrate: 999_999, packetCount: 999 },
  ];
  t.same(streamStats('VP8', 90000, received, sent), {
    codec: 'VP8',
    bitrateIn: 1_850_000,
    bitrateOut: 800_000,
    packetsIn: 1300,
    packetsOut: 500,
    packetLoss: 0.25,
    jitterMs: 5,
  });
});

t.test('G.711 audio: jitter at 8 kHz, a producer entry without a type counts as received', async (t) => {
  const stats = streamStats('PCMA', 8000, [{ bitrate: 64_000, packetCount: 50, fractionLost: 128, jitter: 12 }], []);
  t.equal(stats.bitrateIn, 64_000);
  t.equal(stats.packetLoss, 0.5);
  t.equal(stats.jitterMs, 1.5);
  t.equal(stats.bitrateOut, 0, 'nothing sent: no outbound entry');
});

t.test('no entries: zeros, not NaN or -Infinity', async (t) => {
  t.same(streamStats('', 48000, [], []), { codec: '', bitrateIn: 0, bitrateOut: 0, packetsIn: 0, packetsOut: 0, packetLoss: 0, jitterMs: 0 });
  t.equal(worstLoss([]), 0);
  t.equal(worstLoss([{}, { fractionLost: 256 }]), 1);
});
