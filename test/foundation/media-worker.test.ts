/**
 * The mediasoup worker built by scripts/build-mediasoup-worker.sh really works: a router, a
 * WebRtcTransport that a real WebRTC peer (@roamhq/wrtc, libwebrtc) reaches DTLS "connected"
 * with, and SRTP through PlainTransports with ffmpeg as the far end — in (the worker decrypts
 * what ffmpeg encrypted, and refuses a wrong key) and out (ffmpeg decrypts and decodes the
 * tone the worker forwarded).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import wrtc from '@roamhq/wrtc';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import t from 'tap';
import { dominantFrequency, rms, runFfmpeg } from '../helpers/ffmpeg.ts';
import { freePort } from '../helpers/ports.ts';

const worker = await mediasoup.createWorker({ logLevel: 'warn' });
t.teardown(() => worker.close());
const router = await worker.createRouter({
  mediaCodecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  ],
});

function waitFor<T>(what: string, timeoutMs: number, register: (done: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

t.test('worker and router', async (t) => {
  t.equal(worker.died, false);
  t.ok(worker.pid > 0);
  const usage = await worker.getResourceUsage();
  t.type(usage.ru_maxrss, 'number');
  t.ok(router.rtpCapabilities.codecs?.some((c) => c.mimeType === 'audio/opus'));
  t.ok(router.rtpCapabilities.codecs?.some((c) => c.mimeType === 'video/VP8'));
});

t.test('a real WebRTC peer reaches ICE and DTLS connected on a WebRtcTransport', async (t) => {
  const transport = await router.createWebRtcTransport({
    listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    enableSctp: true,
  });
  t.teardown(() => transport.close());
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  t.teardown(() => pc.close());
  pc.createDataChannel('probe');
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const sdp = offer.sdp ?? '';
  const fingerprint = /a=fingerprint:sha-256 (\S+)/.exec(sdp)?.[1];
  const mid = /a=mid:(\S+)/.exec(sdp)?.[1] ?? '0';
  t.ok(fingerprint, 'the peer offers a DTLS fingerprint');

  const dtlsConnected = waitFor<string>('DTLS connected', 15_000, (done) =>
    transport.on('dtlsstatechange', (state) => (state === 'connected' || state === 'failed') && done(state)),
  );
  const sctpConnected = waitFor<string>('SCTP connected', 15_000, (done) =>
    transport.on('sctpstatechange', (state) => (state === 'connected' || state === 'failed') && done(state)),
  );
  await transport.connect({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: fingerprint ?? '' }] } });

  const { iceParameters, iceCandidates, dtlsParameters, sctpParameters } = transport;
  const serverFingerprint = dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
  const answer = [
    'v=0',
    'o=vcbox 1 1 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    `a=group:BUNDLE ${mid}`,
    'a=ice-lite',
    `m=application 9 UDP/DTLS/SCTP webrtc-datachannel`,
    'c=IN IP4 127.0.0.1',
    `a=mid:${mid}`,
    `a=ice-ufrag:${iceParameters.usernameFragment}`,
    `a=ice-pwd:${iceParameters.password}`,
    `a=fingerprint:sha-256 ${serverFingerprint?.value}`,
    'a=setup:passive',
    `a=sctp-port:${sctpParameters?.port ?? 5000}`,
    'a=max-message-size:262144',
    ...iceCandidates.map((c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ ${c.type}`),
    'a=end-of-candidates',
    '',
  ].join('\r\n');
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });

  t.equal(await dtlsConnected, 'connected', 'DTLS connected (mediasoup side)');
  t.equal(await sctpConnected, 'connected', 'SCTP association over DTLS connected');
  t.match(transport.iceState, /^(connected|completed)$/, 'ICE connected');
  t.equal(transport.dtlsRemoteCert === undefined || transport.dtlsRemoteCert.includes('BEGIN CERTIFICATE'), true);
});

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const srtpKey = () => randomBytes(30).toString('base64');

async function srtpProducerTransport(key: string): Promise<{ transport: types.PlainTransport; producer: types.Producer; ssrc: number }> {
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    // ffmpeg sends RTCP from a socket of its own; with RTCP-mux and comedia the first RTCP
    // packet would pin the remote tuple to that socket and the RTP would be ignored.
    rtcpMux: false,
    comedia: true,
    enableSrtp: true,
    srtpCryptoSuite: SUITE,
  });
  await transport.connect({ srtpParameters: { cryptoSuite: SUITE, keyBase64: key } });
  const ssrc = 1000 + Math.floor(Math.random() * 1e8);
  const producer = await transport.produce({
    kind: 'audio',
    rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] },
  });
  return { transport, producer, ssrc };
}

function sendTone(transport: types.PlainTransport, key: string, ssrc: number, seconds: number) {
  const port = transport.tuple.localPort;
  const rtcpPort = transport.rtcpTuple?.localPort ?? port;
  return runFfmpeg(
    [
      '-re', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
      '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k',
      '-payload_type', '100', '-ssrc', String(ssrc),
      '-f', 'rtp', '-srtp_out_suite', SUITE, '-srtp_out_params', key,
      `srtp://127.0.0.1:${port}?rtcpport=${rtcpPort}&pkt_size=1200`,
    ],
    (seconds + 15) * 1000,
  );
}

t.test('SRTP through PlainTransports: ffmpeg in, worker decrypts; wrong key refused; out to ffmpeg', async (t) => {
  const key = srtpKey();
  const good = await srtpProducerTransport(key);
  const wrong = await srtpProducerTransport(srtpKey()); // expects another key than ffmpeg uses
  t.teardown(() => {
    good.transport.close();
    wrong.transport.close();
  });

  // Outbound leg: the worker encrypts with its own key (transport.srtpParameters); ffmpeg decodes.
  const rxPort = await freePort();
  const out = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: false,
    comedia: false,
    enableSrtp: true,
    srtpCryptoSuite: SUITE,
  });
  t.teardown(() => out.close());
  await out.connect({ ip: '127.0.0.1', port: rxPort, rtcpPort: rxPort + 1, srtpParameters: { cryptoSuite: SUITE, keyBase64: srtpKey() } });
  const consumer = await out.consume({ producerId: good.producer.id, rtpCapabilities: router.rtpCapabilities });
  const pt = consumer.rtpParameters.codecs[0]?.payloadType;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-srtp-'));
  const sdpFile = path.join(dir, 'rx.sdp');
  writeFileSync(
    sdpFile,
    [
      'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=vcbox', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${rxPort} RTP/SAVP ${pt}`,
      `a=rtpmap:${pt} opus/48000/2`,
      `a=crypto:1 ${SUITE} inline:${out.srtpParameters?.keyBase64}`,
      '',
    ].join('\n'),
  );
  const receiving = runFfmpeg(
    ['-protocol_whitelist', 'file,udp,rtp,srtp,crypto', '-i', sdpFile, '-t', '3', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'],
    25_000,
  );
  await new Promise((r) => setTimeout(r, 1000)); // let the receiver bind its port

  const [toGood, toWrong] = await Promise.all([sendTone(good.transport, key, good.ssrc, 5), sendTone(wrong.transport, key, wrong.ssrc, 2)]);
  t.equal(toGood.exitCode, 0, `ffmpeg sent SRTP ${toGood.stderr}`);
  t.equal(toWrong.exitCode, 0);

  const goodStats = await good.producer.getStats();
  const wrongStats = await wrong.producer.getStats();
  t.ok((goodStats[0]?.packetCount ?? 0) > 100, `worker decrypted ffmpeg's SRTP: ${goodStats[0]?.packetCount} packets`);
  t.equal(wrongStats[0]?.packetCount ?? 0, 0, 'packets under a wrong key are refused');

  const received = await receiving;
  const pcm = received.stdout;
  t.ok(pcm.length >= 16000 * 2 * 2, `ffmpeg decoded ${pcm.length / 32000} s of audio from the worker's SRTP (${received.stderr.trim()})`);
  const middle = pcm.subarray(8000, pcm.length - 8000);
  const frequency = dominantFrequency(middle, 16000);
  t.ok(rms(middle) > 1000, `the tone is audible (rms ${Math.round(rms(middle))})`);
  t.ok(Math.abs(frequency - 440) < 20, `and is the 440 Hz that went in (${frequency.toFixed(1)} Hz)`);
  const consumerStats = await consumer.getStats();
  t.ok(consumerStats.some((s) => s.type === 'outbound-rtp' && s.packetCount > 100), 'consumer sent the packets');
});
