/**
 * Statistics and call records as an operator sees them over HTTP: meetings by type in a
 * period (P2P = answered point-to-point calls; instant, scheduled and VMR meetings from their
 * meeting records) and those with content shared, the most participants and meetings at once in a period and ever, period
 * filters (last month … a year, from/to, a reversed range refused in the caller's language),
 * call records filtered, searched and paged, and the export parsed back (.xlsx, .csv). The
 * rows come from the real stores following a real live-meetings registry, as the SIP
 * application feeds them; only their dates are moved into the past by the test.
 */
import path from 'node:path';
import t from 'tap';
import XLSX from 'xlsx';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { CallRecords } from '../../server/cdr/call-records.ts';
import { ConcurrencyRecords } from '../../server/cdr/concurrency-records.ts';
import { MeetingRecords } from '../../server/cdr/meeting-records.ts';
import { type LiveParticipant, LiveMeetings, type MeetingKind } from '../../server/meetings/live-meetings.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';

const state = freshState();
await new AdminStore(state.db).create({ username: 'reader', password: 'Reader-pass-1', role: 'operator' });
const base = await startConsoleApi(t, { state });
const operator = new ConsoleClient(base);
t.equal((await operator.login('reader', 'Reader-pass-1')).status, 200);

const DAY = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY);
let clock = new Date();
const live = new LiveMeetings();
new MeetingRecords(state.db).follow(live);
new ConcurrencyRecords(state.db, { now: () => clock }).follow(live);
const calls = new CallRecords(state.db);

let nextId = 1;
function participant(name: string): LiveParticipant {
  const id = `p${nextId++}`;
  return { id, displayName: name, account: null, role: 'guest', type: 'sip', callId: `call-${id}`, source: '127.0.0.1:5060', transport: 'udp', joinedAt: clock, hangUp: () => {} };
}

/** A meeting held on `day` (days ago) with `people` joining, each leg also a call record (the first presenting content when `presents`); returns its participants. */
function holdMeeting(number: string, kind: MeetingKind, subject: string, people: number, day: number, keepOpen = false, presents = false): LiveParticipant[] {
  clock = daysAgo(day);
  live.ensure({ number, kind, refId: 1, subject });
  const joined: LiveParticipant[] = [];
  for (let i = 0; i < people; i++) {
    const p = participant(`${subject} ${i}`);
    const record = calls.start(kind, p.callId, p.displayName, number, clock);
    state.db.prepare('UPDATE call_records SET subject = ?, meeting_id = ? WHERE id = ?').run(subject, number, record);
    calls.answered(record, clock);
    live.add(number, p);
    joined.push(p);
  }
  // The floor control's word, as the SIP application passes it on: someone presents, then stops.
  if (presents && joined[0]) {
    live.setPresenter(number, joined[0].id);
    live.setPresenter(number, null);
  }
  if (!keepOpen) for (const p of joined) live.remove(number, p.id, 'bye');
  // The meeting record is written with the real time; put it on the meeting's day.
  state.db.prepare('UPDATE meeting_records SET started_at = ? WHERE id = (SELECT max(id) FROM meeting_records WHERE number = ?)').run(clock.toISOString(), number);
  return joined;
}

function p2p(caller: string, callee: string, day: number, answered: boolean): void {
  const at = daysAgo(day);
  const id = calls.start('p2p', `p2p-${nextId++}`, caller, callee, at);
  if (answered) {
    calls.answered(id, at);
    calls.ended(id, 'answered', new Date(at.getTime() + 60_000));
  } else calls.ended(id, 'busy', at);
}

// Within the last month: a VMR meeting of 3 while an instant meeting of 2 runs (5 at once, 2
// meetings; someone presents content in the VMR meeting), a scheduled meeting of 2 alone, two
// answered P2P calls and one busy.
const instant = holdMeeting('99001', 'instant', 'Quick sync', 2, 3, true);
holdMeeting('10001', 'vmr', 'Weekly review', 3, 3, false, true);
for (const p of instant) live.remove('99001', p.id, 'bye');
holdMeeting('20001', 'scheduled', 'Board meeting', 2, 10);
p2p('1001', '1002', 2, true);
p2p('1001', '1003', 5, true);
p2p('1002', '1003', 5, false);
// Four months ago: a VMR meeting of 8 (the most ever, with content) and one P2P call.
holdMeeting('10001', 'vmr', 'All hands', 8, 120, false, true);
p2p('1003', '1001', 120, true);
// Ten months ago: a scheduled meeting of 4.
holdMeeting('20002', 'scheduled', 'Budget', 4, 300);

t.test('meetings by type and the maximum concurrency, per period and ever', async (t) => {
  const month = await operator.call('GET', '/api/v1/statistics?period=1m');
  t.equal(month.status, 200);
  t.same(month.body.meetings, { p2p: 2, instant: 1, scheduled: 1, vmr: 1, total: 5, participants: 7, withContent: 1 }, 'one meeting with content shared');
  t.match(month.body.maxConcurrency.period, { participants: 5, meetings: 2 }, 'VMR and instant meeting together');
  t.equal(month.body.maxConcurrency.period.participantsAt.slice(0, 10), daysAgo(3).toISOString().slice(0, 10));
  t.match(month.body.maxConcurrency.ever, { participants: 8, meetings: 2 });
  t.equal(month.body.maxConcurrency.ever.participantsAt.slice(0, 10), daysAgo(120).toISOString().slice(0, 10));

  const half = await operator.call('GET', '/api/v1/statistics?period=6m');
  t.same(half.body.meetings, { p2p: 3, instant: 1, scheduled: 1, vmr: 2, total: 7, participants: 15, withContent: 2 });
  t.match(half.body.maxConcurrency.period, { participants: 8 });
  const year = await operator.call('GET', '/api/v1/statistics?period=1y');
  t.match(year.body.meetings, { scheduled: 2, total: 8, withContent: 2 });
  const all = await operator.call('GET', '/api/v1/statistics?period=all');
  t.match(all.body, { from: null, to: null, meetings: { total: 8 } });
});

t.test('an explicit from/to range; a reversed or malformed one is refused', async (t) => {
  const day = (n: number) => daysAgo(n).toISOString().slice(0, 10);
  const range = await operator.call('GET', `/api/v1/statistics?from=${day(130)}&to=${day(100)}`);
  t.equal(range.status, 200);
  t.same(range.body.meetings, { p2p: 1, instant: 0, scheduled: 0, vmr: 1, total: 2, participants: 8, withContent: 1 });
  t.match(range.body.maxConcurrency.period, { participants: 8, meetings: 1 });
  const quiet = await operator.call('GET', `/api/v1/statistics?from=${day(90)}&to=${day(60)}`);
  t.match(quiet.body, { meetings: { total: 0 }, maxConcurrency: { period: { participants: 0, participantsAt: null, meetings: 0 } } });
  const reversed = await operator.call('GET', `/api/v1/statistics?from=${day(10)}&to=${day(20)}`);
  t.equal(reversed.status, 400);
  t.match(reversed.body, { code: 'VCBOX_ERR_PERIOD_INVALID', field: 'from', message: /not before/ });
  const zh = await fetch(`${base}/api/v1/statistics?from=yesterday`, { headers: { cookie: operator.cookie, 'accept-language': 'zh-CN' } });
  t.equal(zh.status, 400);
  t.match(await zh.json(), { code: 'VCBOX_ERR_PERIOD_INVALID', message: /统计时段无效/ });
  t.equal((await operator.call('GET', '/api/v1/statistics?period=2y')).status, 400);
});

t.test('call records: period, type, search, paging', async (t) => {
  const month = await operator.call('GET', '/api/v1/call-records?period=1m&pageSize=500');
  t.equal(month.body.total, 10, '7 meeting legs and 3 point-to-point calls');
  const vmr = await operator.call('GET', '/api/v1/call-records?period=all&type=vmr');
  t.equal(vmr.body.total, 11);
  t.ok(vmr.body.items.every((r: { type: string }) => r.type === 'vmr'));
  const search = await operator.call('GET', '/api/v1/call-records?period=all&q=board');
  t.equal(search.body.total, 2);
  t.ok(search.body.items.every((r: { subject: string }) => r.subject === 'Board meeting'));
  const byId = await operator.call('GET', '/api/v1/call-records?period=all&q=20002');
  t.equal(byId.body.total, 4, 'by meeting ID');
  const range = await operator.call('GET', `/api/v1/call-records?from=${daysAgo(130).toISOString()}&to=${daysAgo(100).toISOString()}`);
  t.equal(range.body.total, 9, 'All hands legs and the P2P call four months ago');
  const first = await operator.call('GET', '/api/v1/call-records?period=all&pageSize=4&page=1');
  const second = await operator.call('GET', '/api/v1/call-records?period=all&pageSize=4&page=2');
  t.equal(first.body.items.length, 4);
  t.equal(second.body.items.length, 4);
  t.equal(first.body.total, 23);
  t.notSame(first.body.items, second.body.items, 'pages differ');
});

t.test('export: .xlsx and .csv with the same filters, parsed back', async (t) => {
  const xlsx = await fetch(`${base}/api/v1/call-records/export?period=1y&type=scheduled`, { headers: { cookie: operator.cookie } });
  t.equal(xlsx.status, 200);
  t.match(xlsx.headers.get('content-disposition'), /call-records\.xlsx/);
  const book = XLSX.read(Buffer.from(await xlsx.arrayBuffer()), { type: 'buffer' });
  const rows = XLSX.utils.sheet_to_json<Record<string, unknown>>(book.Sheets[book.SheetNames[0] as string] as XLSX.WorkSheet);
  t.equal(rows.length, 6, 'the two scheduled meetings: 2 + 4 legs');
  t.ok(rows.every((r) => r['类型 Type'] === 'scheduled'));
  t.same(new Set(rows.map((r) => r['主题 Subject'])), new Set(['Board meeting', 'Budget']));
  t.ok(rows.every((r) => r['结果 Outcome'] === 'answered'));
  t.ok(rows.every((r) => r['共享内容 Content shared'] === '否 no'), 'no content was shared in the scheduled meetings');
  const vmr = await fetch(`${base}/api/v1/call-records/export?period=1m&type=vmr&format=csv`, { headers: { cookie: operator.cookie } });
  const vmrBook = XLSX.read(Buffer.from(await vmr.arrayBuffer()).toString('utf8').slice(1), { type: 'string' });
  const vmrRows = XLSX.utils.sheet_to_json<Record<string, unknown>>(vmrBook.Sheets[vmrBook.SheetNames[0] as string] as XLSX.WorkSheet);
  t.equal(vmrRows.length, 3, "the month's VMR meeting: 3 legs");
  t.ok(vmrRows.every((r) => r['共享内容 Content shared'] === '是 yes'), 'each leg says content was shared in its meeting');

  const csv = await fetch(`${base}/api/v1/call-records/export?period=1m&type=p2p&format=csv`, { headers: { cookie: operator.cookie } });
  t.equal(csv.status, 200);
  t.match(csv.headers.get('content-type'), /text\/csv/);
  const bytes = Buffer.from(await csv.arrayBuffer());
  t.same([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte-order mark for Excel');
  const parsed = XLSX.read(bytes.toString('utf8').slice(1), { type: 'string' });
  const csvRows = XLSX.utils.sheet_to_json<Record<string, unknown>>(parsed.Sheets[parsed.SheetNames[0] as string] as XLSX.WorkSheet);
  t.equal(csvRows.length, 3);
  t.same(csvRows.map((r) => r['结果 Outcome']).sort(), ['answered', 'answered', 'busy']);
  t.ok(csvRows.every((r) => r['共享内容 Content shared'] === undefined), 'point-to-point calls leave the content column empty');
  t.ok(path.basename(csv.headers.get('content-disposition') ?? '').includes('call-records.csv'));
});
