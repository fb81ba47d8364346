/**
 * baresip (Debian baresip-core) as a scriptable SIP terminal for tests: its own configuration
 * folder, one account registering to the box, a 440 Hz tone file (ffmpeg) as microphone, and the
 * ctrl_tcp module to dial, hang up and read events (REGISTER_OK, CALL_ESTABLISHED,
 * CALL_RTPESTAB, CALL_CLOSED…). Where: inside a network namespace the test creates
 * (test/helpers/netns.ts: a real interface and a default route), bound to the namespace's
 * address (terminals that call each other share one namespace: the media between them stays
 * inside it; the box is reached at this side's address) — or, without a namespace, on
 * 127.0.0.1 with `net_interface 127.0.0.1`: left to itself Debian's baresip 1.0 takes the
 * address of the default route's interface (and opens nothing when loopback is all there is),
 * told the address it runs on loopback alone. The interop tests (test/interop/) use the latter
 * with Opus from the ausine module, video (VP8 or H.264, the fakevideo test pattern as camera
 * and display), the sndfile module recording what it hears and the snapshot module saving a
 * received frame. Stopped with `close()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestNamespace } from './netns.ts';
import { freePort } from './ports.ts';

export interface BaresipEvent {
  readonly type: string;
  readonly [key: string]: unknown;
}

export class Baresip {
  readonly #child: ChildProcess;
  readonly #control: net.Socket;
  readonly events: BaresipEvent[] = [];
  readonly #waiters: { type: string; resolve: (event: BaresipEvent) => void }[] = [];
  #output = '';

  private constructor(child: ChildProcess, control: net.Socket) {
    this.#child = child;
    this.#control = control;
    child.stdout?.on('data', (d: Buffer) => (this.#output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.#output += d.toString()));
    let buffer = '';
    control.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        const colon = buffer.indexOf(':');
        if (colon < 0) break;
        const length = Number(buffer.slice(0, colon));
        if (buffer.length < colon + 1 + length + 1) break;
        const json = buffer.slice(colon + 1, colon + 1 + length);
        buffer = buffer.slice(colon + 1 + length + 1);
        try {
          const message = JSON.parse(json) as { event?: boolean; type?: string };
          if (message.event && message.type) this.#onEvent(message as BaresipEvent);
        } catch {
          // not an event
        }
      }
    });
  }

  get output(): string {
    return this.#output;
  }

  #onEvent(event: BaresipEvent): void {
    this.events.push(event);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i];
      if (waiter && waiter.type === event.type) {
        this.#waiters.splice(i, 1);
        waiter.resolve(event);
      }
    }
  }

  /** Resolves with the first event of this type (already seen or coming), or rejects after the timeout. */
  waitFor(type: string, timeoutMs = 15_000): Promise<BaresipEvent> {
    const seen = this.events.find((e) => e.type === type);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`baresip: no ${type} within ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(', ')}\n${this.#output.slice(-2000)}`)), timeoutMs);
      this.#waiters.push({
        type,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      });
    });
  }

  command(command: string, params = ''): void {
    const json = JSON.stringify({ command, params, token: command });
    this.#control.write(`${Buffer.byteLength(json)}:${json},`);
  }

  close(): void {
    this.#control.destroy();
    this.#child.kill('SIGTERM');
    setTimeout(() => this.#child.kill('SIGKILL'), 2000).unref();
  }

  /** Where it records what it hears (the sndfile module's WAV files, `*-dec.wav`), with `record`. */
  dir = '';

  /**
   * Starts a terminal registered as `account` to the box at `boxPort`: in `namespace` (the box
   * at the namespace pair's host address), or on 127.0.0.1 without one. `opus` sends a sine of
   * that frequency with Opus (else PCMU with a 440 Hz file); `video` offers that codec with the
   * fakevideo camera; `record` keeps what it hears in `dir`.
   */
  static async start(options: {
    account: string;
    password: string;
    boxPort: number;
    namespace?: TestNamespace;
    autoAnswer?: boolean;
    opus?: { toneHz: number };
    video?: 'VP8' | 'H264';
    record?: boolean;
    /** SIP over TLS to the box's `boxPort` (its TLS port), trusting the certificate in `cafile`. */
    tls?: { cafile: string };
    /** SDES-SRTP (the srtp module): offered (`srtp`) or required (`srtp-mand`). */
    mediaenc?: 'srtp' | 'srtp-mand';
  }): Promise<Baresip> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-baresip-'));
    const sipPort = await freePort();
    const controlPort = await freePort();
    const { address, hostAddress } = options.namespace ?? { address: '127.0.0.1', hostAddress: '127.0.0.1' };
    const tone = path.join(dir, 'tone.wav');
    if (!options.opus) {
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=120', '-ar', '8000', '-ac', '1', '-c:a', 'pcm_s16le', tone]);
    }
    const video = options.video;
    writeFileSync(
      path.join(dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen ${address}:${sipPort}`,
        ...(options.namespace ? [] : ['net_interface 127.0.0.1']),
        ...(options.opus
          ? // Opus at 48 kHz from the ausine module (its frequency as device name).
            [`audio_source ausine,${options.opus.toneHz}`]
          : // The microphone: a 440 Hz tone at 8 kHz from a file (ausine makes 48 kHz only, and
            // baresip 1.0 does not resample it for PCMU).
            [`audio_source aufile,${tone}`, 'audio_srate 8000', 'audio_channels 1']),
        'audio_player aubridge,nowhere',
        'audio_alert aubridge,nowhere',
        ...(video ? ['video_source fakevideo,nil', 'video_display fakevideo,nil', 'video_size 640x360', 'video_bitrate 300000', 'video_fps 15'] : ['video_source']),
        ...(options.record ? [`snd_path ${dir}`] : []),
        ...(options.tls ? [`sip_cafile ${options.tls.cafile}`] : []),
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        ...(options.opus ? ['module opus.so', 'module ausine.so'] : ['module aufile.so']),
        ...(video ? [video === 'VP8' ? 'module vp8.so' : 'module avcodec.so', 'module fakevideo.so', 'module snapshot.so'] : []),
        ...(options.record ? ['module sndfile.so'] : []),
        ...(options.mediaenc ? ['module srtp.so'] : []),
        'module aubridge.so',
        'module account.so',
        'module ctrl_tcp.so',
        'module_app menu.so', // the dial/hangup commands ctrl_tcp runs
        `ctrl_tcp_listen ${address}:${controlPort}`,
        'rtp_ports 40000-49999',
        '',
      ].join('\n'),
    );
    const answer = options.autoAnswer ? ';answermode=auto' : '';
    const mediaenc = options.mediaenc ? `;mediaenc=${options.mediaenc}` : '';
    const transport = options.tls ? ';transport=tls' : '';
    const codecs = `;audio_codecs=${options.opus ? 'opus/48000/2' : 'PCMU'}${video ? `;video_codecs=${video}` : ''}`;
    writeFileSync(
      path.join(dir, 'accounts'),
      // The box by address: there is no DNS on the test machine for baresip to resolve a domain.
      `<sip:${options.account}@${hostAddress}:${options.boxPort}${transport}>;auth_user=${options.account};auth_pass=${options.password};regint=300${codecs}${mediaenc}${answer}\n`,
    );
    const [command, args] = options.namespace ? options.namespace.exec('baresip', ['-4', '-f', dir]) : ['baresip', ['-4', '-f', dir]];
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let control: net.Socket | undefined;
    for (let attempt = 0; attempt < 100 && !control; attempt++) {
      await new Promise((r) => setTimeout(r, 100));
      control = await new Promise<net.Socket | undefined>((resolve) => {
        const socket = net.connect(controlPort, address, () => resolve(socket));
        socket.once('error', () => resolve(undefined));
      });
      if (child.exitCode !== null) break;
    }
    if (!control) {
      child.kill('SIGKILL');
      throw new Error(`baresip did not open its control port (exit ${child.exitCode})`);
    }
    const baresip = new Baresip(child, control);
    baresip.dir = dir;
    return baresip;
  }
}
