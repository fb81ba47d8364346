/**
 * Debian's Firefox ESR (/usr/bin/firefox-esr) for the tests, driven unpatched over WebDriver
 * BiDi — the protocol Firefox itself speaks with `--remote-debugging-port` — by the small client
 * here (the `ws` package; playwright-core needs its own patched Firefox). Each instance gets a
 * fresh profile whose user.js (`firefoxPrefs`) turns off every Mozilla service Firefox contacts
 * by itself (updates, telemetry, remote settings, safe browsing, captive portal, push, DoH,
 * region, add-on and plugin updates…), keeps WebRTC on the loopback interface (no mDNS, no
 * STUN) and sends whatever else is not loopback to a sink proxy of ours on 127.0.0.1 that
 * records the request and closes (`attempts`); `MOZ_DISABLE_NONLOCAL_CONNECTIONS=1` makes Firefox
 * refuse non-local sockets as well. Fake camera and microphone (a test pattern, a 1 kHz tone),
 * no permission prompts. `loopbackOnlyCheck` proves the profile empirically: Firefox run in a
 * network namespace the check creates (loopback plus a dummy interface that reaches nobody),
 * under strace, opening a page that gathers WebRTC candidates and fetches a remote address;
 * every destination it tried is returned. Stopped with `close()`.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

export const FIREFOX = '/usr/bin/firefox-esr';

/** The profile's preferences; `proxyPort` is the loopback sink every non-loopback request goes to. */
export function firefoxPrefs(proxyPort: number): Record<string, string | number | boolean> {
  return {
    // Anything not loopback goes to our sink proxy, never direct; no DNS of Firefox's own.
    'network.proxy.type': 1,
    'network.proxy.http': '127.0.0.1',
    'network.proxy.http_port': proxyPort,
    'network.proxy.ssl': '127.0.0.1',
    'network.proxy.ssl_port': proxyPort,
    'network.proxy.socks': '127.0.0.1',
    'network.proxy.socks_port': proxyPort,
    'network.proxy.socks_remote_dns': true,
    'network.proxy.share_proxy_settings': false,
    'network.proxy.no_proxies_on': '',
    'network.proxy.allow_hijacking_localhost': false,
    'network.proxy.failover_direct': false,
    'network.trr.mode': 5,
    'doh-rollout.disable-heuristics': true,
    'network.dns.disablePrefetch': true,
    'network.dns.disablePrefetchFromHTTPS': true,
    'network.predictor.enabled': false,
    'network.prefetch-next': false,
    'network.http.speculative-parallel-limit': 0,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    // Updates of Firefox, add-ons, plugins (OpenH264, Widevine).
    'app.update.disabledForTesting': true,
    'app.update.auto': false,
    'app.update.url': '',
    'app.update.url.override': '',
    'extensions.update.enabled': false,
    'extensions.update.autoUpdateDefault': false,
    'extensions.getAddons.cache.enabled': false,
    'extensions.systemAddon.update.enabled': false,
    'extensions.blocklist.enabled': false,
    'media.gmp-manager.url': '',
    'media.gmp-manager.updateEnabled': false,
    'media.gmp-gmpopenh264.enabled': false,
    'media.gmp-gmpopenh264.autoupdate': false,
    'media.gmp-widevinecdm.enabled': false,
    'media.gmp-widevinecdm.autoupdate': false,
    'media.gmp-provider.enabled': false,
    'media.eme.enabled': false,
    // Telemetry, studies, experiments.
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.unified': false,
    'toolkit.telemetry.server': 'data:,',
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'browser.ping-centre.telemetry': false,
    'app.normandy.enabled': false,
    'app.normandy.api_url': '',
    'app.shield.optoutstudies.enabled': false,
    'messaging-system.rsexperimentloader.enabled': false,
    'nimbus.rollouts.enabled': false,
    // Remote settings: the offline dummy server (honoured with MOZ_DISABLE_NONLOCAL_CONNECTIONS).
    'services.settings.server': 'data:,#remote-settings-dummy/v1',
    'services.settings.poll_interval': 31_536_000,
    'security.remote_settings.crlite_filters.enabled': false,
    'security.remote_settings.intermediates.enabled': false,
    'security.OCSP.enabled': 0,
    // Safe browsing, tracking lists, region, geolocation, search, push, accounts, new tab.
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'browser.safebrowsing.blockedURIs.enabled': false,
    'browser.safebrowsing.provider.mozilla.updateURL': '',
    'browser.safebrowsing.provider.google4.updateURL': '',
    'privacy.trackingprotection.enabled': false,
    'browser.region.network.url': '',
    'browser.region.update.enabled': false,
    'geo.provider.network.url': '',
    'browser.search.geoip.url': '',
    'browser.urlbar.quicksuggest.enabled': false,
    'browser.translations.enable': false,
    'browser.ml.enable': false,
    'dom.push.enabled': false,
    'dom.push.connection.enabled': false,
    'identity.fxaccounts.enabled': false,
    'browser.discovery.enabled': false,
    'browser.newtabpage.enabled': false,
    'browser.newtabpage.activity-stream.feeds.system.topstories': false,
    'browser.newtabpage.activity-stream.telemetry': false,
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.page': 0,
    'browser.startup.homepage': 'about:blank',
    // WebRTC on loopback only: host candidates of lo, no mDNS names, no default STUN server.
    'media.peerconnection.ice.loopback': true,
    'media.peerconnection.ice.force_interface': 'lo',
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.peerconnection.ice.link_local': false,
    'media.peerconnection.default_iceservers': '[]',
    // Fake camera and microphone, no prompts, media plays without a gesture.
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    // Camera and microphone allowed for every site: without a granted permission Firefox
    // gathers only the default route's address (no loopback candidate, and ICE to a box on
    // 127.0.0.1 fails).
    'permissions.default.camera': 1,
    'permissions.default.microphone': 1,
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
  };
}

function writeProfile(dir: string, proxyPort: number, extra: Record<string, string | number | boolean> = {}): void {
  const lines = Object.entries({ ...firefoxPrefs(proxyPort), ...extra }).map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});`);
  writeFileSync(path.join(dir, 'user.js'), `${lines.join('\n')}\n`);
}

/** Firefox's environment: its own HOME, non-local sockets refused by Firefox itself. */
function firefoxEnv(home: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1', MOZ_CRASHREPORTER_DISABLE: '1', MOZ_HEADLESS: '1' };
}

/** A proxy on loopback that forwards nothing: it records each request's first line and closes. */
async function startSink(): Promise<{ server: net.Server; port: number; attempts: string[] }> {
  const attempts: string[] = [];
  const server = net.createServer((socket) => {
    let head = '';
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n');
      // A SOCKS greeting is binary: record it as such.
      if (end >= 0 || head.length > 512 || head.charCodeAt(0) === 5 || head.charCodeAt(0) === 4) {
        attempts.push(end >= 0 ? head.slice(0, end) : `(binary ${head.length} bytes, SOCKS?)`);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, attempts };
}

type BidiMessage = {
  type?: 'success' | 'error' | 'event';
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: string;
  message?: string;
};

export class Firefox {
  readonly #child: ChildProcess;
  readonly #ws: WebSocket;
  readonly #sink: net.Server;
  readonly #dirs: string[];
  readonly #pending = new Map<number, { resolve: (result: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #closed = false;
  /** Errors the pages logged (console.error, uncaught exceptions). */
  readonly errors: string[] = [];
  /** Requests that reached the sink proxy: what Firefox tried to send off the machine. */
  readonly attempts: string[];
  readonly version: string;
  #output = '';

  private constructor(child: ChildProcess, ws: WebSocket, sink: { server: net.Server; attempts: string[] }, dirs: string[], version: string, output: string) {
    this.#child = child;
    this.#ws = ws;
    this.#sink = sink.server;
    this.attempts = sink.attempts;
    this.#dirs = dirs;
    this.version = version;
    this.#output = output;
    child.stderr?.on('data', (d: Buffer) => (this.#output = (this.#output + d.toString()).slice(-20_000)));
    ws.on('message', (data: Buffer) => this.#onMessage(JSON.parse(data.toString('utf8')) as BidiMessage));
    ws.on('close', () => {
      for (const { reject } of this.#pending.values()) reject(new Error('Firefox closed the WebDriver BiDi connection'));
      this.#pending.clear();
    });
  }

  /** What Firefox wrote on stderr (the last 20 kB), for messages. */
  get output(): string {
    return this.#output;
  }

  #onMessage(message: BidiMessage): void {
    if (message.type === 'event') {
      if (message.method === 'log.entryAdded' && message.params?.level === 'error') this.errors.push(String(message.params.text ?? ''));
      return;
    }
    const waiter = message.id === undefined ? undefined : this.#pending.get(message.id);
    if (!waiter || message.id === undefined) return;
    this.#pending.delete(message.id);
    if (message.type === 'error') waiter.reject(new Error(`WebDriver BiDi: ${message.error}: ${message.message}`));
    else waiter.resolve(message.result ?? {});
  }

  /** Sends one BiDi command and resolves with its result (rejects on an error or after `timeoutMs`). */
  call(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`WebDriver BiDi: no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A new tab showing `url` (loaded), as its browsing-context id. */
  async open(url: string): Promise<string> {
    const { context } = (await this.call('browsingContext.create', { type: 'tab' })) as { context: string };
    await this.call('browsingContext.navigate', { context, url, wait: 'complete' });
    return context;
  }

  /**
   * Runs `expression` in the page (awaited when it is a promise) and returns its value, passed
   * through JSON (so give an expression whose value is JSON data). A thrown error rejects.
   */
  async evaluate<T>(context: string, expression: string): Promise<T> {
    const result = (await this.call('script.evaluate', {
      expression: `(async () => JSON.stringify(await (${expression})))()`,
      target: { context },
      awaitPromise: true,
      resultOwnership: 'none',
    })) as { type: string; result?: { type: string; value?: string }; exceptionDetails?: { text?: string } };
    if (result.type === 'exception') throw new Error(`in the page: ${result.exceptionDetails?.text ?? 'an exception'}`);
    const value = result.result?.value;
    return (value === undefined ? undefined : JSON.parse(value)) as T;
  }

  /** Evaluates `expression` every 250 ms until it is truthy (returns it) or the timeout. */
  async waitUntil<T>(context: string, what: string, expression: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const value = await this.evaluate<T>(context, expression);
      if (value) return value;
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`Firefox: ${what} did not happen within ${timeoutMs} ms`);
  }

  /** A PNG of the tab, for artifacts. */
  async screenshot(context: string): Promise<Buffer> {
    const { data } = (await this.call('browsingContext.captureScreenshot', { context })) as { data: string };
    return Buffer.from(data, 'base64');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ws.close();
    // Its own process group (Firefox, its content processes, strace when tracing): all of it.
    const group = (signal: NodeJS.Signals) => {
      try {
        if (this.#child.pid) process.kill(-this.#child.pid, signal);
      } catch {
        // already gone
      }
    };
    group('SIGTERM');
    setTimeout(() => group('SIGKILL'), 3000).unref();
    this.#child.once('exit', () => {
      for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
    });
    this.#sink.close();
  }

  /** Starts Firefox ESR headless with a fresh profile and opens a BiDi session to it. */
  static async launch(extraPrefs: Record<string, string | number | boolean> = {}): Promise<Firefox> {
    const profile = mkdtempSync(path.join(os.tmpdir(), 'vcbox-firefox-profile-'));
    const home = mkdtempSync(path.join(os.tmpdir(), 'vcbox-firefox-home-'));
    const sink = await startSink();
    writeProfile(profile, sink.port, extraPrefs);
    const version = await new Promise<string>((resolve) =>
      execFile(FIREFOX, ['--version'], { env: firefoxEnv(home), timeout: 20_000 }, (_e, stdout) => resolve(String(stdout).trim().replace(/^Mozilla Firefox /, 'Firefox ESR ').replace(/esr$/, ''))),
    );
    // VCBOX_FIREFOX_STRACE=<file>: run it under strace, for checking by hand what it reaches (destinationsIn).
    const trace = process.env.VCBOX_FIREFOX_STRACE;
    const args = ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port', '0', 'about:blank'];
    const [command, commandArgs] = trace ? ['strace', ['-f', '-yy', '--seccomp-bpf', '-qq', '-e', 'trace=connect,sendto,sendmsg,sendmmsg', '-o', trace, FIREFOX, ...args]] : [FIREFOX, args];
    const child = spawn(command, commandArgs, {
      env: firefoxEnv(home),
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Firefox did not open WebDriver BiDi within 30 s:\n${output.slice(-2000)}`)), 30_000);
      child.stderr?.on('data', (d: Buffer) => {
        output += d.toString();
        const match = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Firefox exited (${code}) before opening WebDriver BiDi:\n${output.slice(-2000)}`));
      });
    }).catch((error: Error) => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      sink.server.close();
      throw error;
    });
    const ws = new WebSocket(`${url}/session`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const firefox = new Firefox(child, ws, sink, [profile, home], version, output);
    await firefox.call('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
    await firefox.call('session.subscribe', { events: ['log.entryAdded'] });
    return firefox;
  }
}

/** Where `loopbackOnlyCheck` finds strace, unshare and ip; without them it cannot run. */
export function loopbackCheckUnavailable(): string | false {
  if (!existsSync(FIREFOX)) return 'firefox-esr is not installed (scripts/setup.sh test installs it)';
  if (process.getuid?.() !== 0) return 'proving Firefox stays on loopback needs a network namespace (root)';
  for (const tool of ['/usr/bin/strace', '/usr/bin/unshare', '/usr/sbin/ip']) if (!existsSync(tool)) return `${tool} is missing (scripts/setup.sh test installs it)`;
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    return 'network namespaces cannot be made here (unshare -n failed), so Firefox staying on loopback cannot be proven';
  }
  return false;
}

/**
 * Runs Firefox ESR with the suite's profile for `seconds` in a network namespace of its own
 * (loopback, and a dummy interface 10.254.0.1/24 whose packets go nowhere), under strace,
 * showing a page that gathers WebRTC candidates (a data channel offer) and fetches
 * http://example.com/: returns every address:port it sent to or connected to that is not
 * loopback (`outside`; nothing leaves the namespace either way), the UDP sockets it connected
 * outside without sending (`routeLookups`: WebRTC finding its default source address), and how
 * many loopback destinations it used.
 */
export async function loopbackOnlyCheck(seconds: number): Promise<{ outside: string[]; routeLookups: string[]; loopback: number; log: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-firefox-check-'));
  try {
    const profile = path.join(dir, 'profile');
    const home = path.join(dir, 'home');
    for (const d of [profile, home]) mkdirSync(d);
    writeProfile(profile, 9);
    const page = path.join(dir, 'page.html');
    writeFileSync(
      page,
      `<!doctype html><script>
const pc = new RTCPeerConnection();
pc.createDataChannel('x');
pc.createOffer().then((o) => pc.setLocalDescription(o));
navigator.mediaDevices.getUserMedia({ audio: true, video: true }).then((s) => s.getTracks().forEach((t) => pc.addTrack(t, s))).catch(() => {});
fetch('http://example.com/').catch(() => {});
</script>`,
    );
    const trace = path.join(dir, 'strace.log');
    const script = [
      'ip link set lo up',
      'ip link add vcbox-dummy type dummy && ip addr add 10.254.0.1/24 dev vcbox-dummy && ip link set vcbox-dummy up',
      `exec timeout -s KILL ${seconds} strace -f -yy --seccomp-bpf -qq -e trace=connect,sendto,sendmsg,sendmmsg -o ${trace} ${FIREFOX} --headless --no-remote --profile ${profile} file://${page}`,
    ].join('; ');
    await new Promise<void>((resolve) => execFile('unshare', ['-n', 'sh', '-c', script], { env: firefoxEnv(home), timeout: (seconds + 15) * 1000 }, () => resolve()));
    const log = existsSync(trace) ? readFileSync(trace, 'utf8') : '';
    return { ...destinationsIn(log), log };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The socket destinations in an strace log written with `-f -yy -e trace=connect,sendto,sendmsg,sendmmsg`:
 * `outside` every address:port connected to or sent to that is not loopback, `routeLookups` the
 * UDP sockets connected outside without sending (WebRTC asking the kernel for its default
 * source address), `loopback` how many loopback destinations.
 */
export function destinationsIn(log: string): { outside: string[]; routeLookups: string[]; loopback: number } {
  const outside = new Set<string>();
  const routeLookups = new Set<string>();
  let loopback = 0;
  // strace -yy names each descriptor's protocol and, once connected, its peer.
  const call = /^\s*\d+\s+(connect|sendto|sendmsg|sendmmsg)\(\d+<([A-Za-z0-9]+):\[(.*?)\]>/;
  const address = /sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), (?:sin6_flowinfo=[^,]+, )?(?:sin_addr=inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")/;
  for (const line of log.split('\n')) {
    const match = call.exec(line);
    if (!match || !/^(TCP|UDP)/.test(match[2] ?? '')) continue; // Unix sockets, netlink route queries
    const explicit = address.exec(line);
    const peer = /->(.+):(\d+)$/.exec(match[3] ?? '');
    const host = (explicit ? (explicit[2] ?? explicit[3]) : peer?.[1]?.replace(/^\[|\]$/g, '')) ?? '';
    const port = explicit ? explicit[1] : peer?.[2];
    if (!host) continue;
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (host.startsWith('127.') || host === '::1' || host === '::ffff:127.0.0.1') loopback++;
    // connect() on a UDP socket sends nothing (WebRTC asks the kernel for its default source address).
    else if (match[1] === 'connect' && match[2]?.startsWith('UDP')) routeLookups.add(where);
    else outside.add(where);
  }
  return { outside: [...outside], routeLookups: [...routeLookups], loopback };
}
