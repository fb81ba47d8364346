/**
 * Self-view exclusion (setting `call.selfViewExclusionMax`): in a meeting with no more SIP
 * video participants than the setting, each of them gets a composed picture without itself
 * (one composition each); above it, everyone shares one picture again. Two ffmpeg cameras (red,
 * lime) and a viewer whose video port is an ffmpeg screen: the viewer's picture has only the
 * two cameras, in the panes the screen shows.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { joinMeeting, type MeetingTerminal, pcmuVp8Media, UNTIL_HUNG_UP, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';
import { Screen, startCamera } from '../helpers/video-peer.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': '360P/30', 'call.selfViewExclusionMax': 3 }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Self view', number: '880012', hostPin: '1122', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;

t.test('each SIP participant sees the others, not itself, while the meeting is small', async (t) => {
  const audio = await openTerminals(t, 'a', 'b', 'viewer', 'late');
  const legs: MeetingTerminal[] = [];
  for (const [key, colour, name] of [['a', 'red', 'Red'], ['b', 'lime', 'Lime']] as const) {
    const videoPort = await freePort();
    const leg = await joinMeeting(target, { dial: room.number, name, media: pcmuVp8Media(audio[key].port, videoPort), ...UNTIL_HUNG_UP });
    startCamera(t, colour, videoPort, leg.answeredVideoPort);
    legs.push(leg);
  }
  const screenPort = await freePort();
  const screen = new Screen(t, screenPort);
  const viewer = await joinMeeting(target, { dial: room.number, name: 'Viewer', media: pcmuVp8Media(audio.viewer.port, screenPort), ...UNTIL_HUNG_UP });
  legs.push(viewer);
  const ids = Object.fromEntries([...(box.app.live.get(room.number)?.participants.values() ?? [])].map((p) => [p.displayName, p.id]));
  const panesOf = (id: string) => box.media?.pictureState(room.number, id)?.panes.map((p) => p.participantId) ?? [];
  await waitFor('three pictures', 10_000, () => box.media?.pictureState(room.number)?.pictures === 3).catch(() => undefined);
  t.equal(box.media?.pictureState(room.number)?.pictures, 3, 'one picture per SIP video participant');
  await waitFor("the viewer's picture", 10_000, () => panesOf(ids.Viewer ?? '').join() === [ids.Red, ids.Lime].join()).catch(() => undefined);
  t.same(panesOf(ids.Viewer ?? ''), [ids.Red, ids.Lime], "the viewer's picture: the two cameras, not itself");
  t.notOk(panesOf(ids.Red ?? '').includes(ids.Red ?? ''), "Red's picture leaves Red out");
  await waitFor('red and lime on the screen', 10_000, () => screen.nameAt(0.25, 0.25) === 'red' && screen.nameAt(0.75, 0.25) === 'lime').catch(() => undefined);
  t.equal(`${screen.nameAt(0.25, 0.25)} ${screen.nameAt(0.75, 0.25)}`, 'red lime', 'the viewer sees Red and Lime in the first two panes');

  // A fourth SIP video participant: above the setting, one shared picture again.
  const late = await joinMeeting(target, { dial: room.number, name: 'Late', media: pcmuVp8Media(audio.late.port, await freePort()), hold: 5_000 });
  await waitFor('one shared picture', 5000, () => box.media?.pictureState(room.number)?.pictures === 1).catch(() => undefined);
  t.equal(box.media?.pictureState(room.number)?.pictures, 1, 'four participants > 3: one shared picture');
  const lateResult = await late.result;
  hangUpEveryone(box, room.number);
  const results = [lateResult, ...(await Promise.all(legs.map((leg) => leg.result)))];
  t.ok(results.every((r) => r.ok), `every call ends normally (the late one by itself, the others hung up by the box) ${results.map((r) => r.errors).join('')}`);
});
