/**
 * How every appliance process starts and stops: run its start function, log a start-up
 * failure as one clear line and exit 1; on SIGINT/SIGTERM close what it started (once, with a
 * time limit), wait until the log files have every line and exit 0. Used by the `main.ts` of the control plane, the
 * signaling service and the media process, under the dev supervisor or systemd alike.
 *
 * A child of the dev supervisor (VCBOX_SUPERVISOR_PID set; it runs in a process group of its own,
 * so Ctrl-C on the run command reaches only the supervisor, which stops its children in order:
 * server/supervisor/supervisor.ts) stops by itself, as on SIGTERM, when its supervisor is gone
 * (killed): nothing would restart or stop it any more, and it would hold the box's ports.
 */
import { VcboxError } from './errors.ts';
import { closeLogs, flushLogs, getLogger } from './logger.ts';

const log = getLogger('lifecycle');
/** How often a child of the dev supervisor checks that its supervisor is still there. */
const SUPERVISOR_CHECK_MS = 1000;

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
  process.on('SIGINT', () => void stop('SIGINT'));
  // (Read here rather than from the configuration: this runs before and without it.)
  const supervisor = Number(process.env.VCBOX_SUPERVISOR_PID);
  if (Number.isInteger(supervisor) && supervisor > 1) {
    const watch = setInterval(() => {
      try {
        process.kill(supervisor, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') return;
        clearInterval(watch);
        log.warn({ supervisor }, `${name}: its supervisor is gone; stopping`);
        void stop('supervisor gone');
      }
    }, SUPERVISOR_CHECK_MS);
    watch.unref();
  }
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, `${name}: uncaught exception`);
    flushLogs();
    process.exit(1);
  });
}
