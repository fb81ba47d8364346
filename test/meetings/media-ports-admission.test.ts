/**
 * The MCU port range at meeting join (the manual's rule, server/meetings/media-ports.ts: a call
 * takes 6 ports, 8 with content): against a real SIP box and its console API over loopback,
 * with the live meetings holding as many calls as `media.mcuPorts` fits (participants of
 * another meeting stand in for them — the admission counts the live registry, as the
 * dashboard does), a sipp terminal dialling a VMR is refused with 486 and the reason (status
 * line and Reason header, saying what to do), and a browser joining by the join page's
 * WebSocket is refused with VCBOX_ERR_MEDIA_PORTS_FULL — not a 500 from inside the media
 * service. Once one call has left, the same terminal is answered; the dashboard reports the
 * ports in use by the same rule. A browser whose first screen share would take its call from 6
 * to 8 ports while the range has not 2 left is refused in words (the floor untouched); with a
 * call's ports free it shares.
 */
import t from 'tap';
import { rangeSize } from '../../server/meetings/media-ports.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { JoinSocket, screenRtpParameters as screen } from '../helpers/join-socket.ts';
import { joinMeeting, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpFirstParticipant, startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';

const box = await startSipBox({ media: {}, bfcp: true });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'Ports room', number: '880196', hostPin: '1144', guestPin: '', capacity: 10 });
await new AdminStore(box.db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const base = await startConsoleApi(t, boxConsoleOptions(box));
const target = `127.0.0.1:${box.port}`;

// The calls the range holds, as participants of a busy meeting.
const range = box.settings.get('media.mcuPorts');
const fits = Math.floor(rangeSize(range) / 6);
const busy = box.app.live.ensure({ number: '880197', kind: 'vmr', refId: 0, subject: 'Busy' });
for (let i = 0; i < fits; i++) {
  box.app.live.add(busy.number, { id: `stand-in-${i}`, displayName: `Stand-in ${i}`, account: null, role: 'guest', type: 'sip', callId: `stand-in-${i}`, source: '127.0.0.1:5999', transport: 'udp', joinedAt: new Date(), hangUp: () => undefined });
}

t.test('a newcomer no call of ports is left for is refused in words, by SIP and by the join page', async (t) => {
  const admin = new ConsoleClient(base);
  await admin.login('chief', 'Chief2026');
  const dashboard = await admin.call('GET', '/api/v1/dashboard');
  t.match(dashboard.body, { mediaPorts: { inUse: fits * 6, range: rangeSize(range), callsThatFit: 0 } }, `the dashboard: ${fits} calls take ${fits * 6} of ${rangeSize(range)} ports, none more fits`);

  const refused = await runSipp({
    scenario: scenarioWith('meeting-refused.xml', { dial: room.number, status: '486', reason: `Busy Here - the box's media ports are all in use \\(${fits} calls\\)` /* a regular expression in the scenario */, media: pcmuMedia(40000) }),
    target,
    transport: 'u1',
  });
  t.ok(refused.ok, `the terminal gets 486 with the reason ${refused.errors}`);
  t.match(refused.messages, /Reason: SIP;cause=486;text="The box's media ports are all in use: the MCU port range \(media\.mcuPorts\) holds \d+ calls.*widen the range/, 'and a Reason header saying what to do');

  const browser = await JoinSocket.connect(base);
  t.teardown(() => browser.close());
  const joined = await browser.request('join', { number: room.number, name: 'Browser' });
  t.match(joined.error, { code: 'VCBOX_ERR_MEDIA_PORTS_FULL', message: /media ports are all in use/ }, 'the browser is refused in words');
  t.equal(box.app.live.get(room.number), undefined, 'the VMR did not stay live for nobody');

  // One call leaves: there is room for one again.
  box.app.live.remove(busy.number, 'stand-in-0', 'test');
  const { a } = await openTerminals(t, 'a');
  const terminal = await joinMeeting(target, { dial: room.number, name: 'Terminal', media: pcmuMedia(a.port), hold: 60_000, scenario: 'meeting-join-remote-bye.xml' });
  t.ok(terminal.answeredPort > 0, `with one call's ports free the terminal is answered (audio on ${terminal.answeredPort})`);
  const again = await browser.request('join', { number: room.number, name: 'Browser' });
  t.match(again.error, { code: 'VCBOX_ERR_MEDIA_PORTS_FULL' }, 'and the next newcomer is refused again: the terminal took that room');
  await hangUpFirstParticipant(box, room.number);
  t.ok((await terminal.result).ok, 'the terminal got its BYE');
});


t.test("a browser's first share needs the 2 more ports of a content call: refused in words when the range has not them", async (t) => {
  const floors = box.app.floors;
  if (!floors) throw new Error('the box has no BFCP floor control');
  for (const id of [...(box.app.live.get(busy.number)?.participants.keys() ?? [])]) box.app.live.remove(busy.number, id, 'test');
  const browser = await JoinSocket.connect(base);
  t.teardown(() => browser.close());
  const joined = await browser.request('join', { number: room.number, name: 'Presenter' });
  const presenterId = String(joined.result?.participantId);
  t.ok(joined.result?.participantId, 'the browser joins (6 ports)');

  // The rest of the range taken to 0 or 1 port: calls of 6 ports, and calls with content (8,
  // BFCP users of the busy meeting's floor) to make up the remainder.
  const size = rangeSize(range);
  const rest = size - 6 - ((size - 6) % 2);
  const withContent = { 0: 0, 2: 1, 4: 2 }[rest % 6] ?? 0;
  const plain = (rest - 8 * withContent) / 6;
  const stand = box.app.live.ensure({ number: busy.number, kind: 'vmr', refId: 0, subject: 'Busy' });
  for (let i = 0; i < plain + withContent; i++) {
    const id = `stand-in-${i}`;
    box.app.live.add(stand.number, { id, displayName: `Stand-in ${i}`, account: null, role: 'guest', type: 'sip', callId: id, source: '127.0.0.1:5999', transport: 'udp', joinedAt: new Date(), hangUp: () => undefined });
    if (i >= plain) {
      floors.reserve(stand.number, id);
      floors.admit(stand.number, id);
    }
  }
  const admin = new ConsoleClient(base);
  await admin.login('chief', 'Chief2026');
  const dashboard = await admin.call('GET', '/api/v1/dashboard');
  t.match(dashboard.body, { mediaPorts: { inUse: size - (size % 2), range: size } }, `${plain} calls of 6 and ${withContent} of 8 beside the browser leave ${size % 2} port`);

  const refused = await browser.request('shareContent', { rtpParameters: screen(4242) });
  t.match(refused.error, { code: 'VCBOX_ERR_MEDIA_PORTS_FULL', message: /media ports are all in use.*8 with content/ }, 'the share is refused in words');
  t.equal(floors.presenterOf(room.number), null, 'nobody took the floor');
  t.equal(floors.canPresent(room.number, presenterId), false, 'and the browser is not counted with content');

  // A call of 6 leaves: the share fits.
  box.app.live.remove(stand.number, 'stand-in-0', 'test');
  const shared = await browser.request('shareContent', { rtpParameters: screen(4343) });
  t.match(shared.result, { floor: 'granted' }, 'with ports free the same browser shares');
  t.equal(floors.presenterOf(room.number), presenterId, 'and holds the floor');
  const after = await admin.call('GET', '/api/v1/dashboard');
  t.match(after.body, { mediaPorts: { inUse: size - (size % 2) - 6 + 2 } }, 'its call now counts 8 ports');
  await browser.request('leave');
  for (const id of [...(box.app.live.get(stand.number)?.participants.keys() ?? [])]) box.app.live.remove(stand.number, id, 'test');
});
