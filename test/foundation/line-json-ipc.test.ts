/**
 * The line-JSON control channel (server/core/line-json-ipc.ts) over a real Unix socket: its
 * server answers requests split over several writes and several requests in one write, answers
 * errors with their code, refuses a line past the bound and ends the connection; the two
 * clients built on the one request client (server/core/request-client.ts, tested in
 * ./request-client.test.ts) — the media client (server/media-client) and the signaling control
 * client — get answers and events through it.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { badRequest, ControlSocketServer } from '../../server/core/line-json-ipc.ts';
import { MediaClient } from '../../server/media-client/media-client.ts';
import { SignalingControlClient, SignalingControlServer, type SignalingStatus } from '../../server/signaling/signaling-control.ts';

function socketPath(name: string): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-ipc-')), 'run', `${name}.sock`);
}

/** Connects, writes the given pieces one by one, and collects answer lines until `count` or the end. */
function exchange(file: string, pieces: string[], count: number): Promise<{ lines: unknown[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(file);
    socket.setEncoding('utf8');
    const lines: unknown[] = [];
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${lines.length} of ${count} answers`));
    }, 5000);
    socket.on('connect', async () => {
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        lines.push(JSON.parse(buffered.slice(0, newline)));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
      if (lines.length >= count) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ lines, ended: false });
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ lines, ended: true });
    });
  });
}

t.test('the server: split and batched requests, error answers, an over-long line refused', async (t) => {
  const file = socketPath('echo');
  const server = new ControlSocketServer(file, {
    name: 'test channel',
    maxLineBytes: 1024,
    call: (method, params) => {
      if (method === 'echo') return params;
      throw badRequest(`unknown method ${String(method)}`);
    },
  });
  await server.listen();
  t.teardown(() => server.close());

  const split = await exchange(file, ['{"id":1,"meth', 'od":"echo","params":[1,"a"]}\n'], 1);
  t.same(split.lines, [{ id: 1, result: [1, 'a'] }], 'a request split over two writes is answered once');

  const batched = await exchange(file, ['{"id":2,"method":"echo","params":[2]}\n\n{"id":3,"method":"nope"}\n'], 2);
  const byId = (batched.lines as { id: number }[]).sort((a, b) => a.id - b.id);
  t.same(
    byId,
    [
      { id: 2, result: [2] },
      { id: 3, error: { code: 'VCBOX_ERR_BAD_REQUEST', message: 'unknown method nope', params: {} } },
    ],
    'two requests in one write (and a blank line between) get two answers (matched by id), the error with its code',
  );

  const long = await exchange(file, [`{"id":4,"method":"echo","params":["${'x'.repeat(2000)}`], 5);
  t.equal(long.ended, true, 'the connection is ended');
  t.same(long.lines, [{ id: null, error: { code: 'VCBOX_ERR_BAD_REQUEST', message: 'control line longer than 1024 bytes' } }]);
});

t.test('the media client: calls and events over the channel', async (t) => {
  const file = socketPath('media');
  const server = new ControlSocketServer(file, {
    name: 'media control channel (test)',
    maxLineBytes: 256 * 1024,
    call: (method) => (method === 'ping' ? { meetings: 0, pid: 1, uptimeSeconds: 2 } : undefined),
  });
  await server.listen();
  const client = new MediaClient(file, { timeoutMs: 5000 });
  t.teardown(() => {
    client.close();
    server.close();
  });
  t.equal(await client.start(5000), true, 'connected');
  t.same(await client.media.ping(), { meetings: 0, pid: 1, uptimeSeconds: 2 });
  const event = new Promise<unknown[]>((resolve) => client.once('participantclosed', (...args: unknown[]) => resolve(args)));
  server.broadcast({ event: 'participantclosed', args: ['m1', 'p1', 'bye'] });
  t.same(await event, ['m1', 'p1', 'bye'], 'a pushed event is re-emitted');
});

t.test('the signaling control client: status and apply', async (t) => {
  const file = socketPath('signaling');
  const status = { pid: 7, uptimeSeconds: 1, listeners: ['udp/127.0.0.1:5060'] } as unknown as SignalingStatus;
  let applied = 0;
  const server = new SignalingControlServer(
    {
      status: () => status,
      apply: async () => {
        applied++;
        return status;
      },
      orphans: () => ({ orphans: [], ended: [] }),
      adopt: (ids) => ids.filter((id) => id === 'known'),
      release: (id) => id === 'known',
    },
    file,
  );
  await server.listen();
  t.teardown(() => server.close());
  const client = new SignalingControlClient(file, { timeoutMs: 5000 });
  t.same(await client.status(), status);
  t.same(await client.apply(), status);
  t.equal(applied, 1, 'apply ran once');
  t.same(await client.orphans(), { orphans: [], ended: [] }, 'the calls waiting for an application');
  t.same(await client.adopt(['known', 'other']), ['known'], 'adopt answers the ids taken over');
  t.equal(await client.release('known', 'gone'), true);
  await t.rejects(client.adopt('x' as unknown as string[]), { code: 'VCBOX_ERR_BAD_REQUEST' }, 'adopt takes a list of ids');
  server.close();
  await t.rejects(client.status(), { code: 'VCBOX_ERR_SIGNALING_UNAVAILABLE' }, 'no service: a clear error');
});
