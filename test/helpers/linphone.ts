/**
 * linphone (Debian linphone-cli 5.1: `linphone-daemon`) as a real third-party SIP terminal for
 * the interop tests, driven over the daemon's command socket (`--pipe`: a unix socket
 * /tmp/<name>, one command per connection, answered `Status: Ok|Error` and `Key: value` lines).
 * Each instance has its own folder (HOME, linphonerc, log), its own SIP and RTP ports, and its
 * own PulseAudio server with no sound card: the microphone is a sine source (`toneHz`), the
 * loudspeaker a null sink whose monitor `parec` records (16 kHz mono s16le, `heard()`). The
 * camera is mediastreamer's StaticImage; received video is decoded into MSExtDisplay (no window),
 * so the log says when a frame was decoded. No network namespace: linphone opens its sockets on
 * loopback (also where loopback is all there is). Its data folder must exist: without
 * ~/.local/share/linphone liblinphone 5.1 cannot open its database and never starts SIP ("No
 * listening point"). Stopped with `close()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './meeting-terminal.ts';
import { freePort } from './ports.ts';

export interface LinphoneOptions {
  /** Which transport it registers and calls over; TLS verifies the box's certificate against `rootCa`. */
  transport: 'udp' | 'tls';
  /** PEM file linphone trusts as root CA (the box's certificate or its CA); TLS only. */
  rootCa?: string;
  /** The only video codec it offers. */
  videoCodec: 'VP8' | 'H264';
  /** The frequency its microphone sends. */
  toneHz: number;
  /** SDES-SRTP required for its calls (`media_encryption=srtp`). */
  srtp?: boolean;
}

export interface DaemonAnswer {
  readonly ok: boolean;
  readonly reason: string;
  /** `Key: value` lines (the last of a repeated key wins). */
  readonly fields: Record<string, string>;
  readonly text: string;
}

let instances = 0;

function parseAnswer(text: string): DaemonAnswer {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2).trim();
  }
  return { ok: fields.Status === 'Ok', reason: fields.Reason ?? '', fields, text };
}

export class Linphone {
  readonly dir: string;
  readonly #socketPath: string;
  readonly #children: ChildProcess[];
  readonly #heard: Buffer[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(dir: string, socketPath: string, children: ChildProcess[], recorder: ChildProcess) {
    this.dir = dir;
    this.#socketPath = socketPath;
    this.#children = children;
    recorder.stdout?.on('data', (chunk: Buffer) => this.#heard.push(chunk));
  }

  /** The daemon's log so far (liblinphone, mediastreamer, belle-sip). */
  log(): string {
    try {
      return readFileSync(path.join(this.dir, 'linphone.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** What its loudspeaker played, 16 kHz mono s16le, from the start. */
  heard(): Buffer {
    return Buffer.concat(this.#heard);
  }

  /** One command over the daemon's socket (commands are sent one at a time). */
  command(line: string, timeoutMs = 5000): Promise<DaemonAnswer> {
    const run = this.#queue.then(() => this.#send(line, timeoutMs));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #send(line: string, timeoutMs: number): Promise<DaemonAnswer> {
    // The daemon serves one client at a time and notices a closed one at its next poll (50 ms):
    // a connection closed without an answer is tried again.
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 50 && Date.now() < deadline; attempt++) {
      const text = await new Promise<string>((resolve) => {
        const socket = net.connect(this.#socketPath);
        let received = '';
        let settle: NodeJS.Timeout | undefined;
        const finish = () => {
          clearTimeout(timer);
          clearTimeout(settle);
          socket.destroy();
          resolve(received);
        };
        const timer = setTimeout(finish, Math.max(100, deadline - Date.now()));
        socket.on('connect', () => socket.write(`${line}\n`));
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('utf8');
          // (An answer is written at once; events pushed meanwhile start with `Event-type`.)
          if (/^Status: /m.test(received)) {
            clearTimeout(settle);
            settle = setTimeout(finish, 30);
          }
        });
        socket.on('error', finish);
        socket.on('close', finish);
      });
      const start = text.search(/^Status: /m);
      if (start >= 0) return parseAnswer(text.slice(start));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`linphone-daemon did not answer "${line}" within ${timeoutMs} ms\n${this.log().slice(-1500)}`);
  }

  /** Registers `account` at `proxy` (e.g. sip:127.0.0.1:5060 or sip:localhost:5061;transport=tls); resolves with the final state. */
  async register(identity: string, proxy: string, password: string, timeoutMs = 15_000): Promise<string> {
    const answer = await this.command(`register ${identity} ${proxy} ${password}`);
    if (!answer.ok) throw new Error(`linphone refused to register: ${answer.reason}`);
    const id = answer.fields.Id;
    let state = '';
    await waitFor(`linphone's registration to ${proxy} to end`, timeoutMs, async () => {
      state = (await this.command(`register-status ${id}`)).fields.State ?? '';
      return state === 'LinphoneRegistrationOk' || state === 'LinphoneRegistrationFailed' ? state : undefined;
    }).catch(() => undefined);
    return state;
  }

  /** Calls `uri` with video; resolves once the call's streams run (or throws with the last state). */
  async call(uri: string, timeoutMs = 15_000): Promise<void> {
    await this.command('autovideo on');
    const answer = await this.command(`call ${uri}`);
    if (!answer.ok) throw new Error(`linphone could not call ${uri}: ${answer.reason}`);
    let state = '';
    await waitFor(`linphone's call to ${uri} to run`, timeoutMs, async () => {
      state = (await this.command('call-status')).fields.State ?? '';
      if (state === 'LinphoneCallError' || state === 'LinphoneCallEnd' || state === 'LinphoneCallReleased') throw new Error(`linphone's call ended: ${state}`);
      return state === 'LinphoneCallStreamsRunning' ? state : undefined;
    });
  }

  /** The call's statistics, audio then video: each section's `Key: value` lines. */
  async callStats(): Promise<{ audio: Record<string, string>; video: Record<string, string> }> {
    const answer = await this.command('call-stats');
    const sections = answer.text.split(/\n(?=Id: )/).map((s) => parseAnswer(s).fields);
    return { audio: sections.find((s) => s.Type === 'Audio') ?? {}, video: sections.find((s) => s.Type === 'Video') ?? {} };
  }

  /** The size of the first video frame it decoded (VP8 logs it), or 'decoded' when only that is logged; undefined before. */
  decodedVideo(): string | undefined {
    const log = this.log();
    const size = /MSVp8Dec: video is (\d+x\d+)/.exec(log)?.[1];
    if (size) return size;
    return log.includes('First video frame decoded successfully') ? 'decoded' : undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.command('terminate', 1000);
    } catch {}
    for (const child of this.#children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(this.#socketPath, { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  static async start(options: LinphoneOptions): Promise<Linphone> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-linphone-'));
    mkdirSync(path.join(dir, '.local', 'share', 'linphone'), { recursive: true }); // its database
    const pulseDir = path.join(dir, 'pulse');
    mkdirSync(pulseDir);
    const pulseSocket = path.join(pulseDir, 'native');
    const env = { ...process.env, HOME: dir, PULSE_RUNTIME_PATH: pulseDir, PULSE_SERVER: `unix:${pulseSocket}` };
    const children: ChildProcess[] = [];
    const fail = (message: string) => {
      for (const child of children) child.kill('SIGKILL');
      return new Error(message);
    };

    // Its own sound server: a sine source as microphone, a null sink as loudspeaker.
    const pulse = spawn(
      'pulseaudio',
      ['-n', '--daemonize=no', '--exit-idle-time=-1', '--disable-shm=yes', '--use-pid-file=no', '--system=false', '--log-target=stderr',
        `--load=module-native-protocol-unix socket=${pulseSocket} auth-anonymous=1`,
        '--load=module-null-sink sink_name=speaker',
        `--load=module-sine-source source_name=microphone rate=48000 frequency=${options.toneHz}`],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(pulse);
    let pulseLog = '';
    pulse.stderr?.on('data', (d: Buffer) => (pulseLog += d.toString()));
    await waitFor('its PulseAudio server', 10_000, () => existsSync(pulseSocket) || pulse.exitCode !== null).catch(() => undefined);
    if (!existsSync(pulseSocket)) throw fail(`pulseaudio did not start: ${pulseLog.slice(-1000)}`);
    const recorder = spawn('parec', ['-d', 'speaker.monitor', '--format=s16le', '--rate=16000', '--channels=1', '--raw', '--latency-msec=50'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(recorder);

    const [sipPort, audioPort, videoPort] = [await freePort(), await freePort(), await freePort()];
    const [enabled, disabled] = options.videoCodec === 'VP8' ? ['VP8', 'H264'] : ['H264', 'VP8'];
    writeFileSync(
      path.join(dir, 'linphonerc'),
      [
        '[sip]',
        `sip_port=${sipPort}`,
        'sip_tcp_port=0',
        `sip_tls_port=${options.transport === 'tls' ? -1 : 0}`,
        ...(options.rootCa ? [`root_ca=${options.rootCa}`, 'verify_server_certs=1', 'verify_server_cn=1'] : []),
        ...(options.srtp ? ['media_encryption=srtp', 'media_encryption_mandatory=1'] : []),
        '[rtp]',
        `audio_rtp_port=${audioPort}`,
        `video_rtp_port=${videoPort}`,
        '[sound]',
        // Card names as mediastreamer's PulseAudio module lists them (the sources' descriptions).
        'playback_dev_id=PulseAudio Unknown: Null Output',
        'ringer_dev_id=PulseAudio Unknown: Null Output',
        `capture_dev_id=PulseAudio Unknown: Sine source at ${options.toneHz} Hz`,
        'echocancellation=0',
        '[video]',
        'capture=1',
        'display=1',
        'displaytype=MSExtDisplay',
        'automatically_initiate=1',
        'automatically_accept=1',
        'device=StaticImage: Static picture',
        'size=vga',
        '[video_codec_0]',
        `mime=${enabled}`,
        'rate=90000',
        'enabled=1',
        ...(enabled === 'H264' ? ['recv_fmtp=profile-level-id=42801F'] : []),
        '[video_codec_1]',
        `mime=${disabled}`,
        'rate=90000',
        'enabled=0',
        '',
      ].join('\n'),
    );
    const pipeName = `vcbox-linphone-${process.pid}-${instances++}`;
    const socketPath = path.join('/tmp', pipeName); // where the daemon's --pipe puts it
    rmSync(socketPath, { force: true });
    const daemon = spawn('linphone-daemon', ['--config', path.join(dir, 'linphonerc'), '--pipe', pipeName, '--log', path.join(dir, 'linphone.log'), '-C', '-D'], {
      env,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    children.push(daemon);
    await waitFor('the daemon socket', 10_000, () => existsSync(socketPath) || daemon.exitCode !== null).catch(() => undefined);
    if (!existsSync(socketPath)) throw fail(`linphone-daemon did not open its socket (exit ${daemon.exitCode})`);
    const linphone = new Linphone(dir, socketPath, children, recorder);
    const version = await linphone.command('version').catch((error: Error) => {
      throw fail(error.message);
    });
    if (!version.ok) throw fail(`linphone-daemon: ${version.text}`);
    linphone.version = version.fields.Version ?? '';
    return linphone;
  }

  /** linphone's version (`version` command). */
  version = '';
}
