/**
 * ffmpeg (Debian) as a SIP terminal's video: a camera sending a solid colour as VP8 over RTP
 * from the terminal's own video port, and a screen that decodes the video the box sends to a
 * port (described by an SDP file) into small RGB frames the test can look at. Both processes
 * are bounded in time and killed at teardown.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

type Teardown = { teardown(fn: () => unknown): void };

/** A camera: `colour` (an ffmpeg colour name) as VP8, payload type 97, from `fromPort` to `toPort`. */
export function startCamera(t: Teardown, colour: string, fromPort: number, toPort: number, seconds = 40): ChildProcess {
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${colour}:size=320x180:rate=15`, '-t', String(seconds),
      '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '150k', '-g', '15', '-payload_type', '97',
      '-f', 'rtp', `rtp://127.0.0.1:${toPort}?localrtpport=${fromPort}&pkt_size=1200`],
    { stdio: 'ignore' },
  );
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

export type Rgb = readonly [number, number, number];

/**
 * A screen: decodes video arriving on `port` (VP8 as 97, or H.264 as 109) to WIDTH×HEIGHT RGB
 * frames. ffmpeg's RTP input stays with the first stream (SSRC) it decodes, where a terminal
 * starts decoding a new one: `restart()` is that terminal's decoder reset when the box switches
 * it to another stream (a forwarded camera instead of the composed picture).
 *
 * ffmpeg's SDP input sends no RTCP, so a terminal's video RTCP is the screen's own socket on
 * `rtcpPort` when given (the terminal's offer names it with `a=rtcp:`): it hears the box's
 * sender reports and, while the restarted decoder has no picture yet, asks for a key frame
 * with an RTCP PLI (RFC 4585) every 400 ms, as a terminal whose decoder starts mid-stream does —
 * the key frame sent when the box switched may have come before the new decoder listened.
 *
 * With `sizes`, the decoder also reports the size each frame arrived in (ffmpeg's showinfo,
 * before scaling): `size` is the latest, `largest` the largest since the last restart.
 */
export class Screen {
  static readonly WIDTH = 160;
  static readonly HEIGHT = 90;
  readonly #sdp: string;
  readonly #seconds: number;
  #child: ChildProcess;
  #pending = Buffer.alloc(0);
  #latest: Buffer | undefined;
  #rtcp: dgram.Socket | undefined;
  /** Sender SSRCs of the box's reports → when last heard and from where. */
  readonly #senders = new Map<number, { at: number; port: number }>();
  #asking: NodeJS.Timeout | undefined;
  readonly #sizes: boolean;
  #stderr = '';
  frames = 0;
  /** With `sizes`: the decoded size of the latest frame, and the largest since the last restart. */
  size: { width: number; height: number } | undefined;
  largest: { width: number; height: number } | undefined;

  /**
   * With `crypto` (an SDES inline key, AES_CM_128_HMAC_SHA1_80) the stream is SRTP, decrypted
   * with that key (a wrong one decodes nothing).
   */
  constructor(t: Teardown, port: number, codec: 'VP8' | 'H264' = 'VP8', seconds = 60, rtcpPort?: number, options: { sizes?: boolean; crypto?: string } = {}) {
    this.#sizes = options.sizes ?? false;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-screen-'));
    this.#sdp = path.join(dir, 'screen.sdp');
    this.#seconds = seconds;
    const proto = options.crypto ? 'RTP/SAVP' : 'RTP/AVP';
    const lines = codec === 'VP8' ? [`m=video ${port} ${proto} 97`, 'a=rtpmap:97 VP8/90000'] : [`m=video ${port} ${proto} 109`, 'a=rtpmap:109 H264/90000', 'a=fmtp:109 packetization-mode=1'];
    if (options.crypto) lines.push(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${options.crypto}`);
    writeFileSync(this.#sdp, ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=screen', 'c=IN IP4 127.0.0.1', 't=0 0', ...lines, 'a=recvonly', ''].join('\n'));
    this.#child = this.#decode();
    if (rtcpPort !== undefined) this.#rtcp = this.#listenRtcp(rtcpPort);
    t.teardown(() => {
      this.#child.kill('SIGKILL');
      clearInterval(this.#asking);
      this.#rtcp?.close();
    });
  }

  #listenRtcp(rtcpPort: number): dgram.Socket {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (packet, from) => {
      // A compound packet: each part's header gives its type and length (in 32-bit words - 1).
      for (let offset = 0; offset + 8 <= packet.length; offset += (packet.readUInt16BE(offset + 2) + 1) * 4) {
        if (packet[offset + 1] === 200) this.#senders.set(packet.readUInt32BE(offset + 4), { at: Date.now(), port: from.port });
      }
    });
    socket.on('error', () => socket.close());
    socket.bind(rtcpPort, '127.0.0.1');
    return socket;
  }

  /** PLI to every stream the box reported sending in the last 2 s, until a frame is decoded (at most 30 s). */
  #askForKeyFrames(): void {
    clearInterval(this.#asking);
    const socket = this.#rtcp;
    if (!socket) return;
    const until = Date.now() + 30_000;
    const ask = () => {
      if (this.#latest || Date.now() > until) {
        clearInterval(this.#asking);
        return;
      }
      for (const [ssrc, sender] of this.#senders) {
        if (Date.now() - sender.at > 2000) continue;
        const pli = Buffer.alloc(12);
        pli.writeUInt8(0x81, 0); // V=2, FMT=1 (PLI)
        pli.writeUInt8(206, 1); // PSFB
        pli.writeUInt16BE(2, 2);
        pli.writeUInt32BE(0x5c5e_e4e0, 4); // the terminal's own SSRC (any)
        pli.writeUInt32BE(ssrc, 8);
        socket.send(pli, sender.port, '127.0.0.1');
      }
    };
    this.#asking = setInterval(ask, 400);
  }

  #decode(): ChildProcess {
    const scale = `scale=${Screen.WIDTH}:${Screen.HEIGHT}`;
    const child = spawn(
      'ffmpeg',
      ['-hide_banner', '-nostdin', '-loglevel', this.#sizes ? 'info' : 'error', '-protocol_whitelist', 'file,udp,rtp,srtp,crypto', '-fflags', '+nobuffer', '-flags', 'low_delay',
        '-i', this.#sdp, '-t', String(this.#seconds), '-vf', this.#sizes ? `showinfo,${scale}` : scale, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      { stdio: ['ignore', 'pipe', this.#sizes ? 'pipe' : 'ignore'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (this.#stderr + chunk.toString()).split('\n');
      this.#stderr = lines.pop() ?? '';
      for (const line of lines) {
        const match = /Parsed_showinfo.* s:(\d+)x(\d+) /.exec(line);
        if (!match) continue;
        const size = { width: Number(match[1]), height: Number(match[2]) };
        this.size = size;
        if (!this.largest || size.width * size.height > this.largest.width * this.largest.height) this.largest = size;
      }
    });
    const size = Screen.WIDTH * Screen.HEIGHT * 3;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= size) {
        this.#latest = this.#pending.subarray(0, size);
        this.#pending = this.#pending.subarray(size);
        this.frames++;
      }
    });
    return child;
  }

  /** Starts decoding afresh (the stream arriving now); the last frame seen is forgotten. */
  async restart(): Promise<void> {
    const old = this.#child;
    if (old.exitCode === null && old.signalCode === null) {
      const exited = new Promise((resolve) => old.once('exit', resolve));
      old.kill('SIGKILL');
      await exited;
    }
    this.#pending = Buffer.alloc(0);
    this.#latest = undefined;
    this.size = undefined;
    this.largest = undefined;
    this.#child = this.#decode();
    this.#askForKeyFrames();
  }

  /** The latest frame as a PPM image (test artefacts: what the terminal saw). */
  saveFrame(file: string): void {
    if (this.#latest) writeFileSync(file, Buffer.concat([Buffer.from(`P6\n${Screen.WIDTH} ${Screen.HEIGHT}\n255\n`), this.#latest]));
  }

  /** The colour at (fx, fy), fractions of the width and height, of the latest frame. */
  colourAt(fx: number, fy: number): Rgb | undefined {
    const frame = this.#latest;
    if (!frame) return undefined;
    const x = Math.min(Screen.WIDTH - 1, Math.floor(fx * Screen.WIDTH));
    const y = Math.min(Screen.HEIGHT - 1, Math.floor(fy * Screen.HEIGHT));
    const i = (y * Screen.WIDTH + x) * 3;
    return [frame[i] ?? 0, frame[i + 1] ?? 0, frame[i + 2] ?? 0];
  }

  /** The name of the nearest primary-ish colour (black, red, green, blue, yellow, white, grey). */
  nameAt(fx: number, fy: number): string {
    const rgb = this.colourAt(fx, fy);
    if (!rgb) return 'none';
    const named: [string, Rgb][] = [
      ['black', [0, 0, 0]], ['red', [255, 0, 0]], ['lime', [0, 255, 0]], ['blue', [0, 0, 255]],
      ['yellow', [255, 255, 0]], ['white', [255, 255, 255]], ['grey', [48, 56, 64]],
    ];
    let best = 'none';
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const [name, [r, g, b]] of named) {
      const distance = (rgb[0] - r) ** 2 + (rgb[1] - g) ** 2 + (rgb[2] - b) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [name, distance];
    }
    return best;
  }
}
