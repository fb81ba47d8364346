
import t from 'tap';
import { AccountStore } from '../../server/accounts/account-store.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { attachment, startSmtpSink } from '../helpers/smtp-sink.ts';

const smtp = await startSmtpSink();
t.teardown(() => smtp.close());
const state = freshState();
state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': smtp.port, 'smtp.sender': 'box@vcbox.local', 'time.zone': 'UTC+08:00' }, { actor: 'test' });
await new AdminStore(state.db).create({ username: 'admin', password: 'admin-pw1', role: 'admin' });
const accounts = new AccountStore(state.db);
accounts.create({ number: '1001', name: 'Alice', email: 'alice@example.com', password: 'secret-1' }, 'vcbox.local');
accounts.create({ number: '1002', name: 'Bob (no mail)', password: 'secret-1' }, 'vcbox.local');
const base = await startConsoleApi(t, { state });
const client = new ConsoleClient(base);
await client.login('admin', 'admin-pw1');

const inDays = (days: number, hour = 1) => {
  const at = new Date(Date.now() + days * 86_400_000);
  at.setUTCHours(hour, 0, 0, 0);
  return at.toISOString();
};

t.test('a weekly meeting: invitations with an .ics, occurrences in the calendar window', async (t) => {
  const created = await client.call('POST', '/api/v1/meetings', {
    subject: 'Weekly sync; ops, infra',
    start: inDays(2),
    durationMinutes: 45,
    recurrence: { freq: 'weekly', until: inDays(30) },
    accounts: ['1001', '1002'],
    guestPin: '4321',
    sendInvitations: true,
  });
  t.equal(created.status, 201);
  t.match(created.body, { number: /^\d{6}$/, hostPin: /^\d{6}$/, guestPin: '4321', accounts: ['1001', '1002'], status: 'scheduled' });
  t.equal(created.body.dialString, `${created.body.number}**4321@vcbox.local`, 'the answer has the guest dial string');
  t.equal(created.body.hostDialString, `${created.body.number}**${created.body.hostPin}@vcbox.local`, 'and the host one');
  t.equal(created.body.joinLink, `${base}/join/?m=${created.body.number}`, 'and the browser link, as in the invitation');
  t.match(created.body.mail, { sent: ['1001'], failed: [{ number: '1002', reason: /no e-mail/ }] });
  const mail = smtp.mails.at(-1);
  t.same(mail?.to, ['alice@example.com']);
  t.match(mail?.decoded, new RegExp(`Meeting ID / 会议号: ${created.body.number}`));
  t.match(mail?.decoded, new RegExp(`${created.body.number}\\*\\*4321@vcbox\\.local`), 'dial string');
  t.match(mail?.decoded, new RegExp(`${base.replace(/[.:/]/g, (c) => `\\${c}`)}/join/\\?m=${created.body.number}`), 'browser link');
  t.match(mail?.decoded, /\(UTC\+08:00\)/, 'time in the box time zone');
  const ics = attachment(mail as NonNullable<typeof mail>, 'meeting.ics') ?? '';
  t.match(ics, /^BEGIN:VCALENDAR\r\n/);
  t.match(ics, /\r\nMETHOD:REQUEST\r\n/);
  t.match(ics, new RegExp(`\\r\\nDTSTART:${inDays(2).replace(/[-:]/g, '').replace('.000', '')}\\r\\n`));
  t.match(ics, /\r\nRRULE:FREQ=WEEKLY;UNTIL=\d{8}T\d{6}Z\r\n/);
  t.match(ics, /\r\nSUMMARY:Weekly sync\\; ops\\, infra\r\n/, 'text escaped');
  t.notOk(ics.split('\r\n').some((line) => Buffer.byteLength(line) > 75), 'lines folded at 75 octets');

  const window = await client.call('GET', `/api/v1/meetings?from=${encodeURIComponent(inDays(0, 0))}&to=${encodeURIComponent(inDays(31, 0))}`);
  const found = window.body.find((m: { id: number }) => m.id === created.body.id);
  t.ok(found.occurrences.length >= 4 && found.occurrences.length <= 5, `weekly occurrences in a month: ${found.occurrences.length}`);
  t.equal(found.occurrences[1], new Date(Date.parse(inDays(2)) + 7 * 86_400_000).toISOString());
});

t.test('edits before the start only; the dial plan is shared with VMRs', async (t) => {
  const later = await client.call('POST', '/api/v1/meetings', { subject: 'Later', start: inDays(5), durationMinutes: 30, number: '77001' });
  t.match((await client.call('PATCH', `/api/v1/meetings/${later.body.id}`, { subject: 'Later, renamed', accounts: ['1001'] })).body, { subject: 'Later, renamed', accounts: ['1001'] });
  const vmr = await client.call('POST', '/api/v1/vmrs', { number: '77002', name: 'Lounge' });
  t.equal(vmr.status, 201);
  const clash = await client.call('PATCH', `/api/v1/meetings/${later.body.id}`, { number: '77002' });
  t.equal(clash.status, 409);
  t.match(clash.body, { message: /77002 is already used by VMR "Lounge"/ });
  t.match((await client.call('POST', '/api/v1/vmrs', { number: '77001', name: 'Clash' })).body, { message: /already used by meeting "Later, renamed"/ });

  const instant = await client.call('POST', '/api/v1/meetings/instant', { accounts: ['1001'] });
  t.match(instant.body, { type: 'instant', subject: /^Instant meeting / });
  const edit = await client.call('PATCH', `/api/v1/meetings/${instant.body.id}`, { subject: 'Too late' });
  t.equal(edit.status, 409);
  t.match(edit.body, { code: 'VCBOX_ERR_MEETING_STARTED' });
  t.match((await client.call('POST', '/api/v1/meetings', { subject: 'x', start: inDays(1), durationMinutes: 30, accounts: ['9999'] })).body, { field: 'accounts', message: /no account 9999/ });
});

t.test('cancelling tells the participants', async (t) => {
  const meeting = await client.call('POST', '/api/v1/meetings', { subject: 'To cancel', start: inDays(3), durationMinutes: 30, accounts: ['1001'] });
  const cancelled = await client.call('POST', `/api/v1/meetings/${meeting.body.id}/cancel`, { notify: true });
  t.match(cancelled.body, { status: 'cancelled', mail: { sent: ['1001'] } });
  const mail = smtp.mails.at(-1);
  t.match(mail?.raw, /Subject: =\?UTF-8\?|Subject: Cancelled/);
  t.match(attachment(mail as NonNullable<typeof mail>, 'meeting.ics'), /\r\nSTATUS:CANCELLED\r\n/);
});
