/**
 * A participant's session owns its call record, media join, live registry entry and admission
 * seat, and its one close undoes all of them (issue #17). On a box whose licence allows one
 * concurrent participant: a direct caller whose offer the media cannot answer (G.729 only) is
 * refused with 488 and leaves behind no open call record, no live meeting and no seat — the
 * next caller takes the licence's only port; an IVR caller who keys its way in and hangs up
 * has a complete call record (answered, ended, the meeting as callee), as a direct caller has;
 * with the media service gone, a browser's and a terminal's joins fail and leave nothing either.
 */
import t, { type Test } from 'tap';
import { openLicense } from '../../server/license/open-license.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { keyDigits, promptStreamed } from '../helpers/ivr-caller.ts';
import { joinFromAddress } from '../helpers/join-socket.ts';
import { joinMeeting, pcmuMedia, waitFor } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { boxConsoleOptions, hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith } from '../helpers/sipp.ts';
import { TEST_LICENSE_PUBLIC_KEY_FILE, testLicenseText } from '../helpers/test-license.ts';

const box = await startSipBox({
  media: {},
  license: (db, dir) => {
    const license = openLicense({ db, identityDir: `${dir}/identity`, testPublicKeyFile: TEST_LICENSE_PUBLIC_KEY_FILE });
    license.store.activate(testLicenseText(license.store.boxId, { serial: 'VCB-TEST-0301', ports: 1 }), { actor: 'test' });
    return license;
  },
});
t.teardown(() => box.close());
box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box) });
const room = new VmrStore(box.db).create({ name: 'Session room', number: '880301', hostPin: '1234', guestPin: '4321', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const ACCESS = box.settings.get('call.ivrAccessNumber');

interface Row {
  type: string;
  caller: string;
  callee: string;
  answered_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  outcome: string | null;
}
const records = (): Row[] => box.db.prepare('SELECT type, caller, callee, answered_at, ended_at, duration_s, outcome FROM call_records WHERE callee = ? ORDER BY id').all(room.number) as Row[];

/** Nothing of a participant is left: no open record, no live meeting, no open session, no seat held. */
function nothingLeft(t: Test, when: string): void {
  t.same(records().filter((r) => r.ended_at === null), [], `${when}: no call record left open`);
  t.equal(box.app.live.get(room.number), undefined, `${when}: the meeting is not live (no registry entry)`);
  t.equal(box.app.sessions.openSessions, 0, `${when}: no participant session open`);
  t.equal(box.app.sessions.seatsHeld, 0, `${when}: no admission seat held`);
}

t.test('a direct caller whose media join fails leaves nothing behind; the next one takes the only port', async (t) => {
  const g729 = 'm=audio 40000 RTP/AVP 18\na=rtpmap:18 G729/8000';
  const refused = await runSipp({ scenario: scenarioWith('meeting-refused.xml', { dial: `${room.number}**4321`, status: '488', reason: 'Not Acceptable Here', media: g729 }), target, transport: 'u1' });
  t.ok(refused.ok, `488 for an offer the media cannot answer ${refused.errors}`);
  t.match(records(), [{ type: 'vmr', callee: room.number, answered_at: null, outcome: 'rejected' }], 'its call record is closed: rejected, never answered');
  nothingLeft(t, 'after the failed join');

  // The licence allows one participant: had the failed join kept its seat, this one would get 486.
  const { member } = await openTerminals(t, 'member');
  const call = await joinMeeting(target, { dial: `${room.number}**1234`, name: 'Member', media: pcmuMedia(member.port), hold: 2000 });
  t.ok(call.answeredPort > 0, 'the next caller is answered (the port was given back)');
  t.ok((await call.result).ok, 'and hangs up normally');
  await waitFor('the member gone', 5000, () => box.app.live.get(room.number) === undefined || undefined);
  t.match(records().at(-1), { outcome: 'answered' }, 'its record: answered');
  nothingLeft(t, 'after the caller hung up');
});

t.test('an IVR caller who joins and hangs up has a complete call record', async (t) => {
  const before = records().length;
  const { caller } = await openTerminals(t, 'caller');
  const call = await joinMeeting(target, { dial: ACCESS, name: 'Dialler', media: pcmuMedia(caller.port), hold: 3000, scenario: 'meeting-join-heal.xml' });
  t.equal(records().length, before, 'no record while the caller is in the IVR (it is in no meeting yet)');
  await waitFor('the welcome prompt', 10_000, () => promptStreamed(caller, 'en', 'welcome') || undefined);
  await keyDigits(caller, call.answeredPort, `${room.number}#`, 0);
  await waitFor('the PIN prompt', 10_000, () => promptStreamed(caller, 'en', 'enter-pin') || undefined);
  await keyDigits(caller, call.answeredPort, '4321#', 0);
  const moved = await call.movedPort(30_000);
  t.ok(moved > 0 && moved !== call.answeredPort, 'moved into the meeting by re-INVITE');
  await waitFor('the caller listed', 10_000, () => box.app.live.get(room.number)?.participants.size || undefined);
  t.ok((await call.result).ok, 'the caller hangs up');
  await waitFor('the caller gone', 5000, () => box.app.live.get(room.number) === undefined || undefined);
  const [record] = records().slice(before);
  t.match(record, { type: 'vmr', caller: 'Dialler', callee: room.number, outcome: 'answered' }, 'one record: the meeting as callee, answered');
  t.ok(record?.answered_at && record.ended_at && record.ended_at >= record.answered_at, 'answered, then ended');
  t.type(record?.duration_s, 'number', 'with its duration');
  t.equal(records().length, before + 1, 'exactly one record for the call');
  nothingLeft(t, 'after the IVR caller hung up');
});

t.test('with the media service gone, a browser and a terminal are refused and leave nothing behind', async (t) => {
  const before = records().length;
  box.control?.close();
  const web = await joinFromAddress(base, '127.0.0.61', { number: room.number, pin: '4321', name: 'Browser' });
  t.ok(web.error, `the browser's join fails (${web.error?.code})`);
  const sip = await runSipp({ scenario: scenarioWith('meeting-refused.xml', { dial: `${room.number}**4321`, status: '503', reason: 'Service Unavailable', media: pcmuMedia(40000) }), target, transport: 'u1' });
  t.ok(sip.ok, `the terminal gets 503 ${sip.errors}`);
  t.match(records().slice(before), [{ callee: room.number, outcome: 'failed' }, { callee: room.number, outcome: 'failed' }], 'both records closed: failed');
  nothingLeft(t, 'after the failed joins');
  hangUpEveryone(box, room.number);
});
