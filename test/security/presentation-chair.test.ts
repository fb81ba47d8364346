/**
 * The console's chair actions on the content floor, tried as a LAN attacker and a curious
 * operator would: the box's real floor control (BFCP listeners on loopback, a conference per
 * meeting) with two live meetings, the control-plane API on a real socket. Without a session,
 * as an operator, without the CSRF token or with another session's token, the presentation
 * can be neither stopped nor given; a participant of another meeting, one whose call is not
 * answered yet, or an oversized or extra field cannot be given the floor; a meeting that is
 * not live is refused. After each attempt the floor is as it was. The administrator's own
 * request works.
 */
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { MeetingFloors } from '../../server/bfcp/meeting-floors.ts';
import { type LiveParticipant, LiveMeetings } from '../../server/meetings/live-meetings.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const floors = await MeetingFloors.start({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
t.teardown(() => floors.close());
const live = new LiveMeetings();
// As the SIP application does: the floor control's word on who presents goes to the live meeting.
floors.on('presenter', (meeting, participantId) => live.setPresenter(meeting, participantId));

const [A, B] = ['880301', '880302'];
const participant = (id: string, name: string): LiveParticipant => ({
  id,
  displayName: name,
  account: null,
  role: 'guest',
  type: 'sip',
  callId: `call-${id}`,
  source: '127.0.0.1:5060',
  transport: 'udp',
  joinedAt: new Date(),
  hangUp: () => {},
});
for (const [number, people] of [
  [A, [participant('a1', 'Presenter A'), participant('a2', 'Ringing A')]],
  [B, [participant('b1', 'Presenter B')]],
] as const) {
  live.ensure({ number, kind: 'vmr', refId: 1, subject: `Room ${number}` });
  for (const p of people) {
    live.add(number, p);
    floors.reserve(number, p.id);
  }
}
// a1 and b1 are answered calls with content; a2's call is not answered yet (reserved, not admitted).
floors.admit(A, 'a1');
floors.admit(B, 'b1');
floors.giveFloor(A, 'a1');

const state = freshState();
const admins = new AdminStore(state.db);
await admins.create({ username: 'chair', password: 'Chair-pass-1', role: 'admin' });
await admins.create({ username: 'viewer', password: 'Viewer-pass-1', role: 'operator' });
const base = await startConsoleApi(t, { state, live, floors: () => floors });
const admin = new ConsoleClient(base);
const operator = new ConsoleClient(base);
for (const [client, username, password] of [[admin, 'chair', 'Chair-pass-1'], [operator, 'viewer', 'Viewer-pass-1']] as const) {
  if ((await client.login(username, password)).status !== 200) throw new Error(`${username} could not log in`);
}

const unchanged = (t: { equal(found: unknown, wanted: unknown, message: string): unknown }, what: string) => {
  t.equal(floors.presenterOf(A), 'a1', `${what}: A's presenter is unchanged`);
  t.equal(floors.presenterOf(B), null, `${what}: B's floor is untouched`);
  t.equal(live.get(A)?.presenter?.participantId, 'a1', `${what}: the live meeting still says a1 presents`);
};

t.test('no session, an operator, no or a foreign CSRF token: refused, nothing changes', async (t) => {
  for (const [route, body] of [
    ['stop', undefined],
    ['give', { participantId: 'a1' }],
  ] as const) {
    const url = `${base}/api/v1/live-meetings/${A}/presentation/${route}`;
    const anonymous = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    t.equal(anonymous.status, 401, `${route} without a session`);
    const byOperator = await operator.call('POST', `/api/v1/live-meetings/${A}/presentation/${route}`, body);
    t.equal(byOperator.status, 403, `${route} by an operator`);
    const noToken = await admin.call('POST', `/api/v1/live-meetings/${A}/presentation/${route}`, body, { csrf: false });
    t.equal(noToken.status, 403, `${route} without the CSRF token`);
    const foreign = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': operator.csrfToken }, body: JSON.stringify(body ?? {}) });
    t.equal(foreign.status, 403, `${route} with another session's CSRF token`);
    unchanged(t, route);
  }
  const read = await operator.call('GET', `/api/v1/live-meetings/${A}`);
  t.equal(read.status, 200, 'an operator may read who presents');
  t.equal(read.body.presenter?.participantId, 'a1');
});

t.test('the floor given across meetings, to an unanswered call, or with odd input: refused', async (t) => {
  const give = (number: string, body: unknown) => admin.call('POST', `/api/v1/live-meetings/${number}/presentation/give`, body);
  const across = await give(A, { participantId: 'b1' });
  t.equal(across.status, 404, "a participant of another meeting is not this meeting's");
  t.equal(across.body.code, 'VCBOX_ERR_PARTICIPANT_NOT_FOUND');
  const ringing = await give(A, { participantId: 'a2' });
  t.equal(ringing.status, 409, 'a call not answered yet cannot present');
  t.equal(ringing.body.code, 'VCBOX_ERR_PARTICIPANT_CANNOT_PRESENT');
  t.equal((await give(A, { participantId: 'x'.repeat(65) })).status, 400, 'an oversized participant ID');
  t.equal((await give(A, { participantId: 'a1', userId: 1 })).status, 400, 'an extra field (no BFCP IDs from outside)');
  t.equal((await give(A, {})).status, 400, 'no participant');
  t.equal((await give('88x301', { participantId: 'a1' })).status, 400, 'a meeting number that is not one');
  const notLive = await give('880399', { participantId: 'a1' });
  t.equal(notLive.status, 404, 'a meeting that is not live');
  t.equal(notLive.body.code, 'VCBOX_ERR_MEETING_NOT_LIVE');
  const stopB = await admin.call('POST', `/api/v1/live-meetings/${B}/presentation/stop`);
  t.equal(stopB.status, 409, "stopping a meeting where nobody presents does not touch another meeting's floor");
  unchanged(t, 'after the refusals');
});

t.test("the administrator's own request works", async (t) => {
  const stop = await admin.call('POST', `/api/v1/live-meetings/${A}/presentation/stop`);
  t.equal(stop.status, 200);
  t.equal(floors.presenterOf(A), null, 'the floor is free');
  t.equal(live.get(A)?.presenter, null, 'and the live meeting says so');
  const rows = state.db.prepare("SELECT actor, source FROM audit_log WHERE action LIKE 'meeting.presentation.%'").all() as { actor: string; source: string }[];
  t.same(rows, [{ actor: 'chair', source: '127.0.0.1' }], 'only the accepted action is in the audit log');
});
