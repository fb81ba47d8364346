
import t from 'tap';
import XLSX from 'xlsx';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const smtp = await startSmtpSink({ rejectRecipients: ['gone@example.com'] });
t.teardown(() => smtp.close());
const state = freshState();
state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': smtp.port, 'smtp.sender': 'box@vcbox.local', 'sip.port': 5070 }, { actor: 'test' });
await new AdminStore(state.db).create({ username: 'admin', password: 'admin-pw1', role: 'admin' });
const base = await startConsoleApi(t, { state });
const client = new ConsoleClient(base);
await client.login('admin', 'admin-pw1');

t.test('create and reset with "send mail": the mail carries the account, server and the new password', async (t) => {
  const created = await client.call('POST', '/api/v1/accounts', { number: '1001', name: 'Room East', email: 'east@example.com', password: 'first-pw1', sendMail: true });
  t.equal(created.status, 201);
  t.same(created.body.mail, { sent: ['1001'], failed: [] });
  const mail = smtp.mails.at(-1);
  t.same(mail?.to, ['east@example.com']);
  t.match(mail?.decoded, /Account \/ 账号:\s+1001/);
  t.match(mail?.decoded, /SIP server \/ 服务器:\s+127\.0\.0\.1:5070/);
  t.match(mail?.decoded, /Password \/ 密码:\s+first-pw1/);

  const reset = await client.call('POST', '/api/v1/accounts/1001/password', { password: 'second-pw', sendMail: true });
  t.same(reset.body.mail, { sent: ['1001'], failed: [] });
  t.match(smtp.mails.at(-1)?.decoded, /Password \/ 密码:\s+second-pw/);
});

t.test('mail many: each failure is listed with its reason, and a resend reaches the fixed ones', async (t) => {
  await client.call('POST', '/api/v1/accounts', { number: '1002', name: 'No Mail', password: 'secret-1' });
  await client.call('POST', '/api/v1/accounts', { number: '1003', name: 'Gone', email: 'gone@example.com', password: 'secret-1' });
  const before = smtp.mails.length;
  const outcome = await client.call('POST', '/api/v1/accounts/mail', { numbers: ['1001', '1002', '1003'] });
  t.same(outcome.body.sent, ['1001']);
  t.match(outcome.body.failed, [
    { number: '1002', email: null, reason: /no e-mail address/ },
    { number: '1003', email: 'gone@example.com', reason: /could not be sent.*mailbox gone@example\.com unavailable/ },
  ]);
  t.equal(smtp.mails.length, before + 1);
  t.match(smtp.mails.at(-1)?.decoded, /Password \/ 密码:\s+\(unchanged/, 'no password in a later mail: the box keeps none');

  await client.call('PATCH', '/api/v1/accounts/1003', { email: 'back@example.com' });
  const resend = await client.call('POST', '/api/v1/accounts/mail', { numbers: outcome.body.failed.map((f: { number: string }) => f.number) });
  t.same(resend.body.sent, ['1003'], 'resend of the failed ones');
});

t.test('"save and send mail" on import mails each imported account with its password', async (t) => {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(
    book,
    XLSX.utils.aoa_to_sheet([
      ['姓名 Name', '账号 Account', '邮箱 E-mail', '密码 Password'],
      ['Imported One', '2001', 'one@example.com', 'import-1'],
      ['Imported Two', '2002', 'two@example.com', 'import-2'],
    ]),
    'Accounts',
  );
  const response = await fetch(`${base}/api/v1/accounts/import?sendMail=true`, {
    method: 'POST',
    headers: { cookie: client.cookie, 'x-csrf-token': client.csrfToken, 'content-type': 'application/vnd.ms-excel' },
    body: XLSX.write(book, { type: 'buffer', bookType: 'biff8' }) as Buffer,
  });
  const body = (await response.json()) as { created: number; mail: { sent: string[] } };
  t.equal(body.created, 2);
  t.same(body.mail.sent, ['2001', '2002']);
  t.match(smtp.mails.find((m) => m.to.includes('two@example.com'))?.decoded, /Password \/ 密码:\s+import-2/);
});
