/**
 * The connection registry of a stream transport (server/signaling/transports/connection-registry.ts),
 * driven directly over loopback TCP: a server that admits and adds each accepted socket as the
 * stream transport does. One address is refused its 65th connection (closed at once) while
 * another address (127.0.0.2) is still admitted; a closed connection frees its place; the
 * registry finds a peer's connection by its address and port and forgets it when it closes.
 */
import net from 'node:net';
import t from 'tap';
import { ConnectionRegistry, MAX_CONNECTIONS_PER_ADDRESS } from '../../server/signaling/transports/connection-registry.ts';

const registry = new ConnectionRegistry({ protocol: 'tcp' });
const ids: string[] = [];
let server: net.Server;
let port = 0;

t.before(async () => {
  server = net.createServer((socket) => {
    if (!registry.admit(socket)) return;
    ids.push(registry.add(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as net.AddressInfo).port;
});
t.teardown(() => {
  registry.closeAll();
  server?.close();
});

function connect(localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves true when the socket is closed by the far end within the bounded wait. */
function closedWithin(socket: net.Socket, timeoutMs = 3000): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

async function eventually(predicate: () => boolean, timeoutMs = 5000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

t.test(`the ${MAX_CONNECTIONS_PER_ADDRESS + 1}th connection from one address is refused; another address is admitted`, async (t) => {
  t.equal(MAX_CONNECTIONS_PER_ADDRESS, 64);
  const held: net.Socket[] = [];
  t.teardown(() => {
    for (const socket of held) socket.destroy();
  });
  for (let i = 0; i < MAX_CONNECTIONS_PER_ADDRESS; i++) held.push(await connect());
  t.ok(await eventually(() => registry.countFrom('127.0.0.1') === MAX_CONNECTIONS_PER_ADDRESS), `${MAX_CONNECTIONS_PER_ADDRESS} admitted`);
  t.equal(registry.size, MAX_CONNECTIONS_PER_ADDRESS);

  const refused = await connect();
  held.push(refused);
  t.ok(await closedWithin(refused), 'the next one is closed by the box');
  t.equal(registry.countFrom('127.0.0.1'), MAX_CONNECTIONS_PER_ADDRESS, 'not counted');
  t.equal(registry.size, MAX_CONNECTIONS_PER_ADDRESS, 'not added');

  const other = await connect('127.0.0.2');
  held.push(other);
  t.ok(await eventually(() => registry.countFrom('127.0.0.2') === 1), 'another address is admitted');
  t.notOk(await closedWithin(other, 300), 'and stays open');

  // A closed connection frees its place for the next one from that address.
  held[0]?.destroy();
  t.ok(await eventually(() => registry.countFrom('127.0.0.1') === MAX_CONNECTIONS_PER_ADDRESS - 1), 'a place freed');
  const again = await connect();
  held.push(again);
  t.ok(await eventually(() => registry.countFrom('127.0.0.1') === MAX_CONNECTIONS_PER_ADDRESS), 'admitted again');
  t.notOk(await closedWithin(again, 300), 'and stays open');

  for (const socket of held) socket.destroy();
  t.ok(await eventually(() => registry.countFrom('127.0.0.1') === 0 && registry.countFrom('127.0.0.2') === 0), 'every place freed once closed');
  t.equal(registry.size, 0);
});

t.test('a connection is found by its peer address and port, written to by id, and forgotten when closed', async (t) => {
  const socket = await connect();
  t.teardown(() => socket.destroy());
  const localPort = socket.localPort as number;
  t.ok(await eventually(() => registry.find('127.0.0.1', localPort) !== undefined), 'found by address:port');
  const id = registry.find('127.0.0.1', localPort) as string;
  t.match(id, /^tcp-\d+$/);
  t.ok(registry.has(id));
  const data = new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(''), 5000);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString());
    });
  });
  registry.writable(id)?.write('hello');
  t.equal(await data, 'hello', 'written on that connection');
  socket.destroy();
  t.ok(await eventually(() => !registry.has(id)), 'forgotten once closed');
  t.equal(registry.writable(id), undefined);
  t.equal(registry.find('127.0.0.1', localPort), undefined);
});

t.test('a lower cap applies per registry', async (t) => {
  const small = new ConnectionRegistry({ protocol: 'tls', maxConnectionsPerAddress: 1 });
  const smallServer = net.createServer((socket) => {
    if (small.admit(socket)) small.add(socket);
  });
  await new Promise<void>((resolve) => smallServer.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    small.closeAll();
    smallServer.close();
  });
  const smallPort = (smallServer.address() as net.AddressInfo).port;
  const first = await new Promise<net.Socket>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: smallPort }, () => resolve(s));
  });
  t.teardown(() => first.destroy());
  t.ok(await eventually(() => small.size === 1));
  const second = await new Promise<net.Socket>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: smallPort }, () => resolve(s));
  });
  t.teardown(() => second.destroy());
  t.ok(await closedWithin(second), 'the second is refused');
  t.notOk(await closedWithin(first, 300), 'the first stays');
  t.match(small.find('127.0.0.1', first.localPort as number), /^tls-\d+$/);
});
