/**
 * Firefox ESR (Debian's firefox-esr, unpatched, driven over WebDriver BiDi by
 * test/helpers/firefox.ts) on the join page, in a VMR with a composed layout (2×2) where a SIP
 * terminal (sipp with the test's RTP socket) sends a 440 Hz PCMU tone. First the profile is
 * proven to keep Firefox on loopback: Firefox runs in a network namespace of its own under
 * strace and must try no address but loopback (else the meeting test does not start Firefox at
 * all). Then Firefox joins in composed view with its fake camera and microphone (a 1 kHz tone):
 * it shows the composed picture (a video element with a size, requestVideoFrameCallback
 * counting frames), receives the terminal's audio (inbound-rtp packets growing) and hears its
 * 440 Hz (that audio recorded in the page with MediaRecorder, decoded by ffmpeg), the box receives its Opus and VP8 (live-meetings API: packets in) and the terminal
 * hears its 1 kHz through the mixer. The row goes to the interop table; what Firefox tried to
 * send past loopback (the sink proxy) must be nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { rms, runFfmpeg, toneShare } from '../helpers/ffmpeg.ts';
import { Firefox, loopbackCheckUnavailable, loopbackOnlyCheck } from '../helpers/firefox.ts';
import { interopRow } from '../helpers/interop-table.ts';
import { joinMeeting, pcmuMedia, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';

const skip = loopbackCheckUnavailable();

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Firefox room', number: '880071', hostPin: '7171', guestPin: '', capacity: 10, layout: '2x2' });
box.media?.setLayout(room.number, '2x2');
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), webRoot: path.join(import.meta.dirname, '..', '..', 'web') });
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');
const artifacts = process.env.VCBOX_TEST_ARTIFACTS ?? mkdtempSync(path.join(os.tmpdir(), 'vcbox-artifacts-'));

type Stream = { codec: string; packetsIn: number; packetsOut: number };
type Participant = { displayName: string; type: string; srtp: boolean; audio: Stream; video: Stream | null };
const participant = async (name: string) =>
  (((await admin.call('GET', `/api/v1/live-meetings/${room.number}`)).body?.participants ?? []) as Participant[]).find((p) => p.displayName === name);

/** Why the meeting test may not start Firefox: set by the loopback proof. */
let offLoopback: string | false = 'the loopback proof did not run';

t.test('Firefox ESR with the suite profile tries no address but loopback', { skip }, async (t) => {
  const check = await loopbackOnlyCheck(20);
  t.ok(check.loopback > 0, `strace saw Firefox's sockets (${check.loopback} loopback destinations: the sink proxy, its remote agent)`);
  t.same(check.outside, [], 'Firefox connects and sends to no address other than loopback');
  t.comment(`UDP sockets connected without sending (WebRTC's default-address lookup): ${check.routeLookups.join(', ') || 'none'}`);
  offLoopback =
    check.loopback > 0 && check.outside.length === 0 ? false : `Firefox tried ${check.outside.join(', ') || 'nothing strace could see'} — not started against the box`;
});

t.test('Firefox ESR joins a VMR on the join page with a SIP terminal, media both ways', { skip }, async (t) => {
  if (offLoopback) {
    t.fail(offLoopback);
    return;
  }
  const firefox = await Firefox.launch();
  t.teardown(() => firefox.close());
  await interopRow(t, { client: firefox.version, transport: 'WebRTC', audio: 'Opus', video: 'VP8', srtp: 'DTLS-SRTP' }, async (check, shown) => {
    const { partner } = await openTerminals(t, 'partner');
    const leg = await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Partner', media: pcmuMedia(partner.port), ...UNTIL_HUNG_UP });
    t.teardown(() => partner.stop());
    const sending = partner.send(leg.answeredPort, await g711Tone('mulaw', 440, 40), { payloadType: 0, frameBytes: 160, timestampStep: 160 });

    const tab = await firefox.open(`${base}/join/?m=${room.number}`);
    await firefox.waitUntil(tab, 'the join page to know the meeting', "document.getElementById('subject').textContent !== ''", 10_000);
    await firefox.evaluate(
      tab,
      `(() => {
        document.getElementById('pin').value = '7171';
        document.getElementById('name').value = 'Firefox';
        document.getElementById('composed').checked = true;
        document.getElementById('join').click();
        return true;
      })()`,
    );
    const phase = await firefox
      .waitUntil<string>(tab, 'the join', "['joined', 'left', 'removed'].includes(window.vcboxJoin.state.phase) ? window.vcboxJoin.state.phase : ''", 30_000)
      .catch(async () => `${await firefox.evaluate<string>(tab, 'window.vcboxJoin.state.phase')} (${await firefox.evaluate<string>(tab, "document.getElementById('error').textContent")})`);
    if (!check(phase === 'joined', `joins from the join page (${phase})`)) return;
    shown('joins (join page, composed view)');

    // The composed picture: a video element with a size whose frames advance (counted by
    // requestVideoFrameCallback; headless Firefox leaves getVideoPlaybackQuality at 0).
    const picture = `(() => {
      const v = document.querySelector('.tile[data-participant="composed"] video');
      if (!v) return null;
      if (window.vcboxFrames === undefined) {
        window.vcboxFrames = 0;
        const count = () => { window.vcboxFrames++; v.requestVideoFrameCallback(count); };
        v.requestVideoFrameCallback(count);
      }
      return { width: v.videoWidth, height: v.videoHeight, frames: window.vcboxFrames, time: v.currentTime };
    })()`;
    type Picture = { width: number; height: number; frames: number; time: number } | null;
    const first = await firefox
      .waitUntil<Picture>(tab, 'the composed picture to show', `(() => { const p = ${picture}; return p && p.width > 0 && p.frames > 0 ? p : null; })()`, 20_000)
      .catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const later = await firefox.evaluate<Picture>(tab, picture);
    const advancing = first && later && later.width > 0 && later.frames > first.frames && later.time > first.time;
    if (check(advancing, `Firefox shows the composed picture (${first ? `${first.width}x${first.height}, frames ${first.frames} → ${later?.frames}` : 'no picture'})`)) {
      shown(`decodes the composed picture (${later?.width}x${later?.height}, frames advancing)`);
    }

    // The terminal's audio, forwarded: inbound-rtp packets growing.
    type Stats = { inbound: { kind: string; codec: string; packets: number }[] };
    const audioPackets = async () => (await firefox.evaluate<Stats>(tab, 'window.vcboxJoin.stats()')).inbound.find((i) => i.kind === 'audio')?.packets ?? 0;
    const before = await audioPackets();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await audioPackets();
    check(after > before && before > 0, `Firefox receives the terminal's audio (inbound-rtp packetsReceived ${before} → ${after})`);

    // ...and hears its 440 Hz: two seconds of that audio element's track recorded in the page
    // (MediaRecorder: headless Firefox has no sound card to run an AudioContext on), decoded by ffmpeg.
    const recorded = await firefox
      .evaluate<string>(
        tab,
        `(async () => {
          const el = [...document.querySelectorAll('.tile:not([data-participant="self"]) audio')].find((a) => a.srcObject);
          if (!el) return '';
          const recorder = new MediaRecorder(el.srcObject);
          const chunks = [];
          recorder.ondataavailable = (e) => chunks.push(e.data);
          recorder.start();
          await new Promise((r) => setTimeout(r, 2500));
          recorder.stop();
          await new Promise((r) => (recorder.onstop = r));
          const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
          let text = '';
          for (const b of bytes) text += String.fromCharCode(b);
          return btoa(text);
        })()`,
      )
      .catch(() => '');
    const recording = path.join(artifacts, 'firefox-heard.ogg');
    writeFileSync(recording, Buffer.from(recorded, 'base64'));
    const pcm = recorded ? (await runFfmpeg(['-i', recording, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'], 10_000)).stdout : Buffer.alloc(0);
    const last = pcm.subarray(Math.max(0, pcm.length - 48_000 * 2));
    const heard = `rms ${Math.round(rms(last))}, ${Math.round(toneShare(last, 48_000, 440) * 100)} % of the energy at 440 Hz`;
    if (check(rms(last) > 300 && toneShare(last, 48_000, 440) > 0.5, `Firefox hears the terminal's 440 Hz (${heard})`)) shown('hears 440 Hz');

    // The box receives Firefox's microphone and camera.
    const stats = await waitFor("Firefox's audio and video at the box", 15_000, async () => {
      const p = await participant('Firefox');
      return p && p.audio.packetsIn > 0 && p.video && p.video.packetsIn > 0 ? p : undefined;
    }).catch(() => undefined);
    const seen = stats ?? (await participant('Firefox'));
    check(seen?.audio.codec === 'opus', `its audio is Opus (${seen?.audio.codec})`);
    check(seen?.video?.codec === 'VP8', `its video is VP8 (${seen?.video?.codec})`);
    check(stats, `the box receives its audio and video (audio ${seen?.audio.packetsIn} in, video ${seen?.video?.packetsIn} in)`);

    // The terminal hears Firefox's fake microphone (1 kHz) in its mix.
    let partnerTone = '';
    const partnerHears = await waitFor("the terminal to hear Firefox's 1000 Hz", 10_000, async () => {
      const pcmu = partner.payloadOf(0);
      if (pcmu.length < 16_000) return undefined;
      const pcm = await decodeG711('mulaw', pcmu.subarray(pcmu.length - 16_000));
      partnerTone = `rms ${Math.round(rms(pcm))}, ${Math.round(toneShare(pcm, 8000, 1000) * 100)} % of the energy at 1000 Hz`;
      return rms(pcm) > 300 && toneShare(pcm, 8000, 1000) > 0.5 ? true : undefined;
    }).catch(() => undefined);
    if (check(partnerHears, `the terminal hears Firefox's 1000 Hz (${partnerTone})`)) shown('is heard (1000 Hz)');
    shown('DTLS-SRTP');
    if (stats) shown(`box: audio ${stats.audio.packetsIn} in / ${stats.audio.packetsOut} out, video ${stats.video?.packetsIn} in / ${stats.video?.packetsOut} out`);
    writeFileSync(path.join(artifacts, 'firefox-join-page.png'), await firefox.screenshot(tab));

    partner.stop();
    await sending;
    await firefox.evaluate(tab, "(document.getElementById('leave').click(), true)");
    await firefox.waitUntil(tab, 'leaving', "window.vcboxJoin.state.phase === 'left'", 5000).catch(() => undefined);
    hangUpEveryone(box, room.number);
    t.ok((await leg.result).ok, "the terminal's call ends normally");
  });
  t.same(firefox.attempts, [], 'Firefox sent nothing towards an address other than loopback (the sink proxy saw no request)');
  t.same(firefox.errors, [], 'no errors on the join page');
});
