/**
 * How much one source may ask of the browser join WebSocket (`/join/ws`): open sockets per
 * address, joins per address a minute, requests per socket a minute, and per joined
 * participant what it may make in the media service (producers per kind, live consumers, the
 * composed picture, one shared screen at a time, transport connections). Each refusal says in words what was refused and
 * the limit (VCBOX_ERR_JOIN_CONNECTIONS, VCBOX_ERR_RATE_LIMITED, VCBOX_ERR_JOIN_PEER_LIMIT).
 *
 * The numbers are sized for the join page as it is (web/src/join.ts): one microphone and one
 * camera, one consumer per stream of every other participant (a meeting holds at most 500),
 * each resumed once, two transports. What does not live here: the shape of a frame
 * (./join-requests.ts) and the wrong-PIN budget (the route's, shared with nothing else).
 */
import { createError } from '../../core/errors.ts';

export const JOIN_LIMITS = {
  /**
   * Open join sockets from one address at a time. One per guest; an office behind one NAT
   * address brings several, a flood from one host is stopped at this.
   */
  socketsPerAddress: 32,
  /** Joins from one address a minute: each makes two WebRTC transports in the media service. */
  joinsPerAddressPerMinute: 30,
  /** Requests on one socket a minute: joining a full meeting consumes and resumes ~1000 streams. */
  requestsPerSocketPerMinute: 2400,
  /** Producers per participant and kind: the page sends one microphone and one camera. */
  producersPerKind: 1,
  /** Live consumers per participant: audio and video of each of up to 499 others. */
  consumers: 1000,
  /**
   * The composed picture: requests in flight (the media service keeps one composed picture per
   * browser, a new one replacing the last; the page asks again when a presentation starts or ends).
   */
  composed: 1,
  /** Shared screens (content producers) per participant at a time: the page shares one. */
  contentProducers: 1,
  /** Transport connections per participant: its send and its receive transport, once each. */
  transportConnects: 2,
} as const;

/** Open sockets per remote address (at most 10 000 addresses are tracked at once). */
export class AddressConnections {
  readonly #open = new Map<string, number>();
  readonly #limit: number;

  constructor(limit: number = JOIN_LIMITS.socketsPerAddress) {
    this.#limit = limit;
  }

  /** Counts one socket for the address, or throws VCBOX_ERR_JOIN_CONNECTIONS; the answer releases it (once). */
  take(address: string): () => void {
    const open = this.#open.get(address) ?? 0;
    if (open >= this.#limit || (open === 0 && this.#open.size >= 10_000)) throw createError('VCBOX_ERR_JOIN_CONNECTIONS', { address, limit: this.#limit });
    this.#open.set(address, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    };
  }

  count(address: string): number {
    return this.#open.get(address) ?? 0;
  }
}

/**
 * What one joined participant has made in the media service. A slot is taken before the media
 * service is asked (so requests sent together are counted together) and given back when the
 * media service refused it.
 */
export class PeerQuota {
  readonly #producers = { audio: 0, video: 0 };
  readonly #consumed = new Set<string>();
  #composed = 0;
  #connects = 0;
  #content = 0;

  producer(kind: 'audio' | 'video'): () => void {
    const count = this.#producers[kind];
    if (count >= JOIN_LIMITS.producersPerKind) throw PeerQuota.#refuse(count, `${kind} producers`, JOIN_LIMITS.producersPerKind);
    this.#producers[kind]++;
    return () => {
      this.#producers[kind]--;
    };
  }

  /** One consumer of this producer; a second one of the same producer is refused. */
  consumer(producerId: string): () => void {
    if (this.#consumed.has(producerId)) throw createError('VCBOX_ERR_JOIN_PEER_LIMIT', { count: 1, what: `consumers of producer ${producerId}`, limit: 1 });
    if (this.#consumed.size >= JOIN_LIMITS.consumers) throw PeerQuota.#refuse(this.#consumed.size, 'consumers', JOIN_LIMITS.consumers);
    this.#consumed.add(producerId);
    return () => this.#consumed.delete(producerId);
  }

  /** The producer is gone (its consumer with it): its slot is free again. */
  producerClosed(producerId: string): void {
    this.#consumed.delete(producerId);
  }

  composed(): () => void {
    if (this.#composed >= JOIN_LIMITS.composed) throw PeerQuota.#refuse(this.#composed, 'composed pictures', JOIN_LIMITS.composed);
    this.#composed++;
    return () => {
      this.#composed--;
    };
  }

  /** One shared screen at a time; the answer gives the slot back (when the share stops), once. */
  content(): () => void {
    if (this.#content >= JOIN_LIMITS.contentProducers) throw PeerQuota.#refuse(this.#content, 'shared screens', JOIN_LIMITS.contentProducers);
    this.#content++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#content--;
    };
  }

  transportConnect(): () => void {
    if (this.#connects >= JOIN_LIMITS.transportConnects) throw PeerQuota.#refuse(this.#connects, 'transport connections', JOIN_LIMITS.transportConnects);
    this.#connects++;
    return () => {
      this.#connects--;
    };
  }

  static #refuse(count: number, what: string, limit: number) {
    return createError('VCBOX_ERR_JOIN_PEER_LIMIT', { count, what, limit });
  }
}

/** Runs `work` holding a slot that is given back when it ends, however it ends. */
export async function inFlight<T>(release: () => void, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    release();
  }
}

/** Runs `work` in a taken slot; the slot is given back when the work fails. */
export async function inSlot<T>(release: () => void, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    release();
    throw error;
  }
}
