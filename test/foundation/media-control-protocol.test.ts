/**
 * The media control protocol (media/control/media-control-protocol.ts) at the real media
 * service's end: a real MediaService on a real mediasoup worker behind its control server,
 * reached over its real Unix socket. Garbage lines, unknown methods (also the names every JS
 * object has) and requests of the wrong shape are each answered with one error naming the
 * method and the param; the media process keeps answering afterwards. The typed client
 * (server/media-client) gets the same errors as codes.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MediaControlServer } from '../../media/control/media-control-server.ts';
import { MediaService } from '../../media/media-service.ts';
import { DEFAULT_MEDIA_SETTINGS } from '../../media/media-settings.ts';
import { WorkerPool } from '../../media/worker-pool/worker-pool.ts';
import { MediaClient } from '../../server/media-client/media-client.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-media-protocol-'));
const socketPath = path.join(dir, 'run', 'media.sock');
const pool = new WorkerPool({ size: 1 });
await pool.start();
const service = new MediaService({ pool, network: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portRange: { min: 40000, max: 49999 } } });
const server = new MediaControlServer(service, socketPath);
await server.listen();
t.teardown(() => {
  server.close();
  service.close();
  pool.close();
});

type Answer = { id: unknown; result?: unknown; error?: { code: string; message: string } };

/** A raw connection: writes one line at a time and waits (bounded) for the one answer to it. */
async function rawConnection(): Promise<{ ask(line: string): Promise<Answer>; close(): void }> {
  const socket = net.createConnection(socketPath);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setEncoding('utf8');
  let buffered = '';
  const answers: Answer[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      answers.push(JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
    }
    wake?.();
  });
  return {
    async ask(line) {
      socket.write(`${line}\n`);
      const deadline = Date.now() + 10_000;
      while (answers.length === 0) {
        if (Date.now() > deadline || socket.destroyed) throw new Error(`no answer to ${line}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
      return answers.shift() as Answer;
    },
    close: () => socket.destroy(),
  };
}

t.test('garbage lines and wrong shapes are answered with an error naming what was wrong', async (t) => {
  const raw = await rawConnection();
  t.teardown(() => raw.close());
  const cases: [line: string, id: unknown, message: RegExp][] = [
    ['this is not json', null, /must be JSON/],
    ['[1,2,3]', null, /must be a JSON object/],
    ['"joinSip"', null, /must be a JSON object/],
    ['{"id":1}', 1, /the request has no method; the media control protocol has joinSip, /],
    ['{"id":2,"method":"rmrf","params":[]}', 2, /unknown method "rmrf"/],
    ['{"id":3,"method":"constructor","params":[]}', 3, /unknown method "constructor"/],
    ['{"id":4,"method":"__proto__","params":[]}', 4, /unknown method "__proto__"/],
    ['{"id":5,"method":"close","params":[]}', 5, /unknown method "close"/],
    ['{"id":18,"method":7,"params":[]}', 18, /a method that is a number/],
    ['{"id":6,"method":"measurePictureChange","params":["m"]}', 6, /unknown method/],
    ['{"id":7,"method":"joinSip","params":"m1"}', 7, /joinSip: params must be an array/],
    ['{"id":8,"method":"joinSip","params":[]}', 8, /joinSip: param 1 \(meeting\) is missing/],
    ['{"id":9,"method":"joinSip","params":["m1","v=0"]}', 9, /joinSip: param 2 \(request\) must be an object, got a string/],
    ['{"id":10,"method":"joinSip","params":["m1",[1]]}', 10, /param 2 \(request\) must be an object, got an array/],
    ['{"id":11,"method":"setMuted","params":["m","p","yes"]}', 11, /setMuted: param 3 \(muted\) must be true or false, got a string/],
    ['{"id":12,"method":"ivrPlay","params":["c","en",[1]]}', 12, /ivrPlay: param 3 \(prompts\) must be an array of strings/],
    ['{"id":13,"method":"setLayout","params":["m","9x9"]}', 13, /setLayout: param 2 \(choice\) must be one of auto, single/],
    ['{"id":14,"method":"ivrStop","params":["c","extra"]}', 14, /ivrStop: takes at most 1 params, got 2/],
    ['{"id":15,"method":"setWatch","params":["m","v",null]}', 15, /Meeting m has nobody|MEETING|^$/],
    ['{"id":16,"method":"setBroadcast","params":[null,null]}', 16, /setBroadcast: param 1 \(meeting\) must not be null/],
    ['{"id":17,"method":"produceWeb","params":["m","p","screen",{}]}', 17, /produceWeb: param 3 \(kind\) must be one of audio, video/],
    ['{"id":19,"method":"setPresenter","params":["m",42]}', 19, /setPresenter: param 2 \(participantId\) must be a string/],
    ['{"id":30,"method":"configure","params":[{}]}', 30, /configure: param 1 \(settings\)\.media\.mcuPorts is missing/],
    ['{"id":31,"method":"configure","params":[{"media.mcuPorts":"50000-59999"}]}', 31, /configure: param 1 \(settings\)\.media\.mcuPorts must be an object, got a string/],
  ];
  for (const [line, id, message] of cases) {
    const answer = await raw.ask(line);
    t.equal(answer.id, id, `${line}: answered with its id`);
    if (id === 15) {
      t.same(answer, { id: 15, result: null }, 'a well-formed request is run (watching in a meeting not live yet is kept)');
      continue;
    }
    t.equal(answer.error?.code, 'VCBOX_ERR_BAD_REQUEST', `${line}: a bad request`);
    t.match(answer.error?.message, message, `${line}: ${answer.error?.message}`);
  }
  const empty = await raw.ask('{"id":20,"method":"joinSip","params":["m1",{"participantId":"p1","displayName":"x","srtp":"optional"}]}');
  t.same(empty.error, { code: 'VCBOX_ERR_BAD_REQUEST', message: 'joinSip: param 2 (request).offer is missing', params: {} }, 'a field of an object param is checked too');
  // The right shape with wrong insides reaches the service, which refuses it without falling over.
  const garbled = await raw.ask('{"id":22,"method":"joinSip","params":["m1",{"participantId":"p1","displayName":"x","srtp":"optional","offer":"no SDP here"}]}');
  t.ok(garbled.error, `an offer that is no SDP is refused by the service (${garbled.error?.code}: ${garbled.error?.message})`);
  // An optional param the caller left out arrives as null (JSON arrays have no undefined): missing, not refused.
  t.same(await raw.ask('{"id":23,"method":"snapshot","params":[null]}'), { id: 23, result: [] }, 'snapshot(undefined) is every meeting');
  t.same(await raw.ask('{"id":24,"method":"leave","params":["m","p",null]}'), { id: 24, result: null }, 'leave without a reason');
  const ping = await raw.ask('{"id":21,"method":"ping"}');
  t.same(ping, { id: 21, result: { meetings: 0, pid: process.pid, uptimeSeconds: (ping.result as { uptimeSeconds: number }).uptimeSeconds } }, 'still answering, no meeting left behind');
});

t.test('the typed client gets the same refusals as error codes', async (t) => {
  const client = new MediaClient(socketPath, { timeoutMs: 10_000 });
  t.teardown(() => client.close());
  t.equal(await client.start(5000), true, 'connected');
  await t.rejects(client.media.setMuted('m', 'p', 'yes' as unknown as boolean), { code: 'VCBOX_ERR_BAD_REQUEST', message: /muted/ });
  await t.rejects(client.media.videoRouting('nobody-here'), { code: 'VCBOX_ERR_MEETING_NOT_LIVE' }, 'a service error keeps its code');
  t.same(await client.media.snapshot(undefined), [], 'an optional param passed as undefined is fine');
  t.same(await client.media.pictureState('nobody-here', undefined), null);
  const settings = { ...DEFAULT_MEDIA_SETTINGS, 'call.rtpTimeoutSeconds': 30 };
  t.same(await client.media.configure(settings), { followed: false }, "the settings are taken (this media service, a test's, follows none)");
  await t.rejects(client.media.configure({ ...settings, 'call.polling.rule': 'random' }), { code: 'VCBOX_ERR_BAD_REQUEST', message: /call\.polling\.rule must be one of round-robin, longest-unseen/ });
  await t.rejects(client.media.configure({ ...settings, 'web.httpPort': 80 } as typeof settings), { code: 'VCBOX_ERR_BAD_REQUEST', message: /does not take: "web\.httpPort"/ }, 'a setting it does not follow is refused by name');
  t.match(await client.media.stats(), { workers: [{ index: 0, pid: pool.workers[0]?.pid, cpuSeconds: Number, routers: 0 }], configuredWorkers: 1, meetings: 0, ivrSessions: 0 }, 'a good call answers');
});
