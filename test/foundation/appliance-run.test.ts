/**
 * The run command, from the outside: `scripts/run.sh` brings up the console, SIP on UDP/TCP and
 * TLS (with a certificate generated on first start and kept after), the TURN relay, the
 * database and the log files; Ctrl-C stops every process and frees the ports; with the supervisor
 * killed, its children stop by themselves.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../server/db/migrations.ts';
import t from 'tap';
import { alive, startAppliance } from '../helpers/appliance.ts';
import { tcpFree, udpFree } from '../helpers/ports.ts';
import { connectTls, optionsRequest, streamExchange } from '../helpers/sip-socket.ts';
import { runSipp } from '../helpers/sipp.ts';
import { stunProbe } from '../../server/turn/stun-probe.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';

t.test('run command: console, SIP, data directory, clean Ctrl-C, certificate kept', async (t) => {
  const box = await startAppliance();
  t.teardown(() => box.interrupt(5000));

  await t.test('console and API answer', async (t) => {
    const health = await fetch(`${box.baseUrl}/api/v1/health`);
    t.equal(health.status, 200);
    const body = (await health.json()) as { status: string; schemaVersion: number; version: string };
    t.equal(body.status, 'ok');
    t.equal(body.schemaVersion, SCHEMA_VERSION);
    t.match(body.version, /^\d+\.\d+\.\d+/);
    const page = await fetch(`${box.baseUrl}/`);
    t.equal(page.status, 200);
    t.match(await page.text(), /<title>vcbox<\/title>/);
    const guarded = await fetch(`${box.baseUrl}/api/v1/accounts`);
    t.equal(guarded.status, 401, 'the API wants a session');
    t.match(await guarded.json(), { code: 'VCBOX_ERR_AUTH_REQUIRED' });
    const initial = readFileSync(path.join(box.dataDir, 'secrets', 'initial-admin-password'), 'utf8').trim();
    const login = await fetch(`${box.baseUrl}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: initial }),
    });
    t.equal(login.status, 200, 'the first admin logs in with the generated password');
    t.match(await login.json(), { username: 'admin', role: 'admin', mustChangePassword: true });
  });

  await t.test('sipp OPTIONS over UDP gets 200', async (t) => {
    const result = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${box.sipPort}`, transport: 'u1' });
    t.ok(result.ok, `sipp passed (exit ${result.exitCode})\n${result.errors}`);
  });

  await t.test('sipp OPTIONS over TCP gets 200', async (t) => {
    const result = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${box.sipPort}`, transport: 't1' });
    t.ok(result.ok, `sipp passed (exit ${result.exitCode})\n${result.errors}`);
  });

  const certFile = path.join(box.dataDir, 'certificates', 'server.crt');
  await t.test('OPTIONS over TLS with the generated certificate', async (t) => {
    t.ok(existsSync(certFile), 'certificate generated in the data directory');
    const cert = readFileSync(certFile);
    const socket = await connectTls(box.sipTlsPort, cert); // verifies the chain and the name
    const presented = socket.getPeerX509Certificate();
    t.equal(presented?.fingerprint256, new X509Certificate(cert).fingerprint256, 'server presents the generated certificate');
    const { received } = await streamExchange(socket, optionsRequest({ transport: 'TLS', port: box.sipTlsPort }), /\r\n\r\n/);
    socket.destroy();
    t.match(received, /^SIP\/2\.0 200 OK\r\n/);
  });

  await t.test('data directory holds a WAL SQLite database and per-module logs', async (t) => {
    const db = new Database(path.join(box.dataDir, 'vcbox.sqlite'), { readonly: true });
    t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    db.close();
    // Each module's folder holds each process's file of the day (rotated by day and size).
    for (const [folder, writer, expect] of [
      ['web', 'control-plane', /SIP application connected to the signaling service/],
      ['sip', 'signaling', /SIP listeners up/],
      ['mcu', 'media', /media workers up/],
    ] as const) {
      const file = `${folder}/<day>.${writer}.log`;
      const names = readdirSync(path.join(box.dataDir, 'logs', folder)).filter((name) => /^\d{4}-\d{2}-\d{2}\./.test(name) && name.endsWith(`.${writer}.log`));
      t.equal(names.length, 1, `${file}: one file of today`);
      const text = readFileSync(path.join(box.dataDir, 'logs', folder, names[0] ?? ''), 'utf8');
      t.match(text, expect, `${file} has the module's lines`);
      t.doesNotThrow(() => text.trim().split('\n').map((line) => JSON.parse(line)), `${file} is JSON lines`);
    }
  });

  await t.test('the TURN relay answers STUN on its port', async (t) => {
    await waitFor('the relay', 15_000, () => stunProbe('127.0.0.1', box.turnPort, 500).then(() => true, () => false));
    t.pass(`STUN answered on ${box.turnPort}`);
    const turnLogs = readdirSync(path.join(box.dataDir, 'logs', 'turn')).filter((name) => name.endsWith('.turn.log'));
    t.equal(turnLogs.length, 1, 'the TURN service\'s file of today');
    t.match(readFileSync(path.join(box.dataDir, 'logs', 'turn', turnLogs[0] ?? ''), 'utf8'), /TURN relay started/, 'in the TURN module\'s folder');
  });

  const childPids = [...box.output().matchAll(/"pid":(\d+),"msg":"process started"/g)].map((m) => Number(m[1]));
  t.equal(childPids.length, 4, 'supervisor started four processes (control plane, signaling, media, TURN)');
  const fingerprint = new X509Certificate(readFileSync(certFile)).fingerprint256;

  const code = await box.interrupt();
  t.equal(code, 0, 'Ctrl-C ends the run command with status 0');
  t.same(childPids.filter(alive), [], 'no child process left');
  t.ok(await tcpFree(box.httpPort), 'console port released');
  t.ok((await tcpFree(box.sipPort)) && (await udpFree(box.sipPort)), 'SIP port released');
  t.ok((await tcpFree(box.turnPort)) && (await udpFree(box.turnPort)), 'TURN port released (coturn stopped too)');

  const again = await startAppliance({ dataDir: box.dataDir });
  t.teardown(() => again.interrupt(5000));
  t.equal(
    new X509Certificate(readFileSync(certFile)).fingerprint256,
    fingerprint,
    'the second start keeps the certificate',
  );
  t.equal(await again.interrupt(), 0);

  // kill -9 of the supervisor alone: its children (each in a process group of its own, so that
  // Ctrl-C reaches the supervisor only) notice and stop by themselves, freeing the ports.
  const third = await startAppliance({ dataDir: box.dataDir });
  t.teardown(() => third.interrupt(5000));
  const thirdPids = [...third.output().matchAll(/"pid":(\d+),"msg":"process started"/g)].map((m) => Number(m[1]));
  process.kill(third.process.pid as number, 'SIGKILL');
  await waitFor('the children to stop by themselves', 30_000, () => thirdPids.every((pid) => !alive(pid)));
  t.pass(`with the supervisor killed, its ${thirdPids.length} children stopped by themselves`);
  t.ok(await tcpFree(third.httpPort), 'console port released');
  t.ok((await tcpFree(third.sipPort)) && (await udpFree(third.sipPort)), 'SIP port released');
});
