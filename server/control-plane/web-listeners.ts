/**
 * The control plane's listeners (spec "Network & services", Web): HTTP always, on the stored
 * `web.httpPort` (80) unless the process configuration fixes the port for this run
 * (VCBOX_HTTP_PORT / http.port — dev machines and tests), and HTTPS on `web.httpsPort` (443)
 * while `web.httpsEnabled` is on, with the box's certificate (server/tls/box-certificate.ts:
 * the generated self-signed one, or the administrator's import). Both serve the same Fastify
 * application (its router and its WebSocket upgrades).
 *
 * A change applies at once: a new port is bound before the old listener is let go, so a port
 * that cannot be bound leaves everything as it was (and says why); requests and WebSockets
 * already open on the old listener finish there. A new certificate is used for handshakes from
 * then on (checked at every apply, and every few seconds for a restore). "HTTPS preferred when
 * both" — `httpsRedirect` names where a browser that opened a console or join page over HTTP
 * is sent: the API, /metrics and everything else keep answering over HTTP.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createError } from '../core/errors.ts';
import { getLogger } from '../core/logger.ts';
import { natAddressFor, staticNatFrom } from '../core/static-nat.ts';
import type { Settings } from '../settings/settings-schema.ts';
import { certificateStamp, ensureCertificate } from '../tls/self-signed-certificate.ts';

const log = getLogger('web-listeners');

export interface WebListenersOptions {
  /** Address both listeners bind (config http.host). */
  readonly host: string;
  /** The HTTP port the process configuration fixes for this run; undefined: the stored setting. */
  readonly pinnedHttpPort?: number;
  /** What fixes it, in words (shown to the administrator). */
  readonly pinnedBy?: string;
  /** The box's certificate folder (`<dataDir>/certificates`). */
  readonly certificates: string;
  /** How often the certificate file is looked at for a change made elsewhere (a restore). Default 2 s. */
  readonly certificatePollMs?: number;
}

export interface WebListenerState {
  readonly http: { readonly port: number | null; readonly stored: number; readonly pinnedBy?: string; readonly error?: string };
  readonly https: { readonly enabled: boolean; readonly port: number | null; readonly stored: number; readonly error?: string };
}

type WebSettings = Pick<Settings, 'web.httpPort' | 'web.httpsEnabled' | 'web.httpsPort' | 'web.httpNatPort'>;

/**
 * Where the listeners should be for these settings (the control plane follows the settings that
 * change it: `follows: ['control-plane']` in settings-schema.ts; `web.httpNatPort` is read at each
 * request instead). HTTPS null when off.
 */
export function listenersWanted(settings: WebSettings, pinnedHttpPort?: number): { readonly httpPort: number; readonly httpsPort: number | null } {
  return { httpPort: pinnedHttpPort ?? settings['web.httpPort'], httpsPort: settings['web.httpsEnabled'] ? settings['web.httpsPort'] : null };
}

/** Paths a browser navigates to (console, join page): over HTTP they are sent to HTTPS. */
const BROWSER_PAGES = /^\/(?:$|index\.html(?:$|\?)|\?|console\/|join(?:\/|$|\?))/;

export class WebListeners {
  readonly #options: WebListenersOptions;
  #app: FastifyInstance | undefined;
  #http: { server: http.Server; port: number } | undefined;
  #https: { server: https.Server; port: number } | undefined;
  #httpError: string | undefined;
  #httpsError: string | undefined;
  #settings: WebSettings | undefined;
  #certificateStamp = '';
  #applying: Promise<unknown> = Promise.resolve();
  #certificateTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: WebListenersOptions) {
    this.#options = options;
  }

  /** The application both listeners serve (after it is built; before the first apply). */
  attach(app: FastifyInstance): void {
    this.#app = app;
    this.#certificateTimer = setInterval(() => {
      if (this.#settings?.['web.httpsEnabled'] && this.#stamp() !== this.#certificateStamp) void this.reloadCertificate().catch(() => {});
    }, this.#options.certificatePollMs ?? 2000);
    this.#certificateTimer.unref();
  }

  /**
   * Brings the listeners in line with the settings. At the first apply an HTTP port that cannot
   * be bound is an error (the console would be unreachable); later a failed move keeps the old
   * listener and is reported in the state. HTTPS problems are always reported, never thrown.
   */
  apply(settings: WebSettings): Promise<WebListenerState> {
    const next = this.#applying.then(() => this.#apply(settings));
    this.#applying = next.catch(() => {});
    return next;
  }

  async #apply(settings: WebSettings): Promise<WebListenerState> {
    if (this.#closed) return this.state();
    this.#settings = { ...settings };
    const wanted = listenersWanted(settings, this.#options.pinnedHttpPort);
    const httpPort = wanted.httpPort;
    if (this.#http?.port !== httpPort) {
      try {
        const server = await this.#listen(http.createServer(), httpPort, 'HTTP');
        this.#retire(this.#http?.server);
        this.#http = { server, port: httpPort };
        this.#httpError = undefined;
        log.info({ url: `http://${this.#options.host}:${httpPort}/` }, 'console listening');
      } catch (error) {
        if (!this.#http) throw error;
        this.#httpError = (error as Error).message;
      }
    }
    const httpsPort = wanted.httpsPort;
    if (httpsPort === null) {
      if (this.#https) log.info({ port: this.#https.port }, 'HTTPS turned off');
      this.#retire(this.#https?.server);
      this.#https = undefined;
      this.#httpsError = undefined;
      return this.state();
    }
    const stamp = this.#stamp();
    if (this.#https?.port === httpsPort) {
      if (stamp !== this.#certificateStamp) await this.#useCertificate(this.#https.server, stamp);
      return this.state();
    }
    try {
      const certificate = await ensureCertificate(this.#options.certificates);
      this.#certificateStamp = this.#stamp();
      const server = await this.#listen(https.createServer({ key: certificate.key, cert: certificate.cert }), httpsPort, 'HTTPS');
      this.#retire(this.#https?.server);
      this.#https = { server, port: httpsPort };
      this.#httpsError = undefined;
      log.info({ url: `https://${this.#options.host}:${httpsPort}/` }, 'console listening over HTTPS');
    } catch (error) {
      this.#httpsError = (error as Error).message;
      log.error({ port: httpsPort, err: this.#httpsError }, 'HTTPS could not start');
    }
    return this.state();
  }

  /** Has the HTTPS listener use the certificate now in the folder (after an import or a restore). */
  reloadCertificate(): Promise<WebListenerState> {
    const next = this.#applying.then(async () => {
      if (this.#https) await this.#useCertificate(this.#https.server, this.#stamp());
      return this.state();
    });
    this.#applying = next.catch(() => {});
    return next;
  }

  async #useCertificate(server: https.Server, stamp: string): Promise<void> {
    try {
      const certificate = await ensureCertificate(this.#options.certificates);
      server.setSecureContext({ key: certificate.key, cert: certificate.cert });
      this.#certificateStamp = stamp;
      this.#httpsError = undefined;
      log.info('HTTPS certificate changed: new connections use it');
    } catch (error) {
      this.#httpsError = (error as Error).message;
      log.error({ err: this.#httpsError }, 'the HTTPS listener could not take the new certificate; it keeps the previous one');
    }
  }

  /** Identity of the certificate file (changes when an import or restore replaces it). */
  #stamp(): string {
    return certificateStamp(this.#options.certificates);
  }

  #listen<S extends http.Server | https.Server>(server: S, port: number, transport: string): Promise<S> {
    const app = this.#app;
    if (!app) throw new Error('WebListeners.attach(app) must come first');
    server.on('request', (request, response) => app.routing(request, response));
    // WebSockets (the join page's signaling) are upgraded by the application's own server.
    server.on('upgrade', (request, socket, head) => app.server.emit('upgrade', request, socket, head));
    server.keepAliveTimeout = 72_000;
    return new Promise((resolve, reject) => {
      server.once('error', (error) => {
        reject(createError('VCBOX_ERR_LISTEN', { transport, address: this.#options.host, port, reason: error.message }, error));
      });
      server.listen(port, this.#options.host, () => {
        server.removeAllListeners('error');
        server.on('error', (error) => log.error({ err: error, transport }, 'listener error'));
        resolve(server);
      });
    });
  }

  /** Stops a listener accepting; idle connections close now, busy ones when their request is done. */
  #retire(server: net.Server | undefined): void {
    if (!server) return;
    server.close();
    if (server instanceof http.Server) server.closeIdleConnections();
  }

  state(): WebListenerState {
    const stored = this.#settings;
    return {
      http: {
        port: this.#http?.port ?? null,
        stored: stored?.['web.httpPort'] ?? 0,
        ...(this.#options.pinnedHttpPort === undefined ? {} : { pinnedBy: this.#options.pinnedBy ?? 'the process configuration' }),
        ...(this.#httpError ? { error: this.#httpError } : {}),
      },
      https: {
        enabled: stored?.['web.httpsEnabled'] ?? false,
        port: this.#https?.port ?? null,
        stored: stored?.['web.httpsPort'] ?? 0,
        ...(this.#httpsError ? { error: this.#httpsError } : {}),
      },
    };
  }

  /**
   * Where a request that arrived over HTTP is sent while HTTPS is on: browser pages (console,
   * join page) only. Callers outside the static NAT are sent to the NAT's mapped port
   * (`web.httpNatPort`: with HTTPS on, the manual has it be HTTPS's mapping); LAN callers to
   * the HTTPS port itself. Undefined: answer the request here.
   */
  httpsRedirect(request: FastifyRequest, settings: Settings): string | undefined {
    if (!this.#https || request.protocol === 'https') return undefined;
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    if (!BROWSER_PAGES.test(request.url)) return undefined;
    const outside = natAddressFor(staticNatFrom(settings), request.ip) !== undefined;
    const port = outside ? settings['web.httpNatPort'] : this.#https.port;
    return `https://${request.hostname}${port === 443 ? '' : `:${port}`}${request.url}`;
  }

  /**
   * Stops both listeners and ends their connections. Upgraded sockets (WebSockets) are the
   * application's to close; this does not wait for them beyond a moment. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearInterval(this.#certificateTimer);
    const servers = [this.#http?.server, this.#https?.server].filter((s): s is http.Server => s !== undefined);
    this.#http = undefined;
    this.#https = undefined;
    return Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 2000);
            server.close(() => {
              clearTimeout(timer);
              resolve();
            });
            server.closeAllConnections();
          }),
      ),
    ).then(() => undefined);
  }
}
