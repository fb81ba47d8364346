/**
 * drachtio-srf, unchanged, against our signaling service: the wire protocol (authentication,
 * routes, ping, framing by bytes), the UAS side (createUAS, ACK, BYE, CDR events, ACK
 * timeout), the UAC side (createUAC, re-INVITE with modify(), BYE) and srf's digest client,
 * with sipp as the far SIP end.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import Srf from 'drachtio-srf';
import t from 'tap';
import { SignalingService } from '../../server/signaling/signaling-service.ts';
import { encodeFrame, FrameDecoder, type Frame } from '../../server/signaling/drachtio/wire-frames.ts';
import { setTimerBase } from '../../server/signaling/transactions/timers.ts';
import { ensureCertificate } from '../../server/tls/self-signed-certificate.ts';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports.ts';
import { runSipp, scenarioWith, startSipp } from '../helpers/sipp.ts';

// Short SIP timers so the ACK-timeout case ends in about a second (64·T1 = 1.28 s).
setTimerBase(20);

const secret = randomBytes(12).toString('hex');
const port = await freePort();
const certificate = await ensureCertificate(path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-srf-')), 'certs'));
const service = new SignalingService({
  host: '127.0.0.1',
  port,
  tlsPort: await freePort(),
  tls: certificate,
  application: { host: '127.0.0.1', port: 0, secret },
});
await service.start();
t.teardown(() => service.close());
const appPort = service.applicationPort ?? 0;

function connectSrf(withSecret = secret): Promise<{ srf: Srf; hostport: string }> {
  const srf = new Srf();
  return new Promise((resolve, reject) => {
    srf.on('connect', (error, hostport) => {
      if (!error) return resolve({ srf, hostport });
      srf.disconnect(); // srf would otherwise keep retrying
      reject(error);
    });
    srf.on('error', () => undefined);
    srf.connect({ host: '127.0.0.1', port: appPort, secret: withSecret });
  });
}

function rawFrames(socket: net.Socket, count: number): Promise<Frame[]> {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(frames), 3000);
    socket.on('data', (chunk: Buffer) => {
      frames.push(...decoder.push(chunk));
      if (frames.length >= count) {
        clearTimeout(timer);
        socket.removeAllListeners('data');
        resolve(frames);
      }
    });
  });
}

t.test('wire protocol: wrong secret refused; authenticate, route, ping, unknown command; byte framing', async (t) => {
  await t.rejects(connectSrf('wrong'), /failed to authenticate/, 'srf reports the refusal');

  const socket = net.connect(appPort, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((r) => socket.once('connect', r));
  // Three frames in one write, the middle one split from nothing, with a multi-byte character.
  const auth = encodeFrame(['id-1', 'authenticate', secret, 'tag-ü']);
  const route = encodeFrame(['id-2', 'route', 'invite']);
  const ping = encodeFrame(['id-3', 'ping']);
  const all = Buffer.concat([auth, route, ping, encodeFrame(['id-4', 'frobnicate'])]);
  socket.write(all.subarray(0, 7));
  setTimeout(() => socket.write(all.subarray(7)), 20);
  const frames = await rawFrames(socket, 4);
  t.same(frames.map((f) => f.tokens.slice(1, 4)), [
    ['response', 'id-1', 'OK'],
    ['response', 'id-2', 'OK'],
    ['response', 'id-3', 'OK'],
    ['response', 'id-4', 'NO'],
  ]);
  t.match(frames[0]?.tokens[4], new RegExp(`udp/127\\.0\\.0\\.1:${port},tcp/127\\.0\\.0\\.1:${port},tls/`), 'hostports of the listeners');
  t.match(frames[0]?.tokens[5], /^v\d+\.\d+\.\d+/, 'a version srf accepts');
  t.equal(frames[2]?.tokens[4], 'pong');
  t.equal(frames[3]?.tokens[4], 'Unknown message type');

  const { srf, hostport } = await connectSrf();
  t.teardown(() => srf.disconnect());
  t.match(hostport, `udp/127.0.0.1:${port}`, 'srf learns the hostport');
});

t.test('UAS: createUAS answers a sipp caller; ACK and BYE reach the dialog; CDR events', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const cdrs: string[] = [];
  srf.on('cdr:attempt', (source) => cdrs.push(`attempt:${source}`));
  srf.on('cdr:start', (source, _time, role) => cdrs.push(`start:${source}:${role}`));
  srf.on('cdr:stop', (source, _time, reason) => cdrs.push(`stop:${source}:${reason}`));
  const events: string[] = [];
  const ended = new Promise<void>((resolve) => {
    srf.invite(async (req, res) => {
      events.push(`invite from ${req.source_address} ${req.protocol}`);
      const dialog = await srf.createUAS(req, res, { localSdp: 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9000 RTP/AVP 0\r\n' });
      events.push('dialog');
      dialog.on('ack', () => events.push('ack'));
      dialog.on('destroy', () => {
        events.push('bye');
        resolve();
      });
    });
  });
  await new Promise((r) => setTimeout(r, 100)); // let the route reach the server
  const caller = await runSipp({ scenario: scenarioWith('uac-simple.xml', { hold: '200' }), target: `127.0.0.1:${port}`, transport: 'u1', keys: { caller: '3001', callee: '3000' } });
  t.ok(caller.ok, `sipp caller got 200 with the app's SDP and its BYE was answered\n${caller.errors}`);
  await ended;
  t.match(events[0], /invite from 127\.0\.0\.1 udp/);
  t.same(events.slice(1), ['dialog', 'ack', 'bye'], 'dialog created, ACK delivered, ended by the BYE');
  t.match(caller.messages, /m=audio 9000 RTP\/AVP 0/, 'the caller got the application SDP');
  t.match(caller.messages, /Contact: <sip:127\.0\.0\.1:\d+>/, 'the server added a Contact to the 200');
  t.same(cdrs, ['attempt:network', 'start:application:uas', 'stop:network:normal-release']);
});

t.test('UAS: a caller that never ACKs gets a BYE; srf sees the dialog destroyed', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const destroyed = new Promise<string>((resolve) => {
    srf.invite(async (req, res) => {
      const dialog = await srf.createUAS(req, res, { localSdp: 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9000 RTP/AVP 0\r\n' });
      dialog.on('destroy', (bye: Srf.SrfRequest) => resolve(bye.get('Reason') ?? ''));
    });
  });
  await new Promise((r) => setTimeout(r, 100));
  const caller = await runSipp({ scenario: 'uac-no-ack.xml', target: `127.0.0.1:${port}`, transport: 'u1', keys: { caller: '3001', callee: '3000' } });
  t.ok(caller.ok, `the silent caller got a BYE\n${caller.errors}`);
  t.match(caller.messages, /Reason: SIP ;cause=200 ;text="ACK timeout"/);
  t.match(await destroyed, /ACK timeout/, 'srf emitted destroy with the reason');
});

t.test('UAC: createUAC to a sipp terminal, re-INVITE with modify(), BYE with destroy()', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-reinvite.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  const dialog = await srf.createUAC(`sip:callee@127.0.0.1:${calleePort}`, {
    localSdp: 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n',
    headers: { From: 'sip:3001@localhost' },
  });
  t.match(dialog.remote.sdp, /m=audio \d+ RTP\/AVP 0/);
  const answer = await dialog.modify('v=0\r\no=app 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\n');
  t.match(answer, /m=audio 7000 RTP\/AVP 8/, 're-INVITE answered with the new SDP');
  dialog.destroy();
  const result = await callee.result;
  t.ok(result.ok, `callee saw INVITE, ACK, re-INVITE, ACK, BYE\n${result.errors}`);
  t.match(result.messages, new RegExp(`From: <sip:3001@127\\.0\\.0\\.1:${port}>;tag=`), '@localhost replaced by the box address');
  t.equal(service.stats().dialogs, 0, 'dialog gone after BYE');
});

t.test("srf's digest client answers a 401 through the service", async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const registrarPort = await freePort();
  const registrar = await startSipp({ scenario: 'uas-challenge.xml', transport: 'u1', localPort: registrarPort, timeoutSeconds: 20 });
  const response = await new Promise<Srf.SrfResponse>((resolve, reject) => {
    // srf's typings miss the (uri, opts, callback) form it documents and implements.
    (srf.request as unknown as (uri: string, opts: unknown, cb: (error: unknown, req: Srf.SrfRequest) => void) => void)(
      `sip:far.example@127.0.0.1:${registrarPort}`,
      {
        method: 'REGISTER',
        headers: { To: 'sip:alice@far.example', From: 'sip:alice@far.example', Contact: `<sip:alice@127.0.0.1:${port}>`, Expires: '300' },
        auth: { username: 'alice', password: 'wonderland' },
      },
      (error: unknown, req: Srf.SrfRequest) => {
        if (error) return reject(error);
        req.on('response', (res) => res && res.status >= 200 && resolve(res));
      },
    );
  });
  t.equal(response.status, 200, 'final answer 200 after the challenge');
  const authorization = response.get('Authorization');
  const param = (name: string) => new RegExp(`${name}="?([^",]+)"?`).exec(authorization)?.[1] ?? '';
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const expected = md5(`${md5('alice:far.example:wonderland')}:4f1b7c9d2e:${param('nc')}:${param('cnonce')}:auth:${md5(`REGISTER:${param('uri')}`)}`);
  t.equal(param('response'), expected, 'the digest response is right for the password');
  t.ok((await registrar.result).ok, 'sipp registrar saw both REGISTERs');
});

t.test('UAS: a reliable 183 (100rel) gets RSeq, is PRACKed, then the call is answered', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const sdp = 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9000 RTP/AVP 0\r\n';
  const steps: string[] = [];
  const ended = new Promise<void>((resolve) => {
    srf.invite((req, res) => {
      const send = res.send as unknown as (status: number, opts: object, callback: (error: unknown) => void, onPrack: (prack: Srf.SrfRequest) => void) => void;
      send.call(res, 183, { headers: { Require: '100rel', 'Content-Type': 'application/sdp' }, body: sdp }, (error) => error && steps.push(`183 failed: ${String(error)}`), async (prack) => {
        steps.push(`prack ${prack.get('RAck')}`);
        const dialog = await srf.createUAS(req, res, { localSdp: sdp });
        steps.push('answered');
        dialog.on('destroy', () => resolve());
      });
    });
  });
  await new Promise((r) => setTimeout(r, 100));
  const caller = await runSipp({ scenario: scenarioWith('uac-prack.xml', { hold: '100' }), target: `127.0.0.1:${port}`, transport: 'u1', keys: { caller: '3001', callee: '3000' } });
  t.ok(caller.ok, `caller: 183 with RSeq, PRACK → 200, 200, ACK, BYE\n${caller.errors}`);
  await ended;
  t.match(steps, [/^prack \d+ \d+ INVITE$/, 'answered']);
  t.match(caller.messages, /SIP\/2\.0 183 Session in Progress[\s\S]*?RSeq: \d+/, 'the server added RSeq');
});

t.test('createB2BUA: a sipp caller bridged to a sipp callee, BYE relayed', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-answer.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  const bridged = new Promise<string>((resolve, reject) => {
    srf.invite(async (req, res) => {
      try {
        const { uas, uac } = await srf.createB2BUA(req, res, `sip:callee@127.0.0.1:${calleePort}`, { headers: { From: '"Caller" <sip:3001@localhost>' } });
        uas.on('destroy', () => {
          uac.destroy();
          resolve('caller hung up');
        });
      } catch (error) {
        reject(error);
      }
    });
  });
  await new Promise((r) => setTimeout(r, 100));
  const caller = await runSipp({ scenario: scenarioWith('uac-simple.xml', { hold: '200' }), target: `127.0.0.1:${port}`, transport: 'u1', keys: { caller: '3001', callee: '3000' } });
  t.ok(caller.ok, `caller connected through the B2BUA and hung up\n${caller.errors}`);
  t.equal(await bridged, 'caller hung up');
  const answered = await callee.result;
  t.ok(answered.ok, `callee got INVITE, ACK and the relayed BYE\n${answered.errors}`);
  t.match(caller.messages, /m=audio \d+ RTP\/AVP 0/, "the caller got the callee's SDP");
});

t.test('UAC: a reliable 183 from the far end is PRACKed by srf through the service', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-reliable.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  const dialog = await srf
    .createUAC(`sip:callee@127.0.0.1:${calleePort}`, {
      localSdp: 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n',
      headers: { Supported: '100rel' },
    })
    .catch(async (error: Error) => {
      const result = await callee.result;
      throw new Error(`${error.message}; the callee saw: ${result.errors}`);
    });
  dialog.destroy();
  const result = await callee.result;
  t.ok(result.ok, `callee: 183 with RSeq → PRACK with RAck → 200, then 200/ACK/BYE\n${result.errors}`);
  t.match(result.messages, /PRACK sip:callee@127\.0\.0\.1:\d+\S* SIP\/2\.0[\s\S]*?RAck: 4711 \d+ INVITE/, "srf PRACKed the 183 with its RSeq");
});

t.test('UAC: an INVITE that rings longer than Timer B is not ended by it (Timer B stops at the first 1xx)', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-ring-long.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  const dialog = await srf
    .createUAC(`sip:callee@127.0.0.1:${calleePort}`, {
      localSdp: 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n',
    })
    .catch(async (error: Error) => {
      const result = await callee.result;
      throw new Error(`${error.message}; the callee saw: ${result.errors}`);
    });
  dialog.destroy();
  const result = await callee.result;
  t.ok(result.ok, `callee rang past Timer B, answered, got ACK and BYE (no CANCEL, no 408)\n${result.errors}`);
});

t.test('UAC: a reliable 183 without Contact is PRACKed at the request URI (it stands in as remote target)', async (t) => {
  const { srf } = await connectSrf();
  t.teardown(() => srf.disconnect());
  const calleePort = await freePort();
  const callee = await startSipp({ scenario: 'uas-reliable-no-contact.xml', transport: 'u1', localPort: calleePort, timeoutSeconds: 20 });
  const dialog = await srf
    .createUAC(`sip:callee@127.0.0.1:${calleePort}`, {
      localSdp: 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n',
      headers: { Supported: '100rel' },
    })
    .catch(async (error: Error) => {
      const result = await callee.result;
      throw new Error(`${error.message}; the callee saw: ${result.errors}`);
    });
  dialog.destroy();
  const result = await callee.result;
  t.ok(result.ok, `callee whose 183 had no Contact: PRACK, then 200/ACK/BYE\n${result.errors}`);
  t.match(result.messages, /PRACK sip:callee@127\.0\.0\.1:\d+ SIP\/2\.0[\s\S]*?RAck: 4711 \d+ INVITE/, 'the PRACK went to the request URI');
});
