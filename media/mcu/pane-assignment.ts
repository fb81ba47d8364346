/**
 * Who is shown in which pane of a composed picture: the big pane of 1+N (and `single`) goes
 * to the pinned participant, else the current speaker (voice activation; the mixer already
 * holds a speaker at least a second, so it does not flap), else the first to join; the other
 * panes follow join order. When there are more participants than panes, polling rotates the
 * small panes every interval by the admin's rule — round-robin (the next ones in join order)
 * or longest-unseen — and the current speaker is always among those shown. In the content
 * layout (content in the big pane) the people fill the small panes as in an equal split.
 */
import { type Layout, paneCount } from './layouts.ts';

export type PollingRule = 'round-robin' | 'longest-unseen';

export class PaneAssignment {
  /** Round-robin: where the window of shown participants starts. */
  #offset = 0;
  /** Longest-unseen: when each participant was last shown (a counter, not a clock). */
  readonly #lastShown = new Map<string, number>();
  #round = 0;
  #rule: PollingRule;

  constructor(rule: PollingRule) {
    this.#rule = rule;
  }

  set rule(rule: PollingRule) {
    this.#rule = rule;
  }

  /** The next polling step (the caller's timer, at the configured interval). */
  poll(): void {
    this.#round++;
    this.#offset++;
  }

  /**
   * The participant in each pane (big pane first for 1+N and single), for participants in
   * join order. Participants left out of a full picture are the polling candidates.
   */
  assign(layout: Layout, order: readonly string[], speaker?: string, pinned?: string): string[] {
    return this.#assign(paneCount(layout), layout === 'single' || layout.includes('+'), order, speaker, pinned);
  }

  /**
   * The people in the small panes of the content layout (the big pane shows the content):
   * `slots` panes, the pinned participant first, the speaker always in view when polling.
   */
  assignBeside(slots: number, order: readonly string[], speaker?: string, pinned?: string): string[] {
    return this.#assign(slots, false, order, speaker, pinned);
  }

  #assign(slots: number, oneBig: boolean, order: readonly string[], speaker: string | undefined, pinned: string | undefined): string[] {
    const present = (id: string | undefined): id is string => id !== undefined && order.includes(id);
    const big = oneBig ? ([pinned, speaker, order[0]].find(present) ?? undefined) : undefined;
    const fixed = big ? [big] : present(pinned) ? [pinned] : [];
    const rest = order.filter((id) => !fixed.includes(id));
    const free = slots - fixed.length;
    let shown: string[];
    if (rest.length <= free) shown = rest;
    else {
      const pick = this.#rule === 'round-robin' ? this.#window(rest, free) : this.#longestUnseen(rest, free);
      // The speaker is always shown: in place of the last of the picked when it is not there.
      if (present(speaker) && !fixed.includes(speaker) && !pick.includes(speaker)) pick[pick.length - 1] = speaker;
      shown = rest.filter((id) => pick.includes(id));
    }
    const result = [...fixed, ...shown].slice(0, slots);
    for (const id of result) this.#lastShown.set(id, this.#round);
    for (const id of this.#lastShown.keys()) if (!order.includes(id)) this.#lastShown.delete(id);
    return result;
  }

  #window(rest: readonly string[], free: number): string[] {
    const start = ((this.#offset * free) % rest.length + rest.length) % rest.length;
    return Array.from({ length: free }, (_, i) => rest[(start + i) % rest.length] as string);
  }

  #longestUnseen(rest: readonly string[], free: number): string[] {
    const seen = (id: string) => this.#lastShown.get(id) ?? -1;
    // Those shown this round keep their place until the next poll.
    const ranked = [...rest].sort((a, b) => {
      const current = (id: string) => (seen(id) === this.#round ? -2 : seen(id));
      return current(a) - current(b) || rest.indexOf(a) - rest.indexOf(b);
    });
    return ranked.slice(0, free);
  }
}
