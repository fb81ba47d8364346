/**
 * The TURN relay for browsers, end to end: the TURN service runs a real coturn (`turnserver`)
 * from the box's settings; the join answer carries the relay with the browser's own credentials;
 * a headless Chromium forced onto the relayed path (`?ice=relay`) joins a meeting with a
 * second, direct browser, and both receive each other's audio and video — the forced page's
 * selected paths are relay candidates, so its media went through coturn. The dashboard's
 * service status asks the relay for STUN; the relay follows its settings: a new port is taken
 * up without a restart of anything else, turned off it stops and the join answer offers none.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ServiceHealth } from '../../server/observability/service-health.ts';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { stunProbe } from '../../server/turn/stun-probe.ts';
import { turnAccessFrom } from '../../server/turn/turn-config.ts';
import { TurnGuestKeys, turnUserDb } from '../../server/turn/turn-guest-keys.ts';
import { TurnService } from '../../server/turn/turn-service.ts';
import { launchBrowser, openPage, type WatchedPage } from '../helpers/browser.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePorts } from '../helpers/ports.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const [turnPort, secondTurnPort] = (await freePorts(2)) as [number, number];
const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
// The media range is where this box's media service listens (test/helpers/sip-box.ts): the
// relay guard lets relayed media reach only it.
box.settings.update({ 'turn.port': turnPort, 'media.turnPorts': { min: 38000, max: 39999 }, 'media.mcuPorts': { min: 40000, max: 49999 } }, { actor: 'test' });
const runDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-turn-'));
const keys = new TurnGuestKeys(turnUserDb(runDir));
const turn = new TurnService({ settings: box.settings, process: { listenIp: '127.0.0.1', mediaAddress: '127.0.0.1', runDir }, pollMs: 200 }).start();
t.teardown(async () => {
  await turn.close();
  keys.close();
});
const access = () => turnAccessFrom(box.settings.getAll(), keys);
const health = new ServiceHealth({ turn: () => (access() ? { host: '127.0.0.1', port: access()?.port as number } : undefined) });
const room = new VmrStore(box.db).create({ name: 'Relay room', number: '880022', hostPin: '1122', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, {
  ...boxConsoleOptions(box),
  turn: access,
  webRoot: path.join(import.meta.dirname, '..', '..', 'web'),
});
const browser = await launchBrowser();
t.teardown(() => browser.close());

type Stats = { inbound: { kind: string; packets: number; framesDecoded?: number }[]; outbound: { kind: string; packets: number }[]; paths: string[] };
const statsOf = (p: WatchedPage) => p.page.evaluate('window.vcboxJoin.stats()') as Promise<Stats>;
const received = (s: Stats, kind: string) => s.inbound.filter((i) => i.kind === kind).reduce((sum, i) => sum + i.packets, 0);

async function joinAs(url: string, name: string): Promise<WatchedPage> {
  const p = await openPage(browser, url);
  await p.page.fill('#name', name);
  await p.page.click('#join');
  await p.page.waitForFunction("window.vcboxJoin.state.phase === 'joined'", undefined, { timeout: 20_000 });
  return p;
}

const turnStatus = async () => (await health.status()).find((s) => s.name === 'turn');

t.test('the relay answers STUN on its port, and the dashboard says so', async (t) => {
  await waitFor('the relay to answer STUN', 10_000, () => stunProbe('127.0.0.1', turnPort, 300).then(() => true, () => false));
  t.match(await turnStatus(), { status: 'up', detail: `answers STUN on port ${turnPort}` });
});

t.test('a browser forced onto the relay and a direct one see and hear each other', async (t) => {
  const relayed = await joinAs(`${base}/join/?m=${room.number}&ice=relay`, 'Relayed');
  const direct = await joinAs(`${base}/join/?m=${room.number}`, 'Direct');
  let a: Stats = await statsOf(relayed);
  let b: Stats = await statsOf(direct);
  await waitFor('media both ways', 20_000, async () => {
    a = await statsOf(relayed);
    b = await statsOf(direct);
    return received(a, 'audio') > 20 && received(a, 'video') > 20 && received(b, 'audio') > 20 && received(b, 'video') > 20;
  }).catch(() => undefined);
  t.ok(received(a, 'audio') > 20 && received(a, 'video') > 20, `the relayed browser receives audio and video (${received(a, 'audio')}/${received(a, 'video')} packets)`);
  t.ok(received(b, 'audio') > 20 && received(b, 'video') > 20, `the direct browser receives the relayed one (${received(b, 'audio')}/${received(b, 'video')} packets)`);
  t.ok(a.paths.length === 2 && a.paths.every((p) => p === 'relay'), `both transports of the forced page go through the relay: ${a.paths.join(', ')}`);
  t.same(relayed.errors, [], 'no errors on the relayed page');
  await relayed.page.close();
  await direct.page.close();
});

t.test("the join answer offers the relay with the browser's own credentials; none when it is off", async (t) => {
  const join = async () => {
    const p = await openPage(browser, `${base}/join/?m=${room.number}`);
    await p.page.fill('#name', 'Probe');
    // The page's own signaling: read the join answer it got.
    const answer = (await p.page.evaluate(`(async () => {
      const ws = new WebSocket(location.origin.replace('http', 'ws') + '/api/v1/join/ws');
      await new Promise((resolve) => ws.addEventListener('open', resolve));
      ws.send(JSON.stringify({ id: 1, method: 'join', params: { number: '${room.number}', name: 'Probe' } }));
      const message = await new Promise((resolve) => ws.addEventListener('message', (event) => resolve(JSON.parse(event.data))));
      ws.close();
      return message.result.iceServers;
    })()`)) as { urls: string[]; username: string; credential: string }[];
    await p.page.close();
    return answer;
  };
  const [server] = await join();
  t.same(server?.urls, [`turn:127.0.0.1:${turnPort}?transport=udp`, `turn:127.0.0.1:${turnPort}?transport=tcp`], 'UDP and TCP at the address the browser reached the box at');
  t.match(server?.username, /^guest-[0-9a-f-]{36}$/, "a user name of this browser's own");
  await waitFor('the credentials withdrawn after the page left', 5000, async () => keys.count === 0);
  t.pass('the page closed its socket: its credentials are gone from the relay');

  box.settings.update({ 'turn.enabled': false }, { actor: 'test' });
  await waitFor('the relay to stop', 10_000, () => stunProbe('127.0.0.1', turnPort, 300).then(() => false, () => true));
  t.same(await join(), [], 'no relay offered while it is off');
  t.match(await turnStatus(), { status: 'off' });
});

t.test('a new port is taken up by the running service', async (t) => {
  box.settings.update({ 'turn.enabled': true, 'turn.port': secondTurnPort }, { actor: 'test' });
  await waitFor('the relay on its new port', 10_000, () => stunProbe('127.0.0.1', secondTurnPort, 300).then(() => true, () => false));
  t.pass(`STUN answered on ${secondTurnPort}`);
  t.match(turn.state, { state: 'running', port: secondTurnPort });
  t.match(await turnStatus(), { status: 'up' });
});
