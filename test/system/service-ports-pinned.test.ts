/**
 * A SIP port the process configuration fixes (VCBOX_SIP_PORT: how developers and tests run
 * several boxes on one machine) overrides the stored setting for that run, and the settings
 * answer says so instead of pretending: the real signaling service process (its entry point,
 * as systemd starts it) with the UDP/TCP port fixed and the TLS port from the settings, the
 * control plane's settings API asking it over its control channel. The TLS port (not fixed)
 * moves; the fixed one stays and the stored value waits. With the signaling service stopped
 * the answer says it applies the settings when it starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { dataPaths, loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { SignalingControlClient } from '../../server/signaling/signaling-control.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePorts, tcpFree } from '../helpers/ports.ts';
import { connectTls, optionsRequest, udpExchange } from '../helpers/sip-socket.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-pinned-'));
const config = loadConfig({ VCBOX_DATA_DIR: dataDir });
const [fixedPort, tlsBefore, tlsAfter, storedPort, applicationPort] = (await freePorts(5)) as [number, number, number, number, number];
const state = openState(config);
state.settings.update({ 'sip.tlsPort': tlsBefore }, { actor: 'test' });
await new AdminStore(state.db).ensureInitialAdmin(dataPaths(config).secrets);

let output = '';
const signaling: ChildProcess = spawn(process.execPath, [path.join(PROJECT_ROOT, 'server/signaling/main.ts')], {
  env: { ...process.env, VCBOX_DATA_DIR: dataDir, VCBOX_SIP_HOST: '127.0.0.1', VCBOX_SIP_PORT: String(fixedPort), VCBOX_SIP_TLS_PORT: '', VCBOX_SIGNALING_PORT: String(applicationPort) },
  stdio: ['ignore', 'pipe', 'pipe'],
});
signaling.stdout?.on('data', (d: Buffer) => (output += d.toString()));
signaling.stderr?.on('data', (d: Buffer) => (output += d.toString()));
const exited = new Promise<void>((resolve) => signaling.once('exit', () => resolve()));
t.teardown(async () => {
  if (signaling.exitCode === null) signaling.kill('SIGTERM');
  await exited;
});
await waitFor('the signaling service listening', 20_000, () => /signaling control channel listening/.test(output) || undefined);

const base = await startConsoleApi(t, { state, signaling: new SignalingControlClient(dataPaths(config).signalingSocket) });
const admin = new ConsoleClient(base);
await admin.login('admin', readFileSync(path.join(dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim());

t.test('the fixed port stays and the answer says why; the TLS port moves', async (t) => {
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'sip.port': storedPort, 'sip.tlsPort': tlsAfter });
  t.equal(answer.status, 200);
  t.match(answer.body.live.signaling, { state: 'applied', pinned: { port: /VCBOX_SIP_PORT/ }, failures: [] });
  t.same(answer.body.live.signaling.listeners, [`udp/127.0.0.1:${fixedPort}`, `tcp/127.0.0.1:${fixedPort}`, `tls/127.0.0.1:${tlsAfter}`]);
  t.match(answer.body.message, new RegExp(`The UDP/TCP port stays ${fixedPort} for this run: VCBOX_SIP_PORT .* fixes it; the stored ${storedPort} applies when the signaling service runs without that`));
  t.equal(state.settings.get('sip.port'), storedPort, 'the stored value is kept for a run without the fixed port');

  t.match(await udpExchange(fixedPort, optionsRequest({ transport: 'UDP', port: fixedPort })), /^SIP\/2\.0 200 OK/, 'OPTIONS answered on the fixed port');
  t.equal(await udpExchange(storedPort, optionsRequest({ transport: 'UDP', port: storedPort }), 1000), undefined, 'nothing on the stored port');
  const socket = await connectTls(tlsAfter);
  socket.destroy();
  t.pass(`TLS on the new port ${tlsAfter}`);
  await t.rejects(connectTls(tlsBefore), 'the former TLS port takes no connection');
});

t.test('with the signaling service stopped, the answer says when the change applies', async (t) => {
  signaling.kill('SIGTERM');
  await exited;
  t.ok(await tcpFree(tlsAfter), 'the service is gone');
  const answer = await admin.call('PATCH', '/api/v1/settings', { 'sip.tlsPort': tlsBefore });
  t.equal(answer.status, 200);
  t.match(answer.body.live.signaling, { state: 'unreachable', reason: /not running/ });
  t.match(answer.body.message, /signaling service did not answer: it applies the stored SIP settings .* when it starts/);
  t.equal(state.settings.get('sip.tlsPort'), tlsBefore, 'stored for its next start');
});
