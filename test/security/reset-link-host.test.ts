/**
 * Finding 5 (issue #16), password-reset poisoning: the reset mail's link was built from the
 * request's Host header, so anyone could ask for a reset of the administrator with
 * `Host: evil.example` and the administrator's mail carried the one-time token to the forger's
 * server. Performed over a raw TCP socket with a forged Host (and absolute-form request line)
 * against the real control plane and a real SMTP sink: the link points at the configured service
 * address (seed 003 "中心访问地址": intranet for requesters inside `nat.localNetworks`, extranet
 * for the others), or, unset, at the address and port the connection reached the box at; bad
 * service URLs are refused by their field.
 */
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { freshState, startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const smtp = await startSmtpSink({});
t.teardown(() => smtp.close());
const state = freshState();
state.settings.update({ 'smtp.server': '127.0.0.1', 'smtp.port': smtp.port, 'smtp.security': 'none', 'smtp.sender': 'box@vcbox.local' }, { actor: 'test' });
await new AdminStore(state.db).create({ username: 'chief', password: 'Chief2026', email: 'chief@example.org', role: 'admin' });
const base = await startConsoleApi(t, { state });
const port = Number(new URL(base).port);
const admin = new ConsoleClient(base);
if ((await admin.login('chief', 'Chief2026')).status !== 200) throw new Error('the administrator could not log in');

/** Asks for a reset of chief with a forged Host (over a raw socket) and returns the link the mail carries. */
async function resetLinkWithForgedHost(target = '/api/v1/session/forgot'): Promise<string> {
  const picture = await rawRequest(port, { method: 'GET', target: '/api/v1/session/captcha', headers: { host: 'evil.example' } });
  const { id, svg } = JSON.parse(picture.body) as { id: string; svg: string };
  const captcha = [...svg.matchAll(/<text[^>]*>([A-Z0-9])<\/text>/g)].map((m) => m[1]).join('');
  const asked = await rawRequest(port, {
    method: 'POST',
    target,
    headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example', 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'chief', email: 'chief@example.org', captchaId: id, captcha }),
  });
  if (asked.status !== 202) throw new Error(`forgot answered ${asked.status}: ${asked.body}`);
  const mail = await smtp.next();
  return /(\S+)#\/reset\/[\w-]+/.exec(mail.decoded)?.[1] ?? `(no link in ${mail.decoded})`;
}

t.test('unset, the link points at the address the connection reached, never at the Host header', async (t) => {
  const link = await resetLinkWithForgedHost();
  t.notMatch(link, /evil/, 'the forged Host is not in the link');
  t.equal(link, `http://127.0.0.1:${port}/`, "the box's own address and port");
  const absolute = await resetLinkWithForgedHost('http://evil.example/api/v1/session/forgot');
  t.equal(absolute, `http://127.0.0.1:${port}/`, 'an absolute-form request line changes nothing either');
});

t.test('the configured intranet URL is used for requesters inside the local networks', async (t) => {
  const changed = await admin.call('PATCH', '/api/v1/settings', { 'web.accessUrl.intranet': 'https://vc.corp.example:8443/', 'web.accessUrl.extranet': 'https://vc.example.com' });
  t.equal(changed.status, 200, JSON.stringify(changed.body));
  t.equal(await resetLinkWithForgedHost(), 'https://vc.corp.example:8443/');
});

t.test('requesters outside the local networks get the extranet URL, or the static NAT address', async (t) => {
  t.equal((await admin.call('PATCH', '/api/v1/settings', { 'nat.localNetworks': '10.0.0.0/8' })).status, 200);
  t.equal(await resetLinkWithForgedHost(), 'https://vc.example.com/', 'the extranet URL (127.0.0.1 is outside 10.0.0.0/8 now)');
  const nat = await admin.call('PATCH', '/api/v1/settings', { 'web.accessUrl.extranet': '', 'nat.enabled': true, 'nat.publicIp': '203.0.113.5', 'web.httpNatPort': 8080 });
  t.equal(nat.status, 200, JSON.stringify(nat.body));
  t.equal(await resetLinkWithForgedHost(), 'http://203.0.113.5:8080/', "unset: the static NAT's public address and mapped port");
});

t.test('service URLs that are no plain http(s) address are refused by their field', async (t) => {
  for (const value of ['javascript:alert(1)', 'ftp://vc.example.com', 'http://user:pw@vc.example.com', 'https://vc.example.com/?next=x', 'https://vc.example.com/#x', 'vc.example.com', 'http://', 'https://vc example.com', `https://${'a'.repeat(260)}.com`]) {
    const refused = await admin.call('PATCH', '/api/v1/settings', { 'web.accessUrl.intranet': value });
    t.equal(refused.status, 400, `${value.slice(0, 40)} refused`);
    t.match(refused.body, { code: 'VCBOX_ERR_SETTING_INVALID', key: 'web.accessUrl.intranet', message: /http:\/\/ or https:\/\/ URL/ });
  }
});
