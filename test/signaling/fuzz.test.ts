/**
 * Hostile input never takes the SIP side down: 100 000 mutated messages through the parser and
 * the stream framer (only "this is malformed" may come out), then 100 000 mutated datagrams
 * and a few thousand mutated stream messages against the real signaling service process,
 * which must still answer OPTIONS afterwards. Also: the flood limit and scanner blocking.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../server/core/config.ts';
import { openState } from '../../server/process/open-state.ts';
import { SipParseError, parseMessage } from '../../server/signaling/sip/sip-message.ts';
import { StreamFramer } from '../../server/signaling/sip/stream-framer.ts';
import { PROJECT_ROOT } from '../helpers/appliance.ts';
import { freePort } from '../helpers/ports.ts';
import { corpus, mutate, prng } from '../helpers/sip-fuzzer.ts';
import { connectTcp, optionsRequest, udpExchange } from '../helpers/sip-socket.ts';
import { runSipp } from '../helpers/sipp.ts';

const SEED = Number(process.env.VCBOX_FUZZ_SEED ?? Date.now() % 1_000_000);
t.comment(`fuzz seed ${SEED} (replay with VCBOX_FUZZ_SEED=${SEED})`);

t.test('parser and framer: 100 000 mutations, only SipParseError comes out', async (t) => {
  const random = prng(SEED);
  const messages = corpus(5060);
  let parsed = 0;
  let refused = 0;
  const unexpected: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const input = mutate(messages[i % messages.length] as string, random);
    try {
      parseMessage(input);
      parsed++;
    } catch (error) {
      if (error instanceof SipParseError) refused++;
      else if (unexpected.length < 5) unexpected.push(`${(error as Error).stack}\ninput: ${JSON.stringify(input.toString('latin1').slice(0, 300))}`);
    }
    try {
      new StreamFramer().push(input);
    } catch (error) {
      if (unexpected.length < 5) unexpected.push(`framer: ${(error as Error).stack}`);
    }
  }
  t.same(unexpected, [], 'no error other than SipParseError');
  t.ok(parsed > 1000 && refused > 1000, `both outcomes exercised: ${parsed} parsed, ${refused} refused`);
});

async function startSignaling(settings: Record<string, unknown>): Promise<{ child: ChildProcess; port: number; tlsPort: number; output: () => string }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-fuzz-'));
  const port = await freePort();
  const tlsPort = await freePort();
  const env = { ...process.env, VCBOX_DATA_DIR: dataDir, VCBOX_SIP_HOST: '127.0.0.1', VCBOX_SIP_PORT: String(port), VCBOX_SIP_TLS_PORT: String(tlsPort), VCBOX_SIGNALING_PORT: String(await freePort()), VCBOX_LOG_LEVEL: 'info' };
  const state = openState(loadConfig(env));
  state.settings.update(settings, { actor: 'test' });
  state.db.close();
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'server/signaling/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 100 && !/SIP listeners up/.test(output); i++) await new Promise((r) => setTimeout(r, 100));
  if (!/SIP listeners up/.test(output)) throw new Error(`signaling service did not start:\n${output}`);
  return { child, port, tlsPort, output: () => output };
}

t.test('the signaling service survives 100 000 mutated datagrams and mutated streams', async (t) => {
  const service = await startSignaling({ 'sip.floodLimitPerSecond': 0 });
  t.teardown(() => service.child.kill('SIGKILL'));
  const random = prng(SEED + 1);
  const messages = corpus(service.port);
  const socket = dgram.createSocket('udp4');
  let answered = 0;
  socket.on('message', () => answered++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  let sent = 0;
  for (let batch = 0; batch < 200; batch++) {
    await Promise.all(
      Array.from({ length: 500 }, () => {
        const data = mutate(messages[sent++ % messages.length] as string, random);
        return new Promise<void>((resolve) => socket.send(data.subarray(0, 65_000), service.port, '127.0.0.1', () => resolve()));
      }),
    );
    await new Promise((r) => setTimeout(r, 2)); // let the service drain its socket buffer
  }
  await new Promise((r) => setTimeout(r, 300));
  socket.close();
  t.equal(sent, 100_000, 'sent 100 000 datagrams');
  t.ok(answered > 5000, `the service read them: ${answered} answers (400s for the readable ones, 200/503 for the valid)`);

  let streamed = 0;
  for (let connection = 0; connection < 40; connection++) {
    const tcp = await connectTcp(service.port);
    tcp.on('error', () => undefined);
    tcp.on('data', () => undefined);
    for (let i = 0; i < 50; i++) {
      tcp.write(mutate(messages[streamed++ % messages.length] as string, random));
    }
    tcp.end();
  }
  t.equal(streamed, 2000, 'sent 2 000 messages over 40 TCP connections');
  await new Promise((r) => setTimeout(r, 500));

  t.equal(service.child.exitCode, null, 'the service process is still running');
  const reply = await udpExchange(service.port, optionsRequest({ transport: 'UDP', port: service.port }), 3000);
  t.match(reply, /^SIP\/2\.0 200 OK\r\n/, 'and answers OPTIONS over UDP');
  const result = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${service.port}`, transport: 't1' });
  t.ok(result.ok, `and over TCP (sipp)\n${result.errors}`);
  t.notMatch(service.output(), /"level":(50|60)/, 'no error or fatal line in its log');
});

t.test('a flood from one address is cut at the limit; scanners get no answer', async (t) => {
  const service = await startSignaling({ 'sip.floodLimitPerSecond': 50, 'sip.blockScanners': true });
  t.teardown(() => service.child.kill('SIGKILL'));
  const socket = dgram.createSocket('udp4');
  let answers = 0;
  socket.on('message', () => answers++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.2', () => resolve()));
  for (let i = 0; i < 1000; i++) socket.send(optionsRequest({ transport: 'UDP', port: service.port, callId: `flood${i}` }), service.port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 1000));
  socket.close();
  t.ok(answers >= 90 && answers <= 200, `about the burst (100) plus a second at 50/s answered, the rest dropped: ${answers} of 1000`);
  t.match(service.output(), /SIP flood from one address/);

  const fromElsewhere = await udpExchange(service.port, optionsRequest({ transport: 'UDP', port: service.port }));
  t.match(fromElsewhere, /^SIP\/2\.0 200 OK/, 'other addresses are still served');
  const scan = optionsRequest({ transport: 'UDP', port: service.port }).replace('Max-Forwards: 70', 'User-Agent: friendly-scanner\r\nMax-Forwards: 70');
  t.equal(await udpExchange(service.port, scan, 1000), undefined, 'friendly-scanner gets nothing back');
});
