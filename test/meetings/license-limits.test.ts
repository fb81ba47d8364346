/**
 * The licence at meeting join, from the callers' side: with a licence for 1 concurrent
 * participant, a sipp terminal in a VMR holds the only port; a second terminal is refused with
 * 486 and the reason (status line and Reason header), a browser joining by the join page's
 * WebSocket is refused with the `license-ports` reason. Once the first has left, a terminal
 * offering audio and video gets video; after the licence has expired (the licence's clock is
 * the test's) the same offer is answered with video declined (m=video 0) — audio only.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { issueLicense } from '../../server/license/license-format.ts';
import { openLicense } from '../../server/license/open-license.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { joinMeeting, pcmuMedia, pcmuVp8Media, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpFirstParticipant, startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';

const FIXTURES = path.join(PROJECT_ROOT, 'test/fixtures/license');
let now = new Date();
const box = await startSipBox({
  media: {},
  license: (db, dir) => {
    const machineIdFile = path.join(dir, 'machine-id');
    writeFileSync(machineIdFile, randomBytes(16).toString('hex'));
    return openLicense({ db, identityDir: path.join(dir, 'identity'), testPublicKeyFile: path.join(FIXTURES, 'test-public.pem'), machineIdFile, clock: () => now });
  },
});
t.teardown(() => box.close());
const license = box.license;
if (!license) throw new Error('the box has no licence');
const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
license.store.activate(
  issueLicense(
    { v: 1, serial: 'VCB-TEST-0200', boxId: license.store.boxId, ports: 1, validFrom: iso(new Date(now.getTime() - 86_400_000)), validUntil: iso(new Date(now.getTime() + 30 * 86_400_000)), issuedAt: iso(now) },
    createPrivateKey(readFileSync(path.join(FIXTURES, 'test-private.pem'), 'utf8')),
  ),
  { actor: 'test' },
);
const room = new VmrStore(box.db).create({ name: 'Licensed room', number: '880077', hostPin: '1234', guestPin: '5678', capacity: 10 });
const base = await startConsoleApi(t, {
  ...boxConsoleOptions(box),
});
const target = `127.0.0.1:${box.port}`;
const participants = () => box.app.live.get(room.number)?.participants.size ?? 0;

/** A browser's join request over the join page's WebSocket; resolves with the answer. */
async function browserJoin(): Promise<{ result?: unknown; error?: { code: string; message: string; refusal?: string } }> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/join/ws`);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  const answer = new Promise<string>((resolve) => {
    socket.onmessage = (event) => resolve(String(event.data));
  });
  socket.send(JSON.stringify({ id: 1, method: 'join', params: { number: room.number, pin: '5678', name: 'Browser' } }));
  const text = await Promise.race([answer, new Promise<string>((_, reject) => setTimeout(() => reject(new Error('no answer')), 10_000))]);
  socket.close();
  return JSON.parse(text);
}

t.test('the participant beyond the licence is refused, by SIP and by the join page', async (t) => {
  const { a } = await openTerminals(t, 'a');
  const first = await joinMeeting(target, { dial: `${room.number}**5678`, name: 'First', media: pcmuMedia(a.port), hold: 60_000, scenario: 'meeting-join-remote-bye.xml' });
  await waitFor('the first participant in the meeting', 5000, () => participants() === 1);

  const refused = await runSipp({
    scenario: scenarioWith('meeting-refused.xml', {
      dial: `${room.number}**5678`,
      status: '486',
      reason: "Busy Here - all 1 concurrent participants the box's licence allows are in meetings",
      media: pcmuMedia(40000),
    }),
    target,
    transport: 'u1',
  });
  t.ok(refused.ok, `the second terminal gets 486 with the reason ${refused.errors}`);
  t.match(refused.messages, /Reason: SIP;cause=486;text="All 1 concurrent participants the box's licence allows are in meetings\. Try again when someone has left/, 'and a Reason header saying what to do');

  const browser = await browserJoin();
  t.match(browser.error, { code: 'VCBOX_ERR_JOIN_REFUSED', refusal: 'license-ports', message: /concurrent participants the box's licence allows/ }, 'the browser is refused too');
  t.equal(participants(), 1, 'still one participant');

  // The first leaves (removed by the box): the port is free again.
  await hangUpFirstParticipant(box, room.number, 'test over');
  t.ok((await first.result).ok, 'the first terminal got its BYE');
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);
});

t.test('video while the licence is active, audio only once it has expired', async (t) => {
  const { v } = await openTerminals(t, 'v');
  const withVideo = await joinMeeting(target, { dial: `${room.number}**5678`, name: 'Video', media: pcmuVp8Media(v.port, v.port + 2), hold: 60_000, scenario: 'meeting-join-remote-bye.xml' });
  t.ok(withVideo.answeredVideoPort > 0, `active: video answered on port ${withVideo.answeredVideoPort}`);
  await hangUpFirstParticipant(box, room.number, 'next');
  await withVideo.result;
  await waitFor('the meeting to end', 5000, () => box.app.live.get(room.number) === undefined);

  now = new Date(now.getTime() + 31 * 86_400_000);
  t.equal(license.store.facts().status, 'expired');
  const audioOnly = await joinMeeting(target, { dial: `${room.number}**5678`, name: 'Audio', media: pcmuVp8Media(v.port, v.port + 2), hold: 60_000, scenario: 'meeting-join-remote-bye.xml' });
  t.equal(audioOnly.answeredVideoPort, 0, 'expired: the video stream is declined (m=video 0)');
  t.ok(audioOnly.answeredPort > 0, 'and audio answered');
  await hangUpFirstParticipant(box, room.number, 'done');
  t.ok((await audioOnly.result).ok);
});
