/**
 * The IVR prompts as the administrator manages them: the catalogue (media/ivr/prompts.json:
 * languages, prompt names and their texts), which ones were replaced by an uploaded recording
 * (`<dataDir>/prompts/<language>/<name>.pcm`, 16 kHz mono, written atomically), uploading a
 * WAV (checked and converted; at most 60 s) and going back to the generated prompt. The media
 * process reads the same folder (media/ivr/ivr-session.ts).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WavError, wavTo16k } from '../../media/ivr/wav.ts';
import { createError } from '../core/errors.ts';

const CATALOGUE_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'media', 'ivr', 'prompts.json');
export const MAX_PROMPT_SECONDS = 60;
export const MAX_PROMPT_UPLOAD_BYTES = 48_000 * 2 * 2 * MAX_PROMPT_SECONDS + 1024;

export interface PromptInfo {
  readonly language: string;
  readonly name: string;
  readonly text: string;
  readonly source: 'generated' | 'uploaded';
  readonly seconds: number;
}

const catalogue = JSON.parse(readFileSync(CATALOGUE_FILE, 'utf8')) as Record<string, { voice: string; prompts: Record<string, string> }>;

export class PromptStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #check(language: string, name: string): string {
    const text = catalogue[language]?.prompts[name];
    if (text === undefined) throw createError('VCBOX_ERR_PROMPT_UNKNOWN', { language, name });
    return text;
  }

  #file(language: string, name: string): string {
    return path.join(this.#dir, language, `${name}.pcm`);
  }

  list(): PromptInfo[] {
    const out: PromptInfo[] = [];
    for (const [language, { prompts }] of Object.entries(catalogue)) {
      for (const [name, text] of Object.entries(prompts)) {
        let size: number | undefined;
        try {
          size = statSync(this.#file(language, name)).size;
        } catch {
          size = undefined;
        }
        out.push({ language, name, text, source: size === undefined ? 'generated' : 'uploaded', seconds: size === undefined ? 0 : Math.round((size / 32_000) * 10) / 10 });
      }
    }
    return out;
  }

  /** Replaces a prompt by a recording (WAV); nothing changes when the file is refused. */
  upload(language: string, name: string, wav: Buffer): PromptInfo {
    const text = this.#check(language, name);
    let samples: Int16Array;
    try {
      samples = wavTo16k(wav);
    } catch (error) {
      if (error instanceof WavError) throw createError('VCBOX_ERR_PROMPT_INVALID', { reason: error.message, maxSeconds: MAX_PROMPT_SECONDS });
      throw error;
    }
    const seconds = samples.length / 16_000;
    if (seconds > MAX_PROMPT_SECONDS) throw createError('VCBOX_ERR_PROMPT_INVALID', { reason: `it lasts ${Math.round(seconds)} s`, maxSeconds: MAX_PROMPT_SECONDS });
    const file = this.#file(language, name);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
    renameSync(tmp, file);
    return { language, name, text, source: 'uploaded', seconds: Math.round(seconds * 10) / 10 };
  }

  /** Back to the generated prompt. */
  revert(language: string, name: string): void {
    this.#check(language, name);
    rmSync(this.#file(language, name), { force: true });
  }
}
