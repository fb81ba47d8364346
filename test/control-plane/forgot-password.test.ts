
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const smtp = await startSmtpSink({ user: 'mailer', password: 'smtp-secret' });
t.teardown(() => smtp.close());
const state = freshState();
state.settings.update(
  { 'smtp.server': '127.0.0.1', 'smtp.port': smtp.port, 'smtp.security': 'none', 'smtp.user': 'mailer', 'smtp.password': 'smtp-secret', 'smtp.sender': 'box@vcbox.local' },
  { actor: 'test' },
);
const admins = new AdminStore(state.db);
await admins.create({ username: 'chief', password: 'old-pass1', email: 'Chief@Example.org', role: 'admin' });
const base = await startConsoleApi(t, { state });

/** Asks for the captcha and reads it off the SVG, as a person reads the picture. */
async function solved(client: ConsoleClient): Promise<{ captchaId: string; captcha: string }> {
  const { body } = await client.call('GET', '/api/v1/session/captcha');
  const captcha = [...(body.svg as string).matchAll(/<text[^>]*>([A-Z0-9])<\/text>/g)].map((m) => m[1]).join('');
  return { captchaId: body.id, captcha };
}

t.test('the answer never tells whether the e-mail matched; only a match gets a mail', async (t) => {
  const anonymous = new ConsoleClient(base);
  const badCaptcha = await anonymous.call('POST', '/api/v1/session/forgot', { username: 'chief', email: 'chief@example.org', captchaId: (await solved(anonymous)).captchaId, captcha: 'WRONG' });
  t.equal(badCaptcha.status, 400);
  t.match(badCaptcha.body, { code: 'VCBOX_ERR_CAPTCHA', message: /do not match the picture/ });
  const wrong = await anonymous.call('POST', '/api/v1/session/forgot', { username: 'chief', email: 'someone@else.org', ...(await solved(anonymous)) });
  const right = await anonymous.call('POST', '/api/v1/session/forgot', { username: 'chief', email: 'chief@example.org', ...(await solved(anonymous)) });
  t.equal(wrong.status, 202);
  t.equal(right.status, 202);
  t.same(wrong.body, right.body, 'same words either way');
  const mail = await smtp.next();
  t.same(mail.to.map((a) => a.toLowerCase()), ['chief@example.org'], 'to the registered address');
  t.equal(mail.from, 'box@vcbox.local');
  t.match(mail.decoded, /console user chief/);
  t.match(mail.decoded, /10 minutes/);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(smtp.mails.length, 1, 'the wrong address got nothing');
});

t.test('the link sets a new password once, ends old sessions; it cannot be reused', async (t) => {
  const old = new ConsoleClient(base);
  t.equal((await old.login('chief', 'old-pass1')).status, 200);
  const anonymous = new ConsoleClient(base);
  const captcha = await solved(anonymous);
  await anonymous.call('POST', '/api/v1/session/forgot', { username: 'chief', email: 'chief@example.org', ...captcha });
  t.match((await anonymous.call('POST', '/api/v1/session/forgot', { username: 'chief', email: 'chief@example.org', ...captcha })).body, { code: 'VCBOX_ERR_CAPTCHA' }, 'a captcha answers once');
  const mail = await smtp.next();
  const token = /#\/reset\/([\w-]+)/.exec(mail.decoded)?.[1] ?? '';
  t.ok(token.length > 20, 'the mail carries the link');
  t.match(mail.decoded, new RegExp(`${base.replace(/[.:/]/g, (c) => `\\${c}`)}/#/reset/`), 'pointing at this console');

  t.match((await anonymous.call('POST', '/api/v1/session/reset', { token, newPassword: 'new-pass1', confirmPassword: 'typo' })).body, { code: 'VCBOX_ERR_PASSWORD_CHANGE' });
  t.equal((await anonymous.call('POST', '/api/v1/session/reset', { token, newPassword: 'new-pass1', confirmPassword: 'new-pass1' })).status, 204);
  t.match((await anonymous.call('POST', '/api/v1/session/reset', { token, newPassword: 'other-pass', confirmPassword: 'other-pass' })).body, { code: 'VCBOX_ERR_RESET_LINK' }, 'one use only');
  t.equal((await old.call('GET', '/api/v1/session')).status, 401, 'the old session ended');
  t.equal((await new ConsoleClient(base).login('chief', 'new-pass1')).status, 200, 'the new password works');
  t.equal((await new ConsoleClient(base).login('chief', 'old-pass1')).status, 401, 'the old one does not');
});

t.test('a link older than 10 minutes is refused', async (t) => {
  const anonymous = new ConsoleClient(base);
  await anonymous.call('POST', '/api/v1/session/forgot', { username: 'chief', email: 'chief@example.org', ...(await solved(anonymous)) });
  const token = /#\/reset\/([\w-]+)/.exec((await smtp.next()).decoded)?.[1] ?? '';
  state.db.prepare('UPDATE password_resets SET expires_at = ? WHERE used_at IS NULL').run(new Date(Date.now() - 1000).toISOString());
  const late = await anonymous.call('POST', '/api/v1/session/reset', { token, newPassword: 'late-pass1', confirmPassword: 'late-pass1' });
  t.equal(late.status, 400);
  t.match(late.body, { code: 'VCBOX_ERR_RESET_LINK', message: /older than 10 minutes/ });
});

t.test('reset mails are rate-limited per address', async (t) => {
  const anonymous = new ConsoleClient(base);
  const statuses: number[] = [];
  // Six requests were made by the tests above; the budget is ten a minute.
  for (let i = 0; i < 5; i++) statuses.push((await anonymous.call('POST', '/api/v1/session/forgot', { username: 'nobody', email: 'x@y.z', ...(await solved(anonymous)) })).status);
  t.same(statuses, [202, 202, 202, 202, 429], 'the tenth request of the minute is answered, the eleventh refused');
  const limited = await anonymous.call('POST', '/api/v1/session/forgot', { username: 'nobody', email: 'x@y.z', ...(await solved(anonymous)) });
  t.match(limited.body, { code: 'VCBOX_ERR_RATE_LIMITED', message: /wait \d+ seconds/ });
});
