/**
 * Service ports applied live, from an administrator's and a terminal's side, on the real
 * appliance (the run command: control plane, signaling service, media process) whose SIP
 * ports come from the stored settings (nothing in the process configuration fixes them):
 * - the SIP UDP/TCP port changed in the settings → sipp registers on the new port and no
 *   longer on the old one, the terminal registered before stays registered;
 * - the TLS port changed → a TLS terminal registers on the new port;
 * - a port another program holds → the answer says so by its field, the listener stays where
 *   it was and the setting is put back;
 * - the MCU and IVR port ranges changed → the next call's SDP answer has a port inside the new
 *   range (calls in progress keep theirs).
 */
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { startAppliance } from '../helpers/appliance.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { joinMeeting, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { freePort, freePorts } from '../helpers/ports.ts';
import { openTerminals } from '../helpers/rtp-terminal.ts';
import { connectTls, digestAnswer, headerValues, registerRequest, streamExchange } from '../helpers/sip-socket.ts';
import { runSipp } from '../helpers/sipp.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-ports-'));
const [udpBefore, tlsBefore, udpAfter, tlsAfter] = (await freePorts(4)) as [number, number, number, number];
// The stored settings name the SIP ports; the run leaves them unfixed (VCBOX_SIP_PORT empty).
const seeded = openState(loadConfig({ VCBOX_DATA_DIR: dataDir }));
// SHA-256 offered too (an opt-in): the TLS client below answers it.
seeded.settings.update({ 'sip.port': udpBefore, 'sip.tlsPort': tlsBefore, 'sip.digestAlgorithms': 'MD5,SHA-256' }, { actor: 'test' });
seeded.db.close();
const box = await startAppliance({ dataDir, env: { VCBOX_SIP_PORT: '', VCBOX_SIP_TLS_PORT: '' } });
t.teardown(() => box.interrupt(10_000));

const admin = new ConsoleClient(box.baseUrl);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());
const created = await admin.call('POST', '/api/v1/accounts', { number: '2001', name: 'Port Room', password: 'secret-2001' });
if (created.status !== 201) throw new Error(`could not create the test account: ${JSON.stringify(created.body)}`);
const vmr = await admin.call('POST', '/api/v1/vmrs', { name: 'Ports VMR', number: '770011', guestPin: '', hostPin: '7700' });
if (vmr.status !== 201) throw new Error(`could not create the test VMR: ${JSON.stringify(vmr.body)}`);

const register = (port: number, transport: 'u1' | 't1', device: string, timeoutSeconds = 8) =>
  runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${port}`,
    transport,
    auth: ['2001', 'secret-2001'],
    keys: { contact_port: '5060', account: '2001', expires: '300', device },
    timeoutSeconds,
  });

/** A REGISTER over TLS with SHA-256 digest; resolves with the final status line. */
async function registerOverTls(port: number, ca: Buffer, callId: string): Promise<string> {
  const socket = await connectTls(port, ca);
  try {
    const base = { transport: 'TLS' as const, account: '2001', domain: 'vcbox.local', callId, contact: 'sips:2001@127.0.0.1:5099', expires: 120 };
    const first = await streamExchange(socket, registerRequest({ ...base, cseq: 1 }), /\r\n\r\n/);
    const challenge = headerValues(first.received, 'WWW-Authenticate').find((c) => /SHA-256/.test(c)) ?? '';
    const second = await streamExchange(socket, registerRequest({ ...base, cseq: 2, authorization: digestAnswer(challenge, '2001', 'secret-2001', 'REGISTER', 'sip:vcbox.local') }), /\r\n\r\n/);
    return second.received.split('\r\n')[0] ?? '';
  } finally {
    socket.destroy();
  }
}

const certificate = readFileSync(path.join(dataDir, 'certificates', 'server.crt'));

t.test('the stored ports are the ones in use', async (t) => {
  const udp = await register(udpBefore, 'u1', 'before');
  t.ok(udp.ok, `registered over UDP on ${udpBefore}\n${udp.errors}`);
  t.equal(await registerOverTls(tlsBefore, certificate, 'tls-before'), 'SIP/2.0 200 OK', `registered over TLS on ${tlsBefore}`);
});

t.test('SIP ports changed in the settings: terminals register on the new ports, not on the old', async (t) => {
  // A meeting call in progress on the old port: it goes on, and its BYE (sent to the old port) is answered.
  const { udpRtp } = await openTerminals(t, 'udpRtp');
  const call = await joinMeeting(`127.0.0.1:${udpBefore}`, { dial: '770011', name: 'Ongoing', media: pcmuMedia(udpRtp.port), hold: 6000 });
  const changedAt = Date.now();
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'sip.port': udpAfter, 'sip.tlsPort': tlsAfter });
  t.equal(answer.status, 200);
  t.match(answer.body, { changed: ['sip.port', 'sip.tlsPort'], appliedNow: ['sip.port', 'sip.tlsPort'], restartRequired: [], live: { signaling: { state: 'applied', failures: [] }, reverted: [] } });
  t.same(
    answer.body.live.signaling.listeners,
    [`udp/127.0.0.1:${udpAfter}`, `tcp/127.0.0.1:${udpAfter}`, `tls/127.0.0.1:${tlsAfter}`],
    'the signaling service listens on the new ports',
  );
  t.same(answer.body.live.signaling.drainingPorts, [udpBefore], 'the former UDP port stays open for the call begun on it');
  t.match(answer.body.message, new RegExp(`SIP listens on udp/127\\.0\\.0\\.1:${udpAfter}.*registered terminals stay registered, and calls in progress on the former UDP port ${udpBefore} finish there`));

  for (const transport of ['u1', 't1'] as const) {
    const moved = await register(udpAfter, transport, `after-${transport}`);
    t.ok(moved.ok, `${transport}: registered on the new port ${udpAfter}\n${moved.errors}`);
  }
  const old = await register(udpBefore, 'u1', 'old-udp', 4);
  t.notOk(old.ok, `no answer on the former UDP port ${udpBefore} to a new REGISTER`);
  const oldTcp = await register(udpBefore, 't1', 'old-tcp', 4);
  t.notOk(oldTcp.ok, `the former TCP port ${udpBefore} takes no connection`);
  t.equal(await registerOverTls(tlsAfter, certificate, 'tls-after'), 'SIP/2.0 200 OK', `registered over TLS on the new port ${tlsAfter}`);
  await t.rejects(connectTls(tlsBefore, certificate), 'the former TLS port takes no connection');

  const online = await admin.call('GET', '/api/v1/online-users');
  const devices: { transport: string; registeredAt: string }[] = online.body.find((user: { account: string }) => user.account === '2001')?.devices ?? [];
  t.ok(
    devices.some((d) => d.transport === 'udp' && Date.parse(d.registeredAt) < changedAt),
    `the terminal registered before the change is still registered (${devices.length} devices)`,
  );
  const ended = await call.result;
  t.ok(ended.ok, `the call begun on the former port went on and its BYE there was answered\n${ended.errors}`);
});

t.test('a port another program holds: refused by its field, nothing moves, the setting is put back', async (t) => {
  const busy = await freePort();
  const squatter = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => squatter.bind(busy, '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'sip.port': busy });
  t.equal(answer.status, 200);
  t.match(answer.body.live, { reverted: ['sip.port'], problems: [{ key: 'sip.port', reason: new RegExp(`UDP could not move to port ${busy} .*stays on ${udpAfter}`) }] });
  t.match(answer.body.message, /address already in use|EADDRINUSE/i);
  t.equal((await admin.call('GET', '/api/v1/settings')).body['sip.port'].value, udpAfter, 'the stored port is the one in use again');
  const still = await register(udpAfter, 't1', 'still');
  t.ok(still.ok, `UDP/TCP still on ${udpAfter} (TCP did not move without UDP)\n${still.errors}`);
  const audit = await admin.call('GET', '/api/v1/audit?period=all');
  t.match(JSON.stringify(audit.body), /not applied: port unavailable/, 'the operation log shows the setting put back');
});

t.test('MCU port range changed: the next call is answered from a port inside the new range', async (t) => {
  // Above the default ranges (IVR 30000-37999, TURN 38000-49999, MCU 50000-59999), not overlapping them.
  const base = 60000 + Math.floor(Math.random() * 5) * 1000;
  const range = { min: base, max: base + 999 };
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'media.mcuPorts': range });
  t.match(answer.body, { appliedNow: ['media.mcuPorts'], restartRequired: [], live: { media: { state: 'applied' } } }, JSON.stringify(answer.body));
  t.match(answer.body.message, /The media service uses them for calls from now on; calls in progress keep their ports\./);
  const { udpRtp } = await openTerminals(t, 'udpRtp');
  const call = await joinMeeting(`127.0.0.1:${udpAfter}`, { dial: '770011', name: 'Range', media: pcmuMedia(udpRtp.port), hold: 1500 });
  t.ok(call.answeredPort >= range.min && call.answeredPort <= range.max, `answered port ${call.answeredPort} is inside ${range.min}-${range.max}`);
  const result = await call.result;
  t.ok(result.ok, `the call ended cleanly\n${result.errors}`);
});

t.test('IVR port range changed: the next IVR call is answered from a port inside it', async (t) => {
  const range = { min: 31000 + Math.floor(Math.random() * 6) * 1000, max: 0 };
  range.max = range.min + 999;
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'media.ivrPorts': range });
  t.match(answer.body, { appliedNow: ['media.ivrPorts'], live: { media: { state: 'applied' } } }, JSON.stringify(answer.body));
  const { udpRtp } = await openTerminals(t, 'udpRtp');
  const call = await joinMeeting(`127.0.0.1:${udpAfter}`, { dial: '88888', name: 'Ivr', media: pcmuMedia(udpRtp.port), hold: 1000 });
  t.ok(call.answeredPort >= range.min && call.answeredPort <= range.max, `the IVR answered from port ${call.answeredPort}, inside ${range.min}-${range.max}`);
  t.ok((await call.result).ok, 'the call ended cleanly');
});
