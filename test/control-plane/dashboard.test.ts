/**
 * The dashboard as an operator sees it over HTTP: time, version, counts, the licence
 * placeholder, system samples filling a bounded ring buffer (a short interval here instead of
 * 10 s), chart history bounded in points (with the box's time zone for its labels), and each service's status following the real
 * services — the media control socket closed and reopened, the signaling service stopped —
 * with a SIP application, a signaling service and a media service (one mediasoup worker) on
 * loopback.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import t from 'tap';
import { MediaControlServer } from '../../media/control/media-control-server.ts';
import { AdminStore } from '../../server/admin/admin-store.ts';
import { MediaClient } from '../../server/media-client/media-client.ts';
import { ServiceHealth } from '../../server/observability/service-health.ts';
import { SystemSampler } from '../../server/observability/system-sampler.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { ConsoleClient } from '../helpers/console-client.ts';
import { startSipBox } from '../helpers/sip-box.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
await new AdminStore(box.db).create({ username: 'watcher', password: 'Watcher-pass-1', role: 'operator' });
const CAPACITY = 12;
const sampler = new SystemSampler({ dataDir: os.tmpdir(), intervalMs: 100, capacity: CAPACITY }).start();
t.teardown(() => sampler.close());
const health = new ServiceHealth({ signaling: () => box.app.connectedSince, media: box.mediaClient as MediaClient });
const base = await startConsoleApi(t, {
  state: { db: box.db, settings: box.settings },
  keepDb: true,
  live: box.app.live,
  online: () => box.app.location.online(),
  sampler,
  health,
});
const operator = new ConsoleClient(base);
t.equal((await operator.login('watcher', 'Watcher-pass-1')).status, 200);

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON
async function until(what: string, check: (body: any) => boolean, path = '/api/v1/dashboard'): Promise<any> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const { status, body } = await operator.call('GET', path);
    if (status === 200 && check(body)) return body;
    last = body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen within 100 polls; last answer ${JSON.stringify(last)}`);
}

const serviceOf = (body: { services: { name: string; status: string }[] }, name: string) => body.services.find((s) => s.name === name);

t.test('the dashboard needs a login', async (t) => {
  const anonymous = await new ConsoleClient(base).call('GET', '/api/v1/dashboard');
  t.equal(anonymous.status, 401);
  const history = await new ConsoleClient(base).call('GET', '/api/v1/dashboard/history?metric=cpu');
  t.equal(history.status, 401);
});

t.test('time, uptime, version, counts, the licence, the newest sample', async (t) => {
  const body = await until('a first sample', (b) => b.system !== null);
  t.ok(Math.abs(Date.parse(body.time) - Date.now()) < 60_000, 'system time');
  t.equal(body.timeZone, 'UTC+08:00');
  t.ok(body.uptimeSeconds > 0);
  t.match(body, { version: String, onlineUsers: 0, onlineDevices: 0, liveMeetings: 0, participants: 0, license: { status: String, portsInUse: 0 } });
  t.match(body.system, { at: String, memory: { usedBytes: Number, totalBytes: Number, percent: Number }, disk: { path: os.tmpdir(), usedBytes: Number, totalBytes: Number }, network: Array });
  t.ok(body.system.memory.usedBytes <= body.system.memory.totalBytes);
  t.ok(body.system.disk.usedBytes <= body.system.disk.totalBytes);
  t.ok(body.system.cpuPercent === null || (body.system.cpuPercent >= 0 && body.system.cpuPercent <= 100));
  t.match(body.sampling, { intervalSeconds: 0.1, capacity: CAPACITY });
});

t.test('the ring buffer fills to its capacity and stays there', async (t) => {
  const full = await until('a full ring buffer', (b) => b.sampling.samples === CAPACITY);
  t.equal(full.sampling.samples, CAPACITY);
  // More samples come in; the count stays at the capacity (oldest overwritten).
  const firstAt = full.system.at;
  const later = await until('a newer sample', (b) => b.system.at !== firstAt);
  t.equal(later.sampling.samples, CAPACITY);
  t.equal(sampler.series('cpu', 60, { maxPoints: 1000 }).length, CAPACITY, 'the history holds the capacity, no more');
});

t.test('history: one metric, bounded series, validated query', async (t) => {
  for (const metric of ['cpu', 'memory', 'network', 'disk']) {
    const { status, body } = await operator.call('GET', `/api/v1/dashboard/history?metric=${metric}&minutes=60`);
    t.equal(status, 200, metric);
    t.equal(body.metric, metric);
    t.ok(body.points.length >= 1 && body.points.length <= CAPACITY, `${metric}: ${body.points.length} points`);
    const times = body.points.map((p: { at: string }) => Date.parse(p.at));
    t.same(times, [...times].sort((a, b) => a - b), `${metric}: oldest first`);
  }
  const cpu = await operator.call('GET', '/api/v1/dashboard/history?metric=cpu&minutes=60&maxPoints=10');
  t.ok(cpu.body.points.length <= 10, 'averaged down to maxPoints');
  const memory = await operator.call('GET', '/api/v1/dashboard/history?metric=memory');
  t.match(memory.body.points[0], { usedBytes: Number, totalBytes: Number, percent: Number });
  const disk = await operator.call('GET', '/api/v1/dashboard/history?metric=disk');
  t.match(disk.body.points[0], { usedBytes: Number, totalBytes: Number, percent: Number });
  const network = await operator.call('GET', '/api/v1/dashboard/history?metric=network');
  t.type(network.body.interfaces, Array);
  t.ok(!network.body.interfaces.includes('lo'), 'loopback is not a NIC of the box');
  // The box's zone for the chart's time labels, as time.zone and time.dst set it.
  t.equal(cpu.body.timeZone, 'Etc/GMT-8', 'the default zone: UTC+08:00 without summer time');
  box.settings.update({ 'time.zone': 'UTC+01:00', 'time.dst': 'auto' }, { actor: 'test' });
  t.teardown(() => box.settings.update({ 'time.zone': 'UTC+08:00', 'time.dst': 'off' }, { actor: 'test' }));
  t.equal((await operator.call('GET', '/api/v1/dashboard/history?metric=cpu')).body.timeZone, 'Europe/Berlin', 'summer time followed: the region\'s zone');
  t.equal((await operator.call('GET', '/api/v1/dashboard/history?metric=gpu')).status, 400);
  t.equal((await operator.call('GET', '/api/v1/dashboard/history?metric=cpu&minutes=1441')).status, 400);
  t.equal((await operator.call('GET', '/api/v1/dashboard/history')).status, 400, 'metric is required');
});

t.test('service status follows the media and signaling services', async (t) => {
  const up = await until('all up', (b) => b.services.every((s: { status: string }) => s.status === 'up'));
  t.match(serviceOf(up, 'control-plane'), { status: 'up', pid: process.pid });
  t.match(serviceOf(up, 'media'), { status: 'up', meetings: 0, pid: process.pid, uptimeSeconds: Number, detail: 'answers ping' });
  t.match(serviceOf(up, 'signaling'), { status: 'up', uptimeSeconds: Number });

  box.control?.close();
  const mediaDown = await until('media down', (b) => serviceOf(b, 'media')?.status === 'down');
  t.match(serviceOf(mediaDown, 'media'), { detail: /not connected|connection closed/ }, 'down: the socket is gone (or went during the ping)');
  t.equal(serviceOf(mediaDown, 'signaling')?.status, 'up', 'signaling is not affected');

  // The media service's control socket back (as after a restart): the client reconnects.
  const reopened = new MediaControlServer(box.media as NonNullable<typeof box.media>, box.mediaSocket as string);
  t.teardown(() => reopened.close());
  await reopened.listen();
  await until('media up again', (b) => serviceOf(b, 'media')?.status === 'up');

  await box.service.close();
  const signalingDown = await until('signaling down', (b) => serviceOf(b, 'signaling')?.status === 'down');
  t.match(serviceOf(signalingDown, 'signaling'), { uptimeSeconds: null, detail: /not connected/ });
});

t.test('a media process that is connected but silent is down (probe timeout)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-silent-'));
  const socketPath = path.join(dir, 'media.sock');
  const sockets = new Set<net.Socket>();
  // Accepts the connection and never answers: what a hung media process looks like.
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
  const client = new MediaClient(socketPath);
  t.teardown(() => {
    client.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  t.ok(await client.start(5000), 'connected');
  const statuses = await new ServiceHealth({ media: client, probeTimeoutMs: 300 }).status();
  t.match(
    statuses.find((s) => s.name === 'media'),
    { status: 'down', detail: /not answering: no answer to ping within 300 ms/ },
  );
  t.match(
    statuses.find((s) => s.name === 'signaling'),
    { status: 'unknown' },
    'a service this process runs without is unknown',
  );
});
