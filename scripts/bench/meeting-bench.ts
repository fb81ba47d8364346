/**
 * Meeting media benchmark, two figures:
 *
 * 1. Dial-to-first-audio: a SIP terminal (a UDP client here, timing each step) dials a VMR on
 *    the real stack — signaling service, SIP application, media control socket, media service
 *    with one mediasoup worker, all on loopback — and the time from sending the INVITE to the
 *    first RTP packet of its mix arriving is measured over sequential calls (p50, p95, max).
 *    Target < 500 ms.
 * 2. SFU fan-out: one Opus stream (50 packets/s) consumed N times on one worker (PlainTransports
 *    to a sink socket); for each N the worker's CPU share of one core is read from its
 *    resource usage while the packets flow. Reports the largest N below 80 % of a core.
 *
 * Usage: node scripts/bench/meeting-bench.ts [--calls 20] [--consumers 250,500,1000,2000]
 * Last line: JSON.
 */
import { randomBytes } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import { ROUTER_CODECS } from '../../media/meetings/meeting-media.ts';
import { benchRequest, bindUdp, percentile, startBenchStack } from './bench-stack.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const CALLS = Number(option('calls', '20'));
const CONSUMER_STEPS = option('consumers', '250,500,1000,2000').split(',').map(Number);

// ------------------------------------------------------------------ 1. dial to first audio
async function dialToFirstAudio(): Promise<{ p50: number; p95: number; max: number; calls: number }> {
  const stack = await startBenchStack({ tag: 'meeting', number: '990001' });
  const { vmr, sipPort } = stack;

  const sip = await bindUdp();
  const rtp = await bindUdp();
  const latencies: number[] = [];
  for (let call = 0; call < CALLS; call++) {
    const callId = `bench-${call}-${randomBytes(4).toString('hex')}`;
    const sdp = `v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${rtp.address().port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
    const local = `127.0.0.1:${sip.address().port}`;
    const request = (method: string, cseq: number, toTag = '', body = '') =>
      benchRequest({ method, cseq, target: `${vmr.number}**1234@127.0.0.1:${sipPort}`, local, user: 'bench', fromTag: `${call}`, number: vmr.number, callId, toTag, body });
    const invite = request('INVITE', 1, '', sdp);
    let toTag = '';
    const started = performance.now();
    const firstAudio = new Promise<number>((resolve) => rtp.once('message', () => resolve(performance.now())));
    const answered = new Promise<void>((resolve) => {
      const onMessage = (data: Buffer) => {
        const text = data.toString();
        if (!text.startsWith('SIP/2.0 200') || !text.includes(callId)) return;
        toTag = /^To:.*;tag=([^;\r\n]+)/im.exec(text)?.[1] ?? '';
        sip.off('message', onMessage);
        resolve();
      };
      sip.on('message', onMessage);
    });
    sip.send(invite, sipPort, '127.0.0.1');
    await answered;
    const ackAndBye = (method: 'ACK' | 'BYE', cseq: number) => request(method, cseq, toTag);
    sip.send(ackAndBye('ACK', 1), sipPort, '127.0.0.1');
    const audioAt = await Promise.race([firstAudio, new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 3000))]);
    latencies.push(audioAt - started);
    sip.send(ackAndBye('BYE', 2), sipPort, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 150));
    rtp.removeAllListeners('message');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  sip.close();
  rtp.close();
  await stack.close();
  const ok = latencies.filter((l) => Number.isFinite(l));
  return { p50: Math.round(percentile(ok, 50)), p95: Math.round(percentile(ok, 95)), max: Math.round(Math.max(...ok)), calls: ok.length };
}

// ------------------------------------------------------------------ 2. SFU fan-out
async function sfuFanOut(): Promise<{ consumers: number; cpuPercent: number }[]> {
  const worker = await mediasoup.createWorker({ logLevel: 'error' });
  const router = await worker.createRouter({ mediaCodecs: ROUTER_CODECS });
  const sink = await bindUdp();
  sink.setRecvBufferSize(8 * 1024 * 1024);
  let received = 0;
  sink.on('message', () => received++);
  const source = await bindUdp();
  const input = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  const producer = await input.produce({
    kind: 'audio',
    rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1111 }] },
  });
  const payload = randomBytes(60);
  let seq = 0;
  const timer = setInterval(() => {
    const header = Buffer.alloc(12);
    header.writeUInt8(0x80, 0);
    header.writeUInt8(111, 1);
    header.writeUInt16BE(seq & 0xffff, 2);
    header.writeUInt32BE((seq * 960) >>> 0, 4);
    header.writeUInt32BE(1111, 8);
    seq++;
    source.send(Buffer.concat([header, payload]), input.tuple.localPort, '127.0.0.1');
  }, 20);
  const results: { consumers: number; cpuPercent: number; delivered: number }[] = [];
  const transports: mediasoup.types.PlainTransport[] = [];
  for (const target of CONSUMER_STEPS) {
    while (transports.length < target) {
      const out = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
      await out.connect({ ip: '127.0.0.1', port: sink.address().port });
      await out.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
      transports.push(out);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = await worker.getResourceUsage();
    const receivedBefore = received;
    const wallBefore = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const after = await worker.getResourceUsage();
    const wall = performance.now() - wallBefore;
    const cpuMs = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime;
    const expected = (wall / 20) * target;
    const result = { consumers: target, cpuPercent: Math.round((cpuMs / wall) * 1000) / 10, delivered: Math.round(((received - receivedBefore) / expected) * 1000) / 1000 };
    results.push(result);
    console.log(`SFU consumers ${String(target).padStart(5)}: worker cpu ${result.cpuPercent} % of one core, ${(target * 50).toLocaleString('en')} packets/s out, delivered ${(result.delivered * 100).toFixed(1)} %`);
  }
  clearInterval(timer);
  source.close();
  sink.close();
  worker.close();
  return results;
}

const dial = await dialToFirstAudio();
console.log(`dial to first audio packet over ${dial.calls} calls: p50 ${dial.p50} ms, p95 ${dial.p95} ms, max ${dial.max} ms (target < 500 ms)`);
const sfu = await sfuFanOut();
const within = sfu.filter((r) => r.cpuPercent < 80);
console.log(
  JSON.stringify({
    benchmark: 'meeting-media',
    dialToFirstAudioMs: dial,
    sfu,
    sfuConsumersPerWorkerBelow80PercentCpu: within.length > 0 ? Math.max(...within.map((r) => r.consumers)) : 0,
  }),
);
process.exit(0);
