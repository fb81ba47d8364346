/**
 * The captcha of the forgot-password form: five characters (no look-alikes) drawn as an SVG
 * with rotated glyphs and noise lines, answered once within five minutes. Only the answer's
 * hash is kept, in memory. An SVG of text stops naive scripts, not a determined bot — the
 * per-address rate limit and the one-time, 10-minute reset link carry the real protection.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { monotonicMs } from '../core/clock.ts';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const LIFETIME_MS = 5 * 60_000;
const hash = (text: string) => createHash('sha256').update(text.toUpperCase()).digest('hex');

export class Captchas {
  readonly #pending = new Map<string, { answer: string; expires: number }>();

  issue(now = monotonicMs()): { id: string; svg: string } {
    if (this.#pending.size > 10_000) this.#sweep(now);
    const text = Array.from({ length: 5 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
    const id = randomBytes(12).toString('base64url');
    this.#pending.set(id, { answer: hash(text), expires: now + LIFETIME_MS });
    const glyphs = [...text]
      .map((char, i) => `<text x="${18 + i * 26}" y="${34 + randomInt(-5, 6)}" transform="rotate(${randomInt(-25, 26)} ${18 + i * 26} 30)" font-size="${26 + randomInt(0, 6)}" font-family="monospace" fill="#${randomInt(0x202020, 0x606060).toString(16)}">${char}</text>`)
      .join('');
    const noise = Array.from({ length: 6 }, () => `<line x1="${randomInt(0, 150)}" y1="${randomInt(0, 50)}" x2="${randomInt(0, 150)}" y2="${randomInt(0, 50)}" stroke="#999" stroke-width="1"/>`).join('');
    return { id, svg: `<svg xmlns="http://www.w3.org/2000/svg" width="150" height="50" viewBox="0 0 150 50"><rect width="150" height="50" fill="#f4f4f4"/>${noise}${glyphs}</svg>` };
  }

  /** True once for the right answer in time; the captcha is spent either way. */
  check(id: string, answer: string, now = monotonicMs()): boolean {
    const entry = this.#pending.get(id);
    this.#pending.delete(id);
    return entry !== undefined && entry.expires >= now && entry.answer === hash(answer.trim());
  }

  #sweep(now: number): void {
    for (const [id, entry] of this.#pending) if (entry.expires < now) this.#pending.delete(id);
  }
}
