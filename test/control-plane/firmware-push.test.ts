/**
 * Firmware "update now" end to end, as the terminals and the administrator see it: sipp
 * terminals register with digest and a Yealink-like User-Agent (over UDP and TCP) to the real
 * registrar, a sipp UAS listening on each one's contact; after a .rom upload, "update now" for
 * their model sends each one whose version differs a NOTIFY that sipp checks (Event: check-sync, Subscription-State: terminated) — one
 * already on the latest version is not told, one of another model neither; a terminal answering
 * 489 and one whose TCP connection is gone show as not notified, with the reason. Then curl, as
 * the terminal's HTTP client, logs in to the provisioning URL with HTTP Digest (its SIP account's
 * password: MD5, and SHA-256 when that is the configured challenge): the configuration file names
 * the firmware URL for its model, the file comes in two ranges (206) — "downloaded" only once it
 * has every byte — a range past the end is 416, wrong passwords get 401 and ten of them lock the
 * address out (403, operation log). A re-registration with the new version flips the terminal to
 * "updated"; one with the old version does not; the progress survives a new rollout (a restart).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { FirmwareRollout } from '../../server/firmware/firmware-rollout.ts';
import { FirmwareStore } from '../../server/firmware/firmware-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { curl } from '../helpers/curl.ts';
import { freePort } from '../helpers/ports.ts';
import { startSipBox } from '../helpers/sip-box.ts';
import { runSipp, scenarioWith, type SippResult, startSipp } from '../helpers/sipp.ts';

const MODEL = 'Yealink SIP-VC800';
const box = await startSipBox();
const { db, settings } = box;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-firmware-push-'));
await new AdminStore(db).create({ username: 'chief', password: 'Chief2026', role: 'admin' });
const PASSWORDS: Record<string, string> = {};
for (const account of ['2101', '2102', '2103', '2104', '2105', '2106']) {
  PASSWORDS[account] = `secret-${account}`;
  box.app.accounts.create({ number: account, name: `Terminal ${account}`, password: PASSWORDS[account] as string }, box.realm);
}
const store = new FirmwareStore(db, { dir: path.join(dataDir, 'firmware'), settings, maxUploadBytes: 16 * 1024 * 1024 });
let rollout = new FirmwareRollout({ db, store, location: box.app.location, checkSync: (binding) => box.app.checkSync(binding) });
// The routes read the rollout of the moment (the test starts a second one, as a restart would).
const current = new Proxy({} as FirmwareRollout, { get: (_target, name) => Reflect.get(rollout, name).bind(rollout) });
const base = await startConsoleApi(t, { state: { db, settings }, keepDb: true, online: () => box.app.location.online(), firmware: { store, rollout: current, lockout: box.app.lockout } });
t.teardown(async () => {
  rollout.close();
  await box.close();
});
const admin = new ConsoleClient(base);
await admin.login('chief', 'Chief2026');
const target = `127.0.0.1:${box.port}`;

/** A terminal registering once with a model and version (sipp), its contact on `contactPort`. */
async function register(account: string, model: string, version: string, transport: 'u1' | 't1' = 'u1', contactPort?: number): Promise<SippResult> {
  return runSipp({
    scenario: 'terminal-register.xml',
    target,
    transport,
    auth: [account, PASSWORDS[account] as string],
    keys: { account, model, version, expires: '600', contact_port: String(contactPort ?? (await freePort())) },
  });
}

/**
 * A terminal waiting for the check-sync NOTIFY (sipp as UAS on its contact port, answering
 * `status`), registered with its model and version from that contact.
 */
async function waitingTerminal(account: string, version: string, transport: 'u1' | 't1', status = '200 OK') {
  const contactPort = await freePort();
  const listening = await startSipp({
    scenario: scenarioWith('uas-check-sync.xml', { status, account }),
    transport,
    localPort: contactPort,
    timeoutSeconds: 45,
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // sipp binds its port
  const registered = await register(account, MODEL, version, transport, contactPort);
  if (!registered.ok) throw new Error(`${account} did not register: ${registered.errors}`);
  return listening;
}

const progressOf = async (account: string) => ((await admin.call('GET', `/api/v1/firmware/progress?model=${encodeURIComponent(MODEL)}`)).body as { account: string }[]).find((p) => p.account === account) as Record<string, unknown>;
const firmwareData = randomBytes(256 * 1024 + 123);
let firmwareUrl = '';

t.test('update now: registered terminals of the model whose version differs get the check-sync NOTIFY', async (t) => {
  const response = await fetch(`${base}/api/v1/firmware?${new URLSearchParams({ model: MODEL, fileName: 'VC800-63.345.0.20.rom' })}`, {
    method: 'POST',
    headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken, 'content-type': 'application/octet-stream' },
    body: firmwareData,
  });
  const uploaded = (await response.json()) as { id: number; version: string };
  t.equal(response.status, 201);
  t.equal(uploaded.version, '63.345.0.20');
  firmwareUrl = `${base}/provisioning/firmware/${uploaded.id}/VC800-63.345.0.20.rom`;

  const udp = await waitingTerminal('2101', '63.345.0.10', 'u1');
  const tcp = await waitingTerminal('2102', '63.345.0.9', 't1');
  const refusing = await waitingTerminal('2105', '63.345.0.10', 'u1', '489 Bad Event');
  t.ok((await register('2103', MODEL, '63.345.0.20')).ok, 'a terminal already on the latest version');
  t.ok((await register('2104', 'Yealink SIP-T54W', '96.85.0.5')).ok, 'a terminal of another model');
  t.ok((await register('2106', MODEL, '63.345.0.10', 't1')).ok, 'a TCP terminal that then goes away (its connection closes)');

  const update = await admin.call('POST', '/api/v1/firmware/update', { model: MODEL });
  t.equal(update.status, 200, JSON.stringify(update.body));
  t.match(update.body.firmware, { version: '63.345.0.20', latest: true });
  t.same(update.body.upToDate.map((u: { account: string }) => u.account), ['2103'], 'the terminal on 63.345.0.20 is not told');
  const told = Object.fromEntries(update.body.told.map((p: { account: string }) => [p.account, p]));
  t.same(Object.keys(told).sort(), ['2101', '2102', '2105', '2106'], 'every other terminal of the model is told; the T54W is not');
  t.match(told['2101'], { state: 'notified', notifyStatus: 200, fromVersion: '63.345.0.10', targetVersion: '63.345.0.20', requestedBy: 'chief', name: 'Terminal 2101', online: true });
  t.match(told['2102'], { state: 'notified', notifyStatus: 200, fromVersion: '63.345.0.9' });
  t.match(told['2105'], { state: 'notify-failed', notifyStatus: 489, notifyError: '489 Bad Event' });
  t.match(told['2106'], { state: 'notify-failed', notifyStatus: null, notifyError: /ECONNREFUSED|connect/i }, `the gone TCP terminal: ${told['2106']?.notifyError}`);

  for (const [name, terminal] of [['UDP', udp], ['TCP', tcp], ['489', refusing]] as const) {
    const result = await terminal.result;
    t.ok(result.ok, `the ${name} terminal got the NOTIFY it checks (Event: check-sync, Subscription-State: terminated): ${result.errors}`);
    t.match(result.messages, /NOTIFY sip:\d{4}@127\.0\.0\.1:\d+;transport=(UDP|TCP) SIP\/2\.0[\s\S]*Event: check-sync;reboot=false/i, `${name}: the NOTIFY went to its contact`);
  }
  const audit = db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'firmware.update'").get() as { actor: string; detail: string };
  t.match(JSON.parse(audit.detail), { model: MODEL, version: '63.345.0.20', told: 4, upToDate: 1 }, 'audited');
});

t.test('the terminal logs in with HTTP Digest and finds the firmware URL for its model', async (t) => {
  const config = `${base}/provisioning/y000000000077.cfg`;
  const anonymous = await curl(config);
  t.equal(anonymous.status, 401, 'no credentials: 401');
  t.match(anonymous.challenges, [/^Digest realm="vcbox\.local", nonce="[^"]+", algorithm=MD5, qop="auth"$/], 'challenged like SIP: MD5 (the default sip.digestAlgorithms)');
  t.equal(anonymous.challenges.length, 1, 'MD5 alone');
  const wrong = await curl(config, { digest: ['2101', 'not-the-password'] });
  t.equal(wrong.status, 401, 'a wrong password: 401');
  t.notMatch(wrong.body.toString(), /firmware\.url/);

  const file = await curl(config, { digest: ['2101', PASSWORDS['2101'] as string], userAgent: 'Yealink SIP-VC800 63.345.0.10 00:15:65:12:34:56' });
  t.equal(file.status, 200);
  t.match(file.body.toString(), new RegExp(`^#!version:1\\.0\\.0\\.1\\n[\\s\\S]*^firmware\\.url = ${firmwareUrl.replace(/[.]/g, '\\.')}$`, 'm'), file.body.toString());
  const byAccount = await curl(config, { digest: ['2102', PASSWORDS['2102'] as string], userAgent: 'curl' });
  t.match(byAccount.body.toString(), /firmware\.url = .*VC800-63\.345\.0\.20\.rom/, 'a User-Agent without the model: the model its account registered');
  const other = await curl(config, { digest: ['2104', PASSWORDS['2104'] as string], userAgent: 'Yealink SIP-T54W 96.85.0.5' });
  t.match(other.body.toString(), /no firmware on this box for this terminal's model/, 'no firmware for the T54W: nothing set');
  t.notMatch(other.body.toString(), /firmware\.url/);
});

t.test('the file comes in ranges; "downloaded" once every byte was sent', async (t) => {
  const login = ['2101', PASSWORDS['2101'] as string] as [string, string];
  const head = await curl(firmwareUrl, { digest: login, head: true });
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(firmwareData.length), 'HEAD: the size');
  t.equal(head.headers['accept-ranges'], 'bytes');

  const first = await curl(firmwareUrl, { digest: login, range: '0-99' });
  t.equal(first.status, 206);
  t.equal(first.headers['content-range'], `bytes 0-99/${firmwareData.length}`);
  t.same(first.body, firmwareData.subarray(0, 100), 'the first 100 bytes');
  t.equal((await progressOf('2101')).state, 'notified', 'a piece is not a download');

  const rest = await curl(firmwareUrl, { digest: login, range: '100-' });
  t.equal(rest.status, 206);
  t.equal(rest.headers['content-range'], `bytes 100-${firmwareData.length - 1}/${firmwareData.length}`);
  t.same(rest.body, firmwareData.subarray(100), 'the rest');
  t.match(await progressOf('2101'), { state: 'downloaded', downloadedAt: String }, 'every byte: downloaded');

  const past = await curl(firmwareUrl, { digest: login, range: `${firmwareData.length + 10}-` });
  t.equal(past.status, 416, 'a range past the end');
  t.equal(past.headers['content-range'], `bytes */${firmwareData.length}`);
  const sameFile = await curl(firmwareUrl, { digest: login, range: '0-9', headers: [`If-Range: ${head.headers.etag}`] });
  t.equal(sameFile.status, 206, 'a resumed download of the same file (If-Range: its ETag) gets the range');
  const changed = await curl(firmwareUrl, { digest: login, range: '0-9', headers: ['If-Range: "another-file"'] });
  t.equal(changed.status, 200, 'one of a file that changed since starts over');
  t.equal(changed.body.length, firmwareData.length);
  const wrong = await curl(firmwareUrl, { digest: ['2102', 'wrong-password'] });
  t.equal(wrong.status, 401, 'a wrong password gets nothing');
  t.equal(wrong.body.length < 400, true);

  // SHA-256 digest (the only challenge once configured so) and the whole file at once.
  settings.update({ 'sip.digestAlgorithms': 'SHA-256' }, { actor: 'test' });
  const whole = await curl(firmwareUrl, { digest: ['2102', PASSWORDS['2102'] as string] });
  settings.update({ 'sip.digestAlgorithms': 'MD5' }, { actor: 'test' });
  t.equal(whole.status, 200);
  t.equal(createHash('sha256').update(whole.body).digest('hex'), createHash('sha256').update(firmwareData).digest('hex'), 'the whole file, unchanged');
  t.match(await progressOf('2102'), { state: 'downloaded' });

  // Firmware is per model, not per account: another account's terminal may fetch it (and shows up).
  const stranger = await curl(firmwareUrl, { digest: ['2104', PASSWORDS['2104'] as string] });
  t.equal(stranger.status, 200);
  t.match(await progressOf('2104'), { state: 'downloaded', requestedAt: null }, 'a terminal that was not told but fetched the file');
});

t.test('a re-registration with the new version flips the terminal to updated; the progress survives a restart', async (t) => {
  t.ok((await register('2101', MODEL, '63.345.0.20')).ok);
  t.match(await progressOf('2101'), { state: 'updated', seenVersion: '63.345.0.20', updatedAt: String, currentVersion: '63.345.0.20' }, 'new version seen');
  t.ok((await register('2102', MODEL, '63.345.0.9', 't1')).ok);
  t.match(await progressOf('2102'), { state: 'downloaded', seenVersion: '63.345.0.9', updatedAt: null }, 'the old version again: not updated');

  // A restart of the control plane: a new rollout over the same database and location service.
  const before = (await admin.call('GET', '/api/v1/firmware/progress')).body.map((p: { account: string; state: string }) => [p.account, p.state]);
  rollout.close();
  rollout = new FirmwareRollout({ db, store, location: box.app.location, checkSync: (binding) => box.app.checkSync(binding) });
  const after = (await admin.call('GET', '/api/v1/firmware/progress')).body.map((p: { account: string; state: string }) => [p.account, p.state]);
  t.same(after, before, 'the same progress after the restart');
  t.ok((await register('2102', MODEL, '63.345.0.20', 't1')).ok);
  t.match(await progressOf('2102'), { state: 'updated' }, 'and a terminal still waiting is followed by the new rollout');
});

t.test('wrong passwords from one address lock it out, as for SIP', async (t) => {
  for (let i = 0; i < 10; i++) t.equal((await curl(firmwareUrl, { digest: ['2103', 'guessing'], from: '127.0.0.77' })).status, 401);
  const locked = await curl(firmwareUrl, { digest: ['2103', PASSWORDS['2103'] as string], from: '127.0.0.77' });
  t.equal(locked.status, 403, 'the right password is refused too while locked');
  t.match(JSON.parse(locked.body.toString()).message, /Too many failed logins from this address/);
  const entry = db.prepare("SELECT source, detail FROM audit_log WHERE action = 'sip.auth.lockout'").get() as { source: string; detail: string };
  t.match({ source: entry.source, detail: JSON.parse(entry.detail) }, { source: '127.0.0.77', detail: { method: 'HTTP GET' } }, 'the lock-out is in the operation log');
  t.equal((await curl(firmwareUrl, { digest: ['2103', PASSWORDS['2103'] as string], range: '0-0' })).status, 206, 'other addresses are not affected');
});
