/**
 * The outcome line of a page whose actions re-read the page (backups, firmware): `act(work)`
 * turns the page's buttons off, says "working", runs the action and keeps what it answered — its
 * lines in words, or the server's refusal — for the re-render that follows, where the new line
 * shows it (`role=status`, or `role=alert` for a refusal). What is not a refusal (no session, the
 * server unreachable) goes to the page's error line. The words live in the pages.
 */
import { ApiError } from './api.ts';
import { el } from './form-fields.ts';

export interface ActionOutcome {
  /** The line itself (put it in the page). */
  readonly element: HTMLDivElement;
  /** The buttons `act` turns off while an action runs (the page adds its own). */
  readonly buttons: HTMLButtonElement[];
  /** Says `lines` now: an outcome, or a refusal (`failed`). */
  say(lines: string[], failed?: boolean): void;
  /** Keeps `lines` for the next render of the page (an action finished outside `act`). */
  keep(lines: string[], failed?: boolean): void;
  /** Empties the line (an action starts that will say its own outcome). */
  clear(): void;
  /** Runs an action (`working` meanwhile); its lines, or the refusal, are said once the page is rendered again. */
  act(work: () => Promise<string[]>): void;
}

/** The outcome of the last action per line, kept across the re-render that follows it. */
const kept = new Map<string, { lines: string[]; failed: boolean }>();

export function actionOutcome(id: string, words: { working: string }, rerender: () => Promise<void>, onError: (error: unknown) => void): ActionOutcome {
  const element = el('div', { id, className: 'outcome' });
  element.setAttribute('aria-live', 'polite');
  const buttons: HTMLButtonElement[] = [];
  const say = (lines: string[], failed = false) => {
    element.className = `outcome ${failed ? 'failed' : 'ok'}`;
    element.setAttribute('role', failed ? 'alert' : 'status');
    element.replaceChildren(...lines.map((line) => el('p', {}, line)));
  };
  const keep = (lines: string[], failed = false) => {
    kept.set(id, { lines, failed });
  };
  const clear = () => {
    element.className = 'outcome';
    element.replaceChildren();
  };
  const last = kept.get(id);
  if (last) say(last.lines, last.failed);
  kept.delete(id);
  const act = (work: () => Promise<string[]>) => {
    for (const b of buttons) b.disabled = true;
    clear();
    element.append(el('p', {}, words.working));
    void work()
      .then((lines) => keep(lines))
      .catch((error: unknown) => {
        if (!(error instanceof ApiError) || error.status === 401 || error.status === 0) throw error;
        keep([error.message], true);
      })
      .then(rerender)
      .catch(onError);
  };
  return { element, buttons, say, keep, clear, act };
}
