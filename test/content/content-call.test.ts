/**
 * Content sharing reachable from a call (issue #19, RFC 8856): SIP terminals (sipp, SDP with
 * audio, video, a content line `a=content:slides` and a BFCP line) in one VMR, the box's BFCP
 * listeners opened by the SIP application. The answer serves the content line (H.264, its
 * label) and the BFCP line (`a=floorctrl:s-only`, the meeting's conference ID, the
 * participant's user ID, the floor governing the content line, the box's port for the offered
 * transport); the real libre BFCP client (test/interop/bfcp-client) takes the floor with those
 * IDs over TCP, UDP and TLS (wrong IDs: test/security/bfcp-call-ids.test.ts); hanging up
 * releases the floor (removeUser through the participant's session). The floor's
 * holder's slides (ffmpeg: H.264 from its content port) reach the other terminal's content line,
 * decoded there to frames of the slide's colour; released, the forwarding stops. A terminal that
 * adds content by re-INVITE gets it answered while its audio keeps flowing; a terminal without
 * a content line is unaffected; an IVR caller is moved into the meeting with its content and
 * BFCP lines declined.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { contentLine, parseSdp } from '../../media/sdp/sip-sdp.ts';
import type { PresenterChange } from '../../server/bfcp/floor-control-server.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { bfcpOf, type ContentTerminal, contentOffer, contentReceiver, joinWithContent, startSlides } from '../helpers/content-terminal.ts';
import { BfcpClient, type BfcpClientEvent, floorRequestId, overallStatus } from '../helpers/bfcp-client.ts';
import { rms } from '../helpers/ffmpeg.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { joinMeeting, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Content room', number: '880190', hostPin: '4455', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const floors = box.app.floors;
if (!floors) throw new Error('the box has no BFCP floor control');
const presenterChanges: PresenterChange[] = [];
floors.server.on('presenter', (change) => presenterChanges.push(change));

function participantOf(name: string) {
  return [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name);
}

async function hangUp(name: string, terminal: ContentTerminal): Promise<void> {
  participantOf(name)?.hangUp('test over');
  await terminal.result;
}

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';

for (const transport of ['tcp', 'udp', 'tls'] as const) {
  const proto = transport === 'tcp' ? 'TCP/BFCP' : transport === 'udp' ? 'UDP/BFCP' : 'TCP/TLS/BFCP';
  t.test(`${proto}: the answer serves content and BFCP; libre takes the floor with the answer's IDs; hang-up releases it`, async (t) => {
    const sockets = await openTerminals(t, 'audio', 'video', 'content');
    const name = `Room${transport}`;
    const terminal = await joinWithContent(target, room.number, name, contentOffer({ audio: sockets.audio.port, video: sockets.video.port, content: sockets.content.port }, proto));
    const answer = parseSdp(terminal.answer);
    t.equal(answer.media.length, 4, 'one answered m-line per offered m-line');
    const content = contentLine(answer.media);
    t.ok(content && content.port > 0, `the content line is served (port ${content?.port})`);
    t.equal(content?.codecs[0]?.name, 'H264', 'content in H.264, as offered');
    t.equal(content?.codecs[0]?.payloadType, 98, "under the offer's payload type");
    t.equal(content?.label, '3', "with the offer's label");
    t.ok(answer.media[1]?.port && answer.media[1].port !== content?.port, 'the people video keeps a port of its own');
    const bfcp = bfcpOf(terminal.answer);
    t.equal(bfcp.proto, proto, `BFCP answered on ${proto}`);
    t.equal(bfcp.port, floors.ports[transport], `on the box's ${transport.toUpperCase()} BFCP port`);
    t.same(bfcp.floorctrl, ['s-only'], 'the box is the floor control server');
    t.ok(bfcp.conferenceId >= 1, `a conference ID (${bfcp.conferenceId})`);
    t.ok(bfcp.userId >= 1 && bfcp.userId <= 0xffff, `a user ID (${bfcp.userId})`);
    t.equal(bfcp.floorid, '1 mstrm:3', 'floor 1 governs the content line (label 3)');
    if (transport !== 'udp') t.same([bfcp.setup, bfcp.connection], ['passive', 'new'], 'the terminal opens the connection (setup:passive, connection:new)');
    t.ok(participantOf(name), 'the terminal is in the meeting');

    let ca: string | undefined;
    if (transport === 'tls') {
      ca = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-ca-')), 'box.crt');
      writeFileSync(ca, box.cert);
    }
    const client = await BfcpClient.start({ transport, port: bfcp.port, conferenceId: bfcp.conferenceId, userId: bfcp.userId, floorId: 1, ...(ca ? { ca } : {}) });
    t.teardown(() => client.close());
    const grant = client.nextNotification(granted, 'Granted');
    const request = await client.request('request', 'FloorRequest');
    t.equal(request.prim, 'FloorRequestStatus', `the floor request is accepted (${request.prim})`);
    await grant;
    t.equal(floors.server.presenter(bfcp.conferenceId), bfcp.userId, 'the terminal presents');

    const from = presenterChanges.length;
    await hangUp(name, terminal);
    await waitFor('the floor to be released', 5000, () => presenterChanges.slice(from).some((c) => c.conferenceId === bfcp.conferenceId && c.userId === null));
    t.equal(floors.server.presenter(bfcp.conferenceId), null, 'hanging up released the floor');
    t.match(presenterChanges.slice(from), [{ conferenceId: bfcp.conferenceId, userId: null, previousUserId: bfcp.userId, reason: 'left' }], 'the presenter left');
    await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  });
}

t.test('a terminal adding content by re-INVITE gets content and BFCP answered; its audio keeps flowing', async (t) => {
  const a = await openTerminals(t, 'audio', 'video', 'content');
  const b = await openTerminals(t, 'audio', 'video');
  const plain = await joinWithContent(target, room.number, 'Plain', contentOffer({ audio: b.audio.port, video: b.video.port }));
  const plainAnswer = parseSdp(plain.answer);
  t.equal(plainAnswer.media.length, 2, 'a terminal without a content line gets audio and video only');
  t.notOk(/a=(?:confid|floorctrl)/.test(plain.answer), 'and no BFCP attributes');

  const later = await joinWithContent(target, room.number, 'Later', contentOffer({ audio: a.audio.port, video: a.video.port }), {
    media2: contentOffer({ audio: a.audio.port, video: a.video.port, content: a.content.port }, 'TCP/BFCP'),
    pause: 1500,
  });
  const first = parseSdp(later.answer);
  const audioPort = first.media[0]?.port ?? 0;
  const videoPort = first.media[1]?.port ?? 0;
  // Audio flows from the Later terminal to the Plain one across the re-INVITE.
  const tone = await g711Tone('mulaw', 440, 4);
  const sending = a.audio.send(audioPort, tone, { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  const second = await later.answer2(10_000);
  const heardBefore = b.audio.received.filter((p) => p.payloadType === 0).length;
  const reanswered = parseSdp(second);
  t.equal(reanswered.media.length, 4, 'the re-INVITE is answered line by line');
  t.equal(reanswered.media[0]?.port, audioPort, 'audio keeps its port');
  t.equal(reanswered.media[1]?.port, videoPort, 'video keeps its port');
  t.ok((contentLine(reanswered.media)?.port ?? 0) > 0, 'the content line is served now');
  const bfcp = bfcpOf(second);
  t.equal(bfcp.port, floors.ports.tcp, 'BFCP is answered on the TCP port');
  t.ok(bfcp.conferenceId >= 1 && bfcp.userId >= 1, 'with the floor IDs');
  await sending;
  // What the Plain terminal heard from the re-INVITE's answer on: the Later terminal's tone, still.
  const heardAfter = await decodeG711('mulaw', b.audio.payloadOf(0, heardBefore));
  t.ok(heardAfter.length > 8000 * 2 * 0.5, `audio kept coming after the re-INVITE (${heardAfter.length / 2 / 8000} s)`);
  t.ok(rms(heardAfter) > 1000, `the other terminal still hears the tone (rms ${Math.round(rms(heardAfter))})`);

  const client = await BfcpClient.start({ transport: 'tcp', port: bfcp.port, conferenceId: bfcp.conferenceId, userId: bfcp.userId });
  t.teardown(() => client.close());
  const grant = client.nextNotification(granted, 'Granted');
  await client.request('request', 'FloorRequest');
  await grant;
  t.equal(floors.server.presenter(bfcp.conferenceId), bfcp.userId, 'the terminal that added content may present');
  await Promise.all([hangUp('Later', later), hangUp('Plain', plain)]);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});

t.test("the floor holder's slides reach the other terminal's content line; released, the forwarding stops", async (t) => {
  const a = await openTerminals(t, 'audio', 'video');
  const b = await openTerminals(t, 'audio', 'video');
  const slidesFrom = await freePort();
  const receiver = await contentReceiver(t);
  const presenter = await joinWithContent(target, room.number, 'Slides', contentOffer({ audio: a.audio.port, video: a.video.port, content: slidesFrom }, 'TCP/BFCP', 109));
  const viewer = await joinWithContent(target, room.number, 'Viewer', contentOffer({ audio: b.audio.port, video: b.video.port, content: receiver.port }, 'TCP/BFCP', 109));
  const contentPort = contentLine(parseSdp(presenter.answer).media)?.port ?? 0;
  t.ok(contentPort > 0, 'the presenter has a content port');
  const slides = startSlides(t, 'red', slidesFrom, contentPort);
  // The presenter sends before it holds the floor (some terminals do): nothing is forwarded yet.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.equal(receiver.packets(), 0, 'without the floor, nothing reaches the other content line');

  const ids = bfcpOf(presenter.answer);
  const client = await BfcpClient.start({ transport: 'tcp', port: ids.port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => client.close());
  const grant = client.nextNotification(granted, 'Granted');
  const request = await client.request('request', 'FloorRequest');
  await grant;
  await waitFor('red slides on the viewer', 20_000, () => receiver.screen.nameAt(0.5, 0.5) === 'red').catch(() => undefined);
  t.equal(receiver.screen.nameAt(0.5, 0.5), 'red', `the viewer's content line decodes the presenter's red slides (${receiver.screen.frames} frames, ${receiver.packets()} packets)`);
  t.equal(receiver.screen.nameAt(0.1, 0.1), 'red', 'the whole picture');

  const release = await client.request(`release ${floorRequestId(request) ?? 0}`, 'FloorRelease');
  t.equal(overallStatus(release), 'Released', 'the presenter releases the floor');
  // Stopped: a second without packets, then none for two more while the slides are still sent.
  let last = receiver.packets();
  let lastChange = Date.now();
  await waitFor('the forwarding to stop', 10_000, () => {
    if (receiver.packets() !== last) {
      last = receiver.packets();
      lastChange = Date.now();
    }
    return Date.now() - lastChange > 1000;
  });
  const stoppedAt = receiver.packets();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.equal(slides.exitCode, null, 'the presenter still sends slides');
  t.equal(receiver.packets(), stoppedAt, 'released: nothing more is forwarded');

  // Asked again, the floor brings the slides back (the stop was the release).
  const grantAgain = client.nextNotification(granted, 'Granted again');
  await client.request('request', 'FloorRequest');
  await grantAgain;
  await waitFor('slides again', 15_000, () => receiver.packets() > stoppedAt + 20);
  t.ok(receiver.packets() > stoppedAt + 20, 'the floor granted again forwards the slides again');

  await Promise.all([hangUp('Slides', presenter), hangUp('Viewer', viewer)]);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  // Nothing of the content lines is left on the worker: its routers (the meeting's, the legs' own) are gone.
  const worker = box.pool?.workers[0];
  const routers = await waitFor('the routers to close', 5000, async () => {
    const left = (await worker?.dump())?.routerIds.length;
    return left === 0 ? left : undefined;
  }).catch(async () => (await worker?.dump())?.routerIds.length);
  t.equal(routers, 0, 'no router left on the worker');
});

t.test("an IVR caller with content and BFCP lines is moved into the meeting with both declined", async (t) => {
  const sockets = await openTerminals(t, 'audio', 'video', 'content');
  const access = box.settings.get('call.ivrAccessNumber') as string;
  // With telephone-event, for the keys (RFC 4733).
  const media = contentOffer({ audio: sockets.audio.port, video: sockets.video.port, content: sockets.content.port }, 'TCP/BFCP').replace(
    'RTP/AVP 0\na=rtpmap:0 PCMU/8000',
    'RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15',
  );
  const call = await joinMeeting(target, { dial: access, name: 'Ivr', media, hold: 3000, scenario: 'meeting-join-heal.xml' });
  // Keys once the welcome prompt plays (the IVR takes them from then on).
  await waitFor('the welcome prompt', 5000, () => sockets.audio.received.length > 25);
  await sockets.audio.sendDtmf(call.answeredPort, `${room.number}#`);
  // The room has a host PIN and no guest PIN: the IVR asks for one or lets a guest in; key the host PIN if asked.
  const moved = await call.movedPort(4000).catch(async () => {
    await sockets.audio.sendDtmf(call.answeredPort, '4455#');
    return call.movedPort(12_000);
  });
  t.ok(moved > 0, `moved into the meeting's media (port ${moved})`);
  const reoffer = parseSdp(call.movedSdp());
  t.equal(reoffer.media.length, 4, "the box's re-INVITE has the caller's four lines");
  t.ok((reoffer.media[0]?.port ?? 0) > 0, 'audio served');
  t.equal(reoffer.media[2]?.port, 0, 'the content line declined');
  t.equal(reoffer.media[3]?.port, 0, 'the BFCP line declined');
  t.notOk(/a=confid/.test(call.movedSdp()), 'no floor IDs');
  t.ok((await call.result).ok, 'the caller hangs up normally');
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});
