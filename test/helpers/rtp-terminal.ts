/**
 * The media side of a test terminal: a UDP socket on loopback whose port the test writes into
 * its SDP offer. It sends a payload stream (e.g. a G.711 tone made by ffmpeg) as RTP, 20 ms a
 * packet, to the address the box answered, and keeps what the box sends back. Bounded: a send
 * stops after its payload; the socket closes with the test.
 */
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg.ts';

export interface ReceivedRtp {
  readonly payloadType: number;
  readonly ssrc: number;
  readonly sequence: number;
  readonly payload: Buffer;
}

export class RtpTerminal {
  readonly socket = dgram.createSocket('udp4');
  readonly received: ReceivedRtp[] = [];
  port = 0;
  #stopped = false;
  /** Open gap watches: the longest pause between two received RTP packets since each began. */
  readonly #watches = new Set<{ last: number; longest: number }>();

  /**
   * Starts measuring the longest pause in the RTP this terminal receives (ms, wall clock on
   * arrival); `stop` returns it, counting the pause still running at the stop.
   */
  watchGap(): { stop(): number } {
    const watch = { last: performance.now(), longest: 0 };
    this.#watches.add(watch);
    return {
      stop: () => {
        this.#watches.delete(watch);
        return Math.round(Math.max(watch.longest, performance.now() - watch.last));
      },
    };
  }

  /** Stops a send in progress (it resolves at its next frame). */
  stop(): void {
    this.#stopped = true;
  }

  /** Binds the socket (on `port`, or a free one). */
  async open(port = 0): Promise<number> {
    this.socket.on('message', (packet) => {
      if (packet.length < 12 || packet.readUInt8(0) >> 6 !== 2) return;
      const pt = packet.readUInt8(1) & 0x7f;
      if (pt >= 72 && pt <= 76) return; // RTCP
      const now = performance.now();
      for (const watch of this.#watches) {
        watch.longest = Math.max(watch.longest, now - watch.last);
        watch.last = now;
      }
      // Like any RFC 3550 receiver: skip CSRCs and a header extension (mediasoup writes its MID one).
      let offset = 12 + (packet.readUInt8(0) & 0x0f) * 4;
      if (packet.readUInt8(0) & 0x10) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
      let end = packet.length;
      if (packet.readUInt8(0) & 0x20) end -= packet.readUInt8(packet.length - 1);
      this.received.push({ payloadType: pt, sequence: packet.readUInt16BE(2), ssrc: packet.readUInt32BE(8), payload: packet.subarray(offset, end) });
    });
    await new Promise<void>((resolve) => this.socket.bind(port, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
    return this.port;
  }

  /**
   * Sends `payload` cut into `frameBytes` frames as RTP every 20 ms; resolves when done. A bad
   * network on the way can be played: `lose(n)` true drops the n-th packet (its sequence number
   * is spent, as when the network loses it), `skew(n)` shifts the n-th packet's RTP timestamp by
   * that many ms against its sending time (the receiver measures it as jitter). `to` names the
   * port at each packet instead of `target` (a call whose media the box moves while it sends).
   */
  async send(
    target: number,
    payload: Buffer,
    options: { payloadType: number; frameBytes: number; timestampStep: number; lose?: (n: number) => boolean; skew?: (n: number) => number; to?: () => number },
  ): Promise<number> {
    const ssrc = 0x1234_0000 + Math.floor(Math.random() * 0xffff);
    let sequence = 1;
    let timestamp = 1000;
    let sent = 0;
    const started = Date.now();
    this.#stopped = false;
    for (let offset = 0; offset + options.frameBytes <= payload.length && !this.#stopped; offset += options.frameBytes) {
      const header = Buffer.alloc(12);
      header.writeUInt8(0x80, 0);
      header.writeUInt8(options.payloadType, 1);
      const n = sequence;
      header.writeUInt16BE(sequence++ & 0xffff, 2);
      // (The timestamp's clock: timestampStep units per 20 ms packet.)
      header.writeUInt32BE((timestamp + Math.round(((options.skew?.(n) ?? 0) * options.timestampStep) / 20)) >>> 0, 4);
      header.writeUInt32BE(ssrc, 8);
      timestamp += options.timestampStep;
      if (!options.lose?.(n)) this.socket.send(Buffer.concat([header, payload.subarray(offset, offset + options.frameBytes)]), options.to?.() ?? target, '127.0.0.1');
      sent++;
      const due = started + sent * 20;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    return sent;
  }

  /**
   * Sends digits as RFC 4733 telephone-events (payload type `payloadType`): per digit a start,
   * an update and three end packets with one RTP timestamp, as terminals do; 100 ms apart.
   */
  async sendDtmf(target: number, digits: string, payloadType = 101): Promise<void> {
    const ssrc = 0x5678_0000 + Math.floor(Math.random() * 0xffff);
    let sequence = 1;
    let timestamp = 8000;
    for (const digit of digits) {
      const event = '0123456789*#ABCD'.indexOf(digit.toUpperCase());
      const packets: [boolean, number][] = [[false, 160], [false, 480], [true, 800], [true, 800], [true, 800]];
      for (const [index, [end, duration]] of packets.entries()) {
        const packet = Buffer.alloc(16);
        packet.writeUInt8(0x80, 0);
        packet.writeUInt8((index === 0 ? 0x80 : 0) | payloadType, 1);
        packet.writeUInt16BE(sequence++ & 0xffff, 2);
        packet.writeUInt32BE(timestamp >>> 0, 4);
        packet.writeUInt32BE(ssrc, 8);
        packet.writeUInt8(event, 12);
        packet.writeUInt8((end ? 0x80 : 0) | 10, 13);
        packet.writeUInt16BE(duration, 14);
        this.socket.send(packet, target, '127.0.0.1');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      timestamp += 1600;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The received payloads of one payload type, joined (for a G.711 stream: its samples). */
  payloadOf(payloadType: number, skipFirst = 0): Buffer {
    return Buffer.concat(this.received.filter((p) => p.payloadType === payloadType).slice(skipFirst).map((p) => p.payload));
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/** Opens one terminal per name (each on a free port), closed when the test ends. */
export async function openTerminals<K extends string>(t: { teardown(fn: () => unknown): void }, ...names: K[]): Promise<Record<K, RtpTerminal>> {
  const terminals = {} as Record<K, RtpTerminal>;
  for (const name of names) terminals[name] = new RtpTerminal();
  t.teardown(() => {
    for (const terminal of Object.values<RtpTerminal>(terminals)) terminal.close();
  });
  await Promise.all(Object.values<RtpTerminal>(terminals).map((terminal) => terminal.open()));
  return terminals;
}

/** A sine tone encoded by ffmpeg as raw G.711 (format mulaw or alaw), 8 kHz mono. */
export async function g711Tone(format: 'mulaw' | 'alaw', frequency: number, seconds: number): Promise<Buffer> {
  const run = await runFfmpeg(['-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=8000:duration=${seconds}`, '-af', 'volume=0.5', '-f', format, '-'], 20_000);
  if (run.exitCode !== 0) throw new Error(`ffmpeg could not make the tone: ${run.stderr}`);
  return run.stdout;
}

/** Raw G.711 decoded by ffmpeg to s16le 8 kHz mono. */
export async function decodeG711(format: 'mulaw' | 'alaw', data: Buffer): Promise<Buffer> {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-g711-')), `in.${format}`);
  writeFileSync(file, data);
  const run = await runFfmpeg(['-f', format, '-ar', '8000', '-ac', '1', '-i', file, '-f', 's16le', '-'], 20_000);
  if (run.exitCode !== 0) throw new Error(`ffmpeg could not decode: ${run.stderr}`);
  return run.stdout;
}

const DTMF_FREQUENCIES: Record<string, [number, number]> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** In-band DTMF as a phone makes it: 100 ms of each digit's two tones, 100 ms gaps, G.711 by ffmpeg. */
export async function dtmfTones(format: 'mulaw' | 'alaw', digits: string): Promise<Buffer> {
  const pcm = Buffer.alloc(digits.length * 1600 * 2 + 1600 * 2);
  let offset = 800 * 2;
  for (const digit of digits) {
    const [low, high] = DTMF_FREQUENCIES[digit] ?? [0, 0];
    for (let i = 0; i < 800; i++) pcm.writeInt16LE(Math.round(5000 * (Math.sin((2 * Math.PI * low * i) / 8000) + Math.sin((2 * Math.PI * high * i) / 8000))), offset + i * 2);
    offset += 1600 * 2;
  }
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vcbox-dtmf-')), 'dtmf.raw');
  writeFileSync(file, pcm);
  const run = await runFfmpeg(['-f', 's16le', '-ar', '8000', '-ac', '1', '-i', file, '-f', format, '-'], 20_000);
  if (run.exitCode !== 0) throw new Error(`ffmpeg could not encode the DTMF tones: ${run.stderr}`);
  return run.stdout;
}
