/**
 * The spec's "idle > 30 minutes → back to login" in the browser: the time since the
 * administrator last touched the page (a key, a click, the pointer, the wheel, a touch) is
 * watched, and when it reaches the session's idle timeout (the server's figure, from the
 * session) `onIdle` runs once. Needed beside the server's own timeout because the pages that
 * refresh themselves (dashboard, live meetings, online users) make requests every few seconds:
 * for the server they are activity, so without this an open dashboard would never log out.
 * What does not live here: ending the session and showing the login (app.ts).
 */

const INPUT_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;

export class IdleLogout {
  readonly #onIdle: () => void;
  #timeoutMs = 0;
  #lastInput = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  readonly #touched = () => {
    this.#lastInput = Date.now();
  };
  /** A tab that slept (laptop lid, background throttling) checks at once when it is shown again. */
  readonly #shown = () => {
    if (document.visibilityState === 'visible') this.#check();
  };

  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  /** Starts watching (again), counting from now. */
  start(timeoutSeconds: number): void {
    this.stop();
    this.#timeoutMs = timeoutSeconds * 1000;
    this.#lastInput = Date.now();
    this.#running = true;
    for (const type of INPUT_EVENTS) document.addEventListener(type, this.#touched, { capture: true, passive: true });
    document.addEventListener('visibilitychange', this.#shown);
    this.#schedule(this.#timeoutMs);
  }

  /** Stops watching; safe to call when not started. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    for (const type of INPUT_EVENTS) document.removeEventListener(type, this.#touched, { capture: true });
    document.removeEventListener('visibilitychange', this.#shown);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#check(), Math.max(1000, delayMs));
  }

  #check(): void {
    if (!this.#running) return;
    const idleMs = Date.now() - this.#lastInput;
    if (idleMs < this.#timeoutMs) {
      this.#schedule(this.#timeoutMs - idleMs);
      return;
    }
    this.stop();
    this.#onIdle();
  }
}
