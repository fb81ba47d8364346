/**
 * The TURN relay kept running as the settings want it: renders coturn's configuration
 * (./turn-config.ts) into the box's run folder, runs `turnserver` on it as a child, follows the
 * settings (re-read every `pollMs`) and restarts the relay when its configuration changes —
 * allocations in progress end then; browsers relaying through it reconnect. A relay that exits
 * on its own is started again with a growing delay (so one that cannot start does not spin);
 * turned off in the settings, it is stopped. coturn's own lines go to this module's log.
 * coturn runs with the relay guard loaded (./relay-guard.ts: relayed datagrams only to the
 * media ports); without the built guard the relay is not started (scripts/setup.sh builds it).
 * A relay left running by a TURN service that died (kill -9: nothing stopped its child, which
 * still holds the port) is found by coturn's pid file and ended before the new one starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { getLogger } from '../core/logger.ts';
import type { SettingsStore } from '../settings/settings-store.ts';
import { RELAY_GUARD_LIBRARY, relayGuardEnvironment } from './relay-guard.ts';
import { renderTurnConfig, type TurnProcessConfig, turnRelayFrom } from './turn-config.ts';

const log = getLogger('turn');
const relayLog = getLogger('turnserver');

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Ends the relay a previous TURN service of this box left behind: the pid in coturn's pid file,
 * when that process is a `turnserver` run on this configuration file (a pid reused by something
 * else is left alone). Resolves once it is gone (at most 3 s).
 */
async function endLeftoverRelay(pidFile: string, confFile: string): Promise<void> {
  let pid: number;
  let command: string;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return; // no pid file, or its process is gone
  }
  if (!(pid > 1) || !command.includes('turnserver') || !command.includes(confFile)) return;
  log.warn({ pid }, 'a TURN relay left by a previous TURN service still runs; ending it');
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 60 && isRunning(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

export interface TurnServiceOptions {
  readonly settings: SettingsStore;
  readonly process: TurnProcessConfig;
  /** The coturn binary. Default `turnserver` (Debian's coturn package). */
  readonly binary?: string;
  /** How often the settings are looked at. Default 1000 ms. */
  readonly pollMs?: number;
}

export type TurnRelayState =
  | { readonly state: 'off' }
  | { readonly state: 'running'; readonly pid: number; readonly port: number; readonly since: Date }
  | { readonly state: 'restarting'; readonly reason: string };

export class TurnService {
  readonly #options: TurnServiceOptions;
  readonly #confFile: string;
  #config: string | undefined;
  #environment: Record<string, string> = {};
  #port = 0;
  #child: ChildProcess | undefined;
  #since = new Date();
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;
  #lastError = '';
  #closed = false;
  /** A relay left by a previous service, ended before the first start. */
  #leftover: Promise<void> = Promise.resolve();

  constructor(options: TurnServiceOptions) {
    this.#options = options;
    this.#confFile = path.join(options.process.runDir, 'turnserver.conf');
  }

  /** Applies the settings now and follows them. */
  start(): this {
    if (this.#closed || this.#timer) return this;
    mkdirSync(this.#options.process.runDir, { recursive: true, mode: 0o700 });
    this.#leftover = endLeftoverRelay(path.join(this.#options.process.runDir, 'turnserver.pid'), this.#confFile);
    this.#apply();
    this.#timer = setInterval(() => this.#apply(), this.#options.pollMs ?? 1000);
    return this;
  }

  get state(): TurnRelayState {
    if (this.#config === undefined) return { state: 'off' };
    const pid = this.#child?.pid;
    return pid !== undefined && this.#child?.exitCode === null ? { state: 'running', pid, port: this.#port, since: this.#since } : { state: 'restarting', reason: this.#lastError };
  }

  #apply(): void {
    if (this.#closed) return;
    let config: string | undefined;
    const relay = turnRelayFrom(this.#options.settings.getAll(), this.#options.process);
    try {
      config = relay ? renderTurnConfig(relay) : undefined;
    } catch (error) {
      log.error({ err: (error as Error).message }, 'the TURN relay cannot be configured from the settings; it stays as it was');
      return;
    }
    if (config === this.#config) return;
    const first = this.#config === undefined && this.#child === undefined;
    this.#config = config;
    this.#port = relay?.port ?? 0;
    this.#environment = relay ? relayGuardEnvironment(relay) : {};
    if (!first) log.info({ enabled: config !== undefined, port: this.#port }, 'TURN settings changed; restarting the relay');
    void Promise.all([this.#stopChild(), this.#leftover]).then(() => {
      if (this.#closed || this.#config !== config || config === undefined) return;
      const partial = `${this.#confFile}.partial`;
      writeFileSync(partial, config, { mode: 0o600 });
      renameSync(partial, this.#confFile);
      this.#failures = 0;
      this.#launch();
    });
  }

  #launch(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#closed || this.#config === undefined) return;
    if (!existsSync(RELAY_GUARD_LIBRARY)) {
      // Deny by default: a relay without its port guard would reach every UDP port of the media address.
      this.#lastError = `the relay guard ${RELAY_GUARD_LIBRARY} is missing; run scripts/setup.sh (it builds it)`;
      log.error({ library: RELAY_GUARD_LIBRARY }, 'the TURN relay is not started: its port guard is missing');
      return;
    }
    const child = spawn(this.#options.binary ?? 'turnserver', ['-c', this.#confFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.#environment } });
    this.#child = child;
    this.#since = new Date();
    const config = this.#config;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        // coturn's simple log: "<seconds>: (<pid>): <LEVEL>: <text>" (pid and level optional).
        const text = line.replace(/^\d+:\s*(?:\(\d+\))?:?\s*/, '').trim();
        if (!text) return;
        if (/^ERROR:/.test(text)) {
          this.#lastError = text;
          relayLog.error(text);
        } else if (/^WARNING:/.test(text) || /^relay guard:/.test(text)) relayLog.warn(text);
        else relayLog.info(text);
      });
    }
    child.on('error', (error) => {
      this.#lastError = `cannot run ${this.#options.binary ?? 'turnserver'}: ${error.message} (install Debian's coturn package: scripts/setup.sh does)`;
      log.error({ err: error.message }, 'the TURN relay could not be started');
    });
    child.on('spawn', () => log.info({ pid: child.pid, port: this.#port }, 'TURN relay started'));
    child.on('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (this.#closed || this.#config !== config || child.killed) return;
      const delay = Math.min(30_000, 500 * 2 ** this.#failures);
      this.#failures++;
      this.#lastError ||= `exited with ${signal ?? code}`;
      log.error({ code, signal, restartInMs: delay, lastLine: this.#lastError }, 'the TURN relay exited; starting it again');
      this.#retry = setTimeout(() => this.#launch(), delay);
    });
  }

  async #stopChild(): Promise<void> {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#stopChild();
  }
}
