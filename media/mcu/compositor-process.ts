/**
 * The MCU's picture engine as a child process (`media/mcu/native/vcbox-compositor`, GStreamer,
 * built by scripts/build-compositor.sh): starts it with a canvas, sends its line commands
 * (inputs — cameras and content —, panes, captions, outputs, key frames) and turns its events into promises and
 * EventEmitter events. `close()` is idempotent and kills the process; the process also ends
 * by itself when this one goes away (its stdin closes).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { getLogger } from '../../server/core/logger.ts';

const log = getLogger('mcu-compositor');

/** How long an input's ports may take (a loaded machine is slow to start a decoder branch). */
const INPUT_TIMEOUT_MS = 10_000;

export const COMPOSITOR_BINARY = fileURLToPath(new URL('./native/build/vcbox-compositor', import.meta.url));

export interface Canvas {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
}

export interface CompositorOutput {
  readonly codec: 'VP8' | 'H264';
  readonly payloadType: number;
  readonly ssrc: number;
  /** Loopback UDP port the encoded RTP goes to (a mediasoup PlainTransport). */
  readonly port: number;
  readonly kbps: number;
  readonly width: number;
  readonly height: number;
  /** H.264 packetization mode (0: every NAL unit in one packet). */
  readonly packetizationMode: 0 | 1;
}

export interface CompositorEvents {
  /** The first decoded frame of an input. */
  inputframe: [id: string];
  /** The first encoded frame of an output. */
  outputframe: [id: string];
  /** An input failed (its stream could not be decoded) and was dropped. */
  inputerror: [id: string, reason: string];
  /** The process ended (by close(), or by itself with the reason). */
  exit: [reason: string];
}

/** Captions and ids travel in tab-separated lines: no tabs or line breaks, bounded length. */
const field = (text: string, max = 64): string => text.replace(/[\t\r\n]+/g, ' ').slice(0, max);

export class CompositorProcess extends EventEmitter<CompositorEvents> {
  readonly canvas: Canvas;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #ports = new Map<string, (ports: { rtp: number; rtcp: number }) => void>();
  readonly #outputPorts = new Map<string, (port: number) => void>();
  readonly #commits = new Map<number, (ms: number) => void>();
  #commitSeq = 0;
  #stderr = '';
  #closed = false;

  static async start(canvas: Canvas): Promise<CompositorProcess> {
    if (!existsSync(COMPOSITOR_BINARY)) throw new Error(`the MCU compositor is not built (${COMPOSITOR_BINARY}); run scripts/setup.sh`);
    const compositor = new CompositorProcess(canvas);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the MCU compositor did not start within 5 s')), 5000);
      compositor.#ready = () => {
        clearTimeout(timer);
        resolve();
      };
      compositor.once('exit', (reason) => {
        clearTimeout(timer);
        reject(new Error(`the MCU compositor ended at start: ${reason}`));
      });
    }).catch((error: unknown) => {
      compositor.close();
      throw error;
    });
    return compositor;
  }

  #ready: (() => void) | undefined;

  private constructor(canvas: Canvas) {
    super();
    this.canvas = canvas;
    this.#child = spawn(COMPOSITOR_BINARY, [], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GST_DEBUG: process.env.GST_DEBUG ?? '1' } });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-2000);
    });
    this.#child.stdin.on('error', () => undefined);
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#event(line.split('\t')));
    this.#child.on('exit', (code, signal) => {
      const reason = this.#closed ? 'closed' : `exited (${signal ?? code}) ${this.#stderr.trim()}`.trim();
      if (!this.#closed) log.warn({ code, signal, stderr: this.#stderr }, 'compositor exited');
      this.#closed = true;
      this.emit('exit', reason);
    });
    this.#send('canvas', canvas.width, canvas.height, canvas.fps);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #send(...fields: (string | number)[]): void {
    if (this.#closed) return;
    this.#child.stdin.write(`${fields.join('\t')}\n`);
  }

  #event([name, a = '', b = '', c = '']: string[]): void {
    switch (name) {
      case 'ready':
        this.#ready?.();
        break;
      case 'input-port':
        this.#ports.get(a)?.({ rtp: Number(b), rtcp: Number(c) });
        this.#ports.delete(a);
        break;
      case 'output-port':
        this.#outputPorts.get(a)?.(Number(b));
        this.#outputPorts.delete(a);
        break;
      case 'input-frame':
        this.emit('inputframe', a);
        break;
      case 'output-frame':
        this.emit('outputframe', a);
        break;
      case 'committed':
        this.#commits.get(Number(a))?.(Number(b));
        this.#commits.delete(Number(a));
        break;
      case 'input-error':
        this.#ports.delete(a);
        log.warn({ input: a, reason: b }, 'compositor input failed');
        this.emit('inputerror', a, b);
        break;
      case 'fatal':
        log.error({ reason: a }, 'compositor failed');
        break;
      default:
        log.warn({ line: [name, a, b].join(' ') }, 'compositor said');
    }
  }

  /**
   * An RTP input; resolves with the loopback ports to send its RTP and RTCP to. `caption`
   * undefined: a presentation (content) — no caption, its aspect ratio kept in its pane.
   */
  addInput(id: string, codec: 'VP8' | 'H264', payloadType: number, caption: string | undefined): Promise<{ rtp: number; rtcp: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#ports.delete(id);
        // A late answer would leave an input nobody sends to, and every later add of the same
        // id refused ("exists"): it goes.
        this.remove(id);
        reject(new Error(`the compositor gave no port for input ${id} within ${INPUT_TIMEOUT_MS / 1000} s`));
      }, INPUT_TIMEOUT_MS);
      this.#ports.set(id, (ports) => {
        clearTimeout(timer);
        resolve(ports);
      });
      if (caption === undefined) this.#send('content', field(id), codec, payloadType);
      else this.#send('input', field(id), codec, payloadType, field(caption) || ' ');
    });
  }

  /** A "no video" pane (an audio-only participant) with a caption. */
  addPlaceholder(id: string, caption: string): void {
    this.#send('placeholder', field(id), field(caption) || ' ');
  }

  /** Places an input on the canvas (above lower `z`), or hides it (`undefined`). */
  place(id: string, rect: { x: number; y: number; width: number; height: number } | undefined, z = 0): void {
    if (!rect) this.#send('pane', field(id), 0, 0, 0, 0, 0);
    else this.#send('pane', field(id), rect.x, rect.y, rect.width, rect.height, z);
  }

  caption(id: string, text: string): void {
    this.#send('name', field(id), field(text) || ' ');
  }

  highlight(id: string, on: boolean): void {
    this.#send('highlight', field(id), on ? 1 : 0);
  }

  remove(id: string): void {
    this.#send('remove', field(id));
  }

  /**
   * An encoded output; resolves with the loopback port it sends from (`sourcePort` when given:
   * a restarted compositor keeps sending from where the receiving transport expects it).
   */
  addOutput(id: string, output: CompositorOutput, sourcePort = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#outputPorts.delete(id);
        reject(new Error(`the compositor could not start output ${id}${sourcePort ? ` from port ${sourcePort}` : ''}`));
      }, 3000);
      this.#outputPorts.set(id, (port) => {
        clearTimeout(timer);
        resolve(port);
      });
      this.#send('output', field(id), output.codec, output.payloadType, output.ssrc, output.port, output.kbps, output.width, output.height, output.packetizationMode, sourcePort);
    });
  }

  keyframe(outputId: string): void {
    this.#send('keyframe', field(outputId));
  }

  dropOutput(outputId: string): void {
    this.#send('drop-output', field(outputId));
  }

  /**
   * Marks the changes sent so far; resolves with the milliseconds until the first encoded
   * frame composed after them (undefined if none came within 2 s: no output running).
   */
  commit(): Promise<number | undefined> {
    const seq = ++this.#commitSeq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#commits.delete(seq);
        resolve(undefined);
      }, 2000);
      this.#commits.set(seq, (ms) => {
        clearTimeout(timer);
        resolve(ms);
      });
      this.#send('commit', seq);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#child.kill('SIGKILL');
  }
}
