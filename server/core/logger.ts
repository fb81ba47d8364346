/**
 * Structured logging (pino): one log folder per product module as the spec names them — Web,
 * SIP, MCU, TURN — with this process's files in it rotated by day and size
 * (./rotating-log-file.ts: `<logDir>/<module>/<YYYY-MM-DD>.<process>.log`), plus stdout, and one
 * named logger per source module.
 *
 * A process calls `initLogging(config, 'sip')` once in its `main.ts`; every source module
 * declares `const log = getLogger('sip-transport')` at its top, mediasoup-style. The named
 * logger binds to the process's root lazily, on its first line, so modules may be imported
 * before logging is set up. Lines logged before `initLogging` go to stdout, warnings and errors only.
 *
 * Lines at warn and above are also offered to one tap (`setLogTap`): remote syslog's way in.
 */
import path from 'node:path';
import pino from 'pino';
import { RotatingLogFile } from './rotating-log-file.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The logging part of the process configuration (server/core/config.ts `Config` has these fields). */
export interface LoggingConfig {
  readonly logDir: string;
  readonly logLevel: LogLevel;
  readonly logToStdout: boolean;
}

/** The modules of the spec's "system logs per module", each a folder of log files. */
export const LOG_MODULES = ['web', 'sip', 'mcu', 'turn'] as const;
export type LogFile = (typeof LOG_MODULES)[number];

let root: pino.Logger | undefined;
let fileDestination: RotatingLogFile | undefined;

/** A receiver of log lines (parsed) at TAP_LEVEL and above. */
export type LogTap = (line: Readonly<Record<string, unknown>>) => void;

/**
 * What reaches the tap: warnings and worse. Info lines (every mail sent, every meeting joined)
 * stay in the local files; a collector gets what needs someone's attention.
 */
export const TAP_LEVEL = 'warn';

let tap: LogTap | undefined;
let inTap = false;

/** Always in the root's streams; passes lines on only while a tap is set. */
const tapStream: pino.DestinationStream = {
  write(line: string) {
    if (!tap || inTap) return; // a line logged by the tap itself is not fed back to it
    inTap = true;
    try {
      tap(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // the tap's trouble must never become the logging caller's
    } finally {
      inTap = false;
    }
  },
};

/** Sets (or, with undefined, removes) the one tap of this process. */
export function setLogTap(receiver: LogTap | undefined): void {
  tap = receiver;
}

function defaultRoot(): pino.Logger {
  // Only a process that never called initLogging (a test, a script) gets here: warnings only.
  root ??= pino(
    { level: 'warn', base: { pid: process.pid } },
    pino.multistream([
      { level: 'warn', stream: process.stdout },
      { level: TAP_LEVEL, stream: tapStream },
    ]),
  );
  return root;
}

/**
 * Sets up this process's root logger: files in `<logDir>/<file>/` named after `process` (the
 * module's name by default) and, when configured, stdout.
 */
export function initLogging(
  config: LoggingConfig,
  file: LogFile,
  options: { readonly process?: string; readonly maxFileBytes?: number } = {},
): pino.Logger {
  fileDestination?.close();
  // Opened here, synchronously, so the destination is ready at once (a process that fails
  // during start-up can still flush its last line).
  fileDestination = new RotatingLogFile({
    dir: path.join(config.logDir, file),
    process: options.process ?? file,
    ...(options.maxFileBytes ? { maxFileBytes: options.maxFileBytes } : {}),
  });
  const streams: pino.StreamEntry[] = [{ level: config.logLevel === 'silent' ? 'fatal' : config.logLevel, stream: fileDestination }];
  if (config.logToStdout) {
    streams.push({ level: config.logLevel === 'silent' ? 'fatal' : config.logLevel, stream: process.stdout });
  }
  streams.push({ level: TAP_LEVEL, stream: tapStream });
  root = pino(
    {
      level: config.logLevel,
      base: { pid: process.pid, proc: options.process ?? file },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
  return root;
}

/**
 * Sets up the root logger of a process that must write no log files: the root maintenance job,
 * whose log folder belongs to the vcbox user (a file there may be a link planted to make root
 * write elsewhere). Lines go to stdout, which systemd hands to the journal
 * (`journalctl -u vcbox-maintenance`).
 */
export function initJournalLogging(config: Pick<LoggingConfig, 'logLevel'>, processName: string): pino.Logger {
  fileDestination?.close();
  fileDestination = undefined;
  const level = config.logLevel === 'silent' ? 'fatal' : config.logLevel;
  root = pino(
    { level: config.logLevel, base: { pid: process.pid, proc: processName }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream([
      { level, stream: process.stdout },
      { level: TAP_LEVEL, stream: tapStream },
    ]),
  );
  return root;
}

/** Writes out what is buffered for the log file, synchronously (before an abrupt exit). */
export function flushLogs(): void {
  fileDestination?.flushSync();
}

/**
 * Ends the log files and resolves when every line is written (before an orderly exit; at most
 * `timeoutMs`). Lines logged afterwards go to stdout only.
 */
export async function closeLogs(timeoutMs = 2000): Promise<void> {
  const destination = fileDestination;
  if (!destination) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([destination.end(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
  clearTimeout(timer);
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A module's logger; binds to the process root on first use. */
export class ModuleLogger {
  readonly #module: string;
  readonly #bindings: Record<string, unknown>;
  #target: pino.Logger | undefined;
  #targetRoot: pino.Logger | undefined;

  constructor(module: string, bindings: Record<string, unknown> = {}) {
    this.#module = module;
    this.#bindings = bindings;
  }

  #logger(): pino.Logger {
    const current = root ?? defaultRoot();
    if (this.#targetRoot !== current) {
      this.#target = current.child({ module: this.#module, ...this.#bindings });
      this.#targetRoot = current;
    }
    return this.#target as pino.Logger;
  }

  #log(level: Level, args: unknown[]): void {
    (this.#logger()[level] as (...a: unknown[]) => void)(...args);
  }

  fatal: pino.LogFn = (...args: unknown[]) => this.#log('fatal', args);
  error: pino.LogFn = (...args: unknown[]) => this.#log('error', args);
  warn: pino.LogFn = (...args: unknown[]) => this.#log('warn', args);
  info: pino.LogFn = (...args: unknown[]) => this.#log('info', args);
  debug: pino.LogFn = (...args: unknown[]) => this.#log('debug', args);
  trace: pino.LogFn = (...args: unknown[]) => this.#log('trace', args);

  isLevelEnabled(level: LogLevel): boolean {
    return this.#logger().isLevelEnabled(level);
  }

  /** A logger for one object of this module (a transport, a call) with extra fields. */
  child(bindings: Record<string, unknown>): ModuleLogger {
    return new ModuleLogger(this.#module, { ...this.#bindings, ...bindings });
  }
}

export function getLogger(module: string): ModuleLogger {
  return new ModuleLogger(module);
}
