/**
 * Meeting legs over SDES-SRTP and over SIP/TCP. The SRTP terminal's media is ffmpeg: it
 * encrypts a tone with the key the terminal offered (the box must decrypt it for the other
 * participant to hear it), then decrypts with the key the box answered what the box sends
 * (the other participant's tone, mixed and encrypted by the box). A terminal signaling over
 * TCP joins and hears the others the same way as over UDP. An Opus terminal with its own
 * dynamic payload type (111, not the meeting router's) is heard, and receives its mix under 111.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { afterSilence, dominantFrequency, rms, runFfmpeg } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmaMedia, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals, RtpTerminal } from '../helpers/rtp-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Secure room', number: '880003', hostPin: '1357', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;

t.test('an SRTP (SDES) terminal: the box decrypts what it sends and encrypts what it hears', async (t) => {
  const { plain } = await openTerminals(t, 'plain');
  const srtpPort = await freePort();
  const terminalKey = randomBytes(30).toString('base64');
  const secure = await joinMeeting(target, {
    dial: room.number,
    name: 'Secure',
    media: `m=audio ${srtpPort} RTP/SAVP 0\na=rtpmap:0 PCMU/8000\na=rtcp-mux\na=crypto:1 ${SUITE} inline:${terminalKey}`,
    hold: 9000,
  });
  t.match(secure.answeredKey, /^[A-Za-z0-9+/]{40}$/, 'the box answered RTP/SAVP with its own 30-byte key');
  const other = await joinMeeting(target, { dial: room.number, name: 'Plain', media: pcmaMedia(plain.port), hold: 9000 });

  // 1. ffmpeg, as the SRTP terminal, sends a 440 Hz tone encrypted with the offered key.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-srtp-'));
  const toneFile = path.join(dir, 'tone.ulaw');
  writeFileSync(toneFile, await g711Tone('mulaw', 440, 2));
  const sent = await runFfmpeg(
    ['-re', '-f', 'mulaw', '-ar', '8000', '-ac', '1', '-i', toneFile, '-c:a', 'pcm_mulaw', '-f', 'rtp', '-srtp_out_suite', SUITE, '-srtp_out_params', terminalKey,
      `srtp://127.0.0.1:${secure.answeredPort}?localrtpport=${srtpPort}&rtcpport=${secure.answeredPort}&pkt_size=172`],
    20_000,
  );
  t.equal(sent.exitCode, 0, `ffmpeg sent SRTP ${sent.stderr}`);
  const heard = afterSilence(await decodeG711('alaw', plain.payloadOf(8)), 8000, 1);
  t.ok(Math.abs(dominantFrequency(heard, 8000) - 440) < 40, `the plain terminal hears the SRTP terminal's tone: the box decrypted it (${Math.round(dominantFrequency(heard, 8000))} Hz, rms ${Math.round(rms(heard))})`);

  // 2. ffmpeg decrypts, with the box's key, what the box sends while the other one talks.
  const sdpFile = path.join(dir, 'in.sdp');
  writeFileSync(sdpFile, ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${srtpPort} RTP/SAVP 0`, 'a=rtpmap:0 PCMU/8000', `a=crypto:1 ${SUITE} inline:${secure.answeredKey}`, ''].join('\n'));
  const receiving = runFfmpeg(['-protocol_whitelist', 'file,udp,rtp,srtp,crypto', '-i', sdpFile, '-t', '2', '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1'], 20_000);
  await plain.send(other.answeredPort, await g711Tone('alaw', 1000, 3), { payloadType: 8, frameBytes: 160, timestampStep: 160 });
  const received = await receiving;
  const pcm = received.stdout.subarray(8000); // past the first half second
  t.ok(pcm.length > 8000, `ffmpeg decrypted and decoded ${(received.stdout.length / 16000).toFixed(1)} s of the box's SRTP ${received.stderr.trim()}`);
  t.ok(Math.abs(dominantFrequency(pcm, 8000) - 1000) < 60, `the SRTP terminal hears the other's 1000 Hz tone (${Math.round(dominantFrequency(pcm, 8000))} Hz)`);
  const snapshot = await box.media?.snapshot(room.number);
  t.same(snapshot?.[0]?.participants.map((p) => p.srtp).sort(), [false, true], 'the media service reports which leg is encrypted');
  await Promise.all([secure.result, other.result]);
});

t.test('a terminal signaling over TCP joins and hears the others', async (t) => {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const overTcp = await joinMeeting(target, { dial: room.number, name: 'Tcp', media: pcmuMedia(a.port), hold: 4000, transport: 't1' });
  const overUdp = await joinMeeting(target, { dial: room.number, name: 'Udp', media: pcmaMedia(b.port), hold: 4000 });
  t.same(
    [...(box.app.live.get(room.number)?.participants.values() ?? [])].map((p) => p.transport.toLowerCase()).sort(),
    ['tcp', 'udp'],
    'the live meeting knows each participant transport',
  );
  await Promise.all([
    a.send(overTcp.answeredPort, await g711Tone('mulaw', 440, 2), { payloadType: 0, frameBytes: 160, timestampStep: 160 }),
    b.send(overUdp.answeredPort, await g711Tone('alaw', 1000, 2), { payloadType: 8, frameBytes: 160, timestampStep: 160 }),
  ]);
  const heardByTcp = afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 1);
  t.ok(Math.abs(dominantFrequency(heardByTcp, 8000) - 1000) < 60, `the TCP terminal hears the UDP one (${Math.round(dominantFrequency(heardByTcp, 8000))} Hz)`);
  const [r1, r2] = await Promise.all([overTcp.result, overUdp.result]);
  t.ok(r1.ok && r2.ok, `both calls end normally ${r1.errors}${r2.errors}`);
});

t.test('an Opus terminal with its own payload type: heard by the others, and sent its mix under that payload type', async (t) => {
  const { plain } = await openTerminals(t, 'plain');
  const opusPort = await freePort();
  const opus = await joinMeeting(target, {
    dial: room.number,
    name: 'Opus',
    media: `m=audio ${opusPort} RTP/AVP 111 101\na=rtpmap:111 opus/48000/2\na=fmtp:111 useinbandfec=1\na=rtpmap:101 telephone-event/8000\na=rtcp-mux`,
    hold: 6000,
  });
  const other = await joinMeeting(target, { dial: room.number, name: 'Pcmu', media: pcmuMedia(plain.port), hold: 6000 });
  const sent = await runFfmpeg(
    ['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2', '-af', 'volume=0.5', '-c:a', 'libopus', '-ac', '2', '-b:a', '32k', '-payload_type', '111',
      '-f', 'rtp', `rtp://127.0.0.1:${opus.answeredPort}?localrtpport=${opusPort}&rtcpport=${opus.answeredPort}&pkt_size=1200`],
    20_000,
  );
  t.equal(sent.exitCode, 0, `ffmpeg sent Opus ${sent.stderr}`);
  const heard = afterSilence(await decodeG711('mulaw', plain.payloadOf(0)), 8000, 1);
  t.ok(Math.abs(dominantFrequency(heard, 8000) - 440) < 40, `the PCMU terminal hears the Opus one (${Math.round(dominantFrequency(heard, 8000))} Hz)`);
  // Now listen where the Opus terminal receives: its mix comes under payload type 111.
  const listener = new RtpTerminal();
  t.teardown(() => listener.close());
  await listener.open(opusPort);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const types = new Set(listener.received.map((p) => p.payloadType));
  t.ok(listener.received.length > 20, `the Opus terminal receives its mix (${listener.received.length} packets in 1 s)`);
  t.same([...types], [111], 'under the payload type it offered (111), not the router\'s');
  const [r1, r2] = await Promise.all([opus.result, other.result]);
  t.ok(r1.ok && r2.ok, `both calls end normally ${r1.errors}${r2.errors}`);
});

t.test('a re-INVITE that changes the audio codec: the leg is rebuilt, same call', async (t) => {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const changer = await joinMeeting(target, {
    dial: room.number,
    name: 'Changer',
    media: pcmuMedia(a.port),
    media2: pcmaMedia(a.port),
    pause: 500,
    hold: 4000,
    scenario: 'meeting-join-reinvite.xml',
  });
  const listener = await joinMeeting(target, { dial: room.number, name: 'Listener', media: pcmuMedia(b.port), hold: 5000 });
  const moved = await changer.movedPort(10_000);
  t.ok(moved > 0, `the re-INVITE to PCMA answered with port ${moved}`);
  const [snapshot] = (await box.media?.snapshot(room.number)) ?? [];
  t.equal(snapshot?.participants.find((p) => p.displayName === 'Changer')?.audioCodec, 'PCMA', 'the leg now uses PCMA');
  a.received.length = 0;
  await a.send(moved, await g711Tone('alaw', 440, 2), { payloadType: 8, frameBytes: 160, timestampStep: 160 });
  const heard = await decodeG711('mulaw', b.payloadOf(0, 25).subarray(-8000));
  t.ok(Math.abs(dominantFrequency(heard, 8000) - 440) < 40, `the listener hears the changed leg (${Math.round(dominantFrequency(heard, 8000))} Hz)`);
  t.ok(a.received.length > 20 && a.received.every((p) => p.payloadType === 8), `the changed leg receives PCMA (${a.received.length} packets)`);
  const [r1, r2] = await Promise.all([changer.result, listener.result]);
  t.ok(r1.ok && r2.ok, `both calls end normally ${r1.errors}${r2.errors}`);
});
