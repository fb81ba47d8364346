/**
 * How every appliance process starts and stops: run its start function, log a start-up
 * failure as one clear line and exit 1; on SIGINT/SIGTERM close what it started (once, with a
 * time limit), wait until the log files have every line and exit 0. Used by the `main.ts` of the control plane, the
 * signaling service and the media process, under the dev supervisor or systemd alike.
 *
 * A child of the dev supervisor (VCBOX_SUPERVISOR_PID set) ignores SIGINT: Ctrl-C on the run
 * command reaches the whole process group at once, and the supervisor, which gets it too, stops
 * its children itself in the order a stop of the whole appliance needs (the control plane first,
 * told that the appliance stops: server/process/stop-intent.ts). SIGTERM stops it as always.
 */
import { VcboxError } from './errors.ts';
import { closeLogs, flushLogs, getLogger } from './logger.ts';

const log = getLogger('lifecycle');

export interface Closable {
  close(): Promise<void> | void;
}

export async function runService(name: string, start: () => Promise<Closable>, stopTimeoutMs = 10_000): Promise<void> {
  let service: Closable;
  try {
    service = await start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.fatal({ err: error, code: error instanceof VcboxError ? error.code : undefined }, `${name} failed to start: ${message}`);
    process.stderr.write(`${name}: ${message}\n`);
    await closeLogs();
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    const timer = setTimeout(() => {
      log.error(`${name} did not stop within ${stopTimeoutMs} ms; exiting anyway`);
      flushLogs();
      process.exit(1);
    }, stopTimeoutMs);
    timer.unref();
    try {
      await service.close();
    } catch (error) {
      log.error({ err: error }, `${name}: error while stopping`);
    }
    log.info(`${name} stopped`);
    await closeLogs();
    process.exit(0);
  };
  // (Read here rather than from the configuration: this runs before and without it.)
  if (process.env.VCBOX_SUPERVISOR_PID) process.on('SIGINT', () => log.debug(`${name}: SIGINT ignored; the supervisor stops the processes in order`));
  else process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, `${name}: uncaught exception`);
    flushLogs();
    process.exit(1);
  });
}
