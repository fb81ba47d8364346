/**
 * SIP terminals in one meeting through the real media path: sipp places the calls (signaling
 * service → SIP application → media control socket → mediasoup PlainTransports → audio mixer),
 * the test's own RTP sockets are the terminals' media. Each terminal sends a different tone
 * and must hear the other's (mixed, re-encoded in its own codec) and not its own. Also: the
 * rejections (wrong PIN, no PIN, locked, full, unknown meeting, unsupported codec, SRTP
 * policy), removal by the box and the RTP timeout.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { MeetingRecords } from '../../server/cdr/meeting-records.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { afterSilence, dominantFrequency, rms } from '../helpers/ffmpeg.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { joinMeeting, pcmaMedia, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';

const box = await startSipBox({ media: { rtpTimeoutMs: 4000 } });
t.teardown(() => box.close());
const vmrs = new VmrStore(box.db);
const room = vmrs.create({ name: 'Audio room', number: '880001', hostPin: '1234', guestPin: '5678', capacity: 2 });
const target = `127.0.0.1:${box.port}`;

t.test('two terminals in a VMR hear each other (mixed, each in its own codec) and not themselves', async (t) => {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const toneA = await g711Tone('mulaw', 440, 3);
  const toneB = await g711Tone('alaw', 1000, 3);

  const legA = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Alice', media: pcmuMedia(a.port), hold: 5000 });
  // The second terminal dials with the PIN percent-encoded, as some terminals send it.
  const legB = await joinMeeting(target, { dial: `${room.number}%2A%2A5678`, name: 'Bob', media: pcmaMedia(b.port), hold: 5000 });

  const live = box.app.live.get(room.number);
  t.ok(live, 'the meeting is live');
  t.same(
    [...(live?.participants.values() ?? [])].map((p) => [p.displayName, p.role]).sort(),
    [
      ['Alice', 'host'],
      ['Bob', 'guest'],
    ],
    'host PIN makes a host, guest PIN a guest',
  );

  await Promise.all([
    a.send(legA.answeredPort, toneA, { payloadType: 0, frameBytes: 160, timestampStep: 160 }),
    b.send(legB.answeredPort, toneB, { payloadType: 8, frameBytes: 160, timestampStep: 160 }),
  ]);

  const snapshot = await box.media?.snapshot(room.number);
  const participants = snapshot?.[0]?.participants ?? [];
  t.equal(participants.length, 2, 'the media service has both legs');
  t.same(participants.map((p) => p.audioCodec).sort(), ['PCMA', 'PCMU'], 'each leg keeps the codec it offered');
  t.ok(participants.every((p) => p.packetsIn > 100), `the box received both streams (${participants.map((p) => p.packetsIn).join(', ')} packets)`);

  t.ok(a.received.length > 100, `A received ${a.received.length} RTP packets`);
  t.ok(b.received.length > 100, `B received ${b.received.length} RTP packets`);
  t.ok(a.received.every((p) => p.payloadType === 0), 'A gets PCMU (its payload type)');
  t.ok(b.received.every((p) => p.payloadType === 8), 'B gets PCMA (its payload type)');

  // From when each first hears sound (the other side may start late on a loaded machine).
  const heardByA = afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 2);
  const heardByB = afterSilence(await decodeG711('alaw', b.payloadOf(8)), 8000, 2);
  const fA = dominantFrequency(heardByA, 8000);
  const fB = dominantFrequency(heardByB, 8000);
  t.ok(rms(heardByA) > 1000, `A hears sound (rms ${Math.round(rms(heardByA))})`);
  t.ok(rms(heardByB) > 1000, `B hears sound (rms ${Math.round(rms(heardByB))})`);
  t.ok(Math.abs(fA - 1000) < 60, `A hears B's 1000 Hz tone, not its own 440 Hz (measured ${Math.round(fA)} Hz)`);
  t.ok(Math.abs(fB - 440) < 40, `B hears A's 440 Hz tone, not its own 1000 Hz (measured ${Math.round(fB)} Hz)`);

  const [resultA, resultB] = await Promise.all([legA.result, legB.result]);
  t.ok(resultA.ok, `A's call ends cleanly ${resultA.errors}`);
  t.ok(resultB.ok, `B's call ends cleanly ${resultB.errors}`);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  t.equal(box.media?.meetingCount, 0, 'the router is gone with the last participant');
  const records = box.db.prepare("SELECT type, callee, outcome FROM call_records WHERE callee = ? ORDER BY id").all(room.number) as { type: string; outcome: string }[];
  t.same(
    records.map((r) => [r.type, r.outcome]),
    [
      ['vmr', 'answered'],
      ['vmr', 'answered'],
    ],
    'one call record per leg',
  );
  const [meetingRecord] = new MeetingRecords(box.db).list(1);
  t.match(meetingRecord, { number: room.number, kind: 'vmr', subject: 'Audio room', participantsTotal: 2, participantsMax: 2 }, 'and one record for the meeting');
  t.ok(meetingRecord?.endedAt && (meetingRecord.durationSeconds ?? -1) >= 4, `the meeting record is closed (${meetingRecord?.durationSeconds} s)`);
});

t.test('callers who may not join are refused with a clear status and reason', async (t) => {
  const media = pcmuMedia(40000);
  const refuse = async (dial: string, status: number, reason: string, mediaLines = media) => {
    const result = await runSipp({ scenario: scenarioWith('meeting-refused.xml', { dial, status: String(status), reason, media: mediaLines }), target, transport: 'u1' });
    t.ok(result.ok, `${dial} → ${status} ${reason} ${result.errors}`);
  };
  await refuse(`${room.number}**9999`, 403, 'Forbidden - wrong meeting PIN');
  await refuse(room.number, 403, 'Forbidden - this meeting needs a PIN');
  await refuse('77777777', 404, 'Not Found - no such meeting');
  await refuse(`${room.number}**1234`, 488, 'Not Acceptable Here - none of the offered audio codecs', 'm=audio 40000 RTP/AVP 18\na=rtpmap:18 G729/8000');

  box.settings.update({ 'call.srtp': 'required' }, { actor: 'test' });
  await refuse(`${room.number}**1234`, 488, 'Not Acceptable Here - this box requires SRTP');
  box.settings.update({ 'call.srtp': 'optional' }, { actor: 'test' });

  // Locked: the meeting must be live to be locked; one terminal holds it open.
  const { a } = await openTerminals(t, 'a');
  const leg = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Holder', media: pcmuMedia(a.port), hold: 3000 });
  const live = box.app.live.get(room.number);
  if (live) live.locked = true;
  await refuse(`${room.number}**5678`, 403, 'Call Rejected - the meeting is locked');
  if (live) live.locked = false;
  // Capacity 2: a second participant fills the room, a third is refused.
  const second = await joinMeeting(target, { dial: `${room.number}**5678`, name: 'Second', media: pcmuMedia(a.port), hold: 2000 });
  await refuse(`${room.number}**5678`, 486, 'Busy Here - the meeting is full \\(2 participants\\)');
  t.ok((await leg.result).ok, 'the holder leaves normally');
  t.ok((await second.result).ok, 'the second leaves normally');
});

t.test('the box hangs up a participant it removes, and one whose RTP stops', async (t) => {
  const { a } = await openTerminals(t, 'a');
  const removed = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Removed', media: pcmuMedia(a.port), hold: 8000, scenario: 'meeting-join-remote-bye.xml' });
  const live = box.app.live.get(room.number);
  const participant = [...(live?.participants.values() ?? [])][0];
  t.ok(participant, 'the participant is live');
  // Keep its RTP flowing while it is removed, so only the removal ends it.
  const sending = a.send(removed.answeredPort, await g711Tone('mulaw', 440, 1), { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  participant?.hangUp('removed by the administrator');
  t.ok((await removed.result).ok, 'the terminal got a BYE from the box');
  await sending;

  // A terminal that never sends RTP is hung up after the RTP timeout (4 s in this test).
  const silent = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Silent', media: pcmuMedia(a.port), hold: 10_000, scenario: 'meeting-join-remote-bye.xml' });
  const result = await silent.result;
  t.ok(result.ok, `the silent terminal got a BYE ${result.errors}`);
  t.match(result.messages, /Reason: SIP;cause=200;text="no media received \(RTP timeout\)"/, 'the BYE says why');
});

t.test('console: the live meeting with its participants, mute, lock and remove', async (t) => {
  const secrets = mkdtempSync(path.join(os.tmpdir(), 'vcbox-secrets-'));
  await new AdminStore(box.db).ensureInitialAdmin(secrets);
  const base = await startConsoleApi(t, { state: { db: box.db, settings: box.settings }, live: box.app.live, ...(box.mediaClient ? { media: box.mediaClient.media } : {}), keepDb: true });
  const client = new ConsoleClient(base);
  t.equal((await client.login('admin', readFileSync(path.join(secrets, 'initial-admin-password'), 'utf8').trim())).status, 200);

  const { a, b } = await openTerminals(t, 'a', 'b');
  const legA = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Anna', media: pcmuMedia(a.port), hold: 15_000, scenario: 'meeting-join-remote-bye.xml' });
  const legB = await joinMeeting(target, { dial: `${room.number}**5678`, name: 'Ben', media: pcmaMedia(b.port), hold: 15_000, scenario: 'meeting-join-remote-bye.xml' });

  const listed = await client.call('GET', '/api/v1/live-meetings');
  t.equal(listed.status, 200);
  const meeting = listed.body.find((m: { number: string }) => m.number === room.number);
  t.match(meeting, { kind: 'vmr', subject: 'Audio room', locked: false }, 'the VMR is listed as live');
  const anna = meeting.participants.find((p: { displayName: string }) => p.displayName === 'Anna');
  const ben = meeting.participants.find((p: { displayName: string }) => p.displayName === 'Ben');
  t.match(anna, { role: 'host', type: 'sip', audioCodec: 'PCMU', muted: false, quality: 'good' });
  t.match(ben, { role: 'guest', audioCodec: 'PCMA' });

  // Ben muted: Anna hears nothing while Ben talks, Ben still hears Anna.
  const muted = await client.call('POST', `/api/v1/live-meetings/${room.number}/mute`, { muted: true, participantId: ben.id });
  t.equal(muted.status, 200);
  t.ok(muted.body.participants.find((p: { id: string }) => p.id === ben.id).muted, 'Ben shows as muted');
  await Promise.all([
    a.send(legA.answeredPort, await g711Tone('mulaw', 440, 2), { payloadType: 0, frameBytes: 160, timestampStep: 160 }),
    b.send(legB.answeredPort, await g711Tone('alaw', 1000, 2), { payloadType: 8, frameBytes: 160, timestampStep: 160 }),
  ]);
  const heardByA = await decodeG711('mulaw', a.payloadOf(0, 25));
  const heardByB = await decodeG711('alaw', b.payloadOf(8, 25));
  t.ok(rms(heardByA) < 200, `Anna hears silence from muted Ben (rms ${Math.round(rms(heardByA))}, ${Math.round(dominantFrequency(heardByA, 8000))} Hz)`);
  t.ok(rms(heardByB) > 1000, `Ben still hears Anna (rms ${Math.round(rms(heardByB))})`);

  const locked = await client.call('POST', `/api/v1/live-meetings/${room.number}/lock`, { locked: true });
  t.equal(locked.body.locked, true, 'the meeting is locked');
  const refused = await runSipp({
    scenario: scenarioWith('meeting-refused.xml', { dial: `${room.number}**5678`, status: '403', reason: 'Call Rejected - the meeting is locked', media: pcmuMedia(40000) }),
    target,
    transport: 'u1',
  });
  t.ok(refused.ok, `a new caller is rejected while locked ${refused.errors}`);

  t.equal((await client.call('DELETE', `/api/v1/live-meetings/${room.number}/participants/${anna.id}`)).status, 204, 'Anna removed');
  t.ok((await legA.result).ok, 'Anna got a BYE');
  t.equal((await client.call('DELETE', `/api/v1/live-meetings/${room.number}/participants/${anna.id}`)).status, 404, 'removing her again: not found');
  t.equal((await client.call('DELETE', `/api/v1/live-meetings/${room.number}/participants/${ben.id}`)).status, 204, 'Ben removed');
  t.ok((await legB.result).ok, 'Ben got a BYE');
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  t.equal((await client.call('GET', `/api/v1/live-meetings/${room.number}`)).status, 404, 'an ended meeting is not live');
  const audit = box.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'meeting.%' ORDER BY id").all() as { action: string }[];
  t.same(
    audit.map((r) => r.action),
    ['meeting.mute', 'meeting.lock', 'meeting.remove-participant', 'meeting.remove-participant'],
    'each control action is in the audit log',
  );
});
