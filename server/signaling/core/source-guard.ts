/**
 * The signaling service's first line of defence, applied to every message before it is
 * parsed further: a per-source-address flood limit (token bucket; over it, messages are
 * dropped silently, as a SIP firewall does) and the blocking of SIP scanners by User-Agent
 * (friendly-scanner, sipvicious…), which are also dropped without an answer so the scan
 * learns nothing. Both are settings (`sip.floodLimitPerSecond`, `sip.blockScanners`).
 */
import { getLogger } from '../../core/logger.ts';
import { monotonicMs } from '../../core/clock.ts';

const log = getLogger('sip-source-guard');

/** User-Agents of well-known SIP scanning and attack tools (matched case-insensitively). */
export const SCANNER_USER_AGENTS = [
  'friendly-scanner',
  'sipvicious',
  'sipcli',
  'sip-scan',
  'sipscan',
  'iwar',
  'sundayddr',
  'sipbomber',
  'smap',
  'vaxsipuseragent',
  'pplsip',
  'siparmyknife',
];

export interface SourceGuardOptions {
  /** Messages per second one address may send (burst: twice that); 0 = no limit. */
  readonly perSecond: number;
  readonly blockScanners: boolean;
}

interface Bucket {
  tokens: number;
  last: number;
  dropped: number;
}

export class SourceGuard {
  #options: SourceGuardOptions;
  readonly #buckets = new Map<string, Bucket>();
  readonly #cleaner: NodeJS.Timeout;

  constructor(options: SourceGuardOptions) {
    this.#options = options;
    this.#cleaner = setInterval(() => this.#clean(), 60_000);
    this.#cleaner.unref();
  }

  configure(options: SourceGuardOptions): void {
    this.#options = options;
  }

  /** False when this address has used up its rate; the message is to be dropped. */
  admit(address: string, now = monotonicMs()): boolean {
    const rate = this.#options.perSecond;
    if (rate <= 0) return true;
    let bucket = this.#buckets.get(address);
    if (!bucket) {
      bucket = { tokens: rate * 2, last: now, dropped: 0 };
      this.#buckets.set(address, bucket);
    }
    bucket.tokens = Math.min(rate * 2, bucket.tokens + ((now - bucket.last) / 1000) * rate);
    bucket.last = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    if (bucket.dropped++ === 0) log.warn({ address, perSecond: rate }, 'SIP flood from one address; dropping its messages over the limit');
    return false;
  }

  /** True when the User-Agent is a known scanner's and scanners are blocked. */
  isScanner(userAgent: string | undefined): boolean {
    if (!this.#options.blockScanners || !userAgent) return false;
    const ua = userAgent.toLowerCase();
    return SCANNER_USER_AGENTS.some((scanner) => ua.includes(scanner));
  }

  #clean(now = monotonicMs()): void {
    for (const [address, bucket] of this.#buckets) {
      if (now - bucket.last > 60_000) {
        if (bucket.dropped > 0) log.info({ address, dropped: bucket.dropped }, 'SIP flood ended');
        this.#buckets.delete(address);
      }
    }
  }

  close(): void {
    clearInterval(this.#cleaner);
    this.#buckets.clear();
  }
}
