/**
 * The one request/response client of the line-JSON control channels
 * (server/core/request-client.ts) against real servers on real Unix sockets: answers matched
 * by id when they come back out of order, an error answer with its code and params, a call
 * that gets no answer rejected at its timeout, a server that dies mid-request, a server that
 * is not running (both ways of connecting), reconnection after a restart, pushed events, and
 * a line that is not JSON ignored.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createError } from '../../server/core/errors.ts';
import { ControlSocketServer } from '../../server/core/line-json-ipc.ts';
import { RequestClient, type RequestClientOptions } from '../../server/core/request-client.ts';

function socketPath(name: string): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-rc-')), 'run', `${name}.sock`);
}

const unavailable = (reason: string) => Object.assign(new Error(reason), { code: 'TEST_UNAVAILABLE' });
const options = (extra: Partial<RequestClientOptions> = {}): RequestClientOptions => ({ peer: 'the test service', maxLineBytes: 64 * 1024, timeoutMs: 5000, unavailable, ...extra });

/** A server whose `slow` call answers only after `fast` has been answered; `hang` never answers. */
async function startServer(file: string, extra: { onCall?: (method: unknown) => void } = {}): Promise<ControlSocketServer> {
  let fastDone: () => void = () => {};
  const fastAnswered = new Promise<void>((resolve) => {
    fastDone = resolve;
  });
  const server = new ControlSocketServer(file, {
    name: 'test channel',
    maxLineBytes: 64 * 1024,
    call: async (method, params) => {
      extra.onCall?.(method);
      if (method === 'slow') {
        await fastAnswered;
        return { slow: params };
      }
      if (method === 'fast') {
        setImmediate(fastDone);
        return { fast: params };
      }
      if (method === 'fail') throw createError('VCBOX_ERR_MEETING_NOT_LIVE', { id: 'm1' });
      if (method === 'hang') return new Promise(() => {});
      return 'pong';
    },
  });
  await server.listen();
  return server;
}

t.test('answers out of order are matched to their calls by id', async (t) => {
  const file = socketPath('order');
  const server = await startServer(file);
  const client = new RequestClient(file, options());
  t.teardown(() => {
    client.close();
    server.close();
  });
  const slow = client.call('slow', [1]);
  const fast = client.call('fast', [2]);
  const order: string[] = [];
  const noted = (name: string) => (value: unknown) => {
    order.push(name);
    return value;
  };
  const [a, b] = await Promise.all([slow.then(noted('slow')), fast.then(noted('fast'))]);
  t.same(order, ['fast', 'slow'], 'the second call was answered first');
  t.same(a, { slow: [1] });
  t.same(b, { fast: [2] });
  t.equal(client.pending, 0, 'nothing left pending');
});

t.test('an error answer rejects with its code, message and params', async (t) => {
  const file = socketPath('error');
  const server = await startServer(file);
  const client = new RequestClient(file, options());
  t.teardown(() => {
    client.close();
    server.close();
  });
  await t.rejects(client.call('fail'), { code: 'VCBOX_ERR_MEETING_NOT_LIVE', message: 'Meeting m1 has nobody in it.', params: { id: 'm1' } });
  t.equal(await client.call('ping'), 'pong', 'the connection still works');
});

t.test('a call without an answer is rejected at its timeout; the others go on', async (t) => {
  const file = socketPath('timeout');
  const server = await startServer(file);
  const client = new RequestClient(file, options({ timeoutMs: 300 }));
  t.teardown(() => {
    client.close();
    server.close();
  });
  await t.rejects(client.call('hang'), { code: 'TEST_UNAVAILABLE', message: 'the test service gave no answer to hang within 300 ms' });
  t.equal(client.pending, 0, 'the timed-out call is no longer pending');
  t.equal(await client.call('ping'), 'pong');
});

t.test('a server that dies mid-request: the call fails as unavailable, not a hang', async (t) => {
  const file = socketPath('dies');
  let server: ControlSocketServer | undefined;
  server = await startServer(file, { onCall: (method) => method === 'hang' && setImmediate(() => server?.close()) });
  const client = new RequestClient(file, options({ keepConnected: true, retryMs: 50 }));
  t.teardown(() => {
    client.close();
    server?.close();
  });
  t.equal(await client.start(5000), true);
  const lost = new Promise<void>((resolve) => client.once('disconnect', resolve));
  await t.rejects(client.call('hang'), { code: 'TEST_UNAVAILABLE', message: 'connection closed: the test service went away before it answered hang' });
  await lost;
  await t.rejects(client.call('ping'), { code: 'TEST_UNAVAILABLE', message: 'not connected to the test service' }, 'while it is away a call fails at once');
  // It comes back on the same socket path: the client reconnects by itself.
  const back = new Promise<void>((resolve) => client.once('connect', resolve));
  server = await startServer(file);
  await back;
  t.equal(await client.call('ping'), 'pong', 'calls work again after the restart');
});

t.test('connecting on demand: not running, then started', async (t) => {
  const file = socketPath('ondemand');
  const client = new RequestClient(file, options());
  t.teardown(() => client.close());
  await t.rejects(client.call('ping'), { code: 'TEST_UNAVAILABLE', message: 'the test service is not running' });
  const server = await startServer(file);
  t.teardown(() => server.close());
  t.equal(await client.call('ping'), 'pong', 'connects when asked');
  t.equal(await client.call('ping'), 'pong', 'and keeps the connection');
  client.close();
  await t.rejects(client.call('ping'), { code: 'TEST_UNAVAILABLE', message: 'the client is closed' });
});

t.test('events are handed over; a line that is not JSON is ignored', async (t) => {
  const file = socketPath('raw');
  // A hand-written server: garbage first, then an event, then the answer.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.dirname(file), { recursive: true });
  const raw = net.createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const request = JSON.parse(chunk.trim()) as { id: number };
      socket.write(`not json at all\n{"event":"tick","args":[1,"a"]}\n{"id":999,"result":"nobody asked"}\n{"id":${request.id},"result":"answer"}\n`);
    });
  });
  await new Promise<void>((resolve) => raw.listen(file, resolve));
  const events: unknown[] = [];
  const client = new RequestClient(file, options({ onEvent: (event, args) => events.push([event, args]) }));
  t.teardown(() => {
    client.close();
    raw.close();
  });
  t.equal(await client.call('anything'), 'answer');
  t.same(events, [['tick', [1, 'a']]]);
});
