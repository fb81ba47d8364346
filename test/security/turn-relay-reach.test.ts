/**
 * Attack: a guest with valid TURN credentials uses the box's relay to reach what it should
 * not. The real chain: the control plane's join WebSocket hands the guest its credentials, the
 * TURN service runs a real coturn from the box's settings (with the relay guard loaded), and
 * a TURN client (test/helpers/turn-client.ts) asks it over UDP and TCP on loopback.
 * - A datagram relayed to a UDP port of the media address outside the media range (a stand-in
 *   for the SIP port, the IVR, anything else listening there) never arrives, while datagrams to
 *   the media range sent after it on the same allocation do.
 * - A TCP relay (RFC 6062, the way to the console, SSH, the signaling protocol) is refused (442).
 * - Peers other than the media address (another loopback address, the LAN, the internet) are
 *   forbidden (403).
 * - After the guest leaves, its credentials no longer allocate (401).
 */
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { stunProbe } from '../../server/turn/stun-probe.ts';
import { turnAccessFrom } from '../../server/turn/turn-config.ts';
import { TurnGuestKeys, turnUserDb } from '../../server/turn/turn-guest-keys.ts';
import { TurnService } from '../../server/turn/turn-service.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { JoinSocket } from '../helpers/join-socket.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';
import { freePort } from '../helpers/ports.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';
import { TurnClient } from '../helpers/turn-client.ts';

// The test box's media service listens on 40000-49999 (test/helpers/sip-box.ts): that is its media range.
const MEDIA = { min: 40000, max: 49999 };
const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const turnPort = await freePort();
box.settings.update({ 'turn.port': turnPort, 'media.turnPorts': { min: 38000, max: 39999 }, 'media.mcuPorts': MEDIA, 'network.localDomain': 'reach.test' }, { actor: 'test' });
const runDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-turn-reach-'));
const keys = new TurnGuestKeys(turnUserDb(runDir));
const turn = new TurnService({ settings: box.settings, process: { listenIp: '127.0.0.1', mediaAddress: '127.0.0.1', runDir }, pollMs: 200 }).start();
t.teardown(async () => {
  await turn.close();
  keys.close();
});
await waitFor('the relay to answer STUN', 10_000, () => stunProbe('127.0.0.1', turnPort, 300).then(() => true, () => false));
const room = new VmrStore(box.db).create({ name: 'Relay reach', number: '880033', hostPin: '1122', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, { ...boxConsoleOptions(box), turn: () => turnAccessFrom(box.settings.getAll(), keys) });

/** A guest joins over the join WebSocket; its TURN user name and password from the join answer. */
async function guest(name: string): Promise<{ socket: JoinSocket; username: string; credential: string }> {
  const socket = await JoinSocket.connect(base);
  t.teardown(() => socket.close());
  const joined = await socket.request('join', { number: room.number, name });
  const [server] = (joined.result?.iceServers ?? []) as { username: string; credential: string }[];
  if (!server) throw new Error(`no relay in the join answer: ${JSON.stringify(joined)}`);
  return { socket, username: server.username, credential: server.credential };
}

const client = (over: 'udp' | 'tcp' = 'udp') => {
  const c = new TurnClient('127.0.0.1', turnPort, over);
  t.teardown(() => c.close());
  return c;
};

/** A UDP socket on 127.0.0.1 that keeps what it receives; inside the media range or not. */
async function listener(inMediaRange: boolean): Promise<{ port: number; received: string[]; next(): Promise<string> }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = inMediaRange ? MEDIA.min + Math.floor(Math.random() * (MEDIA.max - MEDIA.min)) : await freePort();
    const socket = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      socket.close();
      continue;
    }
    t.teardown(() => socket.close());
    const received: string[] = [];
    const waiting: ((text: string) => void)[] = [];
    socket.on('message', (message) => {
      received.push(message.toString('utf8'));
      waiting.shift()?.(message.toString('utf8'));
    });
    return {
      port,
      received,
      next: () =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`nothing arrived at port ${port} within 5 s`)), 5000);
          waiting.push((text) => {
            clearTimeout(timer);
            resolve(text);
          });
        }),
    };
  }
  throw new Error('no free UDP port for the listener after 100 tries');
}

t.test('relayed datagrams reach the media range and nothing else on the media address', async (t) => {
  const { username, credential } = await guest('Relay guest');
  const c = client();
  t.match(await c.allocate(username, credential), { ok: true }, "the guest's credentials allocate a UDP relay");
  t.match(await c.permit('127.0.0.1'), { ok: true }, 'a permission for the media address');
  const service = await listener(false);
  const media = await listener(true);
  t.ok(service.port < MEDIA.min || service.port > MEDIA.max, `a UDP service of the box on port ${service.port}, outside the media range ${MEDIA.min}-${MEDIA.max}`);
  // The forbidden datagram first, then two to the media range on the same allocation: the
  // relay handles them in order, so once both later ones have arrived the first would have too.
  c.send('127.0.0.1', service.port, Buffer.from('REGISTER sip:box SIP/2.0'));
  const first = media.next();
  c.send('127.0.0.1', media.port, Buffer.from('media 1'));
  t.equal(await first, 'media 1', `a datagram to the media range (port ${media.port}) arrives`);
  const second = media.next();
  c.send('127.0.0.1', media.port, Buffer.from('media 2'));
  t.equal(await second, 'media 2', 'and the allocation still relays after the refused one');
  t.same(service.received, [], 'the datagram to the port outside the media range never arrived');
});

t.test('a TCP relay and peers other than the media address are refused', async (t) => {
  const { username, credential } = await guest('TCP guest');
  const tcp = client('tcp');
  t.match(await tcp.allocate(username, credential, 'tcp'), { ok: false, code: 442 }, 'a TCP relay (RFC 6062) is refused: 442 Unsupported Transport Protocol');
  const udpOverTcp = client('tcp');
  t.match(await udpOverTcp.allocate(username, credential), { ok: true }, 'a UDP relay reached over TCP is fine (firewalls that let only TCP through)');
  for (const peer of ['127.0.0.2', '127.0.0.53', '169.254.169.254', '192.168.1.1', '10.0.0.1', '8.8.8.8', '224.0.0.1', '255.255.255.255']) {
    t.match(await udpOverTcp.permit(peer), { ok: false, code: 403 }, `a peer at ${peer} is forbidden`);
  }
});

t.test('after the guest leaves, its credentials no longer allocate', async (t) => {
  const { socket, username, credential } = await guest('Leaving guest');
  t.match(await client().allocate(username, credential), { ok: true }, 'they allocate while the guest is in the meeting');
  t.match((await socket.request('leave')).result, {}, 'the guest leaves');
  t.match(await client().allocate(username, credential), { ok: false, code: 401 }, 'after it left they are refused (401)');
  const inMeeting = () => box.app.live.get(room.number)?.participants.size ?? 0;
  const again = await guest('Closing guest');
  const before = inMeeting();
  again.socket.close();
  await waitFor('the closed socket to leave the meeting', 5000, () => inMeeting() === before - 1);
  t.match(await client().allocate(again.username, again.credential), { ok: false, code: 401 }, 'a guest whose page closed loses them too');
});
