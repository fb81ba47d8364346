/**
 * The dialogs the box stays in as a record-routing proxy (RFC 3261 §16.6 step 4): noted when a
 * 2xx to a record-routed INVITE or SUBSCRIBE passes, by Call-ID and both tags (either side may
 * send), forgotten when a BYE through the box is answered. Only requests of a dialog noted here
 * are proxied on a Route naming the box — deny by default: a forged Route alone does not make
 * the box relay anything. Bounded: past MAX_PROXIED_DIALOGS the oldest is forgotten.
 */

/** Record-routed dialogs kept at once. */
export const MAX_PROXIED_DIALOGS = 10_000;

function keyOf(callId: string, tagA: string, tagB: string): string {
  return tagA < tagB ? `${callId}|${tagA}|${tagB}` : `${callId}|${tagB}|${tagA}`;
}

export class ProxiedDialogs {
  readonly #dialogs = new Set<string>();
  readonly #limit: number;

  constructor(limit = MAX_PROXIED_DIALOGS) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#dialogs.size;
  }

  add(callId: string, fromTag: string, toTag: string): void {
    if (!callId || !fromTag || !toTag) return;
    const key = keyOf(callId, fromTag, toTag);
    this.#dialogs.delete(key);
    this.#dialogs.add(key);
    if (this.#dialogs.size > this.#limit) {
      const oldest = this.#dialogs.values().next().value;
      if (oldest !== undefined) this.#dialogs.delete(oldest);
    }
  }

  has(callId: string, fromTag: string, toTag: string): boolean {
    return fromTag !== '' && toTag !== '' && this.#dialogs.has(keyOf(callId, fromTag, toTag));
  }

  delete(callId: string, fromTag: string, toTag: string): void {
    this.#dialogs.delete(keyOf(callId, fromTag, toTag));
  }

  clear(): void {
    this.#dialogs.clear();
  }
}
