/**
 * Polling in a composed picture: five participants in a 2×2 layout (one SIP terminal with
 * video receiving the picture, four audio-only terminals shown as "no video" panes) — four
 * panes at a time, rotated every `call.polling.intervalSeconds` (5 s, the minimum) round-robin,
 * so the one left out comes in at the next turn and everyone is shown within two turns.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { joinMeeting, type MeetingTerminal, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.settings.update({ 'call.maxVideoResolution': 'CIF', 'call.polling.intervalSeconds': 5, 'call.polling.rule': 'round-robin' }, { actor: 'test' });
const room = new VmrStore(box.db).create({ name: 'Polling', number: '880016', hostPin: '1122', guestPin: '', capacity: 10, layout: '2x2' });
const target = `127.0.0.1:${box.port}`;

t.test('more participants than panes: the panes rotate at the polling interval', async (t) => {
  const audio = await openTerminals(t, 'viewer', 'a', 'b', 'c', 'd');
  const legs: MeetingTerminal[] = [];
  const videoPort = await freePort();
  legs.push(await joinMeeting(target, { dial: room.number, name: 'Viewer', media: `${pcmuMedia(audio.viewer.port)}\nm=video ${videoPort} RTP/AVP 97\na=rtpmap:97 VP8/90000`, hold: 16_000 }));
  for (const key of ['a', 'b', 'c', 'd'] as const) legs.push(await joinMeeting(target, { dial: room.number, name: `Phone ${key}`, media: pcmuMedia(audio[key].port), hold: 16_000 }));
  const shown = () => (box.media?.pictureState(room.number)?.panes ?? []).map((p) => p.participantId).join(',');
  await waitFor('four panes', 5000, () => (box.media?.pictureState(room.number)?.panes.length ?? 0) === 4 || undefined).catch(() => undefined);
  const first = shown();
  t.equal(first.split(',').length, 4, 'four of the five participants are on the picture');
  const everyone = new Set(first.split(','));
  await waitFor('the first turn', 8000, () => shown() !== first || undefined).catch(() => undefined);
  const second = shown();
  t.not(second, first, 'after the polling interval other participants are shown');
  t.equal(second.split(',').length, 4, 'still four panes');
  for (const id of second.split(',')) everyone.add(id);
  t.equal(everyone.size, 5, 'within one turn every participant has been on the picture');
  const results = await Promise.all(legs.map((leg) => leg.result));
  t.ok(results.every((r) => r.ok), 'every call ends normally');
});
