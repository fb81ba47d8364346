/**
 * Process configuration: where the data lives, which ports this run listens on, log level.
 *
 * Read once per process by its `main.ts` from (later wins) the embedded defaults, an optional
 * JSON file (`VCBOX_CONFIG`, e.g. /etc/vcbox/config.json on the appliance) and `VCBOX_*`
 * environment variables, then passed down. No other module reads `process.env`.
 *
 * What an admin changes in the console (SIP ports, media ranges, call settings…) lives in the
 * settings store (server/settings); a port given here overrides the stored setting for this
 * run only, which is how a developer or a test runs several boxes on one machine.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError } from './errors.ts';
import type { LogLevel } from './logger.ts';

export type { LogLevel };
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface Config {
  /** Folder holding the SQLite database, certificates, secrets and files. */
  readonly dataDir: string;
  /** Folder of the per-module log folders (web/, sip/, mcu/, turn/: server/core/logger.ts) and terminals/. */
  readonly logDir: string;
  readonly logLevel: LogLevel;
  /** Log to stdout as well as to the files (on in dev; journald takes it on the appliance). */
  readonly logToStdout: boolean;
  /**
   * The web console and its API. `port` fixes the HTTP port for this run (it then overrides
   * the stored `web.httpPort`, as the SIP ports do); undefined = the stored setting (80).
   * The dev run command sets 8080; the installer leaves it out.
   */
  readonly http: { readonly host: string; readonly port?: number };
  /**
   * SIP listeners. `port` is UDP and TCP, `tlsPort` TLS; undefined = the stored setting.
   * `overload`: when the signaling service answers new requests 503 itself (requests the SIP
   * application has unanswered, its standing answer delay in ms, the signaling process's own
   * event-loop lag in ms; server/signaling/core/overload-guard.ts).
   */
  readonly sip: { readonly host: string; readonly port?: number; readonly tlsPort?: number; readonly overload: { readonly inFlight: number; readonly queueDelayMs: number; readonly loopLagMs: number } };
  /** The signaling service's application port (drachtio wire protocol), loopback only. */
  readonly signaling: { readonly host: string; readonly port: number };
  /**
   * Media: mediasoup workers (0 = one per CPU core); the address media sockets listen on and
   * the one written into SDP (default: the SIP listen address, or the host's first LAN IPv4
   * when SIP listens on every address).
   */
  readonly media: { readonly workers: number; readonly listenIp: string; readonly address: string };
  /**
   * The TURN relay for browsers (server/turn/): `port` pins its UDP/TCP port for this run
   * (undefined = the stored `turn.port` setting); it listens on the media listen address.
   */
  readonly turn: { readonly port?: number };
  /**
   * BFCP floor control for content sharing (server/bfcp/, run by the SIP application): the
   * TCP and UDP port (`port`, one number for both) and the TLS port (for terminals on SIP over
   * TLS), on the SIP listen address. Defaults 5090 and 5091.
   */
  readonly bfcp: { readonly host: string; readonly port: number; readonly tlsPort: number };
  /** Backups: the largest archive an administrator may upload to restore, in bytes. */
  readonly backup: { readonly maxUploadBytes: number };
  /** Terminal firmware: the largest file an administrator may upload, in bytes (all files together: the disk quota setting). */
  readonly firmware: { readonly maxUploadBytes: number };
  /**
   * The operating system's configuration the box renders from its settings (network, sshd,
   * time; server/system). `root`: the folder the system files are written under (`/` on an
   * installed appliance, a staging folder to inspect them); undefined = never write system
   * files (the default: a dev or test machine). `appliance`: this is an installed appliance,
   * so rendered files are also applied (networkctl, systemctl, timedatectl) — only ever when
   * `root` is `/` as well. `systemd`: the services run as the systemd units of systemd/
   * (vcbox.target), and the root unit vcbox-maintenance takes the maintenance jobs the control
   * plane hands over (upgrade, restart, reboot: server/maintenance/) — the installer sets it.
   */
  readonly system: { readonly root?: string; readonly appliance: boolean; readonly systemd: boolean };
  /**
   * Licence: `identityDir` keeps the box id and the trial marker (kept by restore and factory
   * reset: see server/license/box-identity.ts); `testPublicKeyFile`, only for tests and
   * development, makes the box also trust the project's TEST licence key — the file must hold
   * exactly that key (server/license/license-keys.ts), no other key can be brought in.
   */
  readonly license: { readonly identityDir: string; readonly testPublicKeyFile?: string };
  /**
   * System upgrades (server/upgrade). `installRoot`: the folder the software is installed in —
   * `releases/<version>-<build>/` and the `current` link the services run from (PREFIX,
   * /opt/vcbox, on an appliance; the installer writes it) — undefined = this box runs from a
   * source folder and refuses upgrades. `maxUploadBytes`: the largest package accepted.
   * `healthTimeoutMs`: how long a new version has after its restart to answer its health check
   * before it is rolled back. `testPublicKeyFile`: tests only, as for the licence — the file must
   * hold exactly the project's TEST release key (server/upgrade/release-keys.ts).
   */
  readonly upgrade: { readonly installRoot?: string; readonly maxUploadBytes: number; readonly healthTimeoutMs: number; readonly testPublicKeyFile?: string };
  /**
   * The dev run command's supervisor (server/supervisor), when this process is its child: its
   * pid, which the control plane signals to have the services restarted (reboot on a dev
   * machine, an upgrade). Set by the supervisor in its children's environment only.
   */
  readonly supervisor?: { readonly pid: number };
}

/** The folder the project sits in (server/config/ → two levels up). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type Env = Readonly<Record<string, string | undefined>>;

interface ConfigFile {
  dataDir?: string;
  logDir?: string;
  logLevel?: string;
  logToStdout?: boolean;
  http?: { host?: string; port?: number };
  sip?: { host?: string; port?: number; tlsPort?: number; overloadInFlight?: number; overloadQueueDelayMs?: number; overloadLoopLagMs?: number };
  signaling?: { host?: string; port?: number };
  media?: { workers?: number; listenIp?: string; address?: string };
  turn?: { port?: number };
  bfcp?: { port?: number; tlsPort?: number };
  backup?: { maxUploadMB?: number };
  firmware?: { maxUploadMB?: number };
  system?: { root?: string; appliance?: boolean; systemd?: boolean };
  license?: { identityDir?: string; testPublicKeyFile?: string };
  upgrade?: { installRoot?: string; maxUploadMB?: number; healthTimeoutSeconds?: number; testPublicKeyFile?: string };
}

function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw createError('VCBOX_ERR_CONFIG_FILE', { path: file, reason: (error as Error).message }, error);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('the top level must be a JSON object');
    }
    return parsed as ConfigFile;
  } catch (error) {
    throw createError('VCBOX_ERR_CONFIG_FILE', { path: file, reason: (error as Error).message }, error);
  }
}

export function parsePort(field: string, value: unknown): number {
  const port = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field,
      reason: `"${String(value)}" is not a port number (1-65535)`,
    });
  }
  return port;
}

function parseCount(field: string, value: unknown): number {
  const count = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 256) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field,
      reason: `"${String(value)}" is not a whole number from 0 to 256`,
    });
  }
  return count;
}

function parseMebibytes(field: string, value: unknown): number {
  const count = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 65536) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field,
      reason: `"${String(value)}" is not a whole number of MiB from 1 to 65536`,
    });
  }
  return count * 1024 * 1024;
}

function parseWhole(field: string, value: unknown, min: number, max: number): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', { field, reason: `"${String(value)}" is not a whole number from ${min} to ${max}` });
  }
  return number;
}

function parseSeconds(field: string, value: unknown): number {
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 5 || seconds > 3600) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', { field, reason: `"${String(value)}" is not a whole number of seconds from 5 to 3600` });
  }
  return seconds;
}

function parsePid(field: string, value: string | undefined): { pid: number } | undefined {
  if (value === undefined || value === '') return undefined;
  const pid = Number(value);
  if (!Number.isInteger(pid) || pid < 2) throw createError('VCBOX_ERR_CONFIG_VALUE', { field, reason: `"${value}" is not a process id` });
  return { pid };
}

function parseSystemRoot(field: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!path.isAbsolute(value)) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', { field, reason: `"${value}" is not an absolute path` });
  }
  return path.resolve(value);
}

function parseFlag(field: string, value: unknown): boolean {
  if (value === undefined || value === '' || value === false || value === '0' || value === 'false') return false;
  if (value === true || value === '1' || value === 'true') return true;
  throw createError('VCBOX_ERR_CONFIG_VALUE', { field, reason: `"${String(value)}" is not true/false (1/0)` });
}

function parseLogLevel(field: string, value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field,
      reason: `"${value}" is not one of ${LOG_LEVELS.join(', ')}`,
    });
  }
  return value as LogLevel;
}

/** Builds the configuration of this process from defaults, the optional file and `env`. */
export function loadConfig(env: Env): Config {
  const file: ConfigFile = env.VCBOX_CONFIG ? readConfigFile(env.VCBOX_CONFIG) : {};
  const base = env.VCBOX_CONFIG ? path.dirname(path.resolve(env.VCBOX_CONFIG)) : PROJECT_ROOT;

  const dataDir = path.resolve(base, env.VCBOX_DATA_DIR ?? file.dataDir ?? 'data');
  const logDir = path.resolve(dataDir, env.VCBOX_LOG_DIR ?? file.logDir ?? 'logs');
  const optionalPort = (field: string, value: unknown): number | undefined =>
    value === undefined || value === '' ? undefined : parsePort(field, value);

  const sipPort = optionalPort('sip.port (VCBOX_SIP_PORT)', env.VCBOX_SIP_PORT ?? file.sip?.port);
  const sipTlsPort = optionalPort(
    'sip.tlsPort (VCBOX_SIP_TLS_PORT)',
    env.VCBOX_SIP_TLS_PORT ?? file.sip?.tlsPort,
  );
  if (sipPort !== undefined && sipPort === sipTlsPort) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', {
      field: 'sip.tlsPort (VCBOX_SIP_TLS_PORT)',
      reason: `the TLS port must differ from the UDP/TCP port ${sipPort}`,
    });
  }

  const sipHost = env.VCBOX_SIP_HOST ?? file.sip?.host ?? '0.0.0.0';
  const bfcpPort = parsePort('bfcp.port (VCBOX_BFCP_PORT)', env.VCBOX_BFCP_PORT ?? file.bfcp?.port ?? 5090);
  const bfcpTlsPort = parsePort('bfcp.tlsPort (VCBOX_BFCP_TLS_PORT)', env.VCBOX_BFCP_TLS_PORT ?? file.bfcp?.tlsPort ?? 5091);
  if (bfcpPort === bfcpTlsPort) {
    throw createError('VCBOX_ERR_CONFIG_VALUE', { field: 'bfcp.tlsPort (VCBOX_BFCP_TLS_PORT)', reason: `the BFCP TLS port must differ from the BFCP TCP/UDP port ${bfcpPort}` });
  }
  for (const [field, port] of [['bfcp.port (VCBOX_BFCP_PORT)', bfcpPort], ['bfcp.tlsPort (VCBOX_BFCP_TLS_PORT)', bfcpTlsPort]] as const) {
    if (port === sipPort || port === sipTlsPort) throw createError('VCBOX_ERR_CONFIG_VALUE', { field, reason: `${port} is a SIP port of this run; give BFCP a port of its own` });
  }
  const testKeyFile = env.VCBOX_LICENSE_TEST_KEY_FILE ?? file.license?.testPublicKeyFile;
  const releaseTestKeyFile = env.VCBOX_RELEASE_TEST_KEY_FILE ?? file.upgrade?.testPublicKeyFile;
  const installRoot = parseSystemRoot('upgrade.installRoot (VCBOX_INSTALL_ROOT)', env.VCBOX_INSTALL_ROOT ?? file.upgrade?.installRoot);
  const supervisor = parsePid('VCBOX_SUPERVISOR_PID', env.VCBOX_SUPERVISOR_PID);
  const logToStdoutRaw = env.VCBOX_LOG_STDOUT ?? file.logToStdout;
  return {
    dataDir,
    logDir,
    logLevel: parseLogLevel('logLevel (VCBOX_LOG_LEVEL)', env.VCBOX_LOG_LEVEL ?? file.logLevel ?? 'info'),
    logToStdout: logToStdoutRaw === undefined ? true : logToStdoutRaw === true || logToStdoutRaw === '1',
    http: {
      host: env.VCBOX_HTTP_HOST ?? file.http?.host ?? '0.0.0.0',
      ...optionalPortField(optionalPort('http.port (VCBOX_HTTP_PORT)', env.VCBOX_HTTP_PORT ?? file.http?.port)),
    },
    sip: {
      host: sipHost,
      ...(sipPort === undefined ? {} : { port: sipPort }),
      ...(sipTlsPort === undefined ? {} : { tlsPort: sipTlsPort }),
      overload: {
        inFlight: parseWhole('sip.overloadInFlight (VCBOX_SIP_OVERLOAD_IN_FLIGHT)', env.VCBOX_SIP_OVERLOAD_IN_FLIGHT ?? file.sip?.overloadInFlight ?? 1000, 1, 1_000_000),
        queueDelayMs: parseWhole('sip.overloadQueueDelayMs (VCBOX_SIP_OVERLOAD_DELAY_MS)', env.VCBOX_SIP_OVERLOAD_DELAY_MS ?? file.sip?.overloadQueueDelayMs ?? 500, 10, 60_000),
        loopLagMs: parseWhole('sip.overloadLoopLagMs (VCBOX_SIP_OVERLOAD_LAG_MS)', env.VCBOX_SIP_OVERLOAD_LAG_MS ?? file.sip?.overloadLoopLagMs ?? 100, 10, 60_000),
      },
    },
    signaling: {
      host: env.VCBOX_SIGNALING_HOST ?? file.signaling?.host ?? '127.0.0.1',
      port: parsePort(
        'signaling.port (VCBOX_SIGNALING_PORT)',
        env.VCBOX_SIGNALING_PORT ?? file.signaling?.port ?? 9022,
      ),
    },
    media: {
      workers: parseCount('media.workers (VCBOX_MEDIA_WORKERS)', env.VCBOX_MEDIA_WORKERS ?? file.media?.workers ?? 0),
      listenIp: env.VCBOX_MEDIA_LISTEN_IP ?? file.media?.listenIp ?? sipHost,
      address: env.VCBOX_MEDIA_ADDRESS ?? file.media?.address ?? (sipHost === '0.0.0.0' ? firstLanAddress() : sipHost),
    },
    turn: optionalPortField(optionalPort('turn.port (VCBOX_TURN_PORT)', env.VCBOX_TURN_PORT ?? file.turn?.port)),
    bfcp: { host: sipHost, port: bfcpPort, tlsPort: bfcpTlsPort },
    backup: {
      maxUploadBytes: parseMebibytes('backup.maxUploadMB (VCBOX_BACKUP_MAX_UPLOAD_MB)', env.VCBOX_BACKUP_MAX_UPLOAD_MB ?? file.backup?.maxUploadMB ?? 1024),
    },
    firmware: {
      maxUploadBytes: parseMebibytes('firmware.maxUploadMB (VCBOX_FIRMWARE_MAX_UPLOAD_MB)', env.VCBOX_FIRMWARE_MAX_UPLOAD_MB ?? file.firmware?.maxUploadMB ?? 1024),
    },
    system: {
      ...optionalRoot(parseSystemRoot('system.root (VCBOX_SYSTEM_ROOT)', env.VCBOX_SYSTEM_ROOT ?? file.system?.root)),
      appliance: parseFlag('system.appliance (VCBOX_APPLIANCE)', env.VCBOX_APPLIANCE ?? file.system?.appliance),
      systemd: parseFlag('system.systemd (VCBOX_SYSTEMD)', env.VCBOX_SYSTEMD ?? file.system?.systemd),
    },
    license: {
      identityDir: path.resolve(dataDir, env.VCBOX_IDENTITY_DIR ?? file.license?.identityDir ?? 'identity'),
      ...(testKeyFile ? { testPublicKeyFile: path.resolve(base, testKeyFile) } : {}),
    },
    upgrade: {
      ...(installRoot === undefined ? {} : { installRoot }),
      maxUploadBytes: parseMebibytes('upgrade.maxUploadMB (VCBOX_UPGRADE_MAX_UPLOAD_MB)', env.VCBOX_UPGRADE_MAX_UPLOAD_MB ?? file.upgrade?.maxUploadMB ?? 1024),
      healthTimeoutMs: 1000 * parseSeconds('upgrade.healthTimeoutSeconds (VCBOX_UPGRADE_HEALTH_TIMEOUT_S)', env.VCBOX_UPGRADE_HEALTH_TIMEOUT_S ?? file.upgrade?.healthTimeoutSeconds ?? 180),
      ...(releaseTestKeyFile ? { testPublicKeyFile: path.resolve(base, releaseTestKeyFile) } : {}),
    },
    ...(supervisor ? { supervisor } : {}),
  };
}

/** `{ port }` when the configuration fixes one, `{}` when the stored setting applies. */
function optionalPortField(port: number | undefined): { port?: number } {
  return port === undefined ? {} : { port };
}

function optionalRoot(root: string | undefined): { root?: string } {
  return root === undefined ? {} : { root };
}

/** The host's first non-loopback IPv4 address (127.0.0.1 when it has none). */
function firstLanAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Paths inside the data directory, named once. */
export function dataPaths(config: Config) {
  return {
    database: path.join(config.dataDir, 'vcbox.sqlite'),
    certificates: path.join(config.dataDir, 'certificates'),
    secrets: path.join(config.dataDir, 'secrets'),
    /** IVR prompts uploaded by an administrator (they replace the built ones). */
    prompts: path.join(config.dataDir, 'prompts'),
    /** Backup files (`<name>.vcbackup`, encrypted; `<name>.tar.gz` from earlier versions) and the staging folders of backups being made or restored. */
    backups: path.join(config.dataDir, 'backups'),
    /** Working files of the processes (sockets, the TURN relay's rendered configuration). */
    run: path.join(config.dataDir, 'run'),
    /** Terminal firmware files (`<id>.rom`) and the temporary files of uploads in progress. */
    firmware: path.join(config.dataDir, 'firmware'),
    /** Unix socket of the media service's control channel (control plane → media). */
    mediaSocket: path.join(config.dataDir, 'run', 'media.sock'),
    /** Unix socket of the signaling service's control channel (its status; applying changed settings now). */
    signalingSocket: path.join(config.dataDir, 'run', 'signaling.sock'),
    /**
     * The word that the whole appliance is stopping (server/process/stop-intent.ts): written by
     * the supervisor or the systemd unit vcbox-stop-intent before the control plane is stopped.
     */
    applianceStopping: path.join(config.dataDir, 'run', 'appliance-stopping'),
    /**
     * Maintenance jobs handed from the control plane to whoever restarts the services (the
     * supervisor, or the appliance's root vcbox-maintenance unit): the request, an uploaded
     * release package, the upgrade's status and the database copy an upgrade may roll back to.
     */
    maintenance: path.join(config.dataDir, 'maintenance'),
  } as const;
}
