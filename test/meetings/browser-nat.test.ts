/**
 * Static NAT for browsers: a browser outside the LAN is given ICE candidates on the box's
 * public IP, a LAN browser the private address, exactly as SIP callers get it in SDP c= lines
 * (test/meetings/static-nat.test.ts). The join page's WebSocket signaling is spoken by a real
 * WebSocket client over loopback; "outside" is a client whose socket is bound to 127.0.0.5
 * while the box's local networks are only 127.0.0.1/32. The public IP is a documentation
 * address (RFC 5737) that only appears in the answer: no traffic is sent to it.
 */
import t from 'tap';
import WebSocket from 'ws';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { startConsoleApi } from '../helpers/console-api.ts';
import { boxConsoleOptions, startSipBox } from '../helpers/sip-box.ts';

const PUBLIC_IP = '203.0.113.7';
const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const room = new VmrStore(box.db).create({ name: 'NAT browsers', number: '880021', hostPin: '1122', guestPin: '', capacity: 10 });
const base = await startConsoleApi(t, {
  ...boxConsoleOptions(box),
});

interface Candidate {
  address?: string;
  ip?: string;
  protocol: string;
}
interface Joined {
  send: { iceCandidates: Candidate[] };
  recv: { iceCandidates: Candidate[] };
}

/** Joins the room from a socket bound to `localAddress`; answers the join result and closes. */
async function joinFrom(localAddress: string, name: string): Promise<Joined> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/join/ws`, { localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  try {
    socket.send(JSON.stringify({ id: 1, method: 'join', params: { number: room.number, name } }));
    const answer = await new Promise<{ id: number; result?: Joined; error?: { message: string } }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to join within 10 s')), 10_000);
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8'));
        if (message.id === 1) {
          clearTimeout(timer);
          resolve(message);
        }
      });
    });
    if (!answer.result) throw new Error(`join refused: ${answer.error?.message}`);
    socket.send(JSON.stringify({ id: 2, method: 'leave', params: {} }));
    return answer.result;
  } finally {
    socket.close();
  }
}

const addresses = (joined: Joined) => [...new Set([...joined.send.iceCandidates, ...joined.recv.iceCandidates].map((c) => c.address ?? c.ip))];

t.test('NAT on: the outside browser gets the public IP in its ICE candidates, the LAN browser the private one', async (t) => {
  box.settings.update({ 'nat.enabled': true, 'nat.publicIp': PUBLIC_IP, 'nat.localNetworks': '127.0.0.1/32' }, { actor: 'test' });
  const outside = await joinFrom('127.0.0.5', 'Outside');
  t.same(addresses(outside), [PUBLIC_IP], 'outside browser: every candidate (UDP and TCP, both transports) on the public IP');
  t.same([...new Set(outside.send.iceCandidates.map((c) => c.protocol))].sort(), ['tcp', 'udp'], 'UDP and TCP candidates');
  const lan = await joinFrom('127.0.0.1', 'Lan');
  t.same(addresses(lan), ['127.0.0.1'], "LAN browser: the box's private media address");
});

t.test('NAT off: the outside browser gets the private address like everyone', async (t) => {
  box.settings.update({ 'nat.enabled': false }, { actor: 'test' });
  const outside = await joinFrom('127.0.0.5', 'Outside again');
  t.same(addresses(outside), ['127.0.0.1'], 'no public IP without NAT');
});
