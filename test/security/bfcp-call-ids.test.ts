/**
 * A LAN attacker at the BFCP ports the box opens for calls (issue #19): conference and user IDs
 * nobody was given, the presenter's own IDs from another connection, and the IDs of a call that
 * has ended are refused with an Error (libre's BFCP client as the attacker's tool), while the
 * presenter keeps the floor and both calls go on (the presenter's tone is still heard).
 */
import t from 'tap';
import { parseSdp } from '../../media/sdp/sip-sdp.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { BfcpClient, type BfcpClientEvent, errorCode, overallStatus } from '../helpers/bfcp-client.ts';
import { bfcpOf, type ContentTerminal, contentOffer, joinWithContent } from '../helpers/content-terminal.ts';
import { rms } from '../helpers/ffmpeg.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'BFCP attack room', number: '880191', hostPin: '4466', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const floors = box.app.floors;
if (!floors) throw new Error('the box has no BFCP floor control');

const granted = (e: BfcpClientEvent) => e.prim === 'FloorRequestStatus' && overallStatus(e) === 'Granted';

function participantOf(name: string) {
  return [...(box.app.live.get(room.number)?.participants.values() ?? [])].find((p) => p.displayName === name);
}

async function hangUp(name: string, terminal: ContentTerminal): Promise<void> {
  participantOf(name)?.hangUp('test over');
  await terminal.result;
}

t.test("wrong conference or user IDs are refused over BFCP; the call and the presenter's floor go on", async (t) => {
  const a = await openTerminals(t, 'audio', 'video', 'content');
  const b = await openTerminals(t, 'audio', 'video', 'content');
  const presenter = await joinWithContent(target, room.number, 'Presenter', contentOffer({ audio: a.audio.port, video: a.video.port, content: a.content.port }, 'TCP/BFCP'));
  const other = await joinWithContent(target, room.number, 'Other', contentOffer({ audio: b.audio.port, video: b.video.port, content: b.content.port }, 'TCP/BFCP'));
  const ids = bfcpOf(presenter.answer);
  const otherIds = bfcpOf(other.answer);
  t.equal(otherIds.conferenceId, ids.conferenceId, 'both participants are in the meeting’s one conference');
  t.not(otherIds.userId, ids.userId, 'each with a user ID of its own');
  const port = ids.port;

  const client = await BfcpClient.start({ transport: 'tcp', port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => client.close());
  const grant = client.nextNotification(granted, 'Granted');
  await client.request('request', 'FloorRequest');
  await grant;

  const wrongConference = await BfcpClient.start({ transport: 'tcp', port, conferenceId: (ids.conferenceId % 0x7ffffffe) + 1, userId: ids.userId });
  t.teardown(() => wrongConference.close());
  const refused1 = await wrongConference.request('request', 'FloorRequest');
  t.equal(refused1.prim, 'Error', 'a wrong conference ID gets an Error');
  t.equal(errorCode(refused1), 1, 'Conference does not Exist');
  const nobody = [1, 2, 3].find((id) => id !== ids.userId && id !== otherIds.userId) ?? 3;
  const wrongUser = await BfcpClient.start({ transport: 'tcp', port, conferenceId: ids.conferenceId, userId: nobody });
  t.teardown(() => wrongUser.close());
  const refused2 = await wrongUser.request('request', 'FloorRequest');
  t.equal(refused2.prim, 'Error', 'a user ID nobody was given gets an Error');
  t.equal(errorCode(refused2), 2, 'User does not Exist');
  const stolen = await BfcpClient.start({ transport: 'tcp', port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => stolen.close());
  const refused3 = await stolen.request('release 1', 'FloorRelease');
  t.equal(refused3.prim, 'Error', "the presenter's user ID from another connection gets an Error");
  t.equal(errorCode(refused3), 5, 'Unauthorized Operation');
  t.equal(floors.server.presenter(ids.conferenceId), ids.userId, 'the presenter still holds the floor');

  // The calls go on: the presenter's tone reaches the other terminal.
  const tone = await g711Tone('mulaw', 440, 1.5);
  await a.audio.send(parseSdp(presenter.answer).media[0]?.port ?? 0, tone, { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  await waitFor('the other terminal to hear audio', 5000, () => b.audio.received.length > 20);
  const heard = await decodeG711('mulaw', b.audio.payloadOf(0));
  t.ok(rms(heard) > 500, `the other terminal hears the presenter (rms ${Math.round(rms(heard))})`);
  t.ok(participantOf('Presenter') && participantOf('Other'), 'both calls are up');

  // A call that ended: its IDs are refused from then on.
  await hangUp('Other', other);
  const late = await BfcpClient.start({ transport: 'tcp', port, conferenceId: ids.conferenceId, userId: otherIds.userId });
  t.teardown(() => late.close());
  const refused4 = await late.request('request', 'FloorRequest');
  t.equal(refused4.prim, 'Error', 'the user ID of a call that ended gets an Error');
  t.equal(errorCode(refused4), 2, 'User does not Exist');
  t.equal(floors.server.presenter(ids.conferenceId), ids.userId, 'the presenter still holds the floor');
  t.ok(participantOf('Presenter'), "the presenter's call is up");
  await hangUp('Presenter', presenter);
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
  const ended = await BfcpClient.start({ transport: 'tcp', port, conferenceId: ids.conferenceId, userId: ids.userId });
  t.teardown(() => ended.close());
  const refused5 = await ended.request('request', 'FloorRequest');
  t.equal(errorCode(refused5), 1, "the meeting over, its conference is gone (Conference does not Exist)");
});

