/**
 * "Meet now" from a terminal: a registered account dialling the instant-meeting number
 * (setting call.instantMeetingNumber, 99999 by default) is challenged, then an instant meeting
 * is created with it as organizer and it joins as the host; guests cannot create meetings;
 * the number is kept out of the dial plan.
 */
import t from 'tap';
import { MeetingStore } from '../../server/meetings/meeting-store.ts';
import { numberOwner } from '../../server/rooms/meeting-numbers.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
box.app.accounts.create({ number: '2101', name: 'Desk 2101', password: 'secret-2101' }, box.realm);
const target = `127.0.0.1:${box.port}`;

t.test('a registered terminal dialling the instant-meeting number gets a meeting of its own, as host', async (t) => {
  const caller = await startSipp({
    scenario: scenarioWith('uac-call.xml', { hold: '2000' }),
    target,
    transport: 'u1',
    auth: ['2101', 'secret-2101'],
    keys: { caller: '2101', callee: '99999' },
  });
  const meeting = await waitFor('the instant meeting', 5000, () => new MeetingStore(box.db).window(new Date(Date.now() - 60_000), new Date(Date.now() + 60_000)).find((m) => m.organizer === '2101'));
  t.match(meeting, { type: 'instant', subject: 'Instant meeting of Desk 2101' }, 'created with the account as organizer');
  // (The meeting is live from admission on; the caller is in it once its call is answered.)
  const live = await waitFor('the caller in it', 5000, () => {
    const current = box.app.live.get(meeting.number);
    return current && current.participants.size > 0 ? current : undefined;
  });
  t.same([...live.participants.values()].map((p) => [p.displayName, p.role, p.account]), [['Desk 2101', 'host', '2101']], 'the terminal is its host');
  t.ok((await caller.result).ok, 'the call ends normally');
});

t.test('a guest cannot create one, and the number is not in the dial plan', async (t) => {
  const result = await runSipp({
    scenario: scenarioWith('uac-call-refused.xml', { status: '403' }),
    target,
    transport: 'u1',
    auth: ['2101', 'wrong-password'],
    keys: { caller: '2101', callee: '99999' },
  });
  t.ok(result.ok, `wrong password: 403 ${result.errors}`);
  t.match(numberOwner(box.db, box.settings, '99999'), /instant-meeting number/, 'VMRs and meetings cannot take it');
});
