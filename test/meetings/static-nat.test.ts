/**
 * Static NAT, with a network namespace the test creates as "outside the LAN" (a veth pair,
 * test/helpers/netns.ts); the box listens on every address, NAT is on with this side's
 * address as its public IP and only 127.0.0.0/8 as local. A
 * terminal calling from the namespace (sipp run inside it) is answered with the public IP in
 * the SDP c= line and in the box's Contact, and its RTP (ffmpeg inside the namespace) reaches
 * the meeting — a LAN terminal on loopback hears it — while the LAN terminal is answered with
 * the private address. With NAT off the outside caller gets the private address too. Needs
 * root for `ip netns`; skipped otherwise.
 */
import { spawn } from 'node:child_process';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { dominantFrequency } from '../helpers/ffmpeg.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { createNamespace } from '../helpers/netns.ts';
import { decodeG711, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const namespace = createNamespace(t, 'nat');
if (!namespace) {
  t.plan(0, 'network namespaces need root (ip netns add failed)');
} else {
  const { name: ns, hostAddress: inside, address: outside } = namespace;
  const box = await startSipBox({ media: {}, listen: '0.0.0.0' });
  t.teardown(() => box.close());
  const room = new VmrStore(box.db).create({ name: 'NAT room', number: '880014', hostPin: '1122', guestPin: '', capacity: 10 });
  const sdpAddress = (messages: string) => /200 OK[\s\S]*?\nc=IN IP4 (\S+)/.exec(messages)?.[1];
  const contactHost = (messages: string) => /200 OK[\s\S]*?\nContact:\s*<sips?:(?:[^@>]*@)?([^:;>]+)/i.exec(messages)?.[1];

  t.test('NAT on: the outside caller gets the public IP, the LAN caller the private one; media flows', async (t) => {
    box.settings.update({ 'nat.enabled': true, 'nat.publicIp': inside, 'nat.localNetworks': '127.0.0.0/8' }, { actor: 'test' });
    const { lan } = await openTerminals(t, 'lan');
    const lanLeg = await joinMeeting(`127.0.0.1:${box.port}`, { dial: room.number, name: 'Lan', media: pcmuMedia(lan.port), hold: 8000 });
    const rtpPort = 20_000 + (process.pid % 10_000) * 2;
    const outsideLeg = await joinMeeting(`${inside}:${box.port}`, { dial: room.number, name: 'Outside', media: pcmuMedia(rtpPort), hold: 8000, localIp: outside, netns: ns });
    // The outside terminal talks: a 700 Hz tone from its own RTP port, inside the namespace.
    const tone = spawn('ip', ['netns', 'exec', ns, 'ffmpeg', '-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=700:duration=3',
      '-ar', '8000', '-ac', '1', '-c:a', 'pcm_mulaw', '-payload_type', '0', '-f', 'rtp', `rtp://${inside}:${outsideLeg.answeredPort}?localrtpport=${rtpPort}`], { stdio: 'ignore' });
    t.teardown(() => tone.kill('SIGKILL'));
    await waitFor('the tone at the LAN terminal', 8000, () => lan.payloadOf(0, 60).length > 0).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const heard = await decodeG711('mulaw', lan.payloadOf(0, 60));
    const [outsideResult, lanResult] = await Promise.all([outsideLeg.result, lanLeg.result]);
    t.ok(outsideResult.ok, `the outside call went through ${outsideResult.errors}`);
    t.equal(sdpAddress(outsideResult.messages), inside, 'outside caller: c= is the public IP');
    t.equal(contactHost(outsideResult.messages), inside, "outside caller: the box's Contact is the public IP");
    t.equal(sdpAddress(lanResult.messages), '127.0.0.1', 'LAN caller: c= is the private address');
    t.equal(contactHost(lanResult.messages), '127.0.0.1', "LAN caller: the box's Contact is the private address");
    const frequency = dominantFrequency(heard, 8000);
    t.ok(Math.abs(frequency - 700) < 60, `the outside caller's RTP reached the meeting: the LAN terminal hears ${Math.round(frequency)} Hz`);
  });

  t.test('NAT off: the outside caller is given the private address like everyone', async (t) => {
    box.settings.update({ 'nat.enabled': false }, { actor: 'test' });
    const rtpPort = 21_000 + (process.pid % 10_000) * 2;
    const leg = await joinMeeting(`${inside}:${box.port}`, { dial: room.number, name: 'Outside', media: pcmuMedia(rtpPort), hold: 1000, localIp: outside, netns: ns });
    const result = await leg.result;
    t.ok(result.ok, `the call went through ${result.errors}`);
    t.equal(sdpAddress(result.messages), '127.0.0.1', "c= is the box's configured media address, not the public IP");
    t.not(contactHost(result.messages), inside, 'nor is the Contact');
  });
}
