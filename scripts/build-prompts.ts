/**
 * Builds the IVR prompts from text (media/ivr/prompts.json) with Debian's espeak-ng: one
 * 16 kHz mono s16le file per language and prompt under media/ivr/prompts/<lang>/<name>.pcm
 * (the IVR encodes them per call in the caller's codec). Rebuilt only when the texts or this
 * script changed (a stamp file). Called by scripts/setup.sh; needs espeak-ng.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'media', 'ivr', 'prompts.json');
const outDir = path.join(root, 'media', 'ivr', 'prompts');
const stampFile = path.join(outDir, '.stamp');
const texts = readFileSync(source, 'utf8');
const stamp = createHash('sha256').update(texts).update(readFileSync(fileURLToPath(import.meta.url))).digest('hex').slice(0, 16);
if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) process.exit(0);

console.error('[setup] building the IVR prompts (espeak-ng)…');
const catalogue = JSON.parse(texts) as Record<string, { voice: string; prompts: Record<string, string> }>;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vcbox-prompts-'));

/** PCM16 mono samples of a WAV file espeak-ng wrote, and its rate. */
function readWav(file: string): { samples: Int16Array; rate: number } {
  const data = readFileSync(file);
  let offset = 12;
  let rate = 22050;
  while (offset + 8 <= data.length) {
    const id = data.toString('ascii', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    if (id === 'fmt ') rate = data.readUInt32LE(offset + 12);
    if (id === 'data') {
      const end = Math.min(data.length, offset + 8 + size);
      const samples = new Int16Array((end - offset - 8) >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(offset + 8 + i * 2);
      return { samples, rate };
    }
    offset += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no audio data`);
}

/** Linear-interpolation resampling to 16 kHz (speech from espeak-ng is band-limited already). */
function to16k(samples: Int16Array, rate: number): Int16Array {
  const out = new Int16Array(Math.floor((samples.length * 16000) / rate));
  for (let i = 0; i < out.length; i++) {
    const position = (i * rate) / 16000;
    const index = Math.floor(position);
    const fraction = position - index;
    const a = samples[index] ?? 0;
    const b = samples[index + 1] ?? a;
    out[i] = Math.round(a + (b - a) * fraction);
  }
  return out;
}

try {
  for (const [language, { voice, prompts }] of Object.entries(catalogue)) {
    mkdirSync(path.join(outDir, language), { recursive: true });
    for (const [name, text] of Object.entries(prompts)) {
      const wav = path.join(tmp, `${language}-${name}.wav`);
      execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', wav, text]);
      const { samples, rate } = readWav(wav);
      const pcm = to16k(samples, rate);
      writeFileSync(path.join(outDir, language, `${name}.pcm`), Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    }
  }
  writeFileSync(stampFile, stamp);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
