/**
 * Composed-picture layouts (spec "Call settings": equal split 2×2 … 7×7, 1+N with 1+5, 1+7,
 * 1+9, and single): which layout a meeting shows for a number of participants, capped by the
 * admin's maxima, and the pane rectangles on a canvas. Pure geometry — no media here.
 *
 * 1+N layouts are a k×k grid whose top-left (k-1)×(k-1) cells are the big pane: the small
 * panes fill the right column and the bottom row (1+5: k=3, 1+7: k=4, 1+9: k=5).
 *
 * The content layout (issue #19): while someone presents, terminals without a content line see
 * the content in the big pane of a 1+N and the people in the small panes (`contentLayout`).
 */
import { type EQUAL_SPLIT_LAYOUTS, ONE_PLUS_N_LAYOUTS } from '../../server/core/call-settings.ts';

export type EqualSplit = (typeof EQUAL_SPLIT_LAYOUTS)[number];
export type OnePlusN = (typeof ONE_PLUS_N_LAYOUTS)[number];
/** A meeting's layout choice; `auto` grows the equal split with the participants. */
export type LayoutChoice = 'auto' | 'single' | EqualSplit | OnePlusN;
export type Layout = 'single' | EqualSplit | OnePlusN;

export interface LayoutLimits {
  readonly equalSplitMax: EqualSplit;
  readonly onePlusNMax: OnePlusN;
}

export interface Pane {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** The big pane of a 1+N layout (or the only pane of `single`). */
  readonly big: boolean;
}

const gridOf = (layout: EqualSplit): number => Number(layout[0]);
const smallOf = (layout: OnePlusN): number => Number(layout.slice(2));

/** How many participants a layout shows at once. */
export function paneCount(layout: Layout): number {
  if (layout === 'single') return 1;
  if (layout.includes('+')) return 1 + smallOf(layout as OnePlusN);
  return gridOf(layout as EqualSplit) ** 2;
}

/**
 * The layout shown: the meeting's choice capped by the admin's maxima; `auto` is the smallest
 * equal split that holds everyone (up to the maximum; beyond it, polling), or `single` for one.
 */
export function effectiveLayout(choice: LayoutChoice, participants: number, limits: LayoutLimits): Layout {
  if (choice === 'single') return 'single';
  if (choice === 'auto') {
    if (participants <= 1) return 'single';
    const max = gridOf(limits.equalSplitMax);
    for (let n = 2; n < max; n++) if (n * n >= participants) return `${n}x${n}` as EqualSplit;
    return limits.equalSplitMax;
  }
  if (choice.includes('+')) return smallOf(choice as OnePlusN) <= smallOf(limits.onePlusNMax) ? choice : limits.onePlusNMax;
  return gridOf(choice as EqualSplit) <= gridOf(limits.equalSplitMax) ? choice : limits.equalSplitMax;
}

/**
 * The content layout: the 1+N a terminal without a content line sees while someone presents —
 * content in the big pane, the people in the N small panes. N is the smallest of 1+5, 1+7, 1+9
 * whose small panes hold as many people as the meeting's own layout shows (its capacity, for
 * `participants` people), never above the admin's 1+N maximum. When the presentation ends the
 * meeting's own layout (`effectiveLayout`) applies again.
 */
export function contentLayout(peopleLayout: Layout, participants: number, limits: LayoutLimits): OnePlusN {
  const people = Math.min(Math.max(0, participants), paneCount(peopleLayout));
  const max = smallOf(limits.onePlusNMax);
  for (const layout of ONE_PLUS_N_LAYOUTS) if (smallOf(layout) >= people && smallOf(layout) <= max) return layout;
  return limits.onePlusNMax;
}

/** Pane rectangles in pixels (even numbers, as encoders want), big pane first. */
export function panes(layout: Layout, width: number, height: number): Pane[] {
  const even = (v: number) => Math.floor(v / 2) * 2;
  const cell = (col: number, row: number, cols: number, rows: number, spanCols = 1, spanRows = 1, big = false): Pane => {
    const x = even((col * width) / cols);
    const y = even((row * height) / rows);
    return { x, y, width: even(((col + spanCols) * width) / cols) - x, height: even(((row + spanRows) * height) / rows) - y, big };
  };
  if (layout === 'single') return [cell(0, 0, 1, 1, 1, 1, true)];
  if (layout.includes('+')) {
    const k = (smallOf(layout as OnePlusN) + 1) / 2;
    const out = [cell(0, 0, k, k, k - 1, k - 1, true)];
    for (let row = 0; row < k - 1; row++) out.push(cell(k - 1, row, k, k));
    for (let col = 0; col < k; col++) out.push(cell(col, k - 1, k, k));
    return out;
  }
  const n = gridOf(layout as EqualSplit);
  const out: Pane[] = [];
  for (let row = 0; row < n; row++) for (let col = 0; col < n; col++) out.push(cell(col, row, n, n));
  return out;
}
