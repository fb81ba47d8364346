/**
 * A real syslog collector for tests: Debian's rsyslogd started as a child process with its own
 * configuration in a temp folder, listening on loopback only — UDP (imudp) and TCP (imtcp) on
 * one port, TLS (imtcp with the gtls driver, RFC 5425) on another — and writing every message
 * it receives, as rsyslog parsed it plus the raw bytes, as one JSON line to a file the test
 * reads. It can be stopped and started again on the same ports (a collector that goes away).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

/** One received message, as rsyslog's RFC 5424 parser saw it. */
export interface ReceivedSyslog {
  /** The input that took it: udp, tcp or tls. */
  readonly input: string;
  readonly pri: string;
  readonly version: string;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appname: string;
  readonly procid: string;
  readonly msgid: string;
  readonly sd: string;
  readonly msg: string;
  /** The message as it came in (without the octet-counting frame). */
  readonly raw: string;
}

export interface Rsyslog {
  readonly dir: string;
  /** UDP and TCP. */
  readonly port: number;
  readonly tlsPort: number;
  readonly certificateFile: string;
  received(): ReceivedSyslog[];
  /** The first received message matching `match`, waiting up to `timeoutMs` for it. */
  waitFor(match: (message: ReceivedSyslog) => boolean, timeoutMs?: number): Promise<ReceivedSyslog>;
  /** Stops rsyslogd (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again with the same configuration and ports. */
  start(): Promise<void>;
  output(): string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function configuration(dir: string, port: number, tlsPort: number, keyFile: string, certFile: string, outFile: string): string {
  const json = (name: string, property: string, extra = '') => `  property(outname="${name}" name="${property}" format="jsonf"${extra})`;
  return `
global(workDirectory="${dir}" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="${certFile}" defaultNetstreamDriverCertFile="${certFile}" defaultNetstreamDriverKeyFile="${keyFile}")
module(load="imudp")
module(load="imtcp" maxSessions="50")
input(type="imudp" address="127.0.0.1" port="${port}" name="udp")
input(type="imtcp" address="127.0.0.1" port="${port}" name="tcp")
input(type="imtcp" address="127.0.0.1" port="${tlsPort}" name="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
template(name="received" type="list" option.jsonf="on") {
${[
  json('input', 'inputname'),
  json('pri', 'pri'),
  json('version', 'protocol-version'),
  json('timestamp', 'timereported', ' dateFormat="rfc3339"'),
  json('hostname', 'hostname'),
  json('appname', 'app-name'),
  json('procid', 'procid'),
  json('msgid', 'msgid'),
  json('sd', 'structured-data'),
  json('msg', 'msg'),
  json('raw', 'rawmsg'),
].join('\n')}
}
action(type="omfile" file="${outFile}" template="received")
`;
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts rsyslogd with a key and certificate (PEM files) for its TLS input. */
export async function startRsyslog(tls: { keyFile: string; certFile: string }): Promise<Rsyslog> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-rsyslog-'));
  const port = await freePort();
  const tlsPort = await freePort();
  const outFile = path.join(dir, 'received.jsonl');
  const configFile = path.join(dir, 'rsyslog.conf');
  writeFileSync(configFile, configuration(dir, port, tlsPort, tls.keyFile, tls.certFile, outFile));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const received = (): ReceivedSyslog[] =>
    existsSync(outFile)
      ? readFileSync(outFile, 'utf8')
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as ReceivedSyslog)
      : [];

  const collector: Rsyslog = {
    dir,
    port,
    tlsPort,
    certificateFile: tls.certFile,
    received,
    output: () => output,
    async waitFor(match, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 0; attempt < 1000; attempt++) {
        const found = received().find(match);
        if (found) return found;
        if (Date.now() > deadline) break;
        await sleep(100);
      }
      throw new Error(`rsyslog received no such message within ${timeoutMs} ms; it has:\n${received().map((m) => m.raw).join('\n')}`);
    },
    async start() {
      // -n: stay in the foreground (our child); -i: its own pid file; -f: only our configuration.
      const started = spawn('rsyslogd', ['-n', '-f', configFile, '-i', path.join(dir, 'rsyslogd.pid')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      started.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      started.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      // Ready when both stream inputs accept and a UDP probe comes out in the file.
      const deadline = Date.now() + 20_000;
      const probe = `<134>1 - - readiness-probe - - - ${process.pid}-${Date.now()}`;
      const udp = dgram.createSocket('udp4');
      try {
        for (let attempt = 0; attempt < 200; attempt++) {
          if (started.exitCode !== null) throw new Error(`rsyslogd exited with ${started.exitCode}:\n${output}`);
          if ((await tcpAccepts(port)) && (await tcpAccepts(tlsPort))) {
            udp.send(probe, port, '127.0.0.1');
            if (received().some((m) => m.raw === probe)) return;
          }
          if (Date.now() > deadline) break;
          await sleep(100);
        }
      } finally {
        udp.close();
      }
      await collector.stop();
      throw new Error(`rsyslogd was not ready within 20 s:\n${output}`);
    },
    async stop() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      running.kill('SIGTERM');
      const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  await collector.start();
  return collector;
}
