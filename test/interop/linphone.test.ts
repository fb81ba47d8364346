/**
 * linphone (Debian linphone-cli 5.1, its daemon driven over its command socket) against the
 * box, as a site would use it: it registers over UDP, and over TLS verifying the box's
 * certificate by DNS name (`localhost`, one of the generated certificate's names; linphone
 * ignores IP entries), and joins a VMR with a composed layout — Opus + VP8 over UDP, Opus +
 * H.264 over TLS. Media is checked both ways with tones: linphone's microphone sends 1000 Hz,
 * a second terminal (sipp with the test's RTP socket) sends 440 Hz; each hears the other's tone
 * in the N-1 mix. The live-meetings API shows linphone's audio and video streams with packets
 * in and out, and linphone's log says it decoded a frame of the composed picture. A linphone
 * that trusts another certificate refuses the box. Each row goes to the interop table.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { rms, toneShare } from '../helpers/ffmpeg.ts';
import { interopRow } from '../helpers/interop-table.ts';
import { Linphone } from '../helpers/linphone.ts';
import { joinMeeting, pcmuMedia, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

const skip = existsSync('/usr/bin/linphone-daemon') ? false : 'linphone-daemon is not installed (Debian linphone-cli; scripts/setup.sh test installs it)';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.app.accounts.create({ number: '6101', name: 'Linphone', password: 'secret-6101' }, box.realm);
const room = new VmrStore(box.db).create({ name: 'Interop room', number: '880051', hostPin: '5151', guestPin: '', capacity: 10, layout: '2x2' });
box.media?.setLayout(room.number, '2x2');
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const admin = new ConsoleClient(await startConsoleApi(t, boxConsoleOptions(box)));
await admin.login('chief', 'Chief2026');
const boxCertificate = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-linphone-ca-')), 'box.crt');
writeFileSync(boxCertificate, box.cert);

/** "rms R, S % of the energy at F Hz" of the last two seconds, for messages. */
function describeTone(pcm: Buffer, rate: number, hz: number): string {
  const last = pcm.subarray(Math.max(0, pcm.length - rate * 4));
  return `rms ${Math.round(rms(last))}, ${Math.round(toneShare(last, rate, hz) * 100)} % of the energy at ${hz} Hz`;
}

type Stream = { codec: string; packetsIn: number; packetsOut: number; bitrateIn: number; bitrateOut: number };
type Participant = { displayName: string; srtp: boolean; audio: Stream; video: Stream | null };
const participant = async (name: string) =>
  (((await admin.call('GET', `/api/v1/live-meetings/${room.number}`)).body?.participants ?? []) as Participant[]).find((p) => p.displayName === name);

/** linphone joins the VMR at `uri` while a PCMU terminal sends 440 Hz; checks both directions of audio and video. */
async function joinAndCheck(
  t: { ok(value: unknown, message: string): boolean; teardown(fn: () => unknown): void },
  linphone: Linphone,
  uri: string,
  videoCodec: string,
  srtp: boolean,
  check: (ok: unknown, what: string) => boolean,
  shown: (what: string) => void,
): Promise<void> {
  const { partner } = await openTerminals(t, 'partner');
  const leg = await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Partner', media: pcmuMedia(partner.port), ...UNTIL_HUNG_UP });
  t.teardown(() => partner.stop());
  const sending = partner.send(leg.answeredPort, await g711Tone('mulaw', 440, 25), { payloadType: 0, frameBytes: 160, timestampStep: 160 });

  await linphone.call(uri);
  const stats = await waitFor("linphone's audio and video both ways in the live-meetings API", 15_000, async () => {
    const p = await participant('6101');
    return p && p.audio.packetsIn > 0 && p.audio.packetsOut > 0 && p.video && p.video.packetsIn > 0 && p.video.packetsOut > 0 ? p : undefined;
  }).catch(() => undefined);
  const seen = stats ?? (await participant('6101'));
  check(seen?.audio.codec === 'opus', `its audio is Opus (${seen?.audio.codec})`);
  check(seen?.video?.codec === videoCodec, `its video is ${videoCodec} (${seen?.video?.codec})`);
  if (check(seen?.srtp === srtp, srtp ? 'its media is SRTP (SDES keys in the SDP over TLS)' : 'its media is plain RTP') && srtp) shown('SRTP (SDES) both ways');
  check(stats, `the box receives and sends its audio and video (audio ${seen?.audio.packetsIn} in / ${seen?.audio.packetsOut} out, video ${seen?.video?.packetsIn} in / ${seen?.video?.packetsOut} out)`);

  const decoded = await waitFor('linphone to decode a frame of the composed picture', 15_000, () => linphone.decodedVideo()).catch(() => undefined);
  if (check(decoded, `linphone decodes the composed picture (${decoded ?? 'no frame'})`)) shown(`decodes the composed picture (${decoded})`);

  // linphone hears the partner's 440 Hz (the last two seconds of its loudspeaker)...
  const heard = await waitFor("linphone to hear the partner's 440 Hz", 10_000, () => {
    const pcm = linphone.heard();
    const last = pcm.subarray(Math.max(0, pcm.length - 64_000));
    const share = toneShare(last, 16_000, 440);
    return rms(last) > 300 && share > 0.5 ? { share, level: rms(last) } : undefined;
  }).catch(() => undefined);
  if (check(heard, `linphone hears the partner's 440 Hz (${describeTone(linphone.heard(), 16_000, 440)})`)) shown('hears 440 Hz');

  // ...and the partner hears linphone's 1000 Hz (its last two seconds).
  let partnerTone = '';
  const partnerHeard = await waitFor("the partner to hear linphone's 1000 Hz", 10_000, async () => {
    const pcmu = partner.payloadOf(0);
    if (pcmu.length < 16_000) return undefined;
    const pcm = await decodeG711('mulaw', pcmu.subarray(pcmu.length - 16_000));
    partnerTone = describeTone(pcm, 8000, 1000);
    return rms(pcm) > 300 && toneShare(pcm, 8000, 1000) > 0.5;
  }).catch(() => undefined);
  if (check(partnerHeard, `the partner hears linphone's 1000 Hz (${partnerTone})`)) shown('is heard (1000 Hz)');
  if (stats) shown(`box: audio ${stats.audio.packetsIn} in / ${stats.audio.packetsOut} out, video ${stats.video?.packetsIn} in / ${stats.video?.packetsOut} out`);

  partner.stop();
  await sending;
  await linphone.command('terminate');
  hangUpEveryone(box, room.number);
  const result = await leg.result;
  t.ok(result.ok, `the partner's call ends normally ${result.errors}`);
}

t.test('linphone registers over UDP and joins a VMR with Opus + VP8, media both ways', { skip }, async (t) => {
  const linphone = await Linphone.start({ transport: 'udp', videoCodec: 'VP8', toneHz: 1000 });
  t.teardown(() => linphone.close());
  await interopRow(t, { client: `linphone ${linphone.version}`, transport: 'UDP', audio: 'Opus', video: 'VP8', srtp: 'none' }, async (check, shown) => {
    const state = await linphone.register('sip:6101@127.0.0.1', `sip:127.0.0.1:${box.port}`, 'secret-6101');
    check(state === 'LinphoneRegistrationOk', `registers over UDP (${state})`);
    check(box.app.location.lookup('6101').some((b) => b.source.protocol === 'udp'), 'the box lists it online over UDP');
    shown('registers');
    await joinAndCheck(t, linphone, `sip:${room.number}@127.0.0.1:${box.port}`, 'VP8', false, check, shown);
  });
});

t.test('linphone registers over TLS verifying the box certificate and joins with Opus + H.264', { skip }, async (t) => {
  const linphone = await Linphone.start({ transport: 'tls', rootCa: boxCertificate, videoCodec: 'H264', toneHz: 1000 });
  t.teardown(() => linphone.close());
  await interopRow(t, { client: `linphone ${linphone.version}`, transport: 'TLS', audio: 'Opus', video: 'H.264', srtp: 'none' }, async (check, shown) => {
    const state = await linphone.register('sip:6101@localhost', `sip:localhost:${box.tlsPort};transport=tls`, 'secret-6101');
    check(state === 'LinphoneRegistrationOk', `registers over TLS, the certificate verified for "localhost" (${state})`);
    check(box.app.location.lookup('6101').some((b) => b.source.protocol === 'tls'), 'the box lists it online over TLS');
    shown('registers, certificate verified by DNS name');
    await joinAndCheck(t, linphone, `sip:${room.number}@localhost:${box.tlsPort};transport=tls`, 'H264', false, check, shown);
  });
});

t.test('linphone over TLS with SDES-SRTP joins with Opus + VP8', { skip }, async (t) => {
  const linphone = await Linphone.start({ transport: 'tls', rootCa: boxCertificate, videoCodec: 'VP8', toneHz: 1000, srtp: true });
  t.teardown(() => linphone.close());
  await interopRow(t, { client: `linphone ${linphone.version}`, transport: 'TLS', audio: 'Opus', video: 'VP8', srtp: 'SDES' }, async (check, shown) => {
    const state = await linphone.register('sip:6101@localhost', `sip:localhost:${box.tlsPort};transport=tls`, 'secret-6101');
    check(state === 'LinphoneRegistrationOk', `registers over TLS (${state})`);
    shown('registers');
    await joinAndCheck(t, linphone, `sip:${room.number}@localhost:${box.tlsPort};transport=tls`, 'VP8', true, check, shown);
  });
});

t.test('a linphone that trusts another certificate refuses the box over TLS', { skip }, async (t) => {
  const other = await ensureCertificate(mkdtempSync(path.join(os.tmpdir(), 'vcbox-other-ca-')));
  const otherFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-linphone-ca-')), 'other.crt');
  writeFileSync(otherFile, other.cert);
  const linphone = await Linphone.start({ transport: 'tls', rootCa: otherFile, videoCodec: 'VP8', toneHz: 1000 });
  t.teardown(() => linphone.close());
  const state = await linphone.register('sip:6101@localhost', `sip:localhost:${box.tlsPort};transport=tls`, 'secret-6101');
  t.equal(state, 'LinphoneRegistrationFailed', 'its registration fails');
  t.match(linphone.log(), /certificate|verif|handshake/i, 'its log names the certificate check');
});
