/**
 * The IVR access number: a sipp caller is answered with prompts streamed from the IVR port
 * range (checked frame by frame against the built prompt files, in the language the setting
 * chooses), enters the meeting ID and PIN as RFC 4733 events, hears "joining" and is moved
 * into the meeting by a re-INVITE — then the other participant hears it. A wrong PIN three
 * times ends the call after "goodbye". A G.711 caller without RFC 4733 keys the meeting ID in
 * band (tones in its audio) and the PIN by SIP INFO (application/dtmf-relay). An administrator
 * replaces a prompt by a WAV recording through the console API, and callers hear it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { setPromptOverrideDir } from '../../media/ivr/ivr-session.ts';
import { expectedFrames } from '../helpers/ivr-caller.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { afterSilence, dominantFrequency, runFfmpeg } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { decodeG711, dtmfTones, g711Tone, openTerminals, RtpTerminal } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'IVR room', number: '880010', hostPin: '1234', guestPin: '4321', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const ACCESS = box.settings.get('call.ivrAccessNumber');

/** Whether the received stream contains the prompt's first frames, in order. */
function streamed(terminal: RtpTerminal, language: string, prompt: string): boolean {
  const received = terminal.received.filter((p) => p.payloadType === 0).map((p) => p.payload.toString('hex'));
  const wanted = expectedFrames(language, prompt, 25).filter((f) => !/^(ff)+$/.test(f)).slice(0, 10);
  const start = received.indexOf(wanted[0] ?? '');
  return start >= 0 && wanted.every((frame) => received.includes(frame));
}

for (const language of ['en', 'zh-CN'] as const) {
  t.test(`${language}: ID and PIN by RFC 4733, then moved into the meeting by re-INVITE`, async (t) => {
    box.settings.update({ 'call.ivrLanguage': language }, { actor: 'test' });
    const { member, caller } = await openTerminals(t, 'member', 'caller');
    const inMeeting = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Member', media: pcmuMedia(member.port), hold: 16_000 });
    const call = await joinMeeting(target, { dial: ACCESS, name: 'Dialler', media: pcmuMedia(caller.port), hold: 3000, scenario: 'meeting-join-heal.xml' });
    await waitFor('the welcome prompt', 5000, () => streamed(caller, language, 'welcome'));
    t.pass(`the ${language} welcome prompt is streamed (frames match the built prompt file)`);
    t.ok(call.answeredPort >= 30000 && call.answeredPort <= 37999, `IVR media on the IVR port range (${call.answeredPort})`);
    await caller.sendDtmf(call.answeredPort, `${room.number}#`);
    await waitFor('the PIN prompt', 8000, () => streamed(caller, language, 'enter-pin'));
    t.pass('asked for the PIN');
    await caller.sendDtmf(call.answeredPort, '4321#');
    await waitFor('"joining"', 8000, () => streamed(caller, language, 'joining'));
    t.pass('"you are joining the meeting"');
    const moved = await call.movedPort(20_000);
    t.ok(moved > 0 && moved !== call.answeredPort, `re-INVITEd into the meeting's media (port ${moved})`);
    // (The port file is written when the re-INVITE arrives; the box lists the caller once its 200 is answered.)
    const listed = () => [...(box.app.live.get(room.number)?.participants.values() ?? [])].map((p) => [p.displayName, p.role]).sort();
    await waitFor('the caller listed in the meeting', 10_000, () => listed().length > 1 || undefined);
    t.same(listed(), [['Dialler', 'guest'], ['Member', 'host']], 'the caller is in the meeting as a guest');
    member.received.length = 0;
    await caller.send(moved, await g711Tone('mulaw', 440, 1.5), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
    const heard = afterSilence(await decodeG711('mulaw', member.payloadOf(0)), 8000, 0.5);
    t.ok(Math.abs(dominantFrequency(heard, 8000) - 440) < 40, `the member hears the IVR caller (${Math.round(dominantFrequency(heard, 8000))} Hz)`);
    t.ok((await call.result).ok, 'the caller hangs up normally');
    [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === 'Member')?.hangUp('done');
    await inMeeting.result;
    t.equal(box.media?.ivrSessions, 0, 'no IVR media left (ports released)');
  });
}

t.test('a wrong PIN three times: told so, then goodbye and hang-up', async (t) => {
  box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
  const { caller } = await openTerminals(t, 'caller');
  const call = await joinMeeting(target, { dial: ACCESS, name: 'Guesser', media: pcmuMedia(caller.port), hold: 40_000, scenario: 'meeting-join-remote-bye.xml' });
  await waitFor('the welcome prompt', 5000, () => streamed(caller, 'en', 'welcome'));
  await caller.sendDtmf(call.answeredPort, `${room.number}#`);
  for (let attempt = 1; attempt <= 3; attempt++) {
    await waitFor(`the PIN prompt (${attempt})`, 10_000, () => streamed(caller, 'en', 'enter-pin'));
    caller.received.length = 0;
    await caller.sendDtmf(call.answeredPort, '0000#');
    if (attempt < 3) await waitFor('"the password is not correct"', 8000, () => streamed(caller, 'en', 'invalid-pin'));
  }
  const result = await call.result;
  t.ok(result.ok, `the box hung up ${result.errors}`);
  t.ok(streamed(caller, 'en', 'goodbye'), '"goodbye" was played first');
  t.equal(box.media?.ivrSessions, 0, 'no IVR media left');
});

t.test('in-band DTMF in G.711 for the ID, SIP INFO for the PIN', async (t) => {
  box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
  const { caller } = await openTerminals(t, 'caller');
  // A scenario step: the caller sends an INFO in its dialog and expects 200.
  const info = (cseq: number, contentType: string, body: string) => `
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Keys" <sip:keys@vcbox.local>;tag=[pid]SIPpTag00[call_number]
      To: <sip:${ACCESS}@vcbox.local>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} INFO
      Max-Forwards: 70
      Content-Type: ${contentType}
      Content-Length: [len]

      ${body}
    ]]>
  </send>
  <recv response="200"/>`;
  // After the ID (in band, below), an INFO per PIN digit; the offer names no telephone-event.
  const infos = [...'1234#'].map((digit, i) => `\n  <pause milliseconds="${i === 0 ? 4000 : 150}"/>${info(10 + i, 'application/dtmf-relay', `Signal=${digit}\n      Duration=160`)}`).join('');
  // Once in the meeting its INFO requests are the meeting's (a key frame request answered 200),
  // not the IVR's any more (which would refuse it 415, as a second answer).
  const inMeeting = info(19, 'application/media_control+xml', '<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive></media_control>');
  const call = await joinMeeting(target, { dial: ACCESS, name: 'Keys', media: `m=audio ${caller.port} RTP/AVP 0\na=rtpmap:0 PCMU/8000`, hold: 2000, scenario: 'ivr-keys.xml', dtmf: infos, inMeeting });
  await waitFor('the welcome prompt', 5000, () => streamed(caller, 'en', 'welcome'));
  // Keys pressed during the prompt: barge-in.
  await caller.send(call.answeredPort, await dtmfTones('mulaw', `${room.number}#`), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  await waitFor('the PIN prompt', 8000, () => streamed(caller, 'en', 'enter-pin'));
  t.pass('the meeting ID was recognised from in-band tones');
  const moved = await call.movedPort(20_000);
  t.ok(moved > 0, 'the PIN by SIP INFO was accepted and the caller moved into the meeting');
  const outcome = await call.result;
  t.ok(outcome.ok, `the call ends normally ${outcome.errors}`);
  t.match(outcome.messages, /SIP\/2.0 200[^\n]*\n[\s\S]*CSeq: 19 INFO/, "in the meeting, the key frame request by INFO was the meeting's to answer: 200");
});

t.test('an uploaded recording replaces a prompt; a broken file is refused and changes nothing', async (t) => {
  box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
  const promptDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-prompts-'));
  setPromptOverrideDir(promptDir);
  t.teardown(() => setPromptOverrideDir(undefined));
  const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
  await new AdminStore(box.db).ensureInitialAdmin(secrets);
  const base = await startConsoleApi(t, { state: { db: box.db, settings: box.settings }, keepDb: true, promptDir });
  const client = new ConsoleClient(base);
  await client.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim());
  const upload = async (body: Buffer) => {
    const response = await fetch(`${base}/api/v1/ivr/prompts/en/welcome`, { method: 'PUT', headers: { 'content-type': 'audio/wav', cookie: client.cookie, 'x-csrf-token': client.csrfToken }, body });
    return { status: response.status, body: await response.json() };
  };

  const broken = await upload(Buffer.from('this is not a wav file at all'));
  t.equal(broken.status, 400);
  t.match(broken.body, { code: 'VCBOX_ERR_PROMPT_INVALID', message: /not a WAV file/ }, 'says what is wrong with the file');
  t.match((await client.call('GET', '/api/v1/ivr/prompts')).body.find((p: { name: string; language: string }) => p.name === 'welcome' && p.language === 'en'), { source: 'generated' }, 'nothing changed');

  const wav = await runFfmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=22050:duration=2', '-ac', '1', '-c:a', 'pcm_s16le', '-f', 'wav', '-'], 20_000);
  const saved = await upload(wav.stdout);
  t.equal(saved.status, 200);
  t.match(saved.body, { language: 'en', name: 'welcome', source: 'uploaded', seconds: 2 }, 'the recording replaces the welcome prompt');

  const { caller } = await openTerminals(t, 'caller');
  const call = await joinMeeting(target, { dial: ACCESS, name: 'Listener', media: pcmuMedia(caller.port), hold: 2500 });
  await waitFor('the recording', 5000, () => caller.received.length > 60);
  const heard = await decodeG711('mulaw', caller.payloadOf(0, 10).subarray(0, 8000));
  t.ok(Math.abs(dominantFrequency(heard, 8000) - 660) < 40, `the caller hears the uploaded recording (${Math.round(dominantFrequency(heard, 8000))} Hz)`);
  t.equal((await client.call('DELETE', '/api/v1/ivr/prompts/en/welcome')).status, 204, 'back to the generated prompt');
  t.match((await client.call('GET', '/api/v1/ivr/prompts')).body.find((p: { name: string; language: string }) => p.name === 'welcome' && p.language === 'en'), { source: 'generated' });
  const audit = box.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'ivr.%' ORDER BY id").all() as { action: string }[];
  t.same(audit.map((a) => a.action), ['ivr.prompt.upload', 'ivr.prompt.revert'], 'audited');
  t.ok((await call.result).ok, 'the caller hangs up during the IVR: fine');
  await waitFor('the IVR media to be released', 3000, () => box.media?.ivrSessions === 0);
});

t.test('prompts in the codec the caller negotiated (Opus, G.722), under its payload type', async (t) => {
  for (const [media, pt, name] of [
    ['m=audio {port} RTP/AVP 111 101\na=rtpmap:111 opus/48000/2\na=rtpmap:101 telephone-event/8000', 111, 'Opus'],
    ['m=audio {port} RTP/AVP 9 101\na=rtpmap:9 G722/8000\na=rtpmap:101 telephone-event/8000', 9, 'G.722'],
  ] as const) {
    const caller = new RtpTerminal();
    await caller.open();
    const call = await joinMeeting(target, { dial: ACCESS, name: 'Codec', media: media.replace('{port}', String(caller.port)), hold: 1500 });
    await waitFor(`${name} prompt packets`, 5000, () => caller.received.length > 40);
    t.ok(caller.received.every((p) => p.payloadType === pt), `${name}: ${caller.received.length} packets, all payload type ${pt}`);
    t.ok(caller.received.some((p) => p.payload.length > 10), `${name}: prompt audio, not empty frames`);
    t.ok((await call.result).ok, `${name}: the caller hangs up normally`);
    caller.close();
  }
});
