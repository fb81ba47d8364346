/**
 * Reading PCM WAV files (RIFF, 16-bit, mono or stereo, any common rate) into 16 kHz mono
 * samples, the IVR's prompt format. Used by the prompt build (espeak-ng output) and for
 * prompts an administrator uploads; anything else is refused with the reason.
 */
export class WavError extends Error {}

export function wavTo16k(data: Buffer): Int16Array {
  if (data.length < 44 || data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavError('not a WAV file (RIFF/WAVE header missing)');
  }
  let offset = 12;
  let format: { audioFormat: number; channels: number; rate: number; bits: number } | undefined;
  while (offset + 8 <= data.length) {
    const id = data.toString('ascii', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 24 <= data.length) {
      format = { audioFormat: data.readUInt16LE(offset + 8), channels: data.readUInt16LE(offset + 10), rate: data.readUInt32LE(offset + 12), bits: data.readUInt16LE(offset + 22) };
    } else if (id === 'data') {
      if (!format) throw new WavError('the WAV file has no format chunk before its data');
      if (format.audioFormat !== 1 || format.bits !== 16) throw new WavError('only 16-bit PCM WAV is accepted (convert the file to 16-bit PCM)');
      if (format.channels < 1 || format.channels > 2) throw new WavError('only mono or stereo WAV is accepted');
      if (format.rate < 8000 || format.rate > 48000) throw new WavError(`sample rate ${format.rate} Hz is outside 8 000-48 000 Hz`);
      const end = Math.min(data.length, offset + 8 + size);
      const frames = Math.floor((end - offset - 8) / (2 * format.channels));
      if (frames === 0) throw new WavError('the WAV file holds no audio');
      const mono = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < format.channels; c++) sum += data.readInt16LE(offset + 8 + (i * format.channels + c) * 2);
        mono[i] = Math.round(sum / format.channels);
      }
      return resample(mono, format.rate);
    }
    offset += 8 + size + (size & 1);
  }
  throw new WavError('the WAV file has no data chunk');
}

/** Linear-interpolation resampling to 16 kHz (prompts are speech). */
export function resample(samples: Int16Array, rate: number): Int16Array {
  if (rate === 16000) return samples;
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
