/**
 * ffmpeg (Debian) as a real RTP/SRTP media peer: send a generated tone, receive a stream
 * described by an SDP file and decode it to PCM. Every run is bounded by a timeout.
 */
import { spawn } from 'node:child_process';

export interface FfmpegRun {
  readonly exitCode: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export function runFfmpeg(args: string[], timeoutMs: number): Promise<FfmpegRun> {
  return new Promise((resolve) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout: Buffer.concat(out), stderr });
    });
  });
}

/** Estimated frequency of a mono s16le signal from its zero crossings. */
export function dominantFrequency(pcm: Buffer, sampleRate: number): number {
  let crossings = 0;
  let previous = 0;
  const samples = Math.floor(pcm.length / 2);
  for (let i = 0; i < samples; i++) {
    const value = pcm.readInt16LE(i * 2);
    if ((previous < 0 && value >= 0) || (previous >= 0 && value < 0)) crossings++;
    previous = value;
  }
  return crossings / 2 / (samples / sampleRate);
}

/** Root-mean-square level of s16le samples (0 = silence). */
export function rms(pcm: Buffer): number {
  const samples = Math.floor(pcm.length / 2);
  let sum = 0;
  for (let i = 0; i < samples; i++) sum += pcm.readInt16LE(i * 2) ** 2;
  return samples === 0 ? 0 : Math.sqrt(sum / samples);
}

/**
 * The share (0-1) of a mono s16le signal's energy within `spread` Hz of `frequency` (Goertzel
 * over the whole buffer, 1 Hz steps). Unlike the zero-crossing estimate it holds when a codec's
 * silences (DTX, a loaded machine's gaps) cut the tone into pieces: a clean tone gives about 1.
 */
export function toneShare(pcm: Buffer, sampleRate: number, frequency: number, spread = 10): number {
  const n = Math.floor(pcm.length / 2);
  if (n === 0) return 0;
  const x = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const value = pcm.readInt16LE(i * 2);
    x[i] = value;
    total += value * value;
  }
  if (total === 0) return 0;
  const step = sampleRate / n; // Hz per DFT bin
  let inBand = 0;
  for (let k = Math.max(1, Math.round((frequency - spread) / step)); k <= Math.round((frequency + spread) / step); k++) {
    const coefficient = 2 * Math.cos((2 * Math.PI * k) / n);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const s0 = (x[i] ?? 0) + coefficient * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    inBand += (2 * (s1 * s1 + s2 * s2 - coefficient * s1 * s2)) / n;
  }
  return Math.min(1, inBand / total);
}

/**
 * What a terminal heard once sound began: `seconds` of a mono s16le signal starting at its first
 * 20 ms block louder than `threshold` (empty when none is). The mixer sends comfort silence from
 * the moment a leg joins, so a fixed "skip the first N packets" window reads silence whenever the
 * other side starts talking late (a loaded machine); this reads the tone wherever it starts.
 */
export function afterSilence(pcm: Buffer, sampleRate: number, seconds: number, threshold = 300): Buffer {
  const block = Math.round(sampleRate / 50) * 2;
  for (let start = 0; start + block <= pcm.length; start += block) {
    if (rms(pcm.subarray(start, start + block)) > threshold) return pcm.subarray(start, start + Math.round(seconds * sampleRate) * 2);
  }
  return pcm.subarray(0, 0);
}
