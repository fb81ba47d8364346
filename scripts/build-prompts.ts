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
import { wavTo16k } from '../media/ivr/wav.ts';

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

try {
  for (const [language, { voice, prompts }] of Object.entries(catalogue)) {
    mkdirSync(path.join(outDir, language), { recursive: true });
    for (const [name, text] of Object.entries(prompts)) {
      const wav = path.join(tmp, `${language}-${name}.wav`);
      execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', wav, text]);
      const pcm = wavTo16k(readFileSync(wav));
      writeFileSync(path.join(outDir, language, `${name}.pcm`), Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    }
  }
  writeFileSync(stampFile, stamp);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
