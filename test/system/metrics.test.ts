/**
 * Prometheus metrics from an operator's side, on the real appliance (the run command):
 * /metrics is closed until an administrator creates the token, then answers only with it
 * (401 in words otherwise); the figures move with a real sipp registration and a live meeting
 * (registrations, online accounts, SIP requests and responses from the signaling service,
 * meetings and participants, the media workers' load); rotating the token retires the old
 * one, removing it turns the metrics off; operators cannot touch the token.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { runSipp } from '../helpers/sipp.ts';

const box = await startAppliance();
t.teardown(() => box.interrupt(10_000));
const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
for (const [url, body] of [
  ['/api/v1/accounts', { number: '3001', name: 'Metrics Room', password: 'secret-3001' }],
  ['/api/v1/vmrs', { name: 'Metrics VMR', number: '330011', guestPin: '', hostPin: '3300' }],
  ['/api/v1/admins', { username: 'watcher', password: 'watch-pw1', role: 'operator', email: 'w@example.com' }],
] as const) {
  const created = await admin.call('POST', url, body);
  if (created.status !== 201) throw new Error(`could not create ${url}: ${JSON.stringify(created.body)}`);
}

async function scrape(token: string | undefined): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${box.baseUrl}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** The value of one sample (`name` with exactly these labels), or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value) && Object.keys(found).length === Object.keys(labels).length) return Number(match[3]);
  }
  return undefined;
}

let token = '';

t.test('closed until a token exists; then only with it', async (t) => {
  const closed = await scrape(undefined);
  t.equal(closed.status, 401);
  t.match(closed.headers.get('www-authenticate'), /^Bearer realm="vcbox metrics"/);
  t.match(JSON.parse(closed.text), { code: 'VCBOX_ERR_METRICS_OFF', message: /no token has been created.*POST \/api\/v1\/settings\/metrics-token/ });
  t.match((await admin.call('GET', '/api/v1/settings/metrics-token')).body, { set: false });

  const created = await admin.call('POST', '/api/v1/settings/metrics-token');
  t.equal(created.status, 200);
  t.match(created.body, { set: true, createdBy: 'admin', token: /^vcbm_[A-Za-z0-9_-]{43}$/, message: /shown only now/ });
  token = created.body.token;
  const status = await admin.call('GET', '/api/v1/settings/metrics-token');
  t.match(status.body, { set: true, createdBy: 'admin' });
  t.notMatch(JSON.stringify(status.body), token, 'the token is never shown again');

  const without = await scrape(undefined);
  t.equal(without.status, 401);
  t.match(JSON.parse(without.text), { code: 'VCBOX_ERR_METRICS_TOKEN', message: /Authorization: Bearer/ });
  t.equal((await scrape('vcbm_not-the-token')).status, 401, 'a wrong token');
  t.equal((await fetch(`${box.baseUrl}/metrics`, { headers: { cookie: admin.cookie } })).status, 401, 'a console session is no token');

  const open = await scrape(token);
  t.equal(open.status, 200);
  t.equal(open.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  t.match(open.text, /^# HELP vcbox_build_info /m);
  t.match(open.text, /^# TYPE vcbox_sip_requests_received_total counter$/m);
  t.equal(sample(open.text, 'vcbox_service_up', { service: 'signaling' }), 1, 'the signaling service answered');
  t.equal(sample(open.text, 'vcbox_service_up', { service: 'media' }), 1, 'the media process answered');
  t.equal(sample(open.text, 'vcbox_service_up', { service: 'turn' }), 1, 'the TURN relay answered STUN');
  t.equal(sample(open.text, 'vcbox_sip_registrations'), 0);
  t.equal(sample(open.text, 'vcbox_media_workers', { configured: '1' }), 1, 'one media worker, as configured');
  t.ok((sample(open.text, 'vcbox_http_responses_total', { code: '4xx' }) ?? 0) >= 3, 'the refused scrapes are counted as 4xx answers');
  for (const process of ['control-plane', 'signaling', 'media']) {
    const p50 = sample(open.text, 'vcbox_event_loop_delay_ms', { process, quantile: '0.5' });
    const worst = sample(open.text, 'vcbox_event_loop_delay_ms', { process, quantile: '1' });
    t.ok(p50 !== undefined && worst !== undefined && p50 >= 0 && worst >= p50, `${process}: its event-loop delay (p50 ${p50} ms, worst ${worst} ms)`);
  }
});

t.test('the figures move with a real registration and a live meeting', async (t) => {
  const before = (await scrape(token)).text;
  const registers = sample(before, 'vcbox_sip_requests_received_total', { method: 'REGISTER' }) ?? 0;
  const challenges = sample(before, 'vcbox_sip_responses_sent_total', { code: '4xx' }) ?? 0;
  const registered = await runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${box.sipPort}`,
    transport: 'u1',
    auth: ['3001', 'secret-3001'],
    keys: { contact_port: '5060', account: '3001', expires: '300', device: 'metrics' },
  });
  t.ok(registered.ok, registered.errors);
  const afterRegister = (await scrape(token)).text;
  t.equal(sample(afterRegister, 'vcbox_sip_registrations'), 1, 'one binding');
  t.equal(sample(afterRegister, 'vcbox_sip_registered_accounts'), 1, 'one online account');
  t.equal(sample(afterRegister, 'vcbox_sip_requests_received_total', { method: 'REGISTER' }), registers + 2, 'the REGISTER and its authenticated retry');
  t.equal(sample(afterRegister, 'vcbox_sip_responses_sent_total', { code: '4xx' }), challenges + 1, 'the 401 challenge');
  t.ok((sample(afterRegister, 'vcbox_sip_responses_sent_total', { code: '2xx' }) ?? 0) >= 1, 'the 200 OK');

  const { udpRtp } = await openTerminals(t, 'udpRtp');
  const call = await joinMeeting(`127.0.0.1:${box.sipPort}`, { dial: '330011', name: 'Metered', media: pcmuMedia(udpRtp.port), hold: 3000 });
  const live = (await scrape(token)).text;
  t.equal(sample(live, 'vcbox_meetings_live'), 1, 'one live meeting');
  t.equal(sample(live, 'vcbox_meeting_participants', { type: 'sip' }), 1, 'one SIP participant');
  t.equal(sample(live, 'vcbox_meeting_participants', { type: 'web' }), 0);
  t.equal(sample(live, 'vcbox_media_meetings'), 1, 'the media process carries it');
  t.equal(sample(live, 'vcbox_sip_dialogs'), 1, 'the signaling service holds its dialog');
  const workerLines = live.split('\n').filter((line) => line.startsWith('vcbox_media_worker_routers{'));
  t.equal(workerLines.length, 1);
  t.match(workerLines[0], / 1$/, 'its router is on the worker');
  const cpu = live.split('\n').find((line) => line.startsWith('vcbox_media_worker_cpu_seconds_total{'));
  t.ok(Number(cpu?.split(' ')[1]) > 0, `the worker has used CPU (${cpu})`);
  t.ok((await call.result).ok, 'the call ended cleanly');
  const after = (await scrape(token)).text;
  t.equal(sample(after, 'vcbox_meetings_live'), 0, 'no live meeting after the hang-up');
  t.equal(sample(after, 'vcbox_meeting_participants', { type: 'sip' }), 0);
  t.equal(sample(after, 'vcbox_sip_requests_received_total', { method: 'BYE' }), 1, 'the BYE was counted');
});

t.test('rotate, remove; operators cannot', async (t) => {
  const operator = new ConsoleClient(box.baseUrl);
  await operator.login('watcher', 'watch-pw1');
  t.match((await operator.call('POST', '/api/v1/settings/metrics-token')).body, { code: 'VCBOX_ERR_FORBIDDEN_ROLE' });
  t.equal((await operator.call('GET', '/api/v1/settings/metrics-token')).status, 200, 'operators may see whether one is set');

  const rotated = await admin.call('POST', '/api/v1/settings/metrics-token');
  t.match(rotated.body.message, /replaces the previous one/);
  t.equal((await scrape(token)).status, 401, 'the old token stops working');
  t.equal((await scrape(rotated.body.token)).status, 200, 'the new one works');
  t.match((await admin.call('GET', '/api/v1/settings/metrics-token')).body, { set: true, lastUsedAt: /^\d{4}-/ });
  const removed = await admin.call('DELETE', '/api/v1/settings/metrics-token');
  t.match(removed.body, { set: false, message: /off until a new token is created/ });
  t.match(JSON.parse((await scrape(rotated.body.token)).text), { code: 'VCBOX_ERR_METRICS_OFF' });
  const audit = JSON.stringify((await admin.call('GET', '/api/v1/audit?period=all')).body);
  t.match(audit, /metrics\.token\.create/);
  t.match(audit, /metrics\.token\.remove/);
  t.notMatch(audit, rotated.body.token, 'no token in the operation log');
});
